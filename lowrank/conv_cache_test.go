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

// TestConvDropRows checks that DropRows lets go of the factor rows and
// inputs only once the Gram route has kept the weight block (or the
// block has none), that MulTo afterwards still equals V u with the rows
// and inputs overwritten by NaN (as a recycled buffer would be), for the
// whole block and its Select'ed parts, in float64 and float32, and that
// the operations that need the rows panic.
func TestConvDropRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 15))
	for ci, tc := range convCases {
		for _, prec := range []Precision{Float64, Float32} {
			t.Run(fmt.Sprintf("case%d/%v", ci, prec), func(t *testing.T) {
				x, _ := tc.factors(rng)
				x.SetPrecision(prec)
				v := explicitConv(x)
				if tc.weight && x.DropRows() {
					t.Fatalf("DropRows before any Gram matrix kept the weight block")
				}
				x.AddGramTo(mat.NewSymDense(x.Cols(), nil))
				s, a := x.S, x.A
				v64, v32 := x.keptWeight()
				// The kernel route (taken for P = 1) keeps no block.
				kept := !tc.weight || v64 != nil || v32 != nil
				if got := x.DropRows(); got != kept {
					t.Fatalf("DropRows after the Gram matrix: %v, want %v", got, kept)
				}
				if !kept {
					if x.S == nil || x.A == nil {
						t.Fatalf("DropRows reported false but let go of the rows")
					}
					return
				}
				if x.S != nil || x.A != nil {
					t.Fatalf("DropRows kept its references")
				}
				nan := func(_, _ int, _ float64) float64 { return math.NaN() }
				s.Apply(nan, s)
				a.Apply(nan, a)
				tol := 1e-12
				if prec == Float32 {
					tol = 1e-5
				}
				k := 3
				u := randDense(rng, k, x.Cols())
				var want mat.Dense
				want.Mul(u, v.T())
				got := mat.NewDense(k, x.Dim(), nil)
				got.Apply(nan, got)
				x.MulTo(got, u)
				if e := maxAbsDiff(got, &want); !(e <= tol*mat.Norm(&want, math.Inf(1))) {
					t.Errorf("MulTo after DropRows: max error %.3g", e)
				}
				if tc.weight && tc.bias {
					off := 0
					for i, keep := range [][]bool{{true, false}, {false, true}} {
						part := x.Select(keep)
						gotP := mat.NewDense(k, part.Dim(), nil)
						part.MulTo(gotP, u)
						wantP := want.Slice(0, k, off, off+part.Dim())
						if e := maxAbsDiff(gotP, wantP); !(e <= tol*mat.Norm(&want, math.Inf(1))) {
							t.Errorf("MulTo of part %d after DropRows: max error %.3g", i, e)
						}
						off += part.Dim()
					}
				}
				for name, op := range map[string]func(){
					"AddGramTo":  func() { x.AddGramTo(mat.NewSymDense(x.Cols(), nil)) },
					"AddDiagTo":  func() { x.AddDiagTo(make([]float64, x.Dim())) },
					"TransMulTo": func() { x.TransMulTo(mat.NewDense(1, x.Cols(), nil), mat.NewDense(1, x.Dim(), nil)) },
				} {
					func() {
						defer func() {
							if recover() == nil {
								t.Errorf("%s after DropRows did not panic", name)
							}
						}()
						op()
					}()
				}
			})
		}
	}
}
