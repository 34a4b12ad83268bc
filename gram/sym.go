package gram

import (
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/par"
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
	tiles := (r + blockRows - 1) / blockRows
	workers := min(runtime.GOMAXPROCS(0), tiles)
	bufs := make([]*[]float64, workers)
	defer func() {
		for _, b := range bufs {
			if b != nil {
				scratch.Put(b)
			}
		}
	}()
	par.For(tiles, workers, func(w, ti int) {
		if bufs[w] == nil {
			bufs[w] = scratch.Get((blockRows + 1) * r)
		}
		tile := (*bufs[w])[:blockRows*r]
		// expanded[j] = α·k[i/c][j/c] + β for the current row block.
		expanded := (*bufs[w])[blockRows*r : (blockRows+1)*r]
		i0 := ti * blockRows
		i1 := min(i0+blockRows, r)
		h, width := i1-i0, r-i0
		a := sm.Data[i0*sm.Stride:]
		tileBLAS.Dgemm(blas.NoTrans, blas.Trans, h, width, f, 1, a, sm.Stride, a, sm.Stride, 0, tile, width)
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
	})
}
