// Copyright ©2025 The vivit-go Authors. All rights reserved.

package fastblas

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
)

// The float32 products are checked against a float64 reference on the same
// (float32) inputs: the error bound is float32's rounding, 2⁻²⁴·k·|α|·|A||B|
// (plus |β||C|) with a safety factor of 8.

func to32(s []float64) []float32 {
	r := make([]float32, len(s))
	for i, v := range s {
		r[i] = float32(v)
	}
	return r
}

func to64(s []float32) []float64 {
	r := make([]float64, len(s))
	for i, v := range s {
		r[i] = float64(v)
	}
	return r
}

func isNaN32(v float32) bool { return v != v }

// checkSgemm runs one case through Sgemm and compares it with Dgemm on the
// same values.
func checkSgemm(t *testing.T, rnd *rand.Rand, impl Implementation, tc gemmCase) {
	t.Helper()
	a64, b64, c64, lda, ldb, ldc := tc.operands(rnd)
	a, b, c := to32(a64), to32(b64), to32(c64)
	got := append([]float32(nil), c...)
	want := to64(c)
	impl.Sgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, float32(tc.alpha), a, lda, b, ldb, float32(tc.beta), got, ldc)
	ref.Dgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, to64(a), lda, to64(b), ldb, tc.beta, want, ldc)

	scale := tc.scale(to64(a), to64(b), to64(c), lda, ldb, ldc)
	tol := 8 * 0x1p-24 * float64(max(tc.k, 1))
	for i := range got {
		if i%ldc >= tc.n {
			if !isNaN32(got[i]) {
				t.Fatalf("%v: padding of C modified at %d: %v", tc, i, got[i])
			}
			continue
		}
		g, w := float64(got[i]), want[i]
		if math.IsNaN(g) || math.IsInf(g, 0) || !(math.Abs(g-w) <= tol*scale[i]+1e-30) {
			t.Fatalf("%v: C[%d,%d] = %v, want %v (bound %g)", tc, i/ldc, i%ldc, g, w, tol*scale[i])
		}
	}
}

func TestSgemmShapes(t *testing.T) {
	forceFast(t)
	testSgemmShapes(t, shapes)
}

// TestSgemmShapesGoKernel runs the table with the portable kernel.
func TestSgemmShapesGoKernel(t *testing.T) {
	forceFast(t)
	useGoKernel(t)
	testSgemmShapes(t, []int{0, 1, 2, 5, 7, 15, 16, 17, 33, 65})
}

func testSgemmShapes(t *testing.T, shapes []int) {
	rnd := rand.New(rand.NewPCG(31, 32))
	impl := Implementation{}
	eachShapeCase(shapes, func(idx int, tc gemmCase) {
		tc.nanC = tc.beta == 0 && idx%3 == 0
		checkSgemm(t, rnd, impl, tc)
	})
	// Several k slabs and parallel work units.
	for _, tA := range transposes {
		for _, tB := range transposes {
			checkSgemm(t, rnd, impl, gemmCase{tA: tA, tB: tB, m: 131, n: 197, k: 600, alpha: -0.5, beta: 2, padA: 1, padB: 2, padC: 3})
		}
	}
}

// TestSsyrk checks both triangles and transposes against Dsyrk on the same
// values; the other triangle and the padding must stay NaN.
func TestSsyrk(t *testing.T) {
	forceFast(t)
	rnd := rand.New(rand.NewPCG(33, 34))
	impl := Implementation{}
	idx := 0
	for _, n := range []int{1, 5, 6, 7, 16, 17, 33, 131} {
		for _, k := range []int{1, 7, 16, 300} {
			for _, ul := range []blas.Uplo{blas.Upper, blas.Lower} {
				for _, tA := range transposes {
					idx++
					alpha, beta := scalars[idx%4], scalars[(idx/4)%4]
					rows, cols := n, k
					if tA != blas.NoTrans {
						rows, cols = k, n
					}
					lda, ldc := cols+idx%2, n+idx%3
					a := to32(randMat(rnd, rows, cols, lda))
					c := to32(randMat(rnd, n, n, ldc))
					for i := 0; i < n; i++ {
						for j := 0; j < n; j++ {
							if (ul == blas.Upper && j < i) || (ul == blas.Lower && j > i) {
								c[i*ldc+j] = float32(math.NaN())
							}
						}
					}
					got := append([]float32(nil), c...)
					want := to64(c)
					impl.Ssyrk(ul, tA, n, k, float32(alpha), a, lda, float32(beta), got, ldc)
					ref.Dsyrk(ul, tA, n, k, alpha, to64(a), lda, beta, want, ldc)
					tol := 8 * 0x1p-24 * float64(k) * (math.Abs(alpha)*float64(k) + math.Abs(beta))
					for i := range got {
						r, j := i/ldc, i%ldc
						in := j < n && ((ul == blas.Upper && j >= r) || (ul == blas.Lower && j <= r))
						if !in {
							if !isNaN32(got[i]) {
								t.Fatalf("n=%d k=%d: C[%d,%d] outside the triangle modified", n, k, r, j)
							}
							continue
						}
						if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol) {
							t.Fatalf("n=%d k=%d ul=%v tA=%v: C[%d,%d] = %v, want %v", n, k, ul, tA, r, j, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

func TestKernel32MatchesGo(t *testing.T) {
	if !haveAsm {
		t.Skip("no assembly kernel")
	}
	rnd := rand.New(rand.NewPCG(35, 36))
	for _, kc := range []int{1, 2, 7, 8, 9, 255, 256} {
		for _, beta := range []float32{0, 1, -0.25, float32(math.NaN())} {
			a := to32(randMat(rnd, 1, kc*mr, kc*mr))
			b := to32(randMat(rnd, 1, kc*nr32, kc*nr32))
			c := to32(randMat(rnd, mr, nr32, nr32+3))
			want := append([]float32(nil), c...)
			microKernel32(kc, a, b, c, nr32+3, 1.25, beta)
			kern6x16Go(kc, a, b, want, nr32+3, 1.25, beta)
			for i := range c {
				if i%(nr32+3) >= nr32 {
					if !isNaN32(c[i]) {
						t.Fatalf("padding written")
					}
					continue
				}
				if isNaN32(beta) != isNaN32(c[i]) || (!isNaN32(beta) && !(math.Abs(float64(c[i]-want[i])) <= 1e-5*float64(kc))) {
					t.Fatalf("kc=%d β=%v: %v != %v", kc, beta, c[i], want[i])
				}
			}
		}
	}
}

// TestSerialFloat32 checks that Serial's float32 products are bitwise
// those of the threaded ones.
func TestSerialFloat32(t *testing.T) {
	rnd := rand.New(rand.NewPCG(37, 38))
	m, n, k := 150, 170, 300
	a, b := to32(randMat(rnd, m, k, k)), to32(randMat(rnd, k, n, n))
	c1, c2 := make([]float32, m*n), make([]float32, m*n)
	Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c1, n)
	Serial{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c2, n)
	for i := range c1 {
		if math.Float32bits(c1[i]) != math.Float32bits(c2[i]) {
			t.Fatalf("Sgemm: serial and threaded differ at %d", i)
		}
	}
	s1, s2 := make([]float32, m*m), make([]float32, m*m)
	Implementation{}.Ssyrk(blas.Upper, blas.NoTrans, m, k, 1, a, k, 0, s1, m)
	Serial{}.Ssyrk(blas.Upper, blas.NoTrans, m, k, 1, a, k, 0, s2, m)
	for i := range s1 {
		if math.Float32bits(s1[i]) != math.Float32bits(s2[i]) {
			t.Fatalf("Ssyrk: serial and threaded differ at %d", i)
		}
	}
}

// TestUseFloat32 checks the blas32 registration.
func TestUseFloat32(t *testing.T) {
	Use()
	defer blas64.Use(gonum.Implementation{})
	defer blas32.Use(gonum.Implementation{})
	if _, ok := blas32.Implementation().(Implementation); !ok {
		t.Fatal("Use did not register Implementation for blas32")
	}
}

// TestAddMulMixed and TestNarrow check the float32 helpers against scalar
// loops for every length around the kernels' 4-element steps, assembly and
// portable; elements past the length are left alone.
func TestAddMulMixed(t *testing.T) {
	rnd := rand.New(rand.NewPCG(39, 40))
	bothKernels(func(asm bool) {
		for n := 0; n <= 37; n++ {
			x := randMat(rnd, 1, n+3, n+3)
			y := to32(randMat(rnd, 1, n+3, n+3))
			dst := randMat(rnd, 1, n+1, n+1)
			want := append([]float64(nil), dst...)
			for i := 0; i < n; i++ {
				want[i] += x[i] * float64(y[i])
			}
			AddMulMixed(dst[:n], x, y)
			for i := range want {
				if !(math.Abs(dst[i]-want[i]) <= 4e-16*(math.Abs(want[i])+math.Abs(x[i]*float64(y[i])))) {
					t.Fatalf("asm=%v n=%d: dst[%d] = %v, want %v", asm, n, i, dst[i], want[i])
				}
			}
		}
	})
}

func TestWiden(t *testing.T) {
	rnd := rand.New(rand.NewPCG(43, 44))
	bothKernels(func(asm bool) {
		for n := 0; n <= 37; n++ {
			src := to32(randMat(rnd, 1, n+2, n+2))
			dst := make([]float64, n+1)
			dst[n] = 7
			Widen(dst[:n], src)
			for i := 0; i < n; i++ {
				if dst[i] != float64(src[i]) {
					t.Fatalf("asm=%v n=%d: dst[%d] = %v, want %v", asm, n, i, dst[i], src[i])
				}
			}
			if dst[n] != 7 {
				t.Fatalf("asm=%v n=%d: wrote past the end", asm, n)
			}
		}
	})
}

func TestWidenAdd(t *testing.T) {
	rnd := rand.New(rand.NewPCG(43, 45))
	bothKernels(func(asm bool) {
		for n := 0; n <= 37; n++ {
			src := to32(randMat(rnd, 1, n+2, n+2))
			dst := randMat(rnd, 1, n+1, n+1)
			want := append([]float64(nil), dst...)
			dst[n] = 7
			WidenAdd(dst[:n], src)
			for i := 0; i < n; i++ {
				if w := want[i] + float64(src[i]); dst[i] != w {
					t.Fatalf("asm=%v n=%d: dst[%d] = %v, want %v", asm, n, i, dst[i], w)
				}
			}
			if dst[n] != 7 {
				t.Fatalf("asm=%v n=%d: wrote past the end", asm, n)
			}
		}
	})
}

func TestAdd32(t *testing.T) {
	rnd := rand.New(rand.NewPCG(45, 46))
	bothKernels(func(asm bool) {
		for n := 0; n <= 37; n++ {
			src := to32(randMat(rnd, 1, n+2, n+2))
			dst := to32(randMat(rnd, 1, n+1, n+1))
			want := append([]float32(nil), dst...)
			dst[n] = 7
			Add32(dst[:n], src)
			for i := 0; i < n; i++ {
				if w := want[i] + src[i]; dst[i] != w {
					t.Fatalf("asm=%v n=%d: dst[%d] = %v, want %v", asm, n, i, dst[i], w)
				}
			}
			if dst[n] != 7 {
				t.Fatalf("asm=%v n=%d: wrote past the end", asm, n)
			}
		}
	})
}

func TestNarrow(t *testing.T) {
	rnd := rand.New(rand.NewPCG(41, 42))
	bothKernels(func(asm bool) {
		for n := 0; n <= 37; n++ {
			src := randMat(rnd, 1, n+2, n+2)
			src[0] = 1 + 0x1p-30 // rounds to 1
			if n > 1 {
				src[1] = math.Inf(-1)
			}
			dst := make([]float32, n+1)
			dst[n] = 7
			Narrow(dst[:n], src)
			for i := 0; i < n; i++ {
				if math.Float32bits(dst[i]) != math.Float32bits(float32(src[i])) {
					t.Fatalf("asm=%v n=%d: dst[%d] = %v, want %v", asm, n, i, dst[i], float32(src[i]))
				}
			}
			if dst[n] != 7 {
				t.Fatalf("asm=%v n=%d: wrote past the end", asm, n)
			}
		}
	})
}

// TestGemmNTMixed checks the float32-B thin product against the float64
// thin product on the widened B (bitwise: the same kernel order on the
// same values) and against the definition, for shapes around the
// kernel's steps, the 16-row chunks and the slabs, assembly and portable;
// β = 0 must not read C.
func TestGemmNTMixed(t *testing.T) {
	rnd := rand.New(rand.NewPCG(49, 50))
	for _, m := range []int{1, 2, 3, 16, 17, 35} {
		for _, n := range []int{1, 6, 7, 66, 67, 140} {
			for _, k := range []int{1, 4, 5, 255, 257, 601} {
				for _, beta := range []float64{0, -0.5} {
					lda, ldb, ldc := k+1, k+3, n+2
					a := randMat(rnd, m, k, lda)
					b := to32(randMat(rnd, n, k, ldb))
					c0 := randMat(rnd, m, n, ldc)
					if beta == 0 {
						for i := 0; i < m; i++ {
							c0[i*ldc] = math.NaN()
						}
					}
					bothKernels(func(asm bool) {
						c := append([]float64(nil), c0...)
						GemmNTMixed(m, n, k, 1.5, a, lda, b, ldb, beta, c, ldc)
						ref := append([]float64(nil), c0...)
						wide := to64(b)
						for i0 := 0; i0 < m; i0 += thinMaxRows {
							gemmThinNT(1, min(thinMaxRows, m-i0), n, k, 1.5, a[i0*lda:], lda, wide, ldb, beta, ref[i0*ldc:], ldc)
						}
						for i := 0; i < m; i++ {
							for j := 0; j < n; j++ {
								got := c[i*ldc+j]
								if math.Float64bits(got) != math.Float64bits(ref[i*ldc+j]) {
									t.Fatalf("asm=%v m=%d n=%d k=%d β=%v: C[%d,%d] = %v, float64 thin product %v", asm, m, n, k, beta, i, j, got, ref[i*ldc+j])
								}
								var want, scale float64
								for p := 0; p < k; p++ {
									want += a[i*lda+p] * float64(b[j*ldb+p])
									scale += math.Abs(a[i*lda+p] * float64(b[j*ldb+p]))
								}
								want *= 1.5
								if beta != 0 {
									want += beta * c0[i*ldc+j]
									scale += math.Abs(c0[i*ldc+j])
								}
								if !(math.Abs(got-want) <= 1e-14*(scale+1)) {
									t.Fatalf("asm=%v m=%d n=%d k=%d β=%v: C[%d,%d] = %v, want %v", asm, m, n, k, beta, i, j, got, want)
								}
							}
							if i < m-1 && !math.IsNaN(c[i*ldc+n]) {
								t.Fatalf("asm=%v m=%d n=%d k=%d: wrote into C's padding", asm, m, n, k)
							}
						}
					})
				}
			}
		}
	}
}
