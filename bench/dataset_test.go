package bench

import (
	"math"
	"testing"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/model"
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

// TestCompareDataSetSum checks the scaling of a sum reduction: its GGNs are
// N (data set) and |S| (mini-batch curvature) times the mean reduction's,
// so after the N/|S| scaling every row equals the mean reduction's. Also
// the per-eigenvalue errors average to the mean error, and per-layer and
// float32 approximations run.
func TestCompareDataSetSum(t *testing.T) {
	m, b, err := MLP([]int{5, 6, 3}, "tanh", 60, 4)
	if err != nil {
		t.Fatal(err)
	}
	grid := func(n int) []Approx {
		return []Approx{{Groups: "full"}, {MCSamples: 1, Groups: "full"}, {SubBatch: n / 2, Groups: "full"},
			{Groups: "layer"}, {Precision: vivit.Float32, Groups: "full"}}
	}
	s := DataSetSettings{K: 3, Batches: 3, BatchSizes: []int{12, 30}, Grid: grid, Seed: 9}
	mean, _, err := CompareDataSet(m, b, s)
	if err != nil {
		t.Fatal(err)
	}
	m.Loss.Reduction = model.Sum
	sum, ref, err := CompareDataSet(m, b, s)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Trace[0] <= 0 {
		t.Errorf("reference trace %v", ref.Trace)
	}
	if len(sum) != 10 || len(mean) != len(sum) {
		t.Fatalf("%d and %d rows, want 10", len(mean), len(sum))
	}
	for i, r := range sum {
		q := mean[i]
		if r.Approximation != q.Approximation || r.BatchSize != q.BatchSize {
			t.Fatalf("row %d: %s/%d against %s/%d", i, r.Approximation, r.BatchSize, q.Approximation, q.BatchSize)
		}
		tol := 1e-9
		if r.Approximation == "exact/float32" {
			tol = 1e-4
		}
		if !(math.Abs(r.EigRelError-q.EigRelError) <= tol) || !(math.Abs(r.Overlap-q.Overlap) <= tol) {
			t.Errorf("%s at %d: sum reduction error %v overlap %v; mean %v, %v", r.Approximation, r.BatchSize, r.EigRelError, r.Overlap, q.EigRelError, q.Overlap)
		}
		var avg float64
		for _, e := range r.EigRelErrors {
			avg += e / float64(len(r.EigRelErrors))
		}
		if len(r.EigRelErrors) != 3 || !(math.Abs(avg-r.EigRelError) <= 1e-12*max(1, avg)) {
			t.Errorf("%s at %d: per-eigenvalue errors %v average %v, want %v", r.Approximation, r.BatchSize, r.EigRelErrors, avg, r.EigRelError)
		}
		if !(r.Overlap > 0 && r.Overlap <= 1+1e-12) || (r.Groups == "layer") != (r.Approximation == "exact/layer") {
			t.Errorf("%s at %d: overlap %v, groups %q", r.Approximation, r.BatchSize, r.Overlap, r.Groups)
		}
	}
	// Fixed samples and batch sizes beyond the data set are refused.
	if _, _, err := CompareDataSet(m, b, DataSetSettings{K: 2, BatchSizes: []int{61}}); err == nil {
		t.Error("a batch size above the data set's accepted")
	}
	if _, _, err := CompareDataSet(m, b, DataSetSettings{K: 2, BatchSizes: []int{10}, Grid: func(int) []Approx { return []Approx{{Samples: []int{1, 2}}} }}); err == nil {
		t.Error("fixed samples accepted")
	}
}
