package eigen

import (
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
)

// goBLAS is gonum's pure-Go BLAS, called directly rather than through
// blas64 so that the kernels below keep its assembly matrix–vector
// products whatever backend is registered: measured on 2 cores, they beat
// both gonum's Dgemm (3–5×) and OpenBLAS (2×) for the thin blocks and
// chunked products used here.
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

// mulVecs sets dst_i = alpha·op(m)·x_i + beta·dst_i for the vectors x_i
// held as the rows of x, where op(m) is m or, if trans, mᵀ: in matrix
// terms dst = alpha·x·op(m)ᵀ + beta·dst. The vectors are few (a block), the
// matrix is large. gonum's pure-Go Dgemm is slow for this shape, so the
// product is done as matrix–vector products (assembly kernels) on chunks
// of the output, in parallel.
func mulVecs(trans bool, alpha float64, m, x blas64.General, beta float64, dst blas64.General) {
	outLen := m.Rows
	tm := blas.NoTrans
	if trans {
		outLen = m.Cols
		tm = blas.Trans
	}
	if x.Rows == 0 || outLen == 0 {
		return
	}
	inLen := m.Cols
	if trans {
		inLen = m.Rows
	}
	// Chunks small enough for the matrix part to stay in cache while the
	// vectors go over it. They do not depend on the number of cores, so
	// neither do the results.
	chunk := 32
	if trans {
		chunk = 256
	}
	tasks := (outLen + chunk - 1) / chunk
	parallelFor(tasks, outLen*inLen*x.Rows, func(t int) {
		lo, hi := t*chunk, min((t+1)*chunk, outLen)
		var sub blas64.General
		if trans {
			sub = blas64.General{Rows: m.Rows, Cols: hi - lo, Stride: m.Stride, Data: m.Data[lo:]}
		} else {
			sub = blas64.General{Rows: hi - lo, Cols: m.Cols, Stride: m.Stride, Data: m.Data[lo*m.Stride:]}
		}
		for i := 0; i < x.Rows; i++ {
			gemv(tm, alpha, sub, x.Data[i*x.Stride:i*x.Stride+inLen], beta, dst.Data[i*dst.Stride+lo:i*dst.Stride+hi])
		}
	})
}

// parallelFor runs f(0), …, f(tasks−1) on GOMAXPROCS goroutines, or
// serially if the work (in matrix entries) is small. Callers make each
// task's result independent of the others, so that results do not depend
// on scheduling.
func parallelFor(tasks, work int, f func(int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers == 1 || tasks == 1 || work < 1<<16 {
		for t := range tasks {
			f(t)
		}
		return
	}
	next := make(chan int, tasks)
	for t := range tasks {
		next <- t
	}
	close(next)
	var wg sync.WaitGroup
	for range min(workers, tasks) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range next {
				f(t)
			}
		}()
	}
	wg.Wait()
}
