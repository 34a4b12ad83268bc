package eigen

import (
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// nativeBLAS is set when a native BLAS is registered (openblas build): its
// Dgemm is fast for thin blocks and threads by itself.
var nativeBLAS = false

// mulVecs sets dst_i = alpha·op(m)·x_i + beta·dst_i for the vectors x_i held as
// the rows of x, where op(m) is m or, if trans, mᵀ: in matrix terms
// dst = alpha·x·op(m)ᵀ + beta·dst. The vectors are few (a block), the matrix is
// large. gonum's pure-Go Dgemm is slow for this shape, so the product is
// done as matrix–vector products (assembly kernels) on chunks of the
// output, in parallel.
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
	if nativeBLAS {
		mt := blas.Trans
		if trans {
			mt = blas.NoTrans
		}
		blas64.Gemm(blas.NoTrans, mt, alpha, x, m, beta, dst)
		return
	}
	inLen := m.Cols
	if trans {
		inLen = m.Rows
	}
	chunkDo := func(lo, hi int) {
		var sub blas64.General
		if trans {
			sub = blas64.General{Rows: m.Rows, Cols: hi - lo, Stride: m.Stride, Data: m.Data[lo:]}
		} else {
			sub = blas64.General{Rows: hi - lo, Cols: m.Cols, Stride: m.Stride, Data: m.Data[lo*m.Stride:]}
		}
		for i := 0; i < x.Rows; i++ {
			xv := blas64.Vector{N: inLen, Inc: 1, Data: x.Data[i*x.Stride : i*x.Stride+inLen]}
			dv := blas64.Vector{N: hi - lo, Inc: 1, Data: dst.Data[i*dst.Stride+lo : i*dst.Stride+hi]}
			blas64.Gemv(tm, alpha, sub, xv, beta, dv)
		}
	}
	workers := runtime.GOMAXPROCS(0)
	work := outLen * inLen * x.Rows
	if workers == 1 || work < 1<<16 {
		chunkDo(0, outLen)
		return
	}
	// Chunks small enough for the matrix part to stay in cache while the
	// vectors go over it, and several per worker for balance.
	chunk := 32
	if trans {
		chunk = 256
	}
	chunk = max(min(chunk, (outLen+2*workers-1)/(2*workers)), 1)
	next := make(chan int, (outLen+chunk-1)/chunk)
	for lo := 0; lo < outLen; lo += chunk {
		next <- lo
	}
	close(next)
	var wg sync.WaitGroup
	for range min(workers, cap(next)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range next {
				chunkDo(lo, min(lo+chunk, outLen))
			}
		}()
	}
	wg.Wait()
}
