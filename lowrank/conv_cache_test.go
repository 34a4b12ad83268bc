package lowrank

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestConvKeptWeight checks that the explicit Gram route keeps the weight
// block when the budget allows, that MulTo
// from the kept block equals V u from the explicit block (and the other
// routes), that small budgets keep nothing, and that the float32 route
// keeps its float32 block, which MulTo then multiplies.
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
				v64, _ := x.keptWeight()
				kept := v64 != nil
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
	// The float32 route keeps a float32 block (the float64 route, taken
	// for factor rows that are not contiguous, a float64 one), in one
	// chunk or several (chunks capped at a few columns); MulTo from it
	// agrees to float32 rounding.
	defer func(m int64) { maxChunk = m }(maxChunk)
	for i := range 2 * len(convCases) {
		ci, tc := i%len(convCases), convCases[i%len(convCases)]
		if !tc.weight {
			continue
		}
		if i >= len(convCases) {
			maxChunk = 1
		}
		x, _ := tc.factors(rng)
		x.Route = RouteExplicit
		x.SetPrecision(Float32)
		x.AddGramTo(mat.NewSymDense(x.Cols(), nil))
		v64, v32 := x.keptWeight()
		// Non-contiguous factor rows take the float64 route, which keeps
		// its chunks too.
		if (v64 != nil) != tc.nonContiguousS || (v32 != nil) == tc.nonContiguousS {
			t.Fatalf("case %d: float32 Gram kept float64 %v, float32 %v", ci, v64 != nil, v32 != nil)
		}
		if maxChunk == 1 && v32 != nil && len(v32) != x.G.K() {
			t.Fatalf("case %d: %d float32 chunks kept, want one per patch index", ci, len(v32))
		}
		x.Route = RouteAuto
		u := randDense(rng, 6, x.Cols())
		got := mat.NewDense(6, x.Dim(), nil)
		got.Apply(func(_, _ int, _ float64) float64 { return math.NaN() }, got)
		x.MulTo(got, u)
		var want mat.Dense
		want.Mul(u, explicitConv(x).T())
		if e := maxAbsDiff(got, &want); !(e <= 1e-5*mat.Norm(&want, math.Inf(1))) {
			t.Errorf("case %d: MulTo from the float32 block: max error %.3g", ci, e)
		}
	}
}
