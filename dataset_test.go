package vivit_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/model"
)

// checkDataSetAgainstBatch runs DataSetTopEigen with the given options and
// compares it with TopEigen on the whole data set as one batch: loss,
// eigenvalues to valTol relative, eigenvectors to vecTol/gap (skipping
// ill-conditioned ones), the reported residuals against tol, and the
// trace against the whole batch's spectrum.
func checkDataSetAgainstBatch(t *testing.T, label string, m *vivit.Model, b *vivit.Batch, k int, opts vivit.DataSetOptions, valTol, vecTol float64) *vivit.DataSetResult {
	t.Helper()
	ref, err := vivit.TopEigen(m, b, k, &opts.Options)
	if err != nil {
		t.Fatalf("%s: reference: %v", label, err)
	}
	spec, err := vivit.Spectrum(m, b, &opts.Options)
	if err != nil {
		t.Fatalf("%s: reference spectrum: %v", label, err)
	}
	got, err := vivit.DataSetTopEigen(m, vivit.NewBatchDataSet(b), k, &opts)
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	if !(math.Abs(got.Loss-ref.Loss) <= 1e-12*math.Abs(ref.Loss)) {
		t.Errorf("%s: loss %.17g, want %.17g", label, got.Loss, ref.Loss)
	}
	if got.CurvatureSamples != b.Len() || got.Batches != (b.Len()+got.BatchSize-1)/got.BatchSize {
		t.Errorf("%s: %d samples in %d batches of %d", label, got.CurvatureSamples, got.Batches, got.BatchSize)
	}
	for bi, rb := range ref.Blocks {
		gb := got.Blocks[bi]
		if e := maxRelErr(gb.Values, rb.Values); !(e <= valTol) {
			t.Errorf("%s block %d (%s): eigenvalues max rel error %.3g\n got %v\nwant %v", label, bi, got.Method, e, gb.Values, rb.Values)
			continue
		}
		gaps := relGaps(rb.Values)
		if len(rb.Values) == k {
			gaps[k-1] = 0
		}
		for j := range rb.Values {
			if gaps[j] < 1e-4 || opts.SkipVectors {
				continue
			}
			if e := maxAbs(gb.Vector(j), rb.Vector(j)); !(e <= vecTol/math.Min(gaps[j], 1)) {
				t.Errorf("%s block %d (%s): eigenvector %d differs by %.3g (gap %.2g)", label, bi, got.Method, j, e, gaps[j])
			}
		}
		if got.Residuals != nil {
			tol := opts.Tol
			if tol == 0 {
				tol = vivit.DefaultStreamTol
			}
			if got.Method == "parameters" {
				tol = 1e-12
			}
			for j, r := range got.Residuals[bi] {
				if !(r <= tol) {
					t.Errorf("%s block %d: residual %d is %.3g > %.3g", label, bi, j, r, tol)
				}
			}
		}
		if e := math.Abs(got.Trace[bi]-spec.Blocks[bi].Trace) / spec.Blocks[bi].Trace; !(e <= 1e-12) {
			t.Errorf("%s block %d: trace %.17g, want %.17g", label, bi, got.Trace[bi], spec.Blocks[bi].Trace)
		}
	}
	return got
}

func dataSetNets(t *testing.T) map[string]*vivit.Model {
	return map[string]*vivit.Model{
		"mlp/ce-mean":          tinyNet(t, `{"input_shape": [4], "layers": [{"type": "linear", "in": 4, "out": 5}, {"type": "tanh"}, {"type": "linear", "in": 5, "out": 3}], "loss": {"type": "cross_entropy", "reduction": "mean"}}`, 1),
		"mlp/ce-sum":           tinyNet(t, `{"input_shape": [4], "layers": [{"type": "linear", "in": 4, "out": 5}, {"type": "tanh"}, {"type": "linear", "in": 5, "out": 3}], "loss": {"type": "cross_entropy", "reduction": "sum"}}`, 2),
		"mlp/mse-mean":         tinyNet(t, `{"input_shape": [3], "layers": [{"type": "linear", "in": 3, "out": 6}, {"type": "sigmoid"}, {"type": "linear", "in": 6, "out": 2}], "loss": {"type": "mse", "reduction": "mean"}}`, 3),
		"resblock/mse-sum":     resBlockNet(t, model.Loss{Kind: model.MSE, Reduction: model.Sum}, 4),
		"residual/ce-mean":     residualNet(t, model.Loss{Kind: model.CrossEntropy, Reduction: model.Mean}, 5),
		"groupedconv/mse-mean": convNet(t, groupedConvArch, `{"type":"mse","reduction":"mean"}`, 6),
	}
}

// TestDataSetMethodsAgainstBatch checks every data-set method against the
// whole data set run as one batch, over batch sizes that divide the data
// set and that leave an uneven last batch, for mean and sum losses, exact
// and Monte-Carlo factors, and per-layer groups.
func TestDataSetMethodsAgainstBatch(t *testing.T) {
	const n = 23
	for name, m := range dataSetNets(t) {
		b := tinyBatch(m, n, 9)
		for _, bs := range []int{1, 5, 8, 23, 40} {
			for _, method := range []vivit.DataSetMethod{vivit.MethodAuto, vivit.MethodParameters, vivit.MethodLanczos} {
				label := fmt.Sprintf("%s/bs=%d/%s", name, bs, method)
				t.Run(label, func(t *testing.T) {
					if testing.Short() && bs == 1 && method != vivit.MethodParameters {
						t.Skip("23 passes per product in -short")
					}
					tol, vtol := 1e-11, 1e-11
					opts := vivit.DataSetOptions{BatchSize: bs, Method: method}
					if method == vivit.MethodLanczos {
						// Eigenvalue errors are about the residual squared over
						// the gap, eigenvector errors the residual over the gap.
						opts.Tol = 1e-11
						tol, vtol = 1e-11, 1e-10
					}
					res := checkDataSetAgainstBatch(t, "exact", m, b, 4, opts, tol, vtol)
					if method == vivit.MethodAuto {
						want := "parameters"
						if bs >= n {
							want = "batch"
						}
						if res.Method != want {
							t.Errorf("auto chose %q, want %q", res.Method, want)
						}
					} else if res.Method != method.String() {
						t.Errorf("method %q, want %q", res.Method, method)
					}
					opts.MCSamples, opts.Seed = 2, 7
					checkDataSetAgainstBatch(t, "mc=2", m, b, 3, opts, tol, vtol)
					opts.MCSamples = 0
					opts.Groups = vivit.LayerGroups(m)
					checkDataSetAgainstBatch(t, "per layer", m, b, 3, opts, tol, vtol)
				})
			}
		}
	}
}

// TestDataSetLanczosCache checks that the streaming method gives the same
// results whether the batches' factors are kept between passes or
// recomputed every pass (a budget too small to cache any), and counts
// its passes.
func TestDataSetLanczosCache(t *testing.T) {
	m := dataSetNets(t)["mlp/ce-mean"]
	b := tinyBatch(m, 30, 4)
	ds := vivit.NewBatchDataSet(b)
	cached, err := vivit.DataSetTopEigen(m, ds, 3, &vivit.DataSetOptions{BatchSize: 7, Method: vivit.MethodLanczos, Tol: 1e-10})
	if err != nil {
		t.Fatal(err)
	}
	// 2·D·(k + 4·b)·8 bytes for the basis: D = 43, k = b = 3.
	small, err := vivit.DataSetTopEigen(m, ds, 3, &vivit.DataSetOptions{Options: vivit.Options{MemoryBudget: 43 * 16 * 15 * 2}, BatchSize: 7, Method: vivit.MethodLanczos, Tol: 1e-10})
	if err != nil {
		t.Fatal(err)
	}
	if e := maxRelErr(small.Blocks[0].Values, cached.Blocks[0].Values); !(e <= 1e-10) {
		t.Errorf("cached and recomputed batches: eigenvalues differ by %.3g", e)
	}
	if cached.Passes < 2 || small.Passes < 2 {
		t.Errorf("passes %d and %d", cached.Passes, small.Passes)
	}
	t.Logf("passes: %d cached, %d recomputed", cached.Passes, small.Passes)
}

// TestDataSetSpectrum checks the whole spectrum of a data set by the
// parameter method against Spectrum on one batch.
func TestDataSetSpectrum(t *testing.T) {
	for name, m := range dataSetNets(t) {
		b := tinyBatch(m, 17, 3)
		for _, groups := range [][]vivit.Group{nil, vivit.LayerGroups(m)} {
			want, err := vivit.Spectrum(m, b, &vivit.Options{Groups: groups})
			if err != nil {
				t.Fatal(err)
			}
			got, err := vivit.DataSetSpectrum(m, vivit.NewBatchDataSet(b), &vivit.DataSetOptions{Options: vivit.Options{Groups: groups}, BatchSize: 5})
			if err != nil {
				t.Fatal(err)
			}
			for i := range want.Blocks {
				if e := maxRelErr(got.Blocks[i].Values, want.Blocks[i].Values); !(e <= 1e-11) {
					t.Errorf("%s block %d: spectrum max rel error %.3g (%d and %d values)", name, i, e, len(got.Blocks[i].Values), len(want.Blocks[i].Values))
				}
				if e := math.Abs(got.Blocks[i].Trace-want.Blocks[i].Trace) / want.Blocks[i].Trace; !(e <= 1e-12) {
					t.Errorf("%s block %d: trace rel error %.3g", name, i, e)
				}
			}
		}
	}
}

// TestDataSetErrors checks the refusals: a sub-batch, a negative batch
// size, the spectrum by the streaming method, an empty data set, a bad
// batch from the data set.
func TestDataSetErrors(t *testing.T) {
	m := dataSetNets(t)["mlp/ce-mean"]
	b := tinyBatch(m, 10, 1)
	ds := vivit.NewBatchDataSet(b)
	for _, tc := range []struct {
		opts vivit.DataSetOptions
		want string
	}{
		{vivit.DataSetOptions{Options: vivit.Options{SubBatch: []int{1}}}, "SubBatch"},
		{vivit.DataSetOptions{BatchSize: -1}, "BatchSize"},
		{vivit.DataSetOptions{Tol: 2}, "Tol"},
		{vivit.DataSetOptions{Method: 9}, "method"},
	} {
		if _, err := vivit.DataSetTopEigen(m, ds, 2, &tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %q", tc.opts, err, tc.want)
		}
	}
	if _, err := vivit.DataSetSpectrum(m, ds, &vivit.DataSetOptions{BatchSize: 3, Method: vivit.MethodLanczos}); err == nil {
		t.Error("spectrum by the streaming method accepted")
	}
	if _, err := vivit.DataSetTopEigen(m, vivit.NewBatchDataSet(&vivit.Batch{Inputs: b.Inputs.Slice(0, 0, 0, 4).(*mat.Dense)}), 2, nil); err == nil {
		t.Error("empty data set accepted")
	}
	if _, err := vivit.DataSetTopEigen(m, badDataSet{ds}, 2, &vivit.DataSetOptions{BatchSize: 4}); err == nil || !strings.Contains(err.Error(), "[4, 8)") {
		t.Errorf("bad batch: error %v, want one naming the batch", err)
	}
}

// badDataSet fails on its second batch.
type badDataSet struct{ *vivit.BatchDataSet }

func (d badDataSet) Batch(start, end int) (*vivit.Batch, error) {
	if start > 0 {
		return nil, fmt.Errorf("unreadable")
	}
	return d.BatchDataSet.Batch(start, end)
}
