package lowrank

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// conv32Pair returns a block on float32 factor rows (NewConv32) and the
// same block on those rows widened (NewConv), both restricted to the
// case's tensors.
func conv32Pair(tc convCase, rng *rand.Rand) (f32, f64 *Conv) {
	g := tc.geom()
	r := tc.n * tc.c
	s64 := randFactorRows(rng, r, g.OutSize(), tc.sparse, false)
	s32 := make([]float32, r*g.OutSize())
	for i := range r {
		for j, v := range s64.RawRowView(i) {
			s32[i*g.OutSize()+j] = float32(v)
			s64.Set(i, j, float64(float32(v)))
		}
	}
	a := randDense(rng, tc.n, g.InSize())
	keep := []bool{tc.weight, tc.bias}
	f32 = NewConv32(g, s32, r, a, tc.c, true, true).Select(keep).(*Conv)
	f64 = NewConv(g, s64, a, tc.c, true, true).Select(keep).(*Conv)
	return f32, f64
}

// TestConv32 checks a block on float32 factor rows against the same
// block on the rows widened: the float64 operations (the conformance
// suite against its explicit V, both routes) widen the rows and agree to
// rounding, and at Float32 the Gram matrix (formed from the float32 rows
// themselves), the kept block's MulTo and the bias columns after DropRows
// are the float64 block's, bit for bit.
func TestConv32(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	kept32 := 0
	defer func() {
		if kept32 < 3 {
			t.Errorf("only %d cases kept a float32 block", kept32)
		}
	}()
	for ci, tc := range convCases {
		t.Run(fmt.Sprintf("case%d", ci), func(t *testing.T) {
			x32, x64 := conv32Pair(tc, rng)
			if x32.S != nil || x32.HeldWords() != int64(len(x32.s32)+1)/2 {
				t.Fatalf("NewConv32 holds S (%v) or %d words", x32.S != nil, x32.HeldWords())
			}
			if d32, d64 := x32.density(), x64.density(); d32 != d64 {
				t.Errorf("density %g, want %g", d32, d64)
			}
			for _, route := range []GramRoute{RouteExplicit, RouteKernel} {
				y32, y64 := conv32Pair(tc, rng)
				vy := explicitConv(y64)
				x32.Route, y32.Route = route, route
				testFactor(t, x32, explicitConv(x64), y32, vy, rng)
			}

			a32, a64 := conv32Pair(tc, rng)
			a32.SetPrecision(Float32)
			a64.SetPrecision(Float32)
			g32, g64 := mat.NewSymDense(a32.Cols(), nil), mat.NewSymDense(a64.Cols(), nil)
			a32.AddGramTo(g32)
			a64.AddGramTo(g64)
			if !mat.Equal(g32, g64) {
				t.Fatalf("Float32 Gram: max difference %.3g", maxAbsDiff(g32, g64))
			}
			if _, v32 := a32.keptWeight(); v32 != nil {
				kept32++
				if a32.stats.wide != nil {
					t.Errorf("the float32 explicit route widened the rows")
				}
			}
			if d32, d64 := a32.DropRows(), a64.DropRows(); d32 != d64 {
				t.Fatalf("DropRows: %v, want %v", d32, d64)
			}
			u := randDense(rng, 3, a32.Cols())
			m32, m64 := mat.NewDense(3, a32.Dim(), nil), mat.NewDense(3, a64.Dim(), nil)
			a32.MulTo(m32, u)
			a64.MulTo(m64, u)
			if !mat.Equal(m32, m64) {
				t.Errorf("MulTo after the Gram matrix: max difference %.3g", maxAbsDiff(m32, m64))
			}
			if a32.S == nil && a32.s32 == nil && a32.stats.wide != nil {
				t.Errorf("DropRows kept the widened rows")
			}
			if math.IsNaN(mat.Sum(m32)) {
				t.Errorf("MulTo gave NaN")
			}
		})
	}
}
