package vivit

import (
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/eigen"
)

// TestTopKSolverChoice checks which eigenproblem topK solves: with
// Float32 and no Solver, Lanczos at float32Tol on the Gram matrix rounded
// to float32 (bitwise the direct call); with a Solver, that solver on the
// float64 Gram matrix whatever the precision.
func TestTopKSolverChoice(t *testing.T) {
	const n, r, k = 300, 40, 5
	rng := rand.New(rand.NewPCG(3, 4))
	v := mat.NewDense(r, n, nil)
	for i := range v.RawMatrix().Data {
		v.RawMatrix().Data[i] = rng.NormFloat64()
	}
	gram := func() *mat.SymDense {
		g := mat.NewSymDense(n, nil)
		g.SymOuterK(1, v.T())
		return g
	}
	if _, ok := eigen.Auto(n, k).(eigen.Lanczos); !ok {
		t.Skip("Auto does not pick Lanczos here")
	}

	vals, vecs, _, err := topK(gram(), k, Options{Precision: Float32})
	if err != nil {
		t.Fatal(err)
	}
	wantVals, wantVecs, _, err := eigen.Lanczos{Tol: float32Tol}.TopKOperator(eigen.SymOperator32(gram(), nil), k)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(vals, wantVals) || !mat.Equal(vecs, wantVecs) {
		t.Errorf("Float32: not Lanczos on the float32 Gram matrix: values %v, want %v", vals, wantVals)
	}
	f64, _, _, err := topK(gram(), k, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(vals, f64) {
		t.Error("Float32 and Float64 give identical values: the float32 Gram matrix was not used")
	}

	dense, _, _, err := topK(gram(), k, Options{Precision: Float32, Solver: eigen.Dense{}})
	if err != nil {
		t.Fatal(err)
	}
	wantDense, _, err := eigen.Dense{}.TopK(gram(), k)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dense, wantDense) {
		t.Errorf("Float32 with Solver Dense: values %v, want Dense's on the float64 matrix %v", dense, wantDense)
	}
}
