package lowrank

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func randDense(rng *rand.Rand, r, c int) *mat.Dense {
	m := mat.NewDense(r, c, nil)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			m.Set(i, j, rng.NormFloat64())
		}
	}
	return m
}

// explicitLinear forms the block of V of a Linear factor column by column.
func explicitLinear(l *Linear) *mat.Dense {
	n, out, in := l.dims()
	v := mat.NewDense(l.Dim(), l.Cols(), nil)
	for r := 0; r < n*l.C; r++ {
		s := l.S.RawRowView(r)
		a := l.A.RawRowView(r / l.C)
		row := 0
		if l.Weight {
			for o := 0; o < out; o++ {
				for i := 0; i < in; i++ {
					v.Set(row, r, s[o]*a[i])
					row++
				}
			}
		}
		if l.Bias {
			for o := 0; o < out; o++ {
				v.Set(row, r, s[o])
				row++
			}
		}
	}
	return v
}

func maxAbsDiff(a, b mat.Matrix) float64 {
	r, c := a.Dims()
	var d float64
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			d = math.Max(d, math.Abs(a.At(i, j)-b.At(i, j)))
		}
	}
	return d
}

// testFactor checks every method of f against the explicit block v, and
// AddCrossTo against y with explicit block vy.
func testFactor(t *testing.T, f Factor, v *mat.Dense, y Factor, vy *mat.Dense, rng *rand.Rand) {
	t.Helper()
	const tol = 1e-12
	d, cols := v.Dims()
	if f.Dim() != d || f.Cols() != cols {
		t.Fatalf("Dim, Cols = %d, %d, want %d, %d", f.Dim(), f.Cols(), d, cols)
	}
	k := 3
	u := randDense(rng, k, cols)
	got := mat.NewDense(k, d, nil)
	f.MulTo(got, u)
	var want mat.Dense
	want.Mul(u, v.T())
	if e := maxAbsDiff(got, &want); !(e <= tol*mat.Norm(&want, math.Inf(1))) {
		t.Errorf("MulTo: max error %.3g", e)
	}
	x := randDense(rng, k, d)
	gotT := mat.NewDense(k, cols, nil)
	f.TransMulTo(gotT, x)
	var wantT mat.Dense
	wantT.Mul(x, v)
	if e := maxAbsDiff(gotT, &wantT); !(e <= tol*mat.Norm(&wantT, math.Inf(1))) {
		t.Errorf("TransMulTo: max error %.3g", e)
	}
	g := mat.NewSymDense(cols, nil)
	g.SetSym(0, 0, 1) // accumulates: start from a nonzero destination
	f.AddGramTo(g)
	var wantG mat.Dense
	wantG.Mul(v.T(), v)
	wantG.Set(0, 0, wantG.At(0, 0)+1)
	if e := maxAbsDiff(g, &wantG); !(e <= tol*mat.Norm(&wantG, math.Inf(1))) {
		t.Errorf("AddGramTo: max error %.3g", e)
	}
	diag := make([]float64, d)
	f.AddDiagTo(diag)
	for i := 0; i < d; i++ {
		w := mat.Dot(v.RowView(i), v.RowView(i))
		if !(math.Abs(diag[i]-w) <= tol*(1+w)) {
			t.Errorf("AddDiagTo[%d] = %g, want %g", i, diag[i], w)
			break
		}
	}
	testColumns(t, f, v)
	if y != nil {
		_, yc := vy.Dims()
		cross := mat.NewDense(cols, yc, nil)
		f.AddCrossTo(cross, y)
		var wantC mat.Dense
		wantC.Mul(v.T(), vy)
		if e := maxAbsDiff(cross, &wantC); !(e <= tol*mat.Norm(&wantC, math.Inf(1))) {
			t.Errorf("AddCrossTo: max error %.3g", e)
		}
	}
}

func TestLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		n, c, out, in int
		weight, bias  bool
	}{
		{4, 3, 5, 2, true, true},
		{1, 1, 1, 1, true, true},
		{3, 2, 4, 6, true, false},
		{3, 2, 4, 6, false, true},
		{6, 1, 3, 3, true, true},
	} {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			l := NewLinear(randDense(rng, tc.n*tc.c, tc.out), randDense(rng, tc.n, tc.in), tc.c, true, true)
			sel := l.Select([]bool{tc.weight, tc.bias}).(*Linear)
			// y: another factor of the same layer with other samples and columns.
			y := NewLinear(randDense(rng, 2*1, tc.out), randDense(rng, 2, tc.in), 1, true, true)
			ysel := y.Select([]bool{tc.weight, tc.bias}).(*Linear)
			testFactor(t, sel, explicitLinear(sel), ysel, explicitLinear(ysel), rng)
		})
	}
	l := NewLinear(randDense(rng, 2, 2), randDense(rng, 2, 2), 1, true, false)
	if l.Select([]bool{false, true}) != nil {
		t.Error("Select of a missing bias should be nil")
	}
}

// TestFloat32Products checks the float32 paths of AddGramTo and MulTo
// against the explicit block of V to float32 accuracy, for linear layers
// (both map-back strategies: one product for all vectors and one per
// vector) and convolutions (the aggregated route), and that Select keeps
// the precision.
func TestFloat32Products(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	const rel = 2e-6
	check := func(name string, f Factor, v *mat.Dense, nv int) {
		t.Helper()
		cols := f.Cols()
		u := randDense(rng, nv, cols)
		got := mat.NewDense(nv, f.Dim(), nil)
		f.MulTo(got, u)
		var want mat.Dense
		want.Mul(u, v.T())
		if e := maxAbsDiff(got, &want); e > rel*mat.Norm(&want, math.Inf(1)) || e == 0 {
			t.Errorf("%s MulTo: max error %.3g (norm %.3g), want float32 rounding", name, e, mat.Norm(&want, math.Inf(1)))
		}
		g := mat.NewSymDense(cols, nil)
		f.AddGramTo(g)
		var wantG mat.Dense
		wantG.Mul(v.T(), v)
		if e := maxAbsDiff(g, &wantG); e > rel*mat.Norm(&wantG, math.Inf(1)) {
			t.Errorf("%s AddGramTo: max error %.3g", name, e)
		}
	}
	for _, tc := range []struct{ n, c, out, in, nv int }{{5, 3, 7, 6, 3}, {9, 2, 40, 33, 400}} {
		l := NewLinear(randDense(rng, tc.n*tc.c, tc.out), randDense(rng, tc.n, tc.in), tc.c, true, true)
		l.SetPrecision(Float32)
		sel := l.Select([]bool{true, true}).(*Linear)
		if sel.Precision != Float32 {
			t.Fatal("Select dropped the precision")
		}
		// nv·out·in > batchedMapBackMax in the second case: one product per vector.
		check(fmt.Sprintf("linear %+v", tc), sel, explicitLinear(sel), tc.nv)
	}
	for ci, tc := range convCases {
		if !tc.weight {
			continue
		}
		x, _ := tc.factors(rng)
		x.Route = RouteKernel
		x.SetPrecision(Float32)
		if x.mulExplicit(3) {
			t.Fatalf("case %d: kernel route took the explicit MulTo", ci)
		}
		u := randDense(rng, 3, x.Cols())
		got := mat.NewDense(3, x.Dim(), nil)
		x.MulTo(got, u)
		var want mat.Dense
		want.Mul(u, explicitConv(x).T())
		e, scale := maxAbsDiff(got, &want), mat.Norm(&want, math.Inf(1))
		if x.sparseZ() {
			// Sparse factors take the float64 sparse product instead.
			if !(e <= 1e-12*scale) {
				t.Errorf("conv case %d MulTo (sparse): max error %.3g, want float64 accuracy", ci, e)
			}
		} else if !(e <= rel*scale) || e < 1e-12*scale {
			t.Errorf("conv case %d MulTo: max error %.3g, want float32 rounding", ci, e)
		}
	}
}

// TestMaxAbsDiffRejectsNonFinite checks that the tolerance checks of this
// package's tests, !(maxAbsDiff(a, b) <= tol), fail when either matrix
// holds NaN or ±Inf.
func TestMaxAbsDiffRejectsNonFinite(t *testing.T) {
	base := []float64{1, -2, 3, 4}
	if e := maxAbsDiff(mat.NewDense(2, 2, base), mat.NewDense(2, 2, base)); !(e <= 0) {
		t.Fatalf("equal matrices: difference %v", e)
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		for i := range base {
			m := append([]float64(nil), base...)
			m[i] = bad
			if e := maxAbsDiff(mat.NewDense(2, 2, m), mat.NewDense(2, 2, base)); e <= 1e300 {
				t.Errorf("a[%d] = %v: difference %v passes a tolerance", i, bad, e)
			}
			if e := maxAbsDiff(mat.NewDense(2, 2, base), mat.NewDense(2, 2, m)); e <= 1e300 {
				t.Errorf("b[%d] = %v: difference %v passes a tolerance", i, bad, e)
			}
		}
	}
}
