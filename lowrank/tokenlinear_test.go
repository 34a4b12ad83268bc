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
		x, y := NewTokenLinear(g, s, a, tc.c, tc.weight, tc.bias), NewTokenLinear(g, sy, ay, tc.cy, tc.weight, tc.bias)
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

// TestTokenLinearTokenMajor checks that a token-wise block's explicit
// route reads the token-major factor rows as they are: its Gram matrix
// (in float64 and in float32 products), diagonal and products need no
// channel-major copy of them; that the
// routes that do (the kernel route) make one that gives the same Gram
// matrix; and that after DropRows the block's products, from the kept
// weight block and the bias sums, are still right.
func TestTokenLinearTokenMajor(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	const tokens, in, out, n, c = 12, 5, 4, 3, 2
	g := TokenGeom(tokens, in, out)
	s := randDense(rng, n*c, tokens*out)
	a := randDense(rng, n, tokens*in)
	v := explicitTokenLinear(s, a, tokens, c, true, true)
	var gram mat.SymDense
	gram.SymOuterK(1, v.T())
	u := randDense(rng, 3, n*c)
	var want mat.Dense
	want.Mul(u, v.T())
	check := func(name string, f *Conv, wantCopy bool) {
		t.Helper()
		got := mat.NewSymDense(n*c, nil)
		f.AddGramTo(got)
		if !mat.EqualApprox(got, &gram, 1e-12) {
			t.Errorf("%s: Gram matrix %v, want %v", name, mat.Formatted(got), mat.Formatted(&gram))
		}
		diag := make([]float64, f.Dim())
		f.AddDiagTo(diag)
		for i := range diag {
			if d := mat.Dot(v.RowView(i), v.RowView(i)); !(math.Abs(diag[i]-d) <= 1e-12*math.Abs(d)) {
				t.Errorf("%s: diagonal entry %d %v, want %v", name, i, diag[i], d)
			}
		}
		if copied := f.stats.wide != nil; copied != wantCopy {
			t.Errorf("%s: channel-major copy made %v, want %v", name, copied, wantCopy)
		}
		if !f.DropRows() {
			t.Fatalf("%s: DropRows kept the rows", name)
		}
		prod := mat.NewDense(3, out*in+out, nil)
		f.MulTo(prod, u)
		if !mat.EqualApprox(prod, &want, 1e-12) {
			t.Errorf("%s: MulTo after DropRows %v, want %v", name, mat.Formatted(prod), mat.Formatted(&want))
		}
	}
	f := NewTokenLinear(g, s, a, c, true, true).(*Conv)
	f.Route = RouteAuto
	if route, _, _ := f.GramRouteFor(f); route != RouteExplicit {
		t.Fatalf("the cost model takes the %v route; the test wants the explicit one", route)
	}
	check("explicit", f, false)
	// Float32 products: the float32 explicit route on the token-major rows
	// (float32 accuracy, not float64's) without the channel-major copy.
	f32 := NewTokenLinear(g, s, a, c, true, true).(*Conv)
	f32.SetPrecision(Float32)
	got32 := mat.NewSymDense(n*c, nil)
	f32.AddGramTo(got32)
	scale := mat.Norm(&gram, math.Inf(1))
	var diff mat.Dense
	diff.Sub(got32, &gram)
	if e := mat.Norm(&diff, math.Inf(1)); !(e <= 1e-5*scale && e > 1e-13*scale) || f32.stats.wide != nil {
		t.Errorf("float32: Gram matrix error %.3g of %.3g (want float32 rounding), channel-major copy made %v", e, scale, f32.stats.wide != nil)
	}
	k := NewTokenLinear(g, s, a, c, true, true).(*Conv)
	k.Route = RouteKernel
	got := mat.NewSymDense(n*c, nil)
	k.AddGramTo(got)
	if !mat.EqualApprox(got, &gram, 1e-12) || k.stats.wide == nil {
		t.Errorf("kernel route: Gram matrix %v (channel-major copy made %v), want %v", mat.Formatted(got), k.stats.wide != nil, mat.Formatted(&gram))
	}
}
