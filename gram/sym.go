package gram

import (
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/scratch"
)

// tileBLAS computes each tile on its worker's goroutine (the tiles are
// what is spread over the cores), with internal/fastblas's kernels in
// either build: as fast as OpenBLAS's on these shapes, without nesting
// threads inside threads.
var tileBLAS fastblas.Serial

// blockRows is the height of the row tiles: small enough to balance the
// triangle over the workers, large enough for the product to run near its
// peak on either backend (measured on 2 cores: 64 against 128 and 192 in
// pure Go; with OpenBLAS, 64-row tiles in parallel beat 384-row tiles
// threaded inside OpenBLAS by 2×).
const blockRows = 64

// AddSymHadamard adds the upper triangle of (S Sᵀ) ⊙ (α K⁺ + β) to dst,
// where K⁺ blows the n×n matrix k up over blocks of c rows and columns
// (dst[r][s] += (S_r·S_s)(α k[r/c][s/c] + β)). S is (n·c)×f; k may be nil
// when α is 0.
//
// It computes S Sᵀ one tile of rows at a time, only on and above the
// diagonal, and folds each tile in at once: half the flops of a full
// product, O(GOMAXPROCS·64·n·c) extra memory instead of (n·c)², and the
// tiles run in parallel.
func AddSymHadamard(dst *mat.SymDense, s, k *mat.Dense, c int, alpha, beta float64) {
	r, f := s.Dims()
	if dst.SymmetricDim() != r {
		panic("gram: destination shape mismatch")
	}
	if r%c != 0 {
		panic("gram: rows not divisible by the columns per sample")
	}
	if alpha != 0 {
		if kr, kc := k.Dims(); kr != r/c || kc != r/c {
			panic("gram: input Gram shape mismatch")
		}
	}
	if r == 0 {
		return
	}
	raw := dst.RawSymmetric()
	sm := s.RawMatrix()
	jobs := make(chan int)
	workers := min(runtime.GOMAXPROCS(0), (r+blockRows-1)/blockRows)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := scratch.Get((blockRows + 1) * r)
			defer scratch.Put(buf)
			tile := (*buf)[:blockRows*r]
			// expanded[j] = α·k[i/c][j/c] + β for the current row block.
			expanded := (*buf)[blockRows*r : (blockRows+1)*r]
			for i0 := range jobs {
				i1 := min(i0+blockRows, r)
				h, width := i1-i0, r-i0
				t := blas64.General{Rows: h, Cols: width, Stride: width, Data: tile[:h*width]}
				a := blas64.General{Rows: h, Cols: f, Stride: sm.Stride, Data: sm.Data[i0*sm.Stride:]}
				b := blas64.General{Rows: width, Cols: f, Stride: sm.Stride, Data: sm.Data[i0*sm.Stride:]}
				tileBLAS.Dgemm(blas.NoTrans, blas.Trans, h, width, f, 1, a.Data, a.Stride, b.Data, b.Stride, 0, t.Data, t.Stride)
				block := -1
				for i := i0; i < i1; i++ {
					tr := tile[(i-i0)*width+(i-i0) : (i-i0+1)*width]
					dr := raw.Data[i*raw.Stride+i : i*raw.Stride+r]
					if alpha == 0 {
						floats.AddScaled(dr, beta, tr)
						continue
					}
					if i/c != block {
						block = i / c
						kr := k.RawRowView(block)
						for bj := block; bj < r/c; bj++ {
							g := alpha*kr[bj] + beta
							e := expanded[bj*c : (bj+1)*c]
							for j := range e {
								e[j] = g
							}
						}
					}
					fastblas.AddMul(dr, expanded[i:], tr)
				}
			}
		}()
	}
	for i0 := 0; i0 < r; i0 += blockRows {
		jobs <- i0
	}
	close(jobs)
	wg.Wait()
}
