package vivit_test

import (
	"math"
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

// TestLargeLogitsStable: logits in the hundreds (softmax nearly one-hot)
// keep every quantity finite and accurate.
func TestLargeLogitsStable(t *testing.T) {
	m := tinyNet(t, edgeArch, 4)
	b := tinyBatch(m, 6, 4)
	for _, p := range m.Params() {
		for i := range p.Data {
			p.Data[i] *= 30 // logits in the hundreds
		}
	}
	res, err := vivit.Directional(m, b, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range res.Blocks[0].Values {
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			t.Fatalf("eigenvalue %g", v)
		}
	}
	ref := buildDense(m, b)
	var es mat.EigenSym
	es.Factorize(ref.ggn, false)
	vals := es.Values(nil)
	top := vals[len(vals)-1]
	if len(res.Blocks[0].Values) > 0 && !(math.Abs(res.Blocks[0].Values[0]-top) <= 1e-5*top) {
		t.Errorf("λ₁ = %g, dense %g", res.Blocks[0].Values[0], top)
	}
}
