// Copyright ©2025 The vivit-go Authors. All rights reserved.

package fastblas

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

type gemmer interface {
	Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int)
	Dsyrk(ul blas.Uplo, tA blas.Transpose, n, k int, alpha float64, a []float64, lda int, beta float64, c []float64, ldc int)
}

var benchImpls = []struct {
	name string
	impl gemmer
}{
	{"gonum", gonum.Implementation{}},
	{"fast", Implementation{}},
}

var benchShapes = []struct {
	name    string
	tA, tB  blas.Transpose
	m, n, k int
}{
	{"NN256", blas.NoTrans, blas.NoTrans, 256, 256, 256},
	{"NN512", blas.NoTrans, blas.NoTrans, 512, 512, 512},
	{"NN1280", blas.NoTrans, blas.NoTrans, 1280, 1280, 1280},
	// (1152×512)·(512×1152)ᵀ: B stored 1152×512.
	{"NT1152x1152x512", blas.NoTrans, blas.Trans, 1152, 1152, 512},
	// (5120×128)ᵀ·(128×784): A stored 128×5120.
	{"TN5120x784x128", blas.Trans, blas.NoTrans, 5120, 784, 128},
	// (1280×128)·(128×128).
	{"NN1280x128x128", blas.NoTrans, blas.NoTrans, 1280, 128, 128},
	// Thin products of Lanczos: a block of vectors times the Gram matrix
	// (NT) and coefficients times the basis (NN).
	{"NT2x1152x1152", blas.NoTrans, blas.Trans, 2, 1152, 1152},
	{"NT4x1152x1152", blas.NoTrans, blas.Trans, 4, 1152, 1152},
	{"NT8x1152x1152", blas.NoTrans, blas.Trans, 8, 1152, 1152},
	{"NT16x1152x1152", blas.NoTrans, blas.Trans, 16, 1152, 1152},
	{"NT32x1152x1152", blas.NoTrans, blas.Trans, 32, 1152, 1152},
	{"NN2x1152x100", blas.NoTrans, blas.NoTrans, 2, 1152, 100},
	{"NN8x1152x100", blas.NoTrans, blas.NoTrans, 8, 1152, 100},
	{"NN16x1152x100", blas.NoTrans, blas.NoTrans, 16, 1152, 100},
	{"NN32x1152x100", blas.NoTrans, blas.NoTrans, 32, 1152, 100},
	// A map-back: k = 10 vectors times a kept block of V larger than the
	// caches (ResNet-8's stage-3 convolution, R = 288).
	{"NN10x36864x288", blas.NoTrans, blas.NoTrans, 10, 36864, 288},
}

// benchOperands returns random operands of a benchmark shape, unpadded,
// and the leading dimensions of A and B.
func benchOperands(tA, tB blas.Transpose, m, n, k int) (a, bm, c []float64, lda, ldb int) {
	rnd := rand.New(rand.NewPCG(1, 1))
	aRows, lda := m, k
	if tA == blas.Trans {
		aRows, lda = k, m
	}
	bRows, ldb := k, n
	if tB == blas.Trans {
		bRows, ldb = n, k
	}
	return randMat(rnd, aRows, lda, lda), randMat(rnd, bRows, ldb, ldb), randMat(rnd, m, n, n), lda, ldb
}

func BenchmarkDgemm(b *testing.B) {
	for _, s := range benchShapes {
		a, bm, c, aCols, bCols := benchOperands(s.tA, s.tB, s.m, s.n, s.k)
		for _, im := range benchImpls {
			b.Run(fmt.Sprintf("%s/%s", s.name, im.name), func(b *testing.B) {
				for b.Loop() {
					im.impl.Dgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, aCols, bm, bCols, 0, c, s.n)
				}
				flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFlop/s")
			})
		}
	}
}

// BenchmarkDsyrk runs Gram products: square-ish ones, a block of V of
// ResNet-8's stage 3 (288 factor columns, a 12288-column chunk) and a
// Monte-Carlo MLP layer's (128 samples, 8320 parameters), the last two
// summed over k ranges (gemmSplitK).
func BenchmarkDsyrk(b *testing.B) {
	for _, s := range []struct{ n, k int }{{512, 512}, {1152, 512}, {288, 12288}, {128, 8320}} {
		rnd := rand.New(rand.NewPCG(1, 1))
		a := randMat(rnd, s.n, s.k, s.k)
		c := randMat(rnd, s.n, s.n, s.n)
		for _, im := range benchImpls {
			b.Run(fmt.Sprintf("UN%dx%d/%s", s.n, s.k, im.name), func(b *testing.B) {
				for b.Loop() {
					im.impl.Dsyrk(blas.Upper, blas.NoTrans, s.n, s.k, 1, a, s.k, 0, c, s.n)
				}
				// Useful flops: n(n+1)k.
				flops := float64(s.n) * float64(s.n+1) * float64(s.k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFlop/s")
			})
		}
	}
}

// BenchmarkSsyrk runs float32 Gram products of the size of a conv block's:
// n = 320 factor columns (32 samples × 10) and k = 4608 parameters (a
// 32×16×3×3 layer), and the n = 1152, k = 512 shape of BenchmarkDsyrk.
func BenchmarkSsyrk(b *testing.B) {
	for _, s := range []struct{ n, k int }{{320, 4608}, {1152, 512}} {
		rnd := rand.New(rand.NewPCG(1, 1))
		a := make([]float32, s.n*s.k)
		for i := range a {
			a[i] = float32(rnd.NormFloat64())
		}
		c := make([]float32, s.n*s.n)
		b.Run(fmt.Sprintf("UN%dx%d", s.n, s.k), func(b *testing.B) {
			var impl Implementation
			for b.Loop() {
				impl.Ssyrk(blas.Upper, blas.NoTrans, s.n, s.k, 1, a, s.k, 0, c, s.n)
			}
			flops := float64(s.n) * float64(s.n+1) * float64(s.k) * float64(b.N)
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFlop/s")
		})
	}
}

// BenchmarkSgemm runs the blocked shapes of BenchmarkDgemm (m ≥ 32) in
// float32, fast against gonum, for the ratio to Dgemm on the same shapes.
func BenchmarkSgemm(b *testing.B) {
	impls := []struct {
		name string
		impl blas.Float32
	}{{"gonum", gonum.Implementation{}}, {"fast", Implementation{}}}
	for _, s := range benchShapes {
		if s.m < 32 {
			continue
		}
		a64, b64, c64, aCols, bCols := benchOperands(s.tA, s.tB, s.m, s.n, s.k)
		a, bm, c := to32(a64), to32(b64), to32(c64)
		for _, im := range impls {
			b.Run(fmt.Sprintf("%s/%s", s.name, im.name), func(b *testing.B) {
				for b.Loop() {
					im.impl.Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, aCols, bm, bCols, 0, c, s.n)
				}
				flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFlop/s")
			})
		}
	}
}

// BenchmarkGemmNNMixed is the float32 map-back: 10 vectors times a kept
// float32 block of V larger than the caches (ResNet-8's stage-3
// convolution, R = 288).
func BenchmarkGemmNNMixed(b *testing.B) {
	const m, n, k = 10, 36864, 288
	rnd := rand.New(rand.NewPCG(1, 1))
	a, c := randMat(rnd, m, k, k), make([]float64, m*n)
	bm := make([]float32, k*n)
	for i := range bm {
		bm[i] = float32(rnd.NormFloat64())
	}
	for b.Loop() {
		GemmNNMixed(m, n, k, 1, a, k, bm, n, 0, c, n)
	}
	b.ReportMetric(2*m*n*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFlop/s")
}
