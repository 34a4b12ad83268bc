//go:build openblas

package eigen

// Debian's libopenblas-dev and liblapacke-dev provide these; the netlib
// packages carry no linker flags of their own.

/*
#cgo LDFLAGS: -llapacke -lopenblas
*/
import "C"

import (
	"fmt"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/netlib/lapack/lapacke"

	"github.com/vivit-go/vivit/internal/backend"
)

// LAPACKE computes the top k eigenpairs with LAPACK's Dsyevr (relatively
// robust representations, a range of indices) through LAPACKE and
// OpenBLAS. It is only in builds with the openblas tag. Like Dense it
// handles every spectrum, repeated eigenvalues included. Memory: about
// 2·n² float64s (LAPACKE transposes the row-major input) plus n·k.
type LAPACKE struct{}

// Name returns "lapacke-dsyevr".
func (LAPACKE) Name() string { return "lapacke-dsyevr" }

// TopK implements Solver.
func (LAPACKE) TopK(a mat.Symmetric, k int) ([]float64, *mat.Dense, error) {
	n := a.SymmetricDim()
	checkK(n, k)
	backend.Prepare() // OpenBLAS on the calling thread only
	data := fullCopy(a)
	m := []int32{0}
	w := make([]float64, n)
	z := make([]float64, n*k)
	isuppz := make([]int32, 2*n)
	abstol := lapacke.Dlamch('S') // most accurate
	il, iu := n-k+1, n
	work := []float64{0}
	iwork := []int32{0}
	if !lapacke.Dsyevr('V', 'I', 'U', n, data, n, 0, 0, il, iu, abstol, m, w, z, k, isuppz, work, -1, iwork, -1) {
		return nil, nil, fmt.Errorf("%w: LAPACKE_dsyevr workspace query failed (n = %d)", ErrNotConverged, n)
	}
	work = make([]float64, int(work[0]))
	iwork = make([]int32, int(iwork[0]))
	if !lapacke.Dsyevr('V', 'I', 'U', n, data, n, 0, 0, il, iu, abstol, m, w, z, k, isuppz, work, len(work), iwork, len(iwork)) || int(m[0]) != k {
		return nil, nil, fmt.Errorf("%w: LAPACKE_dsyevr failed (n = %d, k = %d)", ErrNotConverged, n, k)
	}
	// Ascending on exit: reverse values and columns.
	values := make([]float64, k)
	vectors := mat.NewDense(n, k, nil)
	for j := 0; j < k; j++ {
		values[j] = w[k-1-j]
		for i := 0; i < n; i++ {
			vectors.Set(i, j, z[i*k+k-1-j])
		}
	}
	normalizeSigns(vectors)
	return values, vectors, nil
}

// Values returns all eigenvalues of the symmetric matrix a in descending
// order, computed by LAPACKE's Dsyevd (values only) with OpenBLAS in this
// build; Dsytrd and Dsterf in pure Go otherwise. The error wraps
// ErrNotConverged if the iteration failed.
func Values(a mat.Symmetric) ([]float64, error) {
	n := a.SymmetricDim()
	if n == 0 {
		return nil, nil
	}
	backend.Prepare() // OpenBLAS on the calling thread only
	data := fullCopy(a)
	w := make([]float64, n)
	work := []float64{0}
	iwork := []int32{0}
	if !lapacke.Dsyevd('N', 'U', n, data, n, w, work, -1, iwork, -1) {
		return nil, fmt.Errorf("%w: LAPACKE_dsyevd workspace query failed (n = %d)", ErrNotConverged, n)
	}
	work = make([]float64, int(work[0]))
	iwork = make([]int32, max(int(iwork[0]), 1))
	if !lapacke.Dsyevd('N', 'U', n, data, n, w, work, len(work), iwork, len(iwork)) {
		return nil, fmt.Errorf("%w: LAPACKE_dsyevd failed (n = %d)", ErrNotConverged, n)
	}
	slices.Reverse(w)
	return w, nil
}

// backendAuto prefers Lanczos where it wins on GGN-like (decaying) spectra,
// few pairs of a large matrix (n = 1280, k = 10: 51 ms against dsyevr's
// 167 ms), leaves matrices below n = 128 to the pure-Go choice (k = 10:
// Dense 74 µs against dsyevr's 102 at n = 32, Tridiagonal level with it at
// n = 64), and takes dsyevr everywhere else (n = 128, k = 10: 0.75–0.95 ms
// against Lanczos's 0.95–1.4), where it is never slow. Measured by
// TestSolverTimes.
func backendAuto(n, k int) Solver {
	switch {
	case n < 128:
		return nil
	case n >= 256 && k <= n/16:
		return Lanczos{}
	}
	return LAPACKE{}
}
