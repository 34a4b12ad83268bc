//go:build !openblas

package eigen

import "gonum.org/v1/gonum/mat"

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
