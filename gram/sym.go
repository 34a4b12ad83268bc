package gram

import (
	"runtime"

	"gonum.org/v1/gonum/blas"
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
	sm := s.RawMatrix()
	addSymHadamard(dst, r, k, c, alpha, beta, func(i0, h, width int, tile []float64) {
		a := sm.Data[i0*sm.Stride:]
		tileBLAS.Dgemm(blas.NoTrans, blas.Trans, h, width, f, 1, a, sm.Stride, a, sm.Stride, 0, tile, width)
	})
}

// AddSymHadamard32 is AddSymHadamard with the tiles of S Sᵀ computed in
// float32 (1.4–1.8× the float64 rate) and folded into dst in float64. st holds Sᵀ
// rounded to float32, f×r row-major: the tiles are then products of
// column slices, whose packing copies contiguous runs instead of
// transposing S again for every tile.
func AddSymHadamard32(dst *mat.SymDense, st []float32, r, f int, k *mat.Dense, c int, alpha, beta float64) {
	if len(st) < r*f {
		panic("gram: float32 factor too short")
	}
	addSymHadamard(dst, r, k, c, alpha, beta, func(i0, h, width int, tile []float32) {
		tileBLAS.Sgemm(blas.Trans, blas.NoTrans, h, width, f, 1, st[i0:], r, st[i0:], r, 0, tile, width)
	})
}

// addSymHadamard is AddSymHadamard with tile(i0, h, width, dst) setting
// dst (h×width) to rows i0… of S Sᵀ from column i0 on.
func addSymHadamard[T float32 | float64](dst *mat.SymDense, r int, k *mat.Dense, c int, alpha, beta float64, tile func(i0, h, width int, dst []T)) {
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
	tiles := (r + blockRows - 1) / blockRows
	workers := min(runtime.GOMAXPROCS(0), tiles)
	type buffers struct {
		expanded *[]float64
		tile     *[]T
	}
	bufs := make([]buffers, workers)
	defer func() {
		for _, b := range bufs {
			if b.expanded != nil {
				scratch.Put(b.expanded)
				scratch.PutOf(b.tile)
			}
		}
	}()
	par.For(tiles, workers, func(w, ti int) {
		if bufs[w].expanded == nil {
			bufs[w] = buffers{scratch.Get(r), scratch.GetOf[T](blockRows * r)}
		}
		// expanded[j] = α·k[i/c][j/c] + β for the current row block.
		expanded := *bufs[w].expanded
		tileBuf := (*bufs[w].tile)[:blockRows*r]
		i0 := ti * blockRows
		i1 := min(i0+blockRows, r)
		h, width := i1-i0, r-i0
		tile(i0, h, width, tileBuf)
		block := -1
		if alpha == 0 {
			for j := range expanded {
				expanded[j] = beta
			}
		}
		for i := i0; i < i1; i++ {
			tr := tileBuf[(i-i0)*width+(i-i0) : (i-i0+1)*width]
			dr := raw.Data[i*raw.Stride+i : i*raw.Stride+r]
			if alpha != 0 && i/c != block {
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
			foldRow(dr, expanded[i:], tr)
		}
	})
}

// foldRow sets dst += e∘t.
func foldRow[T float32 | float64](dst, e []float64, t []T) {
	switch t := any(t).(type) {
	case []float64:
		fastblas.AddMul(dst, e, t)
	case []float32:
		fastblas.AddMulMixed(dst, e, t)
	}
}
