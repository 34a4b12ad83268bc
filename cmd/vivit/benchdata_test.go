package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchDataSet checks 'bench --dataset' on the embedded example (128
// samples): the reference is the data set's GGN (eigenvalues and trace of
// 'eigen' and 'spectrum' on the whole file), a mini-batch of all 128
// samples reproduces it exactly, the streamed reference (--batch-size,
// --method lanczos) gives the same rows, and the table, CSV and plot come
// out.
func TestBenchDataSet(t *testing.T) {
	type row struct {
		Approximation string    `json:"approximation"`
		BatchSize     int       `json:"batch_size"`
		SubBatch      int       `json:"subbatch"`
		Batches       int       `json:"batches"`
		Err           float64   `json:"eigenvalue_rel_error"`
		Errs          []float64 `json:"eigenvalue_rel_errors"`
		Overlap       float64   `json:"overlap"`
	}
	type out struct {
		K         int     `json:"k"`
		N         int     `json:"data_set_size"`
		Loss      float64 `json:"loss"`
		Trace     float64 `json:"trace"`
		Batches   int     `json:"batches"`
		Reference struct {
			Method      string    `json:"method"`
			Batches     int       `json:"batches"`
			Eigenvalues []float64 `json:"eigenvalues"`
		} `json:"reference"`
		Rows []row `json:"rows"`
	}
	dir := t.TempDir()
	png := filepath.Join(dir, "ds.png")
	args := []string{"bench", "--dataset", "--batch-sizes", "16,128", "--k", "3", "--seeds", "2", "--mc-samples", "1", "--subbatches", "4", "--no-layer", "--format", "json"}
	var one, streamed out
	for i, extra := range [][]string{{"--plot", png}, {"--batch-size", "50", "--method", "lanczos", "--memory", "256MiB"}} {
		r := ok(t, "", append(append([]string{}, args...), extra...)...)
		if err := json.Unmarshal([]byte(r.stdout), []*out{&one, &streamed}[i]); err != nil {
			t.Fatalf("%v in %s", err, r.stdout)
		}
	}
	var eig struct {
		Eigenvalues []float64 `json:"eigenvalues"`
	}
	if err := json.Unmarshal([]byte(ok(t, "", "eigen", "--k", "3", "--format", "json").stdout), &eig); err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Trace float64 `json:"trace"`
	}
	if err := json.Unmarshal([]byte(ok(t, "", "spectrum", "--format", "json").stdout), &spec); err != nil {
		t.Fatal(err)
	}
	if one.N != 128 || one.K != 3 || one.Batches != 2 || one.Reference.Method != "batch" || streamed.Reference.Method != "lanczos" || streamed.Reference.Batches != 3 {
		t.Fatalf("header: %+v / %+v", one, streamed)
	}
	for _, o := range []out{one, streamed} {
		if !(math.Abs(o.Trace-spec.Trace) <= 1e-12*spec.Trace) {
			t.Errorf("%s: trace %v, want spectrum's %v", o.Reference.Method, o.Trace, spec.Trace)
		}
		for j, v := range eig.Eigenvalues {
			if !(math.Abs(o.Reference.Eigenvalues[j]-v) <= 1e-9*eig.Eigenvalues[0]) {
				t.Errorf("%s: reference λ_%d = %v, want %v", o.Reference.Method, j+1, o.Reference.Eigenvalues[j], v)
			}
		}
	}
	// exact, mc=1, sub=N/4 and mc=1+sub=N/4 at each size.
	want := []string{"exact", "mc=1", "sub=4", "mc=1+sub=4", "exact", "mc=1", "sub=32", "mc=1+sub=32"}
	if len(one.Rows) != len(want) || len(streamed.Rows) != len(want) {
		t.Fatalf("%d and %d rows, want %d", len(one.Rows), len(streamed.Rows), len(want))
	}
	for i, r := range one.Rows {
		s := streamed.Rows[i]
		if r.Approximation != want[i] || r.BatchSize != []int{16, 128}[i/4] || r.Batches != 2 || len(r.Errs) != 3 {
			t.Errorf("row %d: %+v, want %s", i, r, want[i])
		}
		if !(r.Overlap >= 0 && r.Overlap <= 1+1e-12) || !(r.Err >= 0) {
			t.Errorf("row %d: overlap %v, error %v", i, r.Overlap, r.Err)
		}
		// The reference by Lanczos agrees with the batch one to its residuals.
		if !(math.Abs(r.Overlap-s.Overlap) <= 1e-8) || !(math.Abs(r.Err-s.Err) <= 1e-8) {
			t.Errorf("row %d (%s at %d): overlap %v / %v, error %v / %v with the streamed reference", i, r.Approximation, r.BatchSize, r.Overlap, s.Overlap, r.Err, s.Err)
		}
	}
	if r := one.Rows[4]; !(math.Abs(r.Overlap-1) <= 1e-9) || !(r.Err <= 1e-9) {
		t.Errorf("a mini-batch of the whole data set: overlap %v, error %v; want 1, 0", r.Overlap, r.Err)
	}
	if r := one.Rows[0]; !(r.Overlap < 0.99) || !(r.Err > 1e-3) {
		t.Errorf("mini-batches of 16: overlap %v, error %v; want them to differ from the data set", r.Overlap, r.Err)
	}
	if b, err := os.ReadFile(png); err != nil || !strings.HasPrefix(string(b), "\x89PNG") {
		t.Errorf("--plot: %v", err)
	}

	table := ok(t, "", "bench", "--dataset", "--batch-sizes", "32", "--k", "2", "--seeds", "1", "--mc-samples", "", "--subbatches", "", "--no-layer").stdout
	for _, s := range []string{"Mini-batch versus data-set GGN", "data set of 128", "tr(G) 12.81", "batch size", "exact"} {
		if !strings.Contains(table, s) {
			t.Errorf("table lacks %q:\n%s", s, table)
		}
	}
	csv := ok(t, "", "bench", "--dataset", "--batch-sizes", "32,64", "--k", "2", "--seeds", "1", "--mc", "1", "--format", "csv").stdout
	if lines := strings.Split(strings.TrimSpace(csv), "\n"); len(lines) != 5 || !strings.HasPrefix(lines[0], "batch_size,approximation") || !strings.HasPrefix(lines[4], "64,mc=1,") {
		t.Errorf("csv:\n%s", csv)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--batch-sizes", "16"}, "--batch-sizes needs --dataset"},
		{[]string{"bench", "--batch-size", "16"}, "--batch-size needs --dataset"},
		{[]string{"bench", "--dataset", "--batch-sizes", "0"}, "--batch-sizes"},
		{[]string{"bench", "--dataset", "--batch-sizes", "500"}, "--batch-sizes: 500 is more than the data set's 128 samples"},
		{[]string{"bench", "--dataset", "--subbatch", "1,2"}, "--subbatches"},
		{[]string{"bench", "--dataset", "--method", "lanczos"}, "needs --batch-size"},
		{[]string{"bench", "--dataset", "--batch-size", "-1"}, "--batch-size"},
	} {
		r := cli(t, "", tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want a usage error naming %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// TestEigenDataSetTrace checks that 'eigen --batch-size' reports the data
// set's trace, summed over the batches' diagonals: that of 'spectrum' on
// the whole file, per block with --groups layer.
func TestEigenDataSetTrace(t *testing.T) {
	var spec struct {
		Groups []struct {
			Trace float64 `json:"trace"`
		} `json:"groups"`
	}
	if err := json.Unmarshal([]byte(ok(t, "", "spectrum", "--groups", "layer", "--format", "json").stdout), &spec); err != nil {
		t.Fatal(err)
	}
	var eig struct {
		Trace  *float64 `json:"trace"`
		Groups []struct {
			Trace float64 `json:"trace"`
		} `json:"groups"`
	}
	if err := json.Unmarshal([]byte(ok(t, "", "eigen", "--k", "2", "--groups", "layer", "--batch-size", "45", "--format", "json").stdout), &eig); err != nil {
		t.Fatal(err)
	}
	if len(eig.Groups) != 2 || len(spec.Groups) != 2 {
		t.Fatalf("%d and %d groups", len(eig.Groups), len(spec.Groups))
	}
	for i, g := range eig.Groups {
		if w := spec.Groups[i].Trace; !(math.Abs(g.Trace-w) <= 1e-12*w) {
			t.Errorf("group %d: trace %v, want %v", i, g.Trace, w)
		}
	}
	if err := json.Unmarshal([]byte(ok(t, "", "eigen", "--k", "2", "--format", "json").stdout), &eig); err != nil || eig.Trace != nil {
		t.Errorf("eigen without --batch-size: trace %v (%v); want none", eig.Trace, err)
	}
	if table := ok(t, "", "eigen", "--k", "2", "--batch-size", "45").stdout; !strings.Contains(table, "data set of 128, loss 0.328339, tr(G) 12.8125") {
		t.Errorf("table header:\n%s", table)
	}
}
