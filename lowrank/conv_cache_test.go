package lowrank

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestConvKeptWeight checks that the explicit Gram route keeps the weight
// block when it formed it in one chunk and the budget allows, that MulTo
// from the kept block equals V u from the explicit block (and the other
// routes), and that small budgets or float32 keep nothing.
func TestConvKeptWeight(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 14))
	for ci, tc := range convCases {
		if !tc.weight {
			continue
		}
		for _, budget := range []int64{0, 64} {
			t.Run(fmt.Sprintf("case%d/budget=%d", ci, budget), func(t *testing.T) {
				x, _ := tc.factors(rng)
				x.Route = RouteExplicit
				x.SetBudget(budget)
				v := explicitConv(x)
				g := mat.NewSymDense(x.Cols(), nil)
				x.AddGramTo(g)
				kept := x.keptWeight() != nil
				if want := budget == 0; kept != want {
					t.Fatalf("kept %v, want %v", kept, want)
				}
				x.Route = RouteAuto
				k := 4
				u := randDense(rng, k, x.Cols())
				got := mat.NewDense(k, x.Dim(), nil)
				got.Apply(func(_, _ int, _ float64) float64 { return math.NaN() }, got)
				x.MulTo(got, u)
				var want mat.Dense
				want.Mul(u, v.T())
				if e := maxAbsDiff(got, &want); !(e <= 1e-12*mat.Norm(&want, math.Inf(1))) {
					t.Errorf("MulTo from the kept block: max error %.3g", e)
				}
				// A Select'ed copy shares the kept block.
				if tc.bias {
					w := x.Select([]bool{true, false}).(*Conv)
					gotW := mat.NewDense(k, w.Dim(), nil)
					w.MulTo(gotW, u)
					if e := maxAbsDiff(gotW, want.Slice(0, k, 0, w.Dim())); !(e <= 1e-12*mat.Norm(&want, math.Inf(1))) {
						t.Errorf("MulTo of the weight alone: max error %.3g", e)
					}
				}
			})
		}
	}
	// Float32 Gram products keep nothing.
	x, _ := convCases[0].factors(rng)
	x.SetPrecision(Float32)
	x.AddGramTo(mat.NewSymDense(x.Cols(), nil))
	if x.keptWeight() != nil {
		t.Errorf("float32 Gram kept a float64 block")
	}
}
