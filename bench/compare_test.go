package bench

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/internal/fixture"
)

func TestOverlap(t *testing.T) {
	e := mat.NewDense(2, 3, []float64{1, 0, 0, 0, 1, 0})
	rot := mat.NewDense(2, 3, []float64{math.Sqrt(0.5), math.Sqrt(0.5), 0, -math.Sqrt(0.5), math.Sqrt(0.5), 0})
	orth := mat.NewDense(1, 3, []float64{0, 0, 1})
	half := mat.NewDense(2, 3, []float64{1, 0, 0, 0, 0, 1})
	for _, tc := range []struct {
		name string
		a, b *mat.Dense
		want float64
	}{
		{"identical", e, e, 1},
		{"same subspace, other basis", rot, e, 1},
		{"orthogonal", orth, e, 0},
		{"half shared", half, e, 0.5},
		{"missing", nil, e, 0},
	} {
		if got := Overlap(tc.a, tc.b); !(math.Abs(got-tc.want) <= 1e-15) {
			t.Errorf("%s: overlap %g, want %g", tc.name, got, tc.want)
		}
	}
}

func loadFixture(t *testing.T, name string) (*vivit.Model, *vivit.Batch) {
	t.Helper()
	_, m, b := fixture.MustOpen(t, name)
	return m, b
}

func TestCompareExactRow(t *testing.T) {
	m, b := loadFixture(t, "digits_mlp")
	rows, err := Compare(m, b, Settings{K: 5, Seeds: 3, Grid: []Approx{{}, {MCSamples: 1}, {SubBatch: 64}, {Groups: "layer"}}})
	if err != nil {
		t.Fatal(err)
	}
	if rows[0].Approximation != "exact" || rows[0].EigRelError != 0 || !(math.Abs(rows[0].Overlap-1) <= 1e-12) || rows[0].Seeds != 1 {
		t.Errorf("exact row %+v", rows[0])
	}
	// A "sub-batch" of every sample is the exact GGN again.
	if !(rows[2].EigRelError <= 1e-12) || !(math.Abs(rows[2].Overlap-1) <= 1e-10) {
		t.Errorf("full sub-batch row %+v", rows[2])
	}
	if rows[1].Seeds != 3 || rows[1].EigRelError <= 0 || rows[1].Overlap >= 1 || rows[1].Overlap <= 0 {
		t.Errorf("MC row %+v", rows[1])
	}
	if rows[3].Groups != "layer" || rows[3].Overlap >= 1 {
		t.Errorf("per-layer row %+v", rows[3])
	}
}

// TestMCConvergesToExact checks that Monte-Carlo rows approach the exact
// curvature as the number of samples grows.
func TestMCConvergesToExact(t *testing.T) {
	m, b := loadFixture(t, "digits_mlp")
	rows, err := Compare(m, b, Settings{K: 5, Seeds: 4, Grid: []Approx{{}, {MCSamples: 1}, {MCSamples: 4}, {MCSamples: 16}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i < len(rows); i++ {
		if !(rows[i].EigRelError < rows[i-1].EigRelError) || !(rows[i].Overlap > rows[i-1].Overlap) {
			t.Errorf("%s (err %.3g, overlap %.3f) is not closer to exact than %s (err %.3g, overlap %.3f)",
				rows[i].Approximation, rows[i].EigRelError, rows[i].Overlap, rows[i-1].Approximation, rows[i-1].EigRelError, rows[i-1].Overlap)
		}
	}
	for _, r := range rows {
		t.Logf("%-6s err %.3g ± %.2g  overlap %.3f ± %.2g", r.Approximation, r.EigRelError, r.EigRelErrorStd, r.Overlap, r.OverlapStd)
	}
	if last := rows[len(rows)-1]; !(last.EigRelError <= 0.2) || last.Overlap < 0.6 {
		t.Errorf("M=16 still far from exact: %+v", last)
	}
}
