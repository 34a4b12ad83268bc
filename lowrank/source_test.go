package lowrank

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestSource runs the factor conformance suite on a Source block, whose
// explicit V is Sᵀ, on contiguous and strided factor rows.
func TestSource(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, strided := range []bool{false, true} {
		s := randFactorRows(rng, 7, 5, false, strided)
		sy := randDense(rng, 4, 5)
		vx, vy := mat.DenseCopyOf(s.T()), mat.DenseCopyOf(sy.T())
		f := NewSource(s)
		testFactor(t, f, vx, NewSource(sy), vy, rng)
		if f.Select([]bool{false}) != nil || f.Select([]bool{true}) != Factor(f) {
			t.Error("Select does not keep exactly the selected tensor")
		}
	}
}
