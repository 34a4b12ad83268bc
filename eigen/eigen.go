package eigen

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
)

// Operator is a symmetric linear map of R^n given by its action.
type Operator interface {
	// Size returns n.
	Size() int
	// ApplyTo sets dst = A·x for the b vectors held as the columns of the
	// n×b matrix x. dst must be n×b, or empty, in which case it is resized.
	ApplyTo(dst, x *mat.Dense)
}

// Solver finds the k largest eigenpairs of a symmetric positive
// semi-definite matrix.
type Solver interface {
	// TopK returns the k largest eigenvalues in descending order and the
	// matching unit eigenvectors as the columns of an n×k matrix. k must be
	// in [1, n]; TopK panics otherwise. It returns an error only for
	// numerical failure (non-convergence), never silently wrong results.
	// It may read a (for a FullSymDense, both triangles of its storage)
	// but must neither modify it nor keep a reference to it or its
	// storage after returning: the engine recycles the Gram matrix.
	TopK(a mat.Symmetric, k int) (values []float64, vectors *mat.Dense, err error)
	// Name identifies the solver in logs and benchmarks.
	Name() string
}

// Stats describes the work done by an iterative solve.
type Stats struct {
	// Iterations counts block steps: applications of the operator to one
	// block of basis vectors.
	Iterations int
	// Applies counts operator–vector products, that is the total number of
	// columns the operator was applied to, the final check included.
	Applies int
	// MaxResidual is max_i ‖A·u_i − λ_i·u_i‖ / λ₁ over the returned pairs,
	// measured with a fresh application of the operator: the quantity that
	// Lanczos.Tol bounds. If λ₁ is zero it is the absolute residual.
	MaxResidual float64
}

// ErrNotConverged is wrapped by the errors of solvers that failed to reach
// their tolerance; test for it with errors.Is.
var ErrNotConverged = errors.New("eigen: no convergence")

var errBadShape = errors.New("eigen: dimension mismatch")

func checkK(n, k int) {
	if k < 1 || k > n {
		panic(fmt.Sprintf("eigen: k = %d is out of range [1, %d]", k, n))
	}
}

// NumericalRank returns the number of values greater than rtol·max(values):
// the numerical rank of a positive semi-definite matrix whose eigenvalues
// are values. rtol ≤ 0 means 1e-10. It returns 0 when no value is positive.
func NumericalRank(values []float64, rtol float64) int {
	if rtol <= 0 {
		rtol = 1e-10
	}
	top := math.Inf(-1)
	for _, v := range values {
		top = max(top, v)
	}
	if !(top > 0) {
		return 0
	}
	r := 0
	for _, v := range values {
		if v > rtol*top {
			r++
		}
	}
	return r
}

// FullSymDense is a *mat.SymDense whose backing array holds both
// triangles: the whole symmetric matrix, row-major with the SymDense's
// stride. SymOperator, and so Lanczos, use it in place instead of copying
// n² values. Build one with MirrorUpper; writing to it through the
// SymDense's methods keeps only one triangle up to date.
type FullSymDense struct{ *mat.SymDense }

// MirrorUpper copies the upper triangle of a into the unused lower half of
// its backing array and returns a as a FullSymDense. a must use upper
// storage, as mat.NewSymDense does; MirrorUpper panics otherwise.
func MirrorUpper(a *mat.SymDense) FullSymDense {
	raw := a.RawSymmetric()
	if raw.Uplo != blas.Upper {
		panic("eigen: MirrorUpper needs upper storage")
	}
	mirrorUpper(raw.N, raw.Data, raw.Stride)
	return FullSymDense{a}
}

// upperTiles calls f(i, j0, j1) for every row i of an n×n matrix and
// column range [j0, j1) of a 64×64 tile that meets the upper triangle
// (j1 > i; f skips the columns below the diagonal itself). A column-wise
// sweep of a matrix this size, as mirroring one triangle into the other
// needs, would miss the cache on every element; tile by tile it does not.
// The tiles of one band of rows touch only that band of rows and columns
// beyond it, so bands run in parallel.
func upperTiles(n int, f func(i, j0, j1 int)) {
	const tile = 64
	bands := (n + tile - 1) / tile
	parallelFor(bands, n*n/2, func(b int) {
		i0 := b * tile
		for j0 := i0; j0 < n; j0 += tile {
			for i := i0; i < min(i0+tile, n); i++ {
				f(i, j0, min(j0+tile, n))
			}
		}
	})
}

// mirrorUpper sets a[j][i] = a[i][j] for j > i.
func mirrorUpper(n int, a []float64, lda int) {
	upperTiles(n, func(i, j0, j1 int) {
		for j := max(j0, i+1); j < j1; j++ {
			a[j*lda+i] = a[i*lda+j]
		}
	})
}

// SymOperator returns the Operator of the symmetric matrix a. It copies a
// into full row-major storage (n² float64s) so that products use the
// parallel general matrix multiply; later changes to a are not seen. A
// FullSymDense is used in place, without a copy.
func SymOperator(a mat.Symmetric) Operator {
	n := a.SymmetricDim()
	if f, ok := a.(FullSymDense); ok {
		raw := f.RawSymmetric()
		return &symOp{n: n, a: blas64.General{Rows: n, Cols: n, Stride: raw.Stride, Data: raw.Data}}
	}
	full := make([]float64, n*n)
	if rs, ok := a.(mat.RawSymmetricer); ok {
		raw := rs.RawSymmetric()
		// Copy the stored triangle row by row, then mirror it.
		if raw.Uplo == blas.Upper {
			for i := 0; i < n; i++ {
				copy(full[i*n+i:(i+1)*n], raw.Data[i*raw.Stride+i:i*raw.Stride+n])
			}
			mirrorUpper(n, full, n)
		} else {
			for i := 0; i < n; i++ {
				for j := 0; j <= i; j++ {
					full[j*n+i] = raw.Data[i*raw.Stride+j]
				}
			}
			mirrorUpper(n, full, n)
		}
	} else {
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				v := a.At(i, j)
				full[i*n+j] = v
				full[j*n+i] = v
			}
		}
	}
	return &symOp{n: n, a: blas64.General{Rows: n, Cols: n, Stride: n, Data: full}}
}

// SymOperator32 returns the Operator of a rounded to float32: the whole
// matrix is held row-major as n² float32s, half the bytes of SymOperator's
// float64s, and every product is accumulated in float64. It is the exact
// operator of fl32(a), whose eigenvalues differ from a's by at most
// ‖fl32(a) − a‖₂ ≤ 2⁻²⁴·‖a‖_F, so it suits solves whose tolerance is
// above that (Lanczos.Tol of 1e-7 or more); products that stream the
// matrix from memory, as Lanczos's do, then run up to twice as fast. If
// buf holds at least n² values it stores the matrix (its contents are
// overwritten, and it must not be changed while the operator is used);
// else the storage is allocated. Later changes to a are not seen.
func SymOperator32(a mat.Symmetric, buf []float32) Operator {
	n := a.SymmetricDim()
	if len(buf) < n*n {
		buf = make([]float32, n*n)
	}
	full := buf[:n*n]
	if rs, ok := a.(mat.RawSymmetricer); ok && rs.RawSymmetric().Uplo == blas.Upper {
		raw := rs.RawSymmetric()
		narrowUpper(n, raw.Data, raw.Stride, full)
	} else {
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				v := float32(a.At(i, j))
				full[i*n+j] = v
				full[j*n+i] = v
			}
		}
	}
	return &sym32Op{n: n, a: full}
}

// narrowUpper sets dst (n×n, row-major) to the symmetric matrix whose upper
// triangle a holds, rounded to float32, reading a once.
func narrowUpper(n int, a []float64, lda int, dst []float32) {
	upperTiles(n, func(i, j0, j1 int) {
		for j := max(j0, i); j < j1; j++ {
			v := float32(a[i*lda+j])
			dst[i*n+j] = v
			dst[j*n+i] = v
		}
	})
}

// sym32Op is SymOperator32's operator.
type sym32Op struct {
	n int
	a []float32 // n×n, row-major, both triangles
}

func (o *sym32Op) Size() int { return o.n }

func (o *sym32Op) ApplyTo(dst, x *mat.Dense) { applyColumns(o, o.n, dst, x) }

func (o *sym32Op) applyRows(dst, x blas64.General) {
	fastblas.GemmNTMixed(x.Rows, o.n, o.n, 1, x.Data, x.Stride, o.a, o.n, 0, dst.Data, dst.Stride)
}

// rowApplier is the fast path of operators that act on vectors stored as
// the rows of a b×n matrix: dst = x·A (= (A·xᵀ)ᵀ, A symmetric).
type rowApplier interface {
	applyRows(dst, x blas64.General)
}

type symOp struct {
	n int
	a blas64.General
}

func (o *symOp) Size() int { return o.n }

func (o *symOp) ApplyTo(dst, x *mat.Dense) { applyColumns(o, o.n, dst, x) }

// applyColumns implements Operator.ApplyTo (vectors as columns) with the
// row kernel of an n×n operator.
func applyColumns(o rowApplier, n int, dst, x *mat.Dense) {
	r, b := x.Dims()
	if r != n {
		panic(errBadShape)
	}
	if dst.IsEmpty() {
		dst.ReuseAs(n, b)
	}
	if dr, dc := dst.Dims(); dr != n || dc != b {
		panic(errBadShape)
	}
	// The kernel works on vectors as rows, so transpose in and out:
	// O(n·b) against O(n²·b).
	xt := mat.DenseCopyOf(x.T())
	yt := mat.NewDense(b, n, nil)
	o.applyRows(yt.RawMatrix(), xt.RawMatrix())
	dst.Copy(yt.T())
}

func (o *symOp) applyRows(dst, x blas64.General) {
	mulVecs(false, 1, o.a, x, 0, dst)
}

// normalizeSigns flips the sign of each column of v so that its entry of
// largest magnitude (the first one on ties) is positive.
func normalizeSigns(v *mat.Dense) {
	r, c := v.Dims()
	raw := v.RawMatrix()
	for j := 0; j < c; j++ {
		best, bi := -1.0, 0
		for i := 0; i < r; i++ {
			if a := math.Abs(raw.Data[i*raw.Stride+j]); a > best {
				best, bi = a, i
			}
		}
		if raw.Data[bi*raw.Stride+j] < 0 {
			for i := 0; i < r; i++ {
				raw.Data[i*raw.Stride+j] = -raw.Data[i*raw.Stride+j]
			}
		}
	}
}

// fullCopy returns a in a fresh n×n row-major array holding both
// triangles, for the LAPACK routines.
func fullCopy(a mat.Symmetric) []float64 {
	if f, ok := a.(FullSymDense); ok {
		a = f.SymDense
	}
	return SymOperator(a).(*symOp).a.Data
}
