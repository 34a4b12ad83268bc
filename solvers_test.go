package vivit_test

import (
	"math"
	"testing"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/eigen"
)

// solvers are every eigensolver the engine can use; the build tag openblas
// adds the LAPACKE one (see solvers_openblas_test.go).
var solvers = []eigen.Solver{eigen.Dense{}, eigen.Tridiagonal{}, eigen.Lanczos{}, eigen.Lanczos{BlockSize: 4, MaxBasis: 40}}

// TestSolversOnFixtures runs every solver through the engine on the
// reference cases, whole network and per layer (mse_regression's last layer
// has eigenvalues of multiplicity 3), against the PyTorch values.
func TestSolversOnFixtures(t *testing.T) {
	for _, s := range solvers {
		for _, name := range []string{"digits_mlp", "mse_regression"} {
			t.Run(s.Name()+"/"+name, func(t *testing.T) {
				c, m, b := loadCase(t, name)
				res, err := vivit.TopEigen(m, b, c.Expected.K, &vivit.Options{Solver: s})
				if err != nil {
					t.Fatal(err)
				}
				if err := maxRelErr(res.Blocks[0].Values, c.Expected.TopEigenvalues); !(err <= 1e-10) {
					t.Errorf("top eigenvalues: max rel error %.3g", err)
				}
				want, err := c.Array("eigvecs")
				if err != nil {
					t.Fatal(err)
				}
				p := c.Expected.NumParams
				for j := 0; j < c.Expected.K; j++ {
					if err := maxRelErr(res.Blocks[0].Vector(j), want.Data[j*p:(j+1)*p]); !(err <= 1e-9) {
						t.Errorf("eigenvector %d: max rel error %.3g", j, err)
					}
				}
				lay, err := vivit.TopEigen(m, b, c.Expected.K, &vivit.Options{Solver: s, Groups: vivit.LayerGroups(m)})
				if err != nil {
					t.Fatal(err)
				}
				for i, pl := range c.Expected.PerLayer {
					got := lay.Blocks[i].Values
					if len(got) != len(pl.TopEigenvalues) {
						t.Fatalf("layer %s: %d values", pl.Layer, len(got))
					}
					for j, v := range pl.TopEigenvalues {
						if !(math.Abs(got[j]-v) <= 1e-10*pl.TopEigenvalues[0]) {
							t.Errorf("layer %s eigenvalue %d = %.15g, want %.15g", pl.Layer, j, got[j], v)
						}
					}
				}
			})
		}
	}
}
