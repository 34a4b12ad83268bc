package lowrank

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// explicitTokenLinear forms the block of V of a token-wise linear layer
// straight from its definition: column r is Σ_t S_r[t, o] X_n[t, i] for
// the weight (o, i) and Σ_t S_r[t, o] for the bias, with S_r the T×out
// token-major factor row and X_n the T×in input of sample n = r/c.
func explicitTokenLinear(s, a *mat.Dense, tokens, c int, weight, bias bool) *mat.Dense {
	r, sc := s.Dims()
	_, ac := a.Dims()
	out, in := sc/tokens, ac/tokens
	d := 0
	if weight {
		d += out * in
	}
	if bias {
		d += out
	}
	v := mat.NewDense(d, r, nil)
	for col := 0; col < r; col++ {
		sr, x := s.RawRowView(col), a.RawRowView(col/c)
		row := 0
		if weight {
			for o := 0; o < out; o++ {
				for i := 0; i < in; i++ {
					var sum float64
					for t := 0; t < tokens; t++ {
						sum += sr[t*out+o] * x[t*in+i]
					}
					v.Set(row, col, sum)
					row++
				}
			}
		}
		if bias {
			for o := 0; o < out; o++ {
				var sum float64
				for t := 0; t < tokens; t++ {
					sum += sr[t*out+o]
				}
				v.Set(row, col, sum)
				row++
			}
		}
	}
	return v
}

// TestTokenLinear runs the factor conformance suite on token-wise linear
// blocks: T = 1 (a Linear) and T > 1 (a Conv on the token geometry), with
// and without bias, every Gram route, and budgets down to one byte, which
// force the explicit route into its smallest chunks.
func TestTokenLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, tc := range []struct {
		tokens, in, out, n, c, ny, cy int
		weight, bias                  bool
	}{
		{1, 4, 3, 3, 2, 2, 3, true, true},
		{1, 4, 3, 3, 2, 2, 1, true, false},
		{3, 4, 5, 3, 2, 2, 3, true, true},
		{5, 3, 4, 2, 3, 3, 1, true, false},
		{4, 6, 2, 4, 1, 2, 2, false, true},
		{7, 2, 3, 3, 2, 3, 2, true, true},
		{19, 3, 4, 2, 2, 2, 1, true, true}, // blocks of 8 tokens and a partial one
	} {
		g := TokenGeom(tc.tokens, tc.in, tc.out)
		s := randDense(rng, tc.n*tc.c, tc.tokens*tc.out)
		a := randDense(rng, tc.n, tc.tokens*tc.in)
		sy := randDense(rng, tc.ny*tc.cy, tc.tokens*tc.out)
		ay := randDense(rng, tc.ny, tc.tokens*tc.in)
		vx := explicitTokenLinear(s, a, tc.tokens, tc.c, tc.weight, tc.bias)
		vy := explicitTokenLinear(sy, ay, tc.tokens, tc.cy, tc.weight, tc.bias)
		name := fmt.Sprintf("T=%d/in=%d/out=%d/w=%v/b=%v", tc.tokens, tc.in, tc.out, tc.weight, tc.bias)
		sc := mat.DenseCopyOf(s)
		x, y := NewTokenLinear(g, sc, a, tc.c, tc.weight, tc.bias), NewTokenLinear(g, sy, ay, tc.cy, tc.weight, tc.bias)
		if tc.tokens > 1 {
			// For T > 1 the block works on its own copy: the caller may
			// reuse the factor rows.
			sc.Apply(func(_, _ int, _ float64) float64 { return math.NaN() }, sc)
		}
		if tc.tokens == 1 {
			if _, ok := x.(*Linear); !ok {
				t.Fatalf("%s: factor is %T, want *Linear", name, x)
			}
			t.Run(name, func(t *testing.T) { testFactor(t, x, vx, y, vy, rng) })
			continue
		}
		cx, cy := x.(*Conv), y.(*Conv)
		if ch, _, _ := explicitPlan(g, cx.rows()+cy.rows(), cx.n()+cy.n(), 1); tc.weight && len(ch) < 2 {
			t.Fatalf("%s: a 1-byte budget gives %d chunk", name, len(ch))
		}
		for _, route := range []GramRoute{RouteAuto, RouteExplicit, RouteKernel} {
			for _, budget := range []int64{0, 1, 600} {
				t.Run(fmt.Sprintf("%s/%v/budget=%d", name, route, budget), func(t *testing.T) {
					cx.Route, cy.Route = route, route
					cx.SetBudget(budget)
					cy.SetBudget(budget)
					testFactor(t, x, vx, y, vy, rng)
				})
			}
		}
		// Select keeps the layer's order: the weight alone, the bias alone.
		if tc.weight && tc.bias {
			wIdx := tc.out * tc.in
			vw := vx.Slice(0, wIdx, 0, tc.n*tc.c).(*mat.Dense)
			vb := vx.Slice(wIdx, wIdx+tc.out, 0, tc.n*tc.c).(*mat.Dense)
			t.Run(name+"/select", func(t *testing.T) {
				testFactor(t, x.Select([]bool{true, false}), vw, nil, nil, rng)
				testFactor(t, x.Select([]bool{false, true}), vb, nil, nil, rng)
			})
		}
	}
}

// TestTokenLinearDropRows checks that a token-wise block hands its copy of
// the factor rows back to internal/scratch when DropRows lets go of them,
// unless a Select'ed copy, which still reads them, exists; and that the
// block's products stay right afterwards (from the kept weight block and
// the bias sums formed with the copy).
func TestTokenLinearDropRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	const tokens, in, out, n, c = 12, 5, 4, 3, 2
	g := TokenGeom(tokens, in, out)
	s := randDense(rng, n*c, tokens*out)
	a := randDense(rng, n, tokens*in)
	v := explicitTokenLinear(s, a, tokens, c, true, true)
	u := randDense(rng, 3, n*c)
	var want mat.Dense
	want.Mul(u, v.T())
	for _, selected := range []bool{false, true} {
		f := NewTokenLinear(g, s, a, c, true, true).(*Conv)
		var sel Factor
		if selected {
			sel = f.Select([]bool{true, true})
		}
		gram := mat.NewSymDense(n*c, nil)
		f.AddGramTo(gram)
		if !f.DropRows() {
			t.Fatalf("selected %v: DropRows kept the rows", selected)
		}
		if owned := f.stats.ownedS != nil; owned != selected {
			t.Errorf("selected %v: copy still owned %v, want %v", selected, owned, selected)
		}
		got := mat.NewDense(3, out*in+out, nil)
		f.MulTo(got, u)
		if !mat.EqualApprox(got, &want, 1e-12) {
			t.Errorf("selected %v: MulTo after DropRows = %v, want %v", selected, mat.Formatted(got), mat.Formatted(&want))
		}
		if sel != nil {
			got.Zero()
			sel.MulTo(got, u)
			if !mat.EqualApprox(got, &want, 1e-12) {
				t.Errorf("Select'ed copy's MulTo after DropRows = %v, want %v", mat.Formatted(got), mat.Formatted(&want))
			}
		}
	}
}
