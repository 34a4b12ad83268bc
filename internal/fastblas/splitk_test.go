package fastblas

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// splitShapes have a small C and a long k: gemm sums them over k ranges
// (gemmSplitK), with ranges of unequal lengths and a C edge.
var splitShapes = [][3]int{{40, 36, 2100}, {13, 70, 4103}, {288, 96, 3000}}

// TestSplitK checks the products summed over k ranges against gonum, in
// every transpose, α/β combination (β = 0 on a NaN C) and padding, for
// Dgemm and both triangles of Dsyrk, with the assembly and the portable
// kernels.
func TestSplitK(t *testing.T) {
	forceFast(t)
	for _, d := range splitShapes {
		if s := kSlices(d[0], d[1], d[2]); s < 2 {
			t.Fatalf("%v: not split (kSlices %d)", d, s)
		}
	}
	if s := kSlices(300, 300, 8192); s < 2 {
		t.Fatalf("a 300×300 Gram matrix from k = 8192 is not split")
	}
	if s := kSlices(1152, 1152, 8192); s != 1 {
		t.Fatalf("a 1152×1152 product is split (%d)", s)
	}
	rnd := rand.New(rand.NewPCG(31, 32))
	impl := Implementation{}
	bothKernels(func(bool) {
		idx := 0
		for _, d := range splitShapes {
			for _, tA := range transposes {
				for _, tB := range transposes {
					ab := [][2]float64{{1, 0}, {-0.5, 1}, {2, -0.5}}[idx%3]
					checkGemm(t, rnd, impl, gemmCase{tA: tA, tB: tB, m: d[0], n: d[1], k: d[2],
						alpha: ab[0], beta: ab[1], padA: idx % 2, padB: (idx + 1) % 3, padC: idx % 3, nanC: ab[1] == 0})
					idx++
				}
			}
			for _, ul := range []blas.Uplo{blas.Upper, blas.Lower} {
				for _, tA := range transposes {
					ab := [][2]float64{{1, 0}, {-0.5, 1}, {2, -0.5}}[idx%3]
					checkSyrk(t, rnd, impl, syrkCase{ul: ul, tA: tA, n: d[0], k: d[2],
						alpha: ab[0], beta: ab[1], padA: idx % 2, padC: (idx + 1) % 2, nanC: ab[1] == 0})
					idx++
				}
			}
		}
	})
}

// TestSplitKDeterministic checks that the split products are bitwise the
// same on any number of goroutines, in both element types.
func TestSplitKDeterministic(t *testing.T) {
	forceFast(t)
	rnd := rand.New(rand.NewPCG(33, 34))
	impl := Implementation{}
	for _, d := range splitShapes {
		m, n, k := d[0], d[1], d[2]
		a, b := randMat(rnd, m, k, k), randMat(rnd, k, n, n)
		c0 := randMat(rnd, m, n, n)
		a32, b32, c32 := make([]float32, len(a)), make([]float32, len(b)), make([]float32, len(c0))
		Narrow(a32, a)
		Narrow(b32, b)
		Narrow(c32, c0)
		var first64, firstSyrk []float64
		var first32 []float32
		for _, procs := range []int{1, 2, 3, 8, 2} {
			old := runtime.GOMAXPROCS(procs)
			c := append([]float64(nil), c0...)
			impl.Dgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1.5, a, k, b, n, -0.5, c, n)
			s := make([]float64, m*m)
			impl.Dsyrk(blas.Upper, blas.NoTrans, m, k, 1, a, k, 0, s, m)
			c3 := append([]float32(nil), c32...)
			impl.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1.5, a32, k, b32, n, -0.5, c3, n)
			runtime.GOMAXPROCS(old)
			if first64 == nil {
				first64, firstSyrk, first32 = c, s, c3
				continue
			}
			if !sameBits(first64, c) || !sameBits(firstSyrk, s) {
				t.Fatalf("%v: float64 result differs with GOMAXPROCS=%d", d, procs)
			}
			for i := range c3 {
				if math.Float32bits(c3[i]) != math.Float32bits(first32[i]) {
					t.Fatalf("%v: float32 result differs with GOMAXPROCS=%d", d, procs)
				}
			}
		}
	}
}
