// Copyright ©2025 The vivit-go Authors. All rights reserved.

package fastblas

import (
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
)

// Implementation is gonum's pure-Go BLAS with Dgemm, Dsyrk, Sgemm and Ssyrk
// replaced by packed, cache-blocked, multi-threaded versions built around
// AVX2/FMA micro-kernels. All other routines are gonum's.
type Implementation struct {
	gonum.Implementation
}

var (
	_ blas.Float64 = Implementation{}
	_ blas.Float32 = Implementation{}
)

// Serial is Implementation without goroutines: for callers that already
// spread many products over the cores (per sample, per tile). Its results
// are bitwise identical to Implementation's.
type Serial struct {
	Implementation
}

// Dgemm is Implementation.Dgemm on the calling goroutine only.
func (s Serial) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	s.dgemm(1, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dsyrk is Implementation.Dsyrk on the calling goroutine only.
func (s Serial) Dsyrk(ul blas.Uplo, tA blas.Transpose, n, k int, alpha float64, a []float64, lda int, beta float64, c []float64, ldc int) {
	s.dsyrk(1, ul, tA, n, k, alpha, a, lda, beta, c, ldc)
}

// Sgemm is Implementation.Sgemm on the calling goroutine only.
func (s Serial) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	s.sgemm(1, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Ssyrk is Implementation.Ssyrk on the calling goroutine only.
func (s Serial) Ssyrk(ul blas.Uplo, tA blas.Transpose, n, k int, alpha float32, a []float32, lda int, beta float32, c []float32, ldc int) {
	s.ssyrk(1, ul, tA, n, k, alpha, a, lda, beta, c, ldc)
}

// Use registers Implementation as the blas64 and blas32 implementation
// used by gonum (mat, lapack64, ...). It is not called automatically.
func Use() {
	blas64.Use(Implementation{})
	blas32.Use(Implementation{})
}

// Accelerated reports whether the fast paths are available on this CPU
// (amd64 with AVX2 and FMA). When it is false, Implementation behaves
// exactly like gonum.Implementation.
func Accelerated() bool { return haveAsm }

// fastEnabled switches the fast paths on; tests can force it (together with
// haveAsm = false) to exercise the blocked driver with the pure-Go kernel.
var fastEnabled = haveAsm

// minFastSize is the m·n·k below which calls are delegated to gonum,
// whose unblocked loops have less overhead for tiny products (the blocked
// path wins from about 8×8×8 on).
var minFastSize = 6 * 6 * 6

// minFastRows: a product with a transposed A (a non-transposed one with
// few rows takes the thin path), fewer rows than this and a non-transposed
// B goes to gonum, whose axpy loops stream B once, which beats packing it.
var minFastRows = 5

// Dgemm performs one of the matrix-matrix operations
//
//	C = alpha * A * B + beta * C
//	C = alpha * Aᵀ * B + beta * C
//	C = alpha * A * Bᵀ + beta * C
//	C = alpha * Aᵀ * Bᵀ + beta * C
//
// where A is an m×k or k×m dense matrix, B is an n×k or k×n dense matrix, C is
// an m×n matrix, and alpha and beta are scalars. tA and tB specify whether A or
// B are transposed.
//
// Arguments are validated exactly as gonum does (invalid calls are handed to
// gonum, which panics with its usual messages). When beta is zero, C need
// not be set on input. When Accelerated() and alpha is zero, A and B are not
// referenced.
func (impl Implementation) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	impl.dgemm(runtime.GOMAXPROCS(0), tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// dgemm is Dgemm on at most procs goroutines.
func (impl Implementation) dgemm(procs int, tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if !fastEnabled || !gemmArgsOK(tA, tB, m, n, k, a, lda, b, ldb, c, ldc) || m == 0 || n == 0 {
		impl.Implementation.Dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if alpha == 0 || k == 0 {
		scaleGeneral(m, n, beta, c, ldc)
		return
	}
	if float64(m)*float64(n)*float64(k) < float64(minFastSize) {
		impl.Implementation.Dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if tA == blas.NoTrans && m <= thinMaxRows {
		if tB == blas.NoTrans {
			gemmThinNN(procs, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		} else {
			gemmThinNT(procs, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		}
		return
	}
	if m < minFastRows && tB == blas.NoTrans {
		impl.Implementation.Dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	aTrans := tA != blas.NoTrans
	bTrans := tB != blas.NoTrans
	gemm(procs, aTrans, bTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, triNone)
}

// Dsyrk performs one of the symmetric rank-k operations
//
//	C = alpha * A * Aᵀ + beta * C  if tA == blas.NoTrans
//	C = alpha * Aᵀ * A + beta * C  if tA == blas.Trans or tA == blas.ConjTrans
//
// where A is an n×k or k×n matrix, C is an n×n symmetric matrix of which only
// the ul triangle is referenced and updated, and alpha and beta are scalars.
func (impl Implementation) Dsyrk(ul blas.Uplo, tA blas.Transpose, n, k int, alpha float64, a []float64, lda int, beta float64, c []float64, ldc int) {
	impl.dsyrk(runtime.GOMAXPROCS(0), ul, tA, n, k, alpha, a, lda, beta, c, ldc)
}

// dsyrk is Dsyrk on at most procs goroutines.
func (impl Implementation) dsyrk(procs int, ul blas.Uplo, tA blas.Transpose, n, k int, alpha float64, a []float64, lda int, beta float64, c []float64, ldc int) {
	if !fastEnabled || !syrkArgsOK(ul, tA, n, k, a, lda, c, ldc) ||
		n == 0 || k == 0 || alpha == 0 || float64(n)*float64(n)*float64(k) < float64(2*minFastSize) {
		impl.Implementation.Dsyrk(ul, tA, n, k, alpha, a, lda, beta, c, ldc)
		return
	}
	syrk(procs, ul, tA, n, k, alpha, a, lda, beta, c, ldc)
}

// syrk is the triangular product of Dsyrk and Ssyrk on the blocked gemm.
func syrk[T element](procs int, ul blas.Uplo, tA blas.Transpose, n, k int, alpha T, a []T, lda int, beta T, c []T, ldc int) {
	tri := triUpper
	if ul == blas.Lower {
		tri = triLower
	}
	if tA == blas.NoTrans {
		// C = A·Aᵀ with A n×k: B operand is A read transposed.
		gemm(procs, false, true, n, n, k, alpha, a, lda, a, lda, beta, c, ldc, tri)
	} else {
		// C = Aᵀ·A with A k×n.
		gemm(procs, true, false, n, n, k, alpha, a, lda, a, lda, beta, c, ldc, tri)
	}
}

// Sgemm is Dgemm in float32, on the 6×16 float32 micro-kernel: twice the
// multiply-adds per instruction and half the memory traffic. Products with
// fewer than five rows go to gonum (there is no thin float32 path).
func (impl Implementation) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	impl.sgemm(runtime.GOMAXPROCS(0), tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemm is Sgemm on at most procs goroutines.
func (impl Implementation) sgemm(procs int, tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !fastEnabled || !gemmArgsOK(tA, tB, m, n, k, a, lda, b, ldb, c, ldc) || m == 0 || n == 0 {
		impl.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if alpha == 0 || k == 0 {
		scaleGeneral(m, n, beta, c, ldc)
		return
	}
	if float64(m)*float64(n)*float64(k) < float64(minFastSize) || m < minFastRows {
		impl.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	gemm(procs, tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, triNone)
}

// Ssyrk is Dsyrk in float32.
func (impl Implementation) Ssyrk(ul blas.Uplo, tA blas.Transpose, n, k int, alpha float32, a []float32, lda int, beta float32, c []float32, ldc int) {
	impl.ssyrk(runtime.GOMAXPROCS(0), ul, tA, n, k, alpha, a, lda, beta, c, ldc)
}

// ssyrk is Ssyrk on at most procs goroutines.
func (impl Implementation) ssyrk(procs int, ul blas.Uplo, tA blas.Transpose, n, k int, alpha float32, a []float32, lda int, beta float32, c []float32, ldc int) {
	if !fastEnabled || !syrkArgsOK(ul, tA, n, k, a, lda, c, ldc) ||
		n == 0 || k == 0 || alpha == 0 || float64(n)*float64(n)*float64(k) < float64(2*minFastSize) {
		impl.Implementation.Ssyrk(ul, tA, n, k, alpha, a, lda, beta, c, ldc)
		return
	}
	syrk(procs, ul, tA, n, k, alpha, a, lda, beta, c, ldc)
}

// gemmArgsOK reports whether gonum's Dgemm (Sgemm) would accept the
// arguments.
func gemmArgsOK[T element](tA, tB blas.Transpose, m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) bool {
	if !validTrans(tA) || !validTrans(tB) || m < 0 || n < 0 || k < 0 {
		return false
	}
	aTrans := tA != blas.NoTrans
	bTrans := tB != blas.NoTrans
	if aTrans {
		if lda < max(1, m) {
			return false
		}
	} else if lda < max(1, k) {
		return false
	}
	if bTrans {
		if ldb < max(1, k) {
			return false
		}
	} else if ldb < max(1, n) {
		return false
	}
	if ldc < max(1, n) {
		return false
	}
	if m == 0 || n == 0 {
		return true
	}
	if aTrans {
		if len(a) < (k-1)*lda+m {
			return false
		}
	} else if len(a) < (m-1)*lda+k {
		return false
	}
	if bTrans {
		if len(b) < (n-1)*ldb+k {
			return false
		}
	} else if len(b) < (k-1)*ldb+n {
		return false
	}
	return len(c) >= (m-1)*ldc+n
}

// syrkArgsOK reports whether gonum's Dsyrk (Ssyrk) would accept the
// arguments.
func syrkArgsOK[T element](ul blas.Uplo, tA blas.Transpose, n, k int, a []T, lda int, c []T, ldc int) bool {
	if ul != blas.Upper && ul != blas.Lower {
		return false
	}
	if !validTrans(tA) || n < 0 || k < 0 {
		return false
	}
	row, col := k, n
	if tA == blas.NoTrans {
		row, col = n, k
	}
	if lda < max(1, col) || ldc < max(1, n) {
		return false
	}
	if n == 0 {
		return true
	}
	return len(a) >= lda*(row-1)+col && len(c) >= ldc*(n-1)+n
}

func validTrans(t blas.Transpose) bool {
	return t == blas.NoTrans || t == blas.Trans || t == blas.ConjTrans
}

// scaleGeneral sets C = beta*C for an m×n matrix (C = 0 when beta == 0).
func scaleGeneral[T element](m, n int, beta T, c []T, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}
