//go:build !openblas

package eigen

import (
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
)

func init() {
	// gonum's BLAS calls through blas64 (mat, lapack/gonum, …) in the whole
	// binary go to fastblas: gonum's implementation with an AVX2/FMA Dgemm
	// and Dsyrk where the CPU has them (6–9× gonum's on the engine's
	// shapes), gonum's own code everywhere else.
	fastblas.Use()
}

// Values returns all eigenvalues of the symmetric matrix a in descending
// order: the tridiagonal reduction of Tridiagonal and Dsterf in pure Go,
// LAPACKE's Dsyevd in the openblas build. Memory: about n² float64s. The
// error wraps ErrNotConverged if the QL/QR iteration failed.
func Values(a mat.Symmetric) ([]float64, error) {
	return valuesPure(a)
}

// backendAuto returns the solver of a native backend suited to (n, k), or
// nil.
func backendAuto(n, k int) Solver { return nil }
