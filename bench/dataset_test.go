package bench

import (
	"math"
	"testing"

	"github.com/vivit-go/vivit"
)

// TestCompareDataSet checks the mini-batch-against-data-set comparison: a
// "mini-batch" that is the whole data set reproduces the reference
// (overlap 1, eigenvalue error 0 to rounding), and smaller batches give
// overlaps in [0, 1] and finite errors.
func TestCompareDataSet(t *testing.T) {
	m, b, err := MLP([]int{6, 8, 4}, "tanh", 120, 3)
	if err != nil {
		t.Fatal(err)
	}
	rows, ref, err := CompareDataSet(m, b, DataSetSettings{
		K: 4, Batches: 2, BatchSizes: []int{30, 120},
		Reference: vivit.DataSetOptions{BatchSize: 25, Method: vivit.MethodLanczos, Tol: 1e-12},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ref.Method != "lanczos" || len(rows) != 6 {
		t.Fatalf("reference by %q, %d rows", ref.Method, len(rows))
	}
	for _, r := range rows {
		t.Logf("%+v", r)
		if !(r.Overlap >= 0 && r.Overlap <= 1+1e-12) || !(r.EigRelError >= 0) || math.IsInf(r.EigRelError, 0) {
			t.Errorf("%s at %d: overlap %v, error %v", r.Approximation, r.BatchSize, r.Overlap, r.EigRelError)
		}
		if r.BatchSize == 120 && r.Approximation == "exact" {
			if !(math.Abs(r.Overlap-1) <= 1e-9) || !(r.EigRelError <= 1e-10) {
				t.Errorf("the whole data set as the mini-batch: overlap %v, error %v", r.Overlap, r.EigRelError)
			}
		}
	}
}
