package lowrank

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// centredRef is Σ_r (v[p,r] − v̄_p)² of the explicit block v, two-pass.
func centredRef(v *mat.Dense) []float64 {
	d, r := v.Dims()
	out := make([]float64, d)
	for p := 0; p < d; p++ {
		var mean float64
		for j := 0; j < r; j++ {
			mean += v.At(p, j) / float64(r)
		}
		for j := 0; j < r; j++ {
			out[p] += (v.At(p, j) - mean) * (v.At(p, j) - mean)
		}
	}
	return out
}

// TestCentredDiag checks AddCentredDiagTo of Linear and Conv factors
// against the two-pass sums of their explicit blocks, with sparse factor
// rows (the zero-row shortcut), several columns per sample, and conv
// budgets that chunk the block.
func TestCentredDiag(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	check := func(name string, f Factor, v *mat.Dense) {
		t.Helper()
		want := centredRef(v)
		got := make([]float64, f.Dim())
		for i := range got {
			got[i] = 1 // AddCentredDiagTo adds
		}
		f.(CentredDiager).AddCentredDiagTo(got)
		for i := range want {
			if !(math.Abs(got[i]-1-want[i]) <= 1e-12*(1+want[i])) {
				t.Fatalf("%s: [%d] = %v, want %v", name, i, got[i]-1, want[i])
			}
		}
	}
	for _, c := range []int{1, 3} {
		s := randFactorRows(rng, 7*c, 4, true, false)
		a := randDense(rng, 7, 5)
		for _, keep := range [][]bool{{true, true}, {true, false}, {false, true}} {
			l := NewLinear(s, a, c, true, true).Select(keep).(*Linear)
			check("linear", l, explicitLinear(l))
		}
	}
	for ci, tc := range convCases {
		x, _ := tc.factors(rng)
		v := explicitConv(x)
		for _, b := range []int64{0, 1, 2000} {
			x.SetBudget(b)
			check("conv case "+string(rune('0'+ci)), x, v)
		}
	}
}
