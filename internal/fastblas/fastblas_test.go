// Copyright ©2025 The vivit-go Authors. All rights reserved.

package fastblas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/blas/testblas"
	"gonum.org/v1/gonum/mat"
)

var ref gonum.Implementation

// forceFast makes every well-formed call take the blocked path for the
// duration of a test.
func forceFast(t *testing.T) {
	t.Helper()
	if !haveAsm {
		t.Log("no AVX2/FMA: testing the blocked driver with the pure-Go kernel")
	}
	old, oldRows, oldEn := minFastSize, minFastRows, fastEnabled
	minFastSize, minFastRows, fastEnabled = 0, 0, true
	t.Cleanup(func() { minFastSize, minFastRows, fastEnabled = old, oldRows, oldEn })
}

// useGoKernel switches to the pure-Go micro-kernel for a test.
func useGoKernel(t *testing.T) {
	t.Helper()
	old := haveAsm
	haveAsm = false
	t.Cleanup(func() { haveAsm = old })
}

var shapes = []int{0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65, 127, 129, 300}

var scalars = []float64{0, 1, -0.5, 2}

var transposes = []blas.Transpose{blas.NoTrans, blas.Trans}

func transName(t blas.Transpose) string {
	if t == blas.NoTrans {
		return "N"
	}
	return "T"
}

// randMat returns a rows×cols matrix with leading dimension ld ≥ cols whose
// padding is NaN, sliced to the minimal length BLAS allows.
func randMat(rnd *rand.Rand, rows, cols, ld int) []float64 {
	if rows == 0 {
		return make([]float64, 0)
	}
	s := make([]float64, (rows-1)*ld+cols)
	for i := range s {
		if i%ld < cols {
			s[i] = 2*rnd.Float64() - 1
		} else {
			s[i] = math.NaN()
		}
	}
	return s
}

func absSlice(s []float64) []float64 {
	r := make([]float64, len(s))
	for i, v := range s {
		r[i] = math.Abs(v)
	}
	return r
}

type gemmCase struct {
	tA, tB      blas.Transpose
	m, n, k     int
	alpha, beta float64
	padA, padB  int
	padC        int
	nanC        bool // fill C with NaN (only meaningful for beta = 0)
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("%s%s/m=%d,n=%d,k=%d,α=%v,β=%v,pad=%d,%d,%d,nanC=%v",
		transName(tc.tA), transName(tc.tB), tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.padA, tc.padB, tc.padC, tc.nanC)
}

// operands returns random A, B and C of the case with their leading
// dimensions (padding NaN, C all NaN for nanC).
func (tc gemmCase) operands(rnd *rand.Rand) (a, b, c []float64, lda, ldb, ldc int) {
	aRows, aCols := tc.m, tc.k
	if tc.tA != blas.NoTrans {
		aRows, aCols = tc.k, tc.m
	}
	bRows, bCols := tc.k, tc.n
	if tc.tB != blas.NoTrans {
		bRows, bCols = tc.n, tc.k
	}
	lda, ldb, ldc = max(1, aCols)+tc.padA, max(1, bCols)+tc.padB, max(1, tc.n)+tc.padC
	a = randMat(rnd, aRows, aCols, lda)
	b = randMat(rnd, bRows, bCols, ldb)
	c = randMat(rnd, tc.m, tc.n, ldc)
	if tc.nanC {
		for i := range c {
			c[i] = math.NaN()
		}
	}
	return a, b, c, lda, ldb, ldc
}

// scale returns |α|·|A||B| + |β||C| elementwise (without the C term for
// nanC): the magnitude an error bound of the case is relative to.
func (tc gemmCase) scale(a, b, c []float64, lda, ldb, ldc int) []float64 {
	scale := make([]float64, len(c))
	if tc.beta != 0 && !tc.nanC {
		for i, v := range c {
			scale[i] = math.Abs(tc.beta * v)
		}
	}
	if tc.k > 0 && tc.m > 0 && tc.n > 0 {
		ref.Dgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, math.Abs(tc.alpha), absSlice(a), lda, absSlice(b), ldb, 1, scale, ldc)
	}
	return scale
}

// checkGemm runs one case through impl and gonum and compares the results.
func checkGemm(t *testing.T, rnd *rand.Rand, impl Implementation, tc gemmCase) {
	t.Helper()
	a, b, c, lda, ldb, ldc := tc.operands(rnd)
	want := append([]float64(nil), c...)
	got := append([]float64(nil), c...)
	aCopy, bCopy := append([]float64(nil), a...), append([]float64(nil), b...)

	ref.Dgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
	impl.Dgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)

	if !sameBits(a, aCopy) || !sameBits(b, bCopy) {
		t.Fatalf("%v: A or B modified", tc)
	}
	// Error bound: 1e-13·k·(|α|·|A||B| + |β||C|) elementwise.
	scale := tc.scale(a, b, c, lda, ldb, ldc)
	tol := 1e-13 * float64(max(tc.k, 1))
	for i := range got {
		if i%ldc >= tc.n {
			// Padding of C must be left untouched (NaN).
			if !math.IsNaN(got[i]) {
				t.Fatalf("%v: padding of C modified at %d: %v", tc, i, got[i])
			}
			continue
		}
		g, w := got[i], want[i]
		if math.IsNaN(g) || math.IsInf(g, 0) {
			t.Fatalf("%v: C[%d,%d] = %v, want %v", tc, i/ldc, i%ldc, g, w)
		}
		if !(math.Abs(g-w) <= tol*scale[i]+1e-300) {
			t.Fatalf("%v: C[%d,%d] = %v, want %v (diff %g, bound %g)", tc, i/ldc, i%ldc, g, w, math.Abs(g-w), tol*scale[i])
		}
	}
}

func sameBits(x, y []float64) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
			return false
		}
	}
	return true
}

// TestDgemmShapes covers every (m, n, k) of shapes with all transposes,
// cycling through the α/β combinations and stride paddings.
func TestDgemmShapes(t *testing.T) {
	forceFast(t)
	testDgemmShapes(t, shapes)
}

// TestDgemmShapesGoKernel runs the same table (smaller shapes) with the
// pure-Go kernel used on other architectures.
func TestDgemmShapesGoKernel(t *testing.T) {
	forceFast(t)
	useGoKernel(t)
	testDgemmShapes(t, []int{0, 1, 2, 5, 7, 8, 9, 16, 17, 33, 65})
}

func testDgemmShapes(t *testing.T, shapes []int) {
	rnd := rand.New(rand.NewPCG(1, 2))
	impl := Implementation{}
	eachShapeCase(shapes, func(_ int, tc gemmCase) { checkGemm(t, rnd, impl, tc) })
}

// eachShapeCase calls f with every (m, n, k) of shapes (up to a work
// bound) and all transposes, cycling through the α/β combinations and
// stride paddings; idx numbers the cases from 1.
func eachShapeCase(shapes []int, f func(idx int, tc gemmCase)) {
	idx := 0
	maxWork := 300_000 // the largest combinations add time, not coverage
	if testing.Short() {
		maxWork = 100_000
	}
	for _, m := range shapes {
		for _, n := range shapes {
			for _, k := range shapes {
				if m*n*k > maxWork {
					continue
				}
				for _, tA := range transposes {
					for _, tB := range transposes {
						idx++
						f(idx, gemmCase{
							tA: tA, tB: tB, m: m, n: n, k: k,
							alpha: scalars[idx%4], beta: scalars[(idx/4)%4],
							padA: (idx / 16) % 2 * 3, padB: (idx / 32) % 2 * 2, padC: (idx / 8) % 2 * 5,
						})
					}
				}
			}
		}
	}
}

// TestDgemmScalars tests every α/β combination (and NaN-filled C for β = 0)
// on shapes that hit full and partial micro-tiles and several k slabs.
func TestDgemmScalars(t *testing.T) {
	forceFast(t)
	rnd := rand.New(rand.NewPCG(3, 4))
	impl := Implementation{}
	dims := [][3]int{{1, 1, 1}, {6, 8, 4}, {7, 9, 3}, {13, 17, 300}, {33, 31, 513}, {64, 65, 16}, {129, 127, 5}}
	for _, d := range dims {
		for _, tA := range transposes {
			for _, tB := range transposes {
				for _, alpha := range scalars {
					for _, beta := range scalars {
						for _, pad := range []int{0, 1} {
							tc := gemmCase{tA: tA, tB: tB, m: d[0], n: d[1], k: d[2], alpha: alpha, beta: beta, padA: pad, padB: 2 * pad, padC: 3 * pad}
							checkGemm(t, rnd, impl, tc)
							if beta == 0 {
								tc.nanC = true
								checkGemm(t, rnd, impl, tc)
							}
						}
					}
				}
			}
		}
	}
}

// TestDgemmRandom is a randomized property test against gonum.
func TestDgemmRandom(t *testing.T) {
	forceFast(t)
	n := 300
	if testing.Short() {
		n = 50
	}
	testDgemmRandom(t, n, 5)
}

// TestDgemmRandomDefault runs the property test with the default size
// thresholds (small calls delegated to gonum).
func TestDgemmRandomDefault(t *testing.T) {
	testDgemmRandom(t, 100, 15)
}

func testDgemmRandom(t *testing.T, n int, seed uint64) {
	rnd := rand.New(rand.NewPCG(seed, 6))
	impl := Implementation{}
	for range n {
		dim := func() int {
			switch rnd.IntN(4) {
			case 0:
				return rnd.IntN(10)
			case 1:
				return rnd.IntN(400)
			default:
				return rnd.IntN(150)
			}
		}
		tc := gemmCase{
			tA:    []blas.Transpose{blas.NoTrans, blas.Trans, blas.ConjTrans}[rnd.IntN(3)],
			tB:    []blas.Transpose{blas.NoTrans, blas.Trans, blas.ConjTrans}[rnd.IntN(3)],
			m:     dim(),
			n:     dim(),
			k:     dim(),
			alpha: []float64{0, 1, -1, rnd.NormFloat64()}[rnd.IntN(4)],
			beta:  []float64{0, 1, -1, rnd.NormFloat64()}[rnd.IntN(4)],
			padA:  rnd.IntN(3) * rnd.IntN(20),
			padB:  rnd.IntN(3) * rnd.IntN(20),
			padC:  rnd.IntN(3) * rnd.IntN(20),
		}
		tc.nanC = tc.beta == 0 && rnd.IntN(2) == 0
		checkGemm(t, rnd, impl, tc)
	}
}

// TestDgemmDeterministic checks that results are bitwise identical across
// repeated calls and across GOMAXPROCS settings.
func TestDgemmDeterministic(t *testing.T) {
	forceFast(t)
	rnd := rand.New(rand.NewPCG(7, 8))
	impl := Implementation{}
	for _, d := range [][3]int{{300, 257, 700}, {128, 784, 1100}, {1000, 64, 300}, {8, 1153, 1151}, {3, 700, 300}} {
		m, n, k := d[0], d[1], d[2]
		for _, tA := range transposes {
			for _, tB := range transposes {
				a := randMat(rnd, m, k, k)
				b := randMat(rnd, k, n, n)
				c0 := randMat(rnd, m, n, n)
				lda, ldb := k, n
				if tA != blas.NoTrans {
					lda = m
				}
				if tB != blas.NoTrans {
					ldb = k
				}
				var first []float64
				for _, procs := range []int{1, 2, 3, 4, 2, 2} {
					old := runtime.GOMAXPROCS(procs)
					c := append([]float64(nil), c0...)
					impl.Dgemm(tA, tB, m, n, k, 1.5, a, lda, b, ldb, -0.5, c, n)
					runtime.GOMAXPROCS(old)
					if first == nil {
						first = c
					} else if !sameBits(first, c) {
						t.Fatalf("%s%s %v: result differs with GOMAXPROCS=%d", transName(tA), transName(tB), d, procs)
					}
				}
			}
		}
	}
}

// TestDgemmPanics checks that invalid arguments panic with gonum's messages.
func TestDgemmPanics(t *testing.T) {
	forceFast(t)
	impl := Implementation{}
	s := make([]float64, 100)
	type d = testblas.Dgemmer
	calls := []func(d){
		func(g d) { g.Dgemm('X', blas.NoTrans, 2, 2, 2, 1, s, 2, s, 2, 0, s, 2) },
		func(g d) { g.Dgemm(blas.NoTrans, 'X', 2, 2, 2, 1, s, 2, s, 2, 0, s, 2) },
		func(g d) { g.Dgemm(blas.NoTrans, blas.NoTrans, -1, 2, 2, 1, s, 2, s, 2, 0, s, 2) },
		func(g d) { g.Dgemm(blas.NoTrans, blas.NoTrans, 2, -1, 2, 1, s, 2, s, 2, 0, s, 2) },
		func(g d) { g.Dgemm(blas.NoTrans, blas.NoTrans, 2, 2, -1, 1, s, 2, s, 2, 0, s, 2) },
		func(g d) { g.Dgemm(blas.NoTrans, blas.NoTrans, 20, 20, 20, 1, s, 19, s, 20, 0, s, 20) },
		func(g d) { g.Dgemm(blas.Trans, blas.NoTrans, 20, 20, 20, 1, s, 19, s, 20, 0, s, 20) },
		func(g d) { g.Dgemm(blas.NoTrans, blas.NoTrans, 20, 20, 20, 1, s, 20, s, 19, 0, s, 20) },
		func(g d) { g.Dgemm(blas.NoTrans, blas.Trans, 20, 20, 20, 1, s, 20, s, 19, 0, s, 20) },
		func(g d) { g.Dgemm(blas.NoTrans, blas.NoTrans, 20, 20, 20, 1, s, 20, s, 20, 0, s, 19) },
		func(g d) { g.Dgemm(blas.NoTrans, blas.NoTrans, 20, 20, 20, 1, s, 20, s, 20, 0, s, 20) },               // short A
		func(g d) { g.Dgemm(blas.NoTrans, blas.NoTrans, 5, 20, 5, 1, s, 5, s, 20, 0, s, 20) },                  // short B
		func(g d) { g.Dgemm(blas.NoTrans, blas.NoTrans, 20, 5, 5, 1, s, 5, s, 5, 0, s, 5) },                    // valid: minimal lengths
		func(g d) { g.Dgemm(blas.NoTrans, blas.NoTrans, 21, 5, 5, 1, make([]float64, 200), 5, s, 5, 0, s, 5) }, // short C
	}
	for i, f := range calls {
		want := panicMsg(func() { f(ref) })
		got := panicMsg(func() { f(impl) })
		if got != want {
			t.Errorf("call %d: panic %q, want %q", i, got, want)
		}
	}
}

func panicMsg(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

type syrkCase struct {
	ul          blas.Uplo
	tA          blas.Transpose
	n, k        int
	alpha, beta float64
	padA, padC  int
	nanC        bool
}

func (tc syrkCase) String() string {
	ul := "U"
	if tc.ul == blas.Lower {
		ul = "L"
	}
	return fmt.Sprintf("%s%s/n=%d,k=%d,α=%v,β=%v,pad=%d,%d,nanC=%v", ul, transName(tc.tA), tc.n, tc.k, tc.alpha, tc.beta, tc.padA, tc.padC, tc.nanC)
}

func checkSyrk(t *testing.T, rnd *rand.Rand, impl Implementation, tc syrkCase) {
	t.Helper()
	rows, cols := tc.n, tc.k
	if tc.tA != blas.NoTrans {
		rows, cols = tc.k, tc.n
	}
	lda, ldc := max(1, cols)+tc.padA, max(1, tc.n)+tc.padC
	a := randMat(rnd, rows, cols, lda)
	c := randMat(rnd, tc.n, tc.n, ldc)
	// The other triangle is NaN and must stay so.
	for i := 0; i < tc.n; i++ {
		for j := 0; j < tc.n; j++ {
			if (tc.ul == blas.Upper && j < i) || (tc.ul == blas.Lower && j > i) || tc.nanC {
				c[i*ldc+j] = math.NaN()
			}
		}
	}
	want := append([]float64(nil), c...)
	got := append([]float64(nil), c...)
	if tc.nanC {
		// β = 0: C is not read, so the reference runs on a C without the
		// NaNs (gonum's Dsyrk would carry them into its result).
		for i := 0; i < tc.n; i++ {
			for j := 0; j < tc.n; j++ {
				if (tc.ul == blas.Upper && j >= i) || (tc.ul == blas.Lower && j <= i) {
					want[i*ldc+j] = 0
				}
			}
		}
	}
	ref.Dsyrk(tc.ul, tc.tA, tc.n, tc.k, tc.alpha, a, lda, tc.beta, want, ldc)
	impl.Dsyrk(tc.ul, tc.tA, tc.n, tc.k, tc.alpha, a, lda, tc.beta, got, ldc)

	tol := 1e-13 * float64(max(tc.k, 1))
	var aa float64 // max |A|² row-norm bound, crude scale
	for _, v := range a {
		if !math.IsNaN(v) {
			aa = max(aa, v*v)
		}
	}
	for i := 0; i < tc.n; i++ {
		for j := 0; j < tc.n; j++ {
			g, w := got[i*ldc+j], want[i*ldc+j]
			inTri := (tc.ul == blas.Upper && j >= i) || (tc.ul == blas.Lower && j <= i)
			if !inTri {
				if !math.IsNaN(g) {
					t.Fatalf("%v: C[%d,%d] outside the triangle modified", tc, i, j)
				}
				continue
			}
			scale := math.Abs(tc.alpha)*aa*float64(tc.k) + math.Abs(tc.beta)*math.Abs(c[i*ldc+j])
			if tc.nanC {
				scale = math.Abs(tc.alpha) * aa * float64(tc.k)
			}
			if math.IsNaN(g) || !(math.Abs(g-w) <= tol*scale+1e-300) {
				t.Fatalf("%v: C[%d,%d] = %v, want %v", tc, i, j, g, w)
			}
		}
	}
	for i := range got {
		if i%ldc >= tc.n && !math.IsNaN(got[i]) {
			t.Fatalf("%v: padding of C modified", tc)
		}
	}
}

func TestDsyrk(t *testing.T) {
	forceFast(t)
	rnd := rand.New(rand.NewPCG(9, 10))
	impl := Implementation{}
	idx := 0
	for _, n := range shapes {
		for _, k := range shapes {
			for _, ul := range []blas.Uplo{blas.Upper, blas.Lower} {
				for _, tA := range transposes {
					idx++
					tc := syrkCase{ul: ul, tA: tA, n: n, k: k,
						alpha: scalars[idx%4], beta: scalars[(idx/4)%4],
						padA: idx / 16 % 2 * 3, padC: idx / 32 % 2 * 4}
					tc.nanC = tc.beta == 0 && idx%3 == 0
					checkSyrk(t, rnd, impl, tc)
				}
			}
		}
	}
	for _, alpha := range scalars {
		for _, beta := range scalars {
			for _, ul := range []blas.Uplo{blas.Upper, blas.Lower} {
				for _, tA := range transposes {
					checkSyrk(t, rnd, impl, syrkCase{ul: ul, tA: tA, n: 131, k: 300, alpha: alpha, beta: beta, padA: 1, padC: 2, nanC: beta == 0})
				}
			}
		}
	}
}

func TestDsyrkPanics(t *testing.T) {
	forceFast(t)
	impl := Implementation{}
	s := make([]float64, 100)
	type syrker interface {
		Dsyrk(ul blas.Uplo, tA blas.Transpose, n, k int, alpha float64, a []float64, lda int, beta float64, c []float64, ldc int)
	}
	calls := []func(d syrker){
		func(d syrker) { d.Dsyrk('X', blas.NoTrans, 2, 2, 1, s, 2, 0, s, 2) },
		func(d syrker) { d.Dsyrk(blas.Upper, 'X', 2, 2, 1, s, 2, 0, s, 2) },
		func(d syrker) { d.Dsyrk(blas.Upper, blas.NoTrans, -1, 2, 1, s, 2, 0, s, 2) },
		func(d syrker) { d.Dsyrk(blas.Upper, blas.NoTrans, 2, -1, 1, s, 2, 0, s, 2) },
		func(d syrker) { d.Dsyrk(blas.Upper, blas.NoTrans, 20, 20, 1, s, 19, 0, s, 20) },
		func(d syrker) { d.Dsyrk(blas.Upper, blas.NoTrans, 20, 20, 1, s, 20, 0, s, 19) },
		func(d syrker) { d.Dsyrk(blas.Upper, blas.NoTrans, 20, 20, 1, s, 20, 0, make([]float64, 400), 20) },
		func(d syrker) { d.Dsyrk(blas.Upper, blas.Trans, 20, 20, 1, make([]float64, 400), 20, 0, s, 20) },
	}
	for i, f := range calls {
		want := panicMsg(func() { f(ref) })
		got := panicMsg(func() { f(impl) })
		if got != want {
			t.Errorf("call %d: panic %q, want %q", i, got, want)
		}
	}
}

// TestGonumSuite runs gonum's own Dgemm and Dsyrk tests.
func TestGonumSuite(t *testing.T) {
	forceFast(t)
	testblas.TestDgemm(t, Implementation{})
	testblas.DsyrkTest(t, Implementation{})
}

func TestGonumSuiteDefault(t *testing.T) {
	testblas.TestDgemm(t, Implementation{})
	testblas.DsyrkTest(t, Implementation{})
}

func TestNoAllocs(t *testing.T) {
	if !haveAsm {
		t.Skip("no fast path")
	}
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop pooled buffers at random")
	}
	rnd := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct {
		name    string
		impl    gemmer
		m, n, k int
	}{
		{"serial path", Implementation{}, 40, 48, 50},
		{"Serial over k ranges", Serial{}, 40, 36, 2100},
	} {
		m, n, k := tc.m, tc.n, tc.k
		a, b, c := randMat(rnd, m, k, k), randMat(rnd, k, n, n), randMat(rnd, m, n, n)
		tc.impl.Dgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
		allocs := testing.AllocsPerRun(50, func() {
			tc.impl.Dgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
		})
		if allocs != 0 {
			t.Errorf("%s: Dgemm allocates %v times per call", tc.name, allocs)
		}
	}
}

func TestAllocsParallel(t *testing.T) {
	if !haveAsm {
		t.Skip("no fast path")
	}
	rnd := rand.New(rand.NewPCG(11, 12))
	m, n, k := 300, 200, 600
	a, b, c := randMat(rnd, m, k, k), randMat(rnd, k, n, n), randMat(rnd, m, n, n)
	impl := Implementation{}
	impl.Dgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
	allocs := testing.AllocsPerRun(20, func() {
		impl.Dgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
	})
	t.Logf("parallel Dgemm: %v allocations per call (GOMAXPROCS=%d)", allocs, runtime.GOMAXPROCS(0))
	if allocs > 20 {
		t.Errorf("parallel Dgemm allocates %v times per call", allocs)
	}
}

func TestKernelMatchesGo(t *testing.T) {
	if !haveAsm {
		t.Skip("no assembly kernel")
	}
	rnd := rand.New(rand.NewPCG(13, 14))
	for _, kc := range []int{1, 2, 3, 4, 5, 7, 8, 9, 255, 256} {
		for _, beta := range []float64{0, 1, -0.25, math.NaN()} {
			a := randMat(rnd, 1, kc*mr, kc*mr)
			b := randMat(rnd, 1, kc*nr, kc*nr)
			c := randMat(rnd, mr, nr, nr+3)
			want := append([]float64(nil), c...)
			microKernel(kc, a, b, c, nr+3, 1.25, beta)
			kern6x8Go(kc, a, b, want, nr+3, 1.25, beta)
			for i := range c {
				if i%(nr+3) >= nr {
					if !math.IsNaN(c[i]) {
						t.Fatalf("padding written")
					}
					continue
				}
				if math.IsNaN(beta) != math.IsNaN(c[i]) || (!math.IsNaN(beta) && !(math.Abs(c[i]-want[i]) <= 1e-13*float64(kc)*4)) {
					t.Fatalf("kc=%d β=%v: %v != %v", kc, beta, c[i], want[i])
				}
			}
		}
	}
}

// TestUse checks the blas64 registration through gonum's mat package.
func TestUse(t *testing.T) {
	Use()
	defer blas64.Use(gonum.Implementation{})
	if _, ok := blas64.Implementation().(Implementation); !ok {
		t.Fatal("Use did not register Implementation")
	}
	rnd := rand.New(rand.NewPCG(15, 16))
	a := mat.NewDense(70, 90, randMat(rnd, 70, 90, 90))
	b := mat.NewDense(90, 50, randMat(rnd, 90, 50, 50))
	var got mat.Dense
	got.Mul(a, b)
	want := mat.NewDense(70, 50, nil)
	ref.Dgemm(blas.NoTrans, blas.NoTrans, 70, 50, 90, 1, a.RawMatrix().Data, 90, b.RawMatrix().Data, 50, 0, want.RawMatrix().Data, 50)
	if !mat.EqualApprox(&got, want, 1e-12) {
		t.Error("mat.Dense.Mul result differs from gonum")
	}
}

// bothKernels runs f with the assembly kernels (where the CPU has them) and
// with the portable code.
func bothKernels(f func(asm bool)) {
	old := haveAsm
	defer func() { haveAsm = old }()
	for _, asm := range []bool{old, false} {
		haveAsm = asm
		f(asm)
	}
}

// TestAddMul checks dst += x∘y against the scalar loop for every length
// around the 4- and 8-element steps of the kernel, with the assembly and
// the portable code.
func TestAddMul(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 12))
	bothKernels(func(asm bool) {
		for n := 0; n <= 37; n++ {
			x := randMat(rnd, 1, n+3, n+3)
			y := randMat(rnd, 1, n+3, n+3)
			dst := randMat(rnd, 1, n+1, n+1)
			want := append([]float64(nil), dst...)
			scale := absSlice(dst)
			for i := 0; i < n; i++ {
				want[i] += x[i] * y[i]
				scale[i] += math.Abs(x[i] * y[i])
			}
			AddMul(dst[:n], x, y)
			for i := range want {
				// FMA rounds once where the scalar loop rounds twice.
				if !(math.Abs(dst[i]-want[i]) <= 4e-16*scale[i]) {
					t.Fatalf("asm=%v n=%d: dst[%d] = %v, want %v", asm, n, i, dst[i], want[i])
				}
			}
		}
	})
}

// TestSerial checks that Serial gives bitwise the results of the parallel
// Implementation, on blocked, thin and triangular products.
func TestSerial(t *testing.T) {
	rnd := rand.New(rand.NewPCG(13, 14))
	for _, d := range [][3]int{{300, 257, 300}, {8, 700, 300}, {3, 100, 700}} {
		m, n, k := d[0], d[1], d[2]
		for _, tB := range transposes {
			a := randMat(rnd, m, k, k)
			b := randMat(rnd, k, n, n)
			ldb := n
			if tB != blas.NoTrans {
				b = randMat(rnd, n, k, k)
				ldb = k
			}
			c0 := randMat(rnd, m, n, n)
			want := append([]float64(nil), c0...)
			got := append([]float64(nil), c0...)
			Implementation{}.Dgemm(blas.NoTrans, tB, m, n, k, 1.5, a, k, b, ldb, -0.5, want, n)
			Serial{}.Dgemm(blas.NoTrans, tB, m, n, k, 1.5, a, k, b, ldb, -0.5, got, n)
			if !sameBits(want, got) {
				t.Errorf("Dgemm N%s %v: Serial differs", transName(tB), d)
			}
		}
	}
	a := randMat(rnd, 200, 300, 300)
	want := randMat(rnd, 200, 200, 200)
	got := append([]float64(nil), want...)
	Implementation{}.Dsyrk(blas.Upper, blas.NoTrans, 200, 300, 1, a, 300, 1, want, 200)
	Serial{}.Dsyrk(blas.Upper, blas.NoTrans, 200, 300, 1, a, 300, 1, got, 200)
	if !sameBits(want, got) {
		t.Error("Dsyrk: Serial differs")
	}
}

// TestCombRows checks the linear combination of rows against the scalar
// loop, for lengths around the 16-column strips, with the assembly and the
// portable code.
func TestCombRows(t *testing.T) {
	rnd := rand.New(rand.NewPCG(15, 16))
	bothKernels(func(asm bool) {
		for _, n := range []int{0, 1, 15, 16, 17, 33, 128, 130} {
			for _, k := range []int{0, 1, 2, 9, 10} {
				ldb := n + 3
				a := randMat(rnd, 1, k, k)
				b := randMat(rnd, max(k, 1), n, ldb)
				c := randMat(rnd, 1, n+1, n+1)
				want := append([]float64(nil), c...)
				scale := make([]float64, n)
				for j := 0; j < n; j++ {
					want[j] = 0
					for p := 0; p < k; p++ {
						want[j] += a[p] * b[p*ldb+j]
						scale[j] += math.Abs(a[p] * b[p*ldb+j])
					}
				}
				CombRows(c[:n], a, b, ldb)
				for j := range want {
					bound := 0.0
					if j < n {
						bound = 4e-16 * float64(k) * scale[j]
					}
					if !(math.Abs(c[j]-want[j]) <= bound) {
						t.Fatalf("asm=%v n=%d k=%d: c[%d] = %v, want %v", asm, n, k, j, c[j], want[j])
					}
				}
			}
		}
	})
}

// TestPairKernels checks that the AVX-512 kernels on two B panels give
// bitwise the results of the AVX2 kernels one panel at a time, in both
// element types, on full, triangular and edge-cut products (the pair
// kernels run the same operations per entry, so results do not depend on
// which kernels the CPU has).
func TestPairKernels(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512")
	}
	rnd := rand.New(rand.NewPCG(21, 22))
	for _, d := range [][3]int{{70, 90, 130}, {300, 257, 300}, {13, 33, 5}, {96, 64, 600}} {
		m, n, k := d[0], d[1], d[2]
		a, b := randMat(rnd, m, k, k), randMat(rnd, k, n, n)
		c0, s0 := randMat(rnd, m, n, n), randMat(rnd, m, m, m)
		a32, b32, c32 := make([]float32, len(a)), make([]float32, len(b)), make([]float32, len(c0))
		Narrow(a32, a)
		Narrow(b32, b)
		Narrow(c32, c0)
		run := func(pairs bool) ([]float64, []float64, []float32) {
			old := haveAVX512
			defer func() { haveAVX512 = old }()
			haveAVX512 = pairs
			var impl Implementation
			c := append([]float64(nil), c0...)
			impl.Dgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1.5, a, k, b, n, 0.5, c, n)
			s := append([]float64(nil), s0...)
			impl.Dsyrk(blas.Upper, blas.NoTrans, m, k, 1, a, k, 1, s, m)
			c3 := append([]float32(nil), c32...)
			impl.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1.5, a32, k, b32, n, 0.5, c3, n)
			return c, s, c3
		}
		c1, s1, f1 := run(true)
		c2, s2, f2 := run(false)
		for i := range c1 {
			if math.Float64bits(c1[i]) != math.Float64bits(c2[i]) {
				t.Fatalf("%v: Dgemm entry %d: %v with pairs, %v without", d, i, c1[i], c2[i])
			}
		}
		for i := range s1 {
			if math.Float64bits(s1[i]) != math.Float64bits(s2[i]) {
				t.Fatalf("%v: Dsyrk entry %d: %v with pairs, %v without", d, i, s1[i], s2[i])
			}
		}
		for i := range f1 {
			if math.Float32bits(f1[i]) != math.Float32bits(f2[i]) {
				t.Fatalf("%v: Sgemm entry %d: %v with pairs, %v without", d, i, f1[i], f2[i])
			}
		}
	}
}

// TestGramKernels checks that Gram products (Dsyrk and Ssyrk of A·Aᵀ)
// on the gram kernels, which read their A panels from the packed B panels,
// give bitwise the results of the pair kernels with A packed on its own:
// both triangles, β = 0 (over NaN), 1 and ½, padded rows, sizes around the
// kernels' 8 rows and 16 (32) columns, slabs and the split over k.
func TestGramKernels(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512")
	}
	rnd := rand.New(rand.NewPCG(23, 24))
	for _, n := range []int{5, 8, 9, 16, 17, 31, 33, 47, 70, 288} {
		for _, k := range []int{1, 3, 7, 256, 300, 2100} {
			if n*n*k < 2*minFastSize {
				continue // gonum's
			}
			for _, ul := range []blas.Uplo{blas.Upper, blas.Lower} {
				for _, beta := range []float64{0, 1, 0.5} {
					lda := k + rnd.IntN(3)
					a := randMat(rnd, n, k, lda)
					c0 := randMat(rnd, n, n, n)
					if beta == 0 {
						for i := range c0 {
							c0[i] = math.NaN()
						}
					}
					a32, c32 := make([]float32, len(a)), make([]float32, len(c0))
					Narrow(a32, a)
					Narrow(c32, c0)
					run := func(gram bool) ([]float64, []float32) {
						defer func(old bool) { gramEnabled = old }(gramEnabled)
						gramEnabled = gram
						var impl Implementation
						c := append([]float64(nil), c0...)
						impl.Dsyrk(ul, blas.NoTrans, n, k, -1.25, a, lda, beta, c, n)
						c3 := append([]float32(nil), c32...)
						impl.Ssyrk(ul, blas.NoTrans, n, k, -1.25, a32, lda, float32(beta), c3, n)
						return c, c3
					}
					g64, g32 := run(true)
					p64, p32 := run(false)
					for i := range g64 {
						if math.Float64bits(g64[i]) != math.Float64bits(p64[i]) {
							t.Fatalf("n %d, k %d, %c, β %v: Dsyrk entry %d: %v with the gram kernel, %v without", n, k, ul, beta, i, g64[i], p64[i])
						}
						if math.Float32bits(g32[i]) != math.Float32bits(p32[i]) {
							t.Fatalf("n %d, k %d, %c, β %v: Ssyrk entry %d: %v with the gram kernel, %v without", n, k, ul, beta, i, g32[i], p32[i])
						}
					}
				}
			}
		}
	}
}

// TestThinNNPanels checks gemmThinNN with more than two rows of A on each
// of its paths, whatever B's size: B streamed along its rows (on AVX-512:
// thinNNStream, twelve rows of A at a time, two groups for m > 12, over
// several tasks of streamCols and passes of streamRows), B copied into
// panels, and B read in place (twelve rows of A at a time on AVX-512,
// else two). Each is checked bitwise against the same rows taken two at
// a time (which read B in place), on widths with a partial last block of
// 16 and a column tail, and on k large enough for panels narrower than a
// task; with the assembly and the portable kernel.
func TestThinNNPanels(t *testing.T) {
	defer func(b, s int) { thinPanelMinBytes, thinStreamMinBytes = b, s }(thinPanelMinBytes, thinStreamMinBytes)
	rnd := rand.New(rand.NewPCG(11, 12))
	// Streaming (on AVX-512), panels, and B in place, for every B.
	for _, mode := range [][2]int{{0, 0}, {0, math.MaxInt}, {math.MaxInt, math.MaxInt}} {
		thinPanelMinBytes, thinStreamMinBytes = mode[0], mode[1]
		testThinNNPanels(t, rnd)
	}
}

func testThinNNPanels(t *testing.T, rnd *rand.Rand) {
	bothKernels(func(asm bool) {
		for _, d := range [][3]int{{3, 17, 5}, {10, 300, 288}, {16, 529, 1500}, {5, 70, 9000}, {7, 256, 1}, {12, 2100, 41}, {13, 3000, 17}} {
			m, n, k := d[0], d[1], d[2]
			ldb, ldc := n+3, n+1
			a := randMat(rnd, m, k, k)
			b := randMat(rnd, k, n, ldb)
			for _, beta := range []float64{0, 0.5} {
				c0 := randMat(rnd, m, n, ldc)
				got := append([]float64(nil), c0...)
				gemmThinNN(2, m, n, k, 1.5, a, k, b, ldb, beta, got, ldc)
				want := append([]float64(nil), c0...)
				for i0 := 0; i0 < m; i0 += 2 {
					mi := min(2, m-i0)
					gemmThinNN(1, mi, n, k, 1.5, a[i0*k:], k, b, ldb, beta, want[i0*ldc:], ldc)
				}
				for i := range m {
					for j := range n {
						if g, w := got[i*ldc+j], want[i*ldc+j]; math.Float64bits(g) != math.Float64bits(w) || math.IsNaN(g) {
							t.Fatalf("asm=%v %v beta=%g (panels from %d, streaming from %d bytes): C[%d,%d] = %v, want %v",
								asm, d, beta, thinPanelMinBytes, thinStreamMinBytes, i, j, g, w)
						}
					}
				}
				var ref float64
				for p := range k {
					ref += a[(m-1)*k+p] * b[p*ldb+n-1]
				}
				ref = 1.5*ref + beta*c0[(m-1)*ldc+n-1]
				if g := got[(m-1)*ldc+n-1]; !(math.Abs(g-ref) <= 1e-12*(1+math.Abs(ref))*float64(k)) {
					t.Fatalf("asm=%v %v: C[m-1,n-1] = %v, want %v", asm, d, g, ref)
				}
			}
		}
	})
}

// TestGemmNNMixed checks the float32-B thin product bitwise against the
// float64 one on B widened (the same kernel order, B widened exactly), for
// m up to past one pass of thinMaxRows, with the assembly and the portable
// kernel, and that beta = 0 does not read C.
func TestGemmNNMixed(t *testing.T) {
	defer func(b, s int) { thinPanelMinBytes, thinStreamMinBytes = b, s }(thinPanelMinBytes, thinStreamMinBytes)
	rnd := rand.New(rand.NewPCG(13, 14))
	for _, minBytes := range []int{0, math.MaxInt} { // with and without panels or streaming
		thinPanelMinBytes, thinStreamMinBytes = minBytes, minBytes
		testGemmNNMixed(t, rnd)
	}
}

func testGemmNNMixed(t *testing.T, rnd *rand.Rand) {
	bothKernels(func(asm bool) {
		for _, d := range [][3]int{{1, 1, 1}, {2, 33, 7}, {10, 300, 288}, {17, 70, 40}, {5, 529, 1500}, {12, 2100, 20}} {
			m, n, k := d[0], d[1], d[2]
			ldb, ldc := n+2, n+3
			a := randMat(rnd, m, k, k)
			b64 := randMat(rnd, k, n, ldb)
			b32 := make([]float32, len(b64))
			for i, v := range b64 {
				b32[i] = float32(v)
				b64[i] = float64(b32[i])
			}
			for _, beta := range []float64{0, -0.5} {
				c0 := randMat(rnd, m, n, ldc)
				if beta == 0 {
					for i := range c0 {
						c0[i] = math.NaN()
					}
				}
				got := append([]float64(nil), c0...)
				GemmNNMixed(m, n, k, 0.75, a, k, b32, ldb, beta, got, ldc)
				want := append([]float64(nil), c0...)
				for i0 := 0; i0 < m; i0 += thinMaxRows {
					gemmThinNN(1, min(thinMaxRows, m-i0), n, k, 0.75, a[i0*k:], k, b64, ldb, beta, want[i0*ldc:], ldc)
				}
				for i := range m {
					for j := range n {
						if g, w := got[i*ldc+j], want[i*ldc+j]; math.Float64bits(g) != math.Float64bits(w) || math.IsNaN(g) {
							t.Fatalf("asm=%v %v beta=%g: C[%d,%d] = %v, want %v", asm, d, beta, i, j, g, w)
						}
					}
				}
			}
		}
	})
}

// TestKernels checks that Kernels names the kernels the products take.
func TestKernels(t *testing.T) {
	want := "portable Go"
	switch {
	case haveAVX512:
		want = "AVX-512"
	case haveAsm:
		want = "AVX2/FMA"
	}
	if got := Kernels(); got != want {
		t.Errorf("Kernels() = %q, want %q", got, want)
	}
}
