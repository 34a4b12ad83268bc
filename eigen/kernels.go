package eigen

import (
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/par"
)

// goBLAS is gonum's pure-Go BLAS, called directly rather than through
// blas64 for the matrix–vector products of the tridiagonal reduction
// (sytrd.go), which run many at a time in parallel: its assembly gemv and
// symv are as fast there as fastblas's thin kernels (measured), and
// faster than a cgo call each.
var goBLAS gonum.Implementation

// gemv sets y = alpha·op(a)·x + beta·y with contiguous x and y.
func gemv(t blas.Transpose, alpha float64, a blas64.General, x []float64, beta float64, y []float64) {
	goBLAS.Dgemv(t, a.Rows, a.Cols, alpha, a.Data, a.Stride, x, 1, beta, y, 1)
}

// symv sets y = alpha·A·x + beta·y for the symmetric n×n A in the lower
// triangle of a (stride lda).
func symv(n int, alpha float64, a []float64, lda int, x []float64, beta float64, y []float64) {
	goBLAS.Dsymv(blas.Lower, n, alpha, a, lda, x, 1, beta, y, 1)
}

// fastBLAS is internal/fastblas, called directly in both builds: its
// thin-product kernels (a few vectors against a large matrix, read in
// place without packing) run at 20–25 GFlop/s on 2 cores, against 5 for
// gonum's matrix–vector products and less for OpenBLAS's Dgemm on these
// shapes. Without AVX2/FMA it is gonum's BLAS.
var fastBLAS fastblas.Implementation

// mulVecs sets dst_i = alpha·op(m)·x_i + beta·dst_i for the vectors x_i
// held as the rows of x, where op(m) is m or, if trans, mᵀ: in matrix
// terms dst = alpha·x·op(m)ᵀ + beta·dst. The vectors are few (a block), the
// matrix is large. Results do not depend on the number of cores.
func mulVecs(trans bool, alpha float64, m, x blas64.General, beta float64, dst blas64.General) {
	if trans {
		fastBLAS.Dgemm(blas.NoTrans, blas.NoTrans, x.Rows, m.Cols, m.Rows, alpha, x.Data, x.Stride, m.Data, m.Stride, beta, dst.Data, dst.Stride)
		return
	}
	fastBLAS.Dgemm(blas.NoTrans, blas.Trans, x.Rows, m.Rows, m.Cols, alpha, x.Data, x.Stride, m.Data, m.Stride, beta, dst.Data, dst.Stride)
}

// vecRow returns x as a 1×len(x) matrix.
func vecRow(x []float64) blas64.General {
	return blas64.General{Rows: 1, Cols: len(x), Stride: max(1, len(x)), Data: x}
}

// parallelFor runs f(0), …, f(tasks−1) on GOMAXPROCS goroutines, or
// serially if the work (in matrix entries) is small. Callers make each
// task's result independent of the others, so that results do not depend
// on scheduling.
func parallelFor(tasks, work int, f func(int)) {
	procs := runtime.GOMAXPROCS(0)
	if work < 1<<16 {
		procs = 1
	}
	par.For(tasks, procs, func(_, t int) { f(t) })
}
