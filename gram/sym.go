package gram

import (
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

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
	// blockRows and parallelTiles depend on the BLAS backend (tiling_*.go):
	// tiles small enough to balance the triangle over the workers, large
	// enough for Dgemm to run near its peak.
	workers := 1
	if parallelTiles {
		workers = min(runtime.GOMAXPROCS(0), (r+blockRows-1)/blockRows)
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tile := make([]float64, blockRows*r)
			for i0 := range jobs {
				i1 := min(i0+blockRows, r)
				h, width := i1-i0, r-i0
				t := blas64.General{Rows: h, Cols: width, Stride: width, Data: tile[:h*width]}
				a := blas64.General{Rows: h, Cols: f, Stride: sm.Stride, Data: sm.Data[i0*sm.Stride:]}
				b := blas64.General{Rows: width, Cols: f, Stride: sm.Stride, Data: sm.Data[i0*sm.Stride:]}
				blas64.Gemm(blas.NoTrans, blas.Trans, 1, a, b, 0, t)
				for i := i0; i < i1; i++ {
					tr := tile[(i-i0)*width : (i-i0+1)*width]
					dr := raw.Data[i*raw.Stride : i*raw.Stride+r]
					if alpha == 0 {
						for j := i; j < r; j++ {
							dr[j] += beta * tr[j-i0]
						}
						continue
					}
					kr := k.RawRowView(i / c)
					for j := i; j < r; {
						end := min((j/c+1)*c, r)
						g := alpha*kr[j/c] + beta
						for ; j < end; j++ {
							dr[j] += g * tr[j-i0]
						}
					}
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
