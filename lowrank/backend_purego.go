//go:build !openblas

package lowrank

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// Tiles of addProduct: outputs of tile×tile, the inner dimension in panels
// of panel columns, so that a tile's operands stay in cache; the tiles are
// spread over the cores and each product runs serially inside one worker
// (gonum's Dgemm only goes parallel from 4 blocks of 64×64).
const (
	tile  = 64
	panel = 256
)

// addProduct adds x yᵀ to dst (x: m×w, y: n×w, dst: m×n). With upper
// (x == y, m == n) only the upper triangle of dst is written. The tiles of
// dst are shared among GOMAXPROCS workers.
func addProduct(dst, x, y blas64.General, upper bool) {
	m, n, w := x.Rows, y.Rows, x.Cols
	if m == 0 || n == 0 || w == 0 {
		return
	}
	type job struct{ i0, j0 int }
	var jobs []job
	for i0 := 0; i0 < m; i0 += tile {
		j := 0
		if upper {
			j = i0
		}
		for j0 := j; j0 < n; j0 += tile {
			jobs = append(jobs, job{i0, j0})
		}
	}
	work := func(jb job) {
		i1, j1 := min(jb.i0+tile, m), min(jb.j0+tile, n)
		for k0 := 0; k0 < w; k0 += panel {
			k1 := min(k0+panel, w)
			xi := blas64.General{Rows: i1 - jb.i0, Cols: k1 - k0, Stride: x.Stride, Data: x.Data[jb.i0*x.Stride+k0:]}
			c := dst.Data[jb.i0*dst.Stride+jb.j0:]
			if upper && jb.i0 == jb.j0 {
				goBLAS.Dsyrk(blas.Upper, blas.NoTrans, xi.Rows, xi.Cols, 1, xi.Data, xi.Stride, 1, c, dst.Stride)
				continue
			}
			yj := blas64.General{Rows: j1 - jb.j0, Cols: k1 - k0, Stride: y.Stride, Data: y.Data[jb.j0*y.Stride+k0:]}
			gemm(blas.NoTrans, blas.Trans, 1, xi, yj, 1, blas64.General{Rows: i1 - jb.i0, Cols: j1 - jb.j0, Stride: dst.Stride, Data: c})
		}
	}
	parallel(len(jobs), func(i int) { work(jobs[i]) })
}
