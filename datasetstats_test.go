package vivit_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/vivit-go/vivit"
)

// TestDataSetStats checks the streaming statistics against ComputeStats on
// the whole data set as one batch, to 1e-12 of each vector's largest
// entry: batch sizes that divide the data set and that leave an uneven
// last batch, mean and sum losses, linear, residual and convolutional
// networks, exact and Monte-Carlo diagonals.
func TestDataSetStats(t *testing.T) {
	const n = 23
	nets := dataSetNets(t)
	nets["conv/ce-sum"] = tinyNet(t, `{"input_shape":[1,5,5],"layers":[{"type":"conv2d","in_channels":1,"out_channels":2,"kernel_size":3},{"type":"tanh"},{"type":"flatten"},{"type":"linear","in":18,"out":3}],"loss":{"type":"cross_entropy","reduction":"sum"}}`, 6)
	for name, m := range nets {
		b := tinyBatch(m, n, 9)
		for _, mc := range []int{0, 2} {
			want, err := vivit.ComputeStats(m, b, &vivit.Options{MCSamples: mc, Seed: 5})
			if err != nil {
				t.Fatal(err)
			}
			for _, bs := range []int{1, 5, 8, 23, 40} {
				label := fmt.Sprintf("%s/mc=%d/bs=%d", name, mc, bs)
				got, err := vivit.DataSetStats(m, vivit.NewBatchDataSet(b), &vivit.DataSetOptions{Options: vivit.Options{MCSamples: mc, Seed: 5}, BatchSize: bs})
				if err != nil {
					t.Fatalf("%s: %v", label, err)
				}
				checkStatsEqual(t, label, got, want, 1e-12)
			}
		}
	}
}

// checkStatsEqual compares every field of two Stats to tol (vectors
// relative to their largest entry, scalars relative to themselves).
func checkStatsEqual(t *testing.T, label string, got, want *vivit.Stats, tol float64) {
	t.Helper()
	vec := func(what string, g, w []float64) {
		t.Helper()
		if len(g) != len(w) {
			t.Errorf("%s: %s has %d entries, want %d", label, what, len(g), len(w))
			return
		}
		var scale float64
		for _, v := range w {
			scale = math.Max(scale, math.Abs(v))
		}
		for i := range w {
			if !(math.Abs(g[i]-w[i]) <= tol*scale) {
				t.Errorf("%s: %s[%d] = %.17g, want %.17g", label, what, i, g[i], w[i])
				return
			}
		}
	}
	scalar := func(what string, g, w float64) {
		t.Helper()
		if math.IsNaN(w) && math.IsNaN(g) {
			return
		}
		if !(math.Abs(g-w) <= tol*math.Abs(w)) {
			t.Errorf("%s: %s = %.17g, want %.17g", label, what, g, w)
		}
	}
	vec("per-sample losses", got.PerSampleLoss, want.PerSampleLoss)
	vec("per-sample gradient norms", got.PerSampleGradNorms, want.PerSampleGradNorms)
	vec("gradient", got.Grad, want.Grad)
	vec("gradient variance", got.GradVariance, want.GradVariance)
	vec("diagonal GGN", got.DiagGGN, want.DiagGGN)
	scalar("loss", got.Loss, want.Loss)
	scalar("gradient norm", got.GradNorm, want.GradNorm)
	scalar("GGN trace", got.GGNTrace, want.GGNTrace)
	scalar("gradient SNR", got.GradSNR, want.GradSNR)
	if len(got.Layers) != len(want.Layers) {
		t.Fatalf("%s: %d layers, want %d", label, len(got.Layers), len(want.Layers))
	}
	for i, l := range want.Layers {
		g := got.Layers[i]
		if g.Layer != l.Layer {
			t.Errorf("%s: layer %d is %q, want %q", label, i, g.Layer, l.Layer)
		}
		scalar("layer "+l.Layer+" gradient norm", g.GradNorm, l.GradNorm)
		scalar("layer "+l.Layer+" GGN trace", g.GGNTrace, l.GGNTrace)
		scalar("layer "+l.Layer+" SNR", g.SNR, l.SNR)
	}
}

// TestDataSetStatsStable checks the merged variance where the per-sample
// gradients agree to many digits: a data set of one sample repeated with
// perturbations of 1e-6 of its input, streamed in batches of 3. The
// variance is about 1e-12 of the squared mean, so E[g²] − E[g]² would
// keep only about 4 of its digits; the merged centred sums agree with the
// one-batch two-pass form to 1e-8 (both are limited by the rounding of the
// gradients themselves, about 1e-10 of the variance).
func TestDataSetStatsStable(t *testing.T) {
	m := dataSetNets(t)["mlp/ce-mean"]
	const n = 20
	b := tinyBatch(m, n, 3)
	_, f := b.Inputs.Dims()
	for i := 1; i < n; i++ {
		for j := 0; j < f; j++ {
			b.Inputs.Set(i, j, b.Inputs.At(0, j)*(1+1e-6*float64(i%7-3)))
		}
		if b.Targets.Classes != nil {
			b.Targets.Classes[i] = b.Targets.Classes[0]
		}
	}
	want, err := vivit.ComputeStats(m, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := vivit.DataSetStats(m, vivit.NewBatchDataSet(b), &vivit.DataSetOptions{BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	var maxVar float64
	for _, v := range want.GradVariance {
		maxVar = math.Max(maxVar, v)
	}
	if !(maxVar > 0) {
		t.Fatalf("variance %v: the test needs a nonzero one", maxVar)
	}
	for j, v := range want.GradVariance {
		if v > 0 && !(v < 1e-10*want.Grad[j]*want.Grad[j]) {
			t.Fatalf("variance[%d] = %v against a squared mean of %v: not the hard case", j, v, want.Grad[j]*want.Grad[j])
		}
	}
	checkStatsEqual(t, "near-constant gradients", got, want, 1e-8)
}

// TestDataSetStatsErrors checks the refusals: a sub-batch, an empty data
// set, a negative batch size, and a failing batch.
func TestDataSetStatsErrors(t *testing.T) {
	m := dataSetNets(t)["mlp/ce-mean"]
	b := tinyBatch(m, 6, 1)
	for _, o := range []*vivit.DataSetOptions{{Options: vivit.Options{SubBatch: []int{1}}}, {BatchSize: -1}} {
		if _, err := vivit.DataSetStats(m, vivit.NewBatchDataSet(b), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if _, err := vivit.DataSetStats(m, badDataSet{vivit.NewBatchDataSet(b)}, &vivit.DataSetOptions{BatchSize: 4}); err == nil || !strings.Contains(err.Error(), "[4, 6)") {
		t.Errorf("a failing batch: error %v, want one naming the batch", err)
	}
	if _, err := vivit.DataSetStats(nil, vivit.NewBatchDataSet(b), nil); err == nil {
		t.Error("nil model accepted")
	}
}

// TestDataSetStatsBudget checks the memory check: a budget below one
// batch's needs is refused up front with the memory it needs, and a
// smaller batch then fits.
func TestDataSetStatsBudget(t *testing.T) {
	m := dataSetNets(t)["mlp/ce-mean"]
	b := tinyBatch(m, 400, 2)
	_, err := vivit.DataSetStats(m, vivit.NewBatchDataSet(b), &vivit.DataSetOptions{Options: vivit.Options{MemoryBudget: 64 << 10}})
	var me *vivit.MemoryError
	if !errors.As(err, &me) || !(me.Needed > me.Budget) || !strings.Contains(err.Error(), "batches of 400") {
		t.Fatalf("error %v, want a MemoryError naming the batch size", err)
	}
	if _, err := vivit.DataSetStats(m, vivit.NewBatchDataSet(b), &vivit.DataSetOptions{Options: vivit.Options{MemoryBudget: 64 << 10}, BatchSize: 20}); err != nil {
		t.Errorf("batches of 20 in 64 KiB: %v", err)
	}
}
