package lowrank

import (
	"github.com/vivit-go/vivit/internal/backend"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// addProduct adds x yᵀ to dst (x: m×w, y: n×w, dst: m×n) in one call of
// the engine's BLAS (internal/backend), which threads it itself:
// internal/fastblas in the pure-Go build, OpenBLAS in the openblas build.
// With upper (x == y, m == n) only the upper triangle of dst is written.
func addProduct(dst, x, y blas64.General, upper bool) {
	if x.Rows == 0 || y.Rows == 0 || x.Cols == 0 {
		return
	}
	if upper {
		backend.Syrk(blas.NoTrans, 1, x, 1, blas64.Symmetric{Uplo: blas.Upper, N: x.Rows, Stride: dst.Stride, Data: dst.Data})
		return
	}
	backend.Gemm(blas.NoTrans, blas.Trans, 1, x, y, 1, dst)
}
