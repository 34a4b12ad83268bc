// Package backend is the BLAS the engine's large products run on, called
// explicitly rather than through gonum's blas64 registry: importing the
// engine changes nothing in the process, and the engine runs at full speed
// whatever blas64 is registered to.
//
// It is internal/fastblas (AVX2/FMA kernels where the CPU has them,
// gonum's code elsewhere) in both builds: measured on the engine's
// products, OpenBLAS was not faster (see impl in openblas.go), so the
// openblas tag changes only the eigensolvers (LAPACKE). Use registers it
// with blas64 for the whole program (gonum/mat, lapack/gonum, ...); a
// program opts in by calling it, nothing is registered implicitly.
//
// In the openblas build every product first calls Prepare, which stops
// the worker threads OpenBLAS started when it loaded: they would spin for
// 0.1 s on a core the engine needs.
//
// Small per-sample and per-tile products that callers already spread over
// the cores use fastblas.Serial directly, in both builds.
package backend

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// Gemm is blas64.Gemm on the backend: c = alpha·op(a)·op(b) + beta·c.
func Gemm(tA, tB blas.Transpose, alpha float64, a, b blas64.General, beta float64, c blas64.General) {
	m, k := a.Rows, a.Cols
	if tA != blas.NoTrans {
		m, k = a.Cols, a.Rows
	}
	n := b.Cols
	if tB != blas.NoTrans {
		n = b.Rows
	}
	if c.Rows != m || c.Cols != n {
		panic("backend: shape mismatch")
	}
	Prepare()
	impl.Dgemm(tA, tB, m, n, k, alpha, a.Data, a.Stride, b.Data, b.Stride, beta, c.Data, c.Stride)
}

// Syrk is blas64.Syrk on the backend: c = alpha·op(a)·op(a)ᵀ + beta·c
// in c's triangle.
func Syrk(t blas.Transpose, alpha float64, a blas64.General, beta float64, c blas64.Symmetric) {
	n, k := a.Rows, a.Cols
	if t != blas.NoTrans {
		n, k = a.Cols, a.Rows
	}
	if c.N != n {
		panic("backend: shape mismatch")
	}
	Prepare()
	impl.Dsyrk(c.Uplo, t, n, k, alpha, a.Data, a.Stride, beta, c.Data, c.Stride)
}

// rawOf returns the storage of m and whether it is transposed, for a
// *mat.Dense or the transpose of one.
func rawOf(m mat.Matrix) (blas64.General, blas.Transpose, bool) {
	switch t := m.(type) {
	case *mat.Dense:
		return t.RawMatrix(), blas.NoTrans, true
	case mat.Transpose:
		if d, ok := t.Matrix.(*mat.Dense); ok {
			return d.RawMatrix(), blas.Trans, true
		}
	}
	return blas64.General{}, blas.NoTrans, false
}

// Mul is (*mat.Dense).Mul on the backend: dst = a·b, with dst resized
// if it is empty. a and b are *mat.Dense or their transposes (other
// matrices go through dst.Mul, hence blas64); dst must not share storage
// with them. A product of a matrix with its own transpose computes one
// triangle (Dsyrk) and mirrors it, as mat does.
func Mul(dst *mat.Dense, a, b mat.Matrix) {
	ra, ta, okA := rawOf(a)
	rb, tb, okB := rawOf(b)
	if !okA || !okB {
		dst.Mul(a, b)
		return
	}
	m, k := a.Dims()
	kb, n := b.Dims()
	if k != kb {
		panic(mat.ErrShape)
	}
	if dst.IsEmpty() {
		dst.ReuseAs(m, n)
	} else if r, c := dst.Dims(); r != m || c != n {
		panic(mat.ErrShape)
	}
	Prepare()
	rc := dst.RawMatrix()
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			clear(rc.Data[i*rc.Stride : i*rc.Stride+n])
		}
		return
	}
	if ta != tb && ra.Rows == rb.Rows && ra.Cols == rb.Cols && ra.Stride == rb.Stride && &ra.Data[0] == &rb.Data[0] {
		impl.Dsyrk(blas.Upper, ta, m, k, 1, ra.Data, ra.Stride, 0, rc.Data, rc.Stride)
		for i := 1; i < m; i++ {
			for j := 0; j < i; j++ {
				rc.Data[i*rc.Stride+j] = rc.Data[j*rc.Stride+i]
			}
		}
		return
	}
	impl.Dgemm(ta, tb, m, n, k, 1, ra.Data, ra.Stride, rb.Data, rb.Stride, 0, rc.Data, rc.Stride)
}
