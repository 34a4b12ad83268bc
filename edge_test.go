package vivit_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/model"
)

const edgeArch = `{"input_shape":[3],"layers":[{"type":"linear","in":3,"out":4},{"type":"relu"},{"type":"linear","in":4,"out":3}],"loss":{"type":"cross_entropy","reduction":"mean"}}`

// TestSingleSample: N = 1 has rank ≤ C−1, zero gradient variance and an
// undefined gradient SNR, all without NaN in the eigenpairs.
func TestSingleSample(t *testing.T) {
	m := tinyNet(t, edgeArch, 1)
	b := tinyBatch(m, 1, 1)
	ref := buildDense(m, b)
	res, err := vivit.Directional(m, b, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	blk := res.Blocks[0]
	if len(blk.Values) > 2 || len(blk.Values) == 0 {
		t.Fatalf("%d eigenvalues for one sample and 3 classes", len(blk.Values))
	}
	for j, v := range blk.Values {
		e := mat.NewVecDense(m.NumParams(), blk.Vector(j))
		if got := mat.Inner(e, ref.ggn, e); !(math.Abs(got-v) <= 1e-6*blk.Values[0]) {
			t.Errorf("eigenvalue %d = %g, Rayleigh quotient on the dense GGN %g", j, v, got)
		}
		if g, want := blk.Gamma.At(0, j), mat.Dot(e, mat.NewVecDense(m.NumParams(), ref.grads[0])); !(math.Abs(g-want) <= 1e-6) {
			t.Errorf("γ = %g, want %g", g, want)
		}
	}
	st, err := vivit.ComputeStats(m, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range st.GradVariance {
		if v != 0 {
			t.Fatalf("gradient variance %g for one sample", v)
		}
	}
	for _, l := range st.Layers {
		if !math.IsNaN(l.SNR) {
			t.Errorf("layer %s SNR = %g, want NaN (undefined)", l.Layer, l.SNR)
		}
	}
}

// TestSaturatedSoftmax: logits so large that softmax is exactly one-hot
// make every loss Hessian zero; the GGN is zero and has no eigenpairs. The
// loss and gradient stay finite.
func TestSaturatedSoftmax(t *testing.T) {
	m := tinyNet(t, edgeArch, 2)
	last := m.Nodes[2].Op.(*model.Linear)
	for i := range last.Bias.Data {
		last.Bias.Data[i] = 0
	}
	last.Bias.Data[1] = 1e4
	b := tinyBatch(m, 4, 2)
	for i := range b.Targets.Classes {
		b.Targets.Classes[i] = 1
	}
	res, err := vivit.Directional(m, b, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Blocks[0].Values); n != 0 {
		t.Errorf("%d eigenvalues of a zero GGN: %v", n, res.Blocks[0].Values)
	}
	if res.Blocks[0].Rank != 0 {
		t.Errorf("rank %d, want 0", res.Blocks[0].Rank)
	}
	sp, err := vivit.Spectrum(m, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.Blocks[0].Values) != 0 || sp.Blocks[0].Trace != 0 {
		t.Errorf("spectrum %v, trace %g", sp.Blocks[0].Values, sp.Blocks[0].Trace)
	}
	if res.Loss != 0 || math.IsNaN(res.Loss) {
		t.Errorf("loss %g, want 0", res.Loss)
	}
	// Wrong labels: a huge but finite loss, still no NaN.
	for i := range b.Targets.Classes {
		b.Targets.Classes[i] = 0
	}
	l, g, err := vivit.Gradient(m, b)
	if err != nil {
		t.Fatal(err)
	}
	if math.IsNaN(l) || math.IsInf(l, 0) || l < 9e3 {
		t.Errorf("loss %g", l)
	}
	for _, v := range g {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatal("non-finite gradient")
		}
	}
}

// TestDeadReLU: a hidden layer whose ReLUs are all off zeroes the factor
// of every layer before it; those blocks have no eigenpairs and the rest
// is unaffected.
func TestDeadReLU(t *testing.T) {
	m := tinyNet(t, edgeArch, 3)
	first := m.Nodes[0].Op.(*model.Linear)
	for i := range first.Bias.Data {
		first.Bias.Data[i] = -100
	}
	b := tinyBatch(m, 5, 3)
	res, err := vivit.Directional(m, b, 4, &vivit.Options{Groups: vivit.LayerGroups(m)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Blocks[0].Values); n != 0 {
		t.Errorf("dead layer has %d eigenvalues", n)
	}
	if n := len(res.Blocks[1].Values); n == 0 {
		t.Error("the last layer lost its curvature")
	}
	whole, err := vivit.TopEigen(m, b, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	for j, v := range whole.Blocks[0].Values {
		if !(math.Abs(v-res.Blocks[1].Values[j]) <= 1e-12*v) {
			t.Errorf("eigenvalue %d: whole network %g, last layer %g", j, v, res.Blocks[1].Values[j])
		}
	}
}

// TestLargeLogitsStable: with logits in the hundreds and thousands
// (softmax nearly one-hot, but not exactly: the curvature is tiny, not
// zero) the loss, the eigenvalues and the per-sample curvatures agree with
// an independent reference: the loss from a log-sum-exp written here, the
// eigenvalues and λ_nk from the dense GGN (finite-difference Jacobians,
// the test's own softmax Hessian).
func TestLargeLogitsStable(t *testing.T) {
	for _, scale := range []float64{10, 30} {
		m := tinyNet(t, edgeArch, 4)
		b := tinyBatch(m, 6, 4)
		for _, p := range m.Params() {
			for i := range p.Data {
				p.Data[i] *= scale
			}
		}
		res, err := vivit.Directional(m, b, 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		acts := m.Forward(b.Inputs)
		z := acts[len(acts)-1]
		var loss, maxLogit float64
		for i, c := range b.Targets.Classes {
			row := z.RawRowView(i)
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, v)
				maxLogit = math.Max(maxLogit, math.Abs(v))
			}
			var s float64
			for _, v := range row {
				s += math.Exp(v - mx)
			}
			loss += mx + math.Log(s) - row[c]
		}
		loss *= m.Loss.Weight(b.Len())
		if !(maxLogit >= 100) {
			t.Fatalf("scale %g: largest logit %g, want hundreds", scale, maxLogit)
		}
		if !(math.Abs(res.Loss-loss) <= 1e-12*math.Abs(loss)) {
			t.Errorf("scale %g: loss %g, log-sum-exp gives %g", scale, res.Loss, loss)
		}
		ref := buildDense(m, b)
		var es mat.EigenSym
		es.Factorize(ref.ggn, false)
		dense := es.Values(nil)
		slices.Reverse(dense)
		top := dense[0]
		if !(top > 0) {
			t.Fatalf("scale %g: the dense GGN is zero; the test needs a curvature to compare", scale)
		}
		// Eigenvalues above finite differences' noise must all be found.
		want := 0
		for _, v := range dense[:3] {
			if v > 1e-6*top {
				want++
			}
		}
		blk := res.Blocks[0]
		if len(blk.Values) < want {
			t.Fatalf("scale %g: %d eigenvalues %v, the dense GGN has %d: %v", scale, len(blk.Values), blk.Values, want, dense[:3])
		}
		for j, v := range blk.Values {
			if !(math.Abs(v-dense[j]) <= 1e-6*top) {
				t.Errorf("scale %g: λ%d = %g, dense %g", scale, j+1, v, dense[j])
			}
			// λ_nk = e_kᵀ G_n e_k with the dense per-sample GGNs.
			e := mat.NewVecDense(len(blk.Vector(j)), blk.Vector(j))
			for n, gn := range ref.gn {
				lnk := mat.Inner(e, gn, e)
				if got := blk.Lambda.At(n, j); !(math.Abs(got-lnk) <= 1e-6*top/ref.w) {
					t.Errorf("scale %g: λ_%d,%d = %g, dense %g", scale, n, j, got, lnk)
				}
				if g := blk.Gamma.At(n, j); math.IsNaN(g) || math.IsInf(g, 0) {
					t.Errorf("scale %g: γ_%d,%d = %g", scale, n, j, g)
				}
			}
		}
	}
}

// TestNoParameters: a network without parameters has no curvature; every
// entry point says so instead of computing on an empty GGN.
func TestNoParameters(t *testing.T) {
	m := tinyNet(t, `{"input_shape":[3],"layers":[{"type":"sigmoid"}],"loss":{"type":"mse","reduction":"mean"}}`, 1)
	b := tinyBatch(m, 2, 1)
	const want = "the model has no parameters"
	for name, run := range map[string]func() error{
		"TopEigen":     func() error { _, err := vivit.TopEigen(m, b, 1, nil); return err },
		"Directional":  func() error { _, err := vivit.Directional(m, b, 1, nil); return err },
		"Spectrum":     func() error { _, err := vivit.Spectrum(m, b, nil); return err },
		"Newton":       func() error { _, err := vivit.Newton(m, b, 1, vivit.Damping{Delta: 1}, nil); return err },
		"ComputeStats": func() error { _, err := vivit.ComputeStats(m, b, nil); return err },
	} {
		if err := run(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", name, err, want)
		}
	}
}
