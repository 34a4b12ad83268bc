package eigen

import (
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// Dense computes the full eigendecomposition with gonum's mat.EigenSym
// (Dsytrd, Dorgtr, Dsteqr) and keeps the top k pairs. It is the reference:
// slow (O(n³) with a large constant, serial), but it handles every
// spectrum, repeated eigenvalues included. Memory: about 3·n² float64s.
type Dense struct{}

// Name returns "dense".
func (Dense) Name() string { return "dense" }

// TopK implements Solver.
func (Dense) TopK(a mat.Symmetric, k int) ([]float64, *mat.Dense, error) {
	n := a.SymmetricDim()
	checkK(n, k)
	var es mat.EigenSym
	if !es.Factorize(a, true) {
		return nil, nil, fmt.Errorf("%w: mat.EigenSym failed (n = %d)", ErrNotConverged, n)
	}
	all := es.Values(nil)
	var u mat.Dense
	es.VectorsTo(&u)
	values := make([]float64, k)
	vectors := mat.NewDense(n, k, nil)
	for j := 0; j < k; j++ {
		values[j] = all[n-1-j]
		vectors.SetCol(j, mat.Col(nil, n-1-j, &u))
	}
	normalizeSigns(vectors)
	return values, vectors, nil
}
