package vivit_test

import (
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/model"
)

// relGaps returns, for each of the values (descending), the distance to
// its nearest neighbour among them relative to the largest.
func relGaps(vals []float64) []float64 {
	g := make([]float64, len(vals))
	for j := range vals {
		d := math.Inf(1)
		if j > 0 {
			d = vals[j-1] - vals[j]
		}
		if j+1 < len(vals) {
			d = math.Min(d, vals[j]-vals[j+1])
		}
		g[j] = d / vals[0]
	}
	return g
}

// maxAbs returns max |a − b| over the entries, +Inf on a shape mismatch.
func maxAbs(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var e float64
	for i := range a {
		e = math.Max(e, math.Abs(a[i]-b[i]))
	}
	return e
}

// compareSides runs entry (TopEigen or Directional) on the Gram and on the
// parameter side and checks that eigenvalues agree to 1e-12 relative,
// eigenvectors, γ and λ to 1e-12/gap (directions whose relative gap is
// below 1e-4 are ill-conditioned and skipped), and that each side says so.
func compareSides(t *testing.T, label string, m *vivit.Model, b *vivit.Batch, k int, opts vivit.Options, dir bool) {
	t.Helper()
	entry := vivit.TopEigen
	if dir {
		entry = vivit.Directional
	}
	opts.Side = vivit.SideGram
	g, err := entry(m, b, k, &opts)
	if err != nil {
		t.Fatalf("%s: gram side: %v", label, err)
	}
	opts.Side = vivit.SideParameters
	p, err := entry(m, b, k, &opts)
	if err != nil {
		t.Fatalf("%s: parameter side: %v", label, err)
	}
	if g.Side != "gram" || p.Side != "parameters" {
		t.Errorf("%s: sides %q, %q", label, g.Side, p.Side)
	}
	if len(g.Blocks) != len(p.Blocks) {
		t.Fatalf("%s: %d and %d blocks", label, len(g.Blocks), len(p.Blocks))
	}
	for bi := range g.Blocks {
		gb, pb := g.Blocks[bi], p.Blocks[bi]
		if e := maxRelErr(pb.Values, gb.Values); !(e <= 1e-12) {
			t.Errorf("%s block %d: eigenvalues max rel error %.3g\n gram %v\nparam %v", label, bi, e, gb.Values, pb.Values)
			continue
		}
		gaps := relGaps(gb.Values)
		if len(gb.Values) == k {
			// The gap to the first eigenvalue left out is unknown.
			gaps[k-1] = 0
		}
		for j := range gb.Values {
			if gaps[j] < 1e-4 {
				continue
			}
			tol := 1e-12 / math.Min(gaps[j], 1)
			if !opts.SkipVectors {
				if e := maxAbs(pb.Vector(j), gb.Vector(j)); !(e <= tol) {
					t.Errorf("%s block %d: eigenvector %d differs by %.3g (gap %.2g)", label, bi, j, e, gaps[j])
				}
			}
			if dir {
				ga, pa := mat.Col(nil, j, gb.Gamma), mat.Col(nil, j, pb.Gamma)
				if e := maxAbs(pa, ga) / (mat.Norm(gb.Gamma, math.Inf(1)) + 1e-300); !(e <= tol) {
					t.Errorf("%s block %d: γ[:, %d] differs by %.3g relative", label, bi, j, e)
				}
				la, pl := mat.Col(nil, j, gb.Lambda), mat.Col(nil, j, pb.Lambda)
				if e := maxAbs(pl, la) / (mat.Norm(gb.Lambda, math.Inf(1)) + 1e-300); !(e <= tol) {
					t.Errorf("%s block %d: λ[:, %d] differs by %.3g relative", label, bi, j, e)
				}
			}
		}
		if gb.Rank >= 0 && pb.Rank >= 0 && gb.Rank != pb.Rank {
			t.Errorf("%s block %d: rank %d on the Gram side, %d on the parameter side", label, bi, gb.Rank, pb.Rank)
		}
	}
}

// TestSidesAgreeFixtures checks the parameter side against the Gram side
// on the reference cases: whole network, per layer, sub-batch, Monte-Carlo,
// directional derivatives (own and cross λ) and SkipVectors.
func TestSidesAgreeFixtures(t *testing.T) {
	for _, name := range []string{"digits_mlp", "digits_cnn", "mse_regression", "vit_digits", "resnet_digits"} {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && name == "resnet_digits" {
				t.Skip("5,122×5,122 parameter side in -short")
			}
			c, m, b := loadCase(t, name)
			k := c.Expected.K
			compareSides(t, "whole", m, b, k, vivit.Options{}, true)
			compareSides(t, "per layer", m, b, k, vivit.Options{Groups: vivit.LayerGroups(m)}, true)
			if testing.Short() && m.NumParams() > 1000 {
				// Each further run forms a D×D matrix of more than 1e6 entries.
				return
			}
			compareSides(t, "mc=2", m, b, k, vivit.Options{MCSamples: 2, Seed: 3}, false)
			compareSides(t, "skip vectors", m, b, k, vivit.Options{SkipVectors: true}, true)
			if sb := c.Expected.SubBatch; sb != nil {
				compareSides(t, "sub-batch", m, b, 5, vivit.Options{SubBatch: sb.Indices}, true)
				compareSides(t, "mc+sub-batch/layer", m, b, 3, vivit.Options{SubBatch: sb.Indices, MCSamples: 1, Groups: vivit.LayerGroups(m)}, true)
			}
			// Spectrum: all nonzero eigenvalues and the trace.
			sg, err := vivit.Spectrum(m, b, &vivit.Options{Side: vivit.SideGram, Groups: vivit.LayerGroups(m)})
			if err != nil {
				t.Fatal(err)
			}
			sp, err := vivit.Spectrum(m, b, &vivit.Options{Side: vivit.SideParameters, Groups: vivit.LayerGroups(m)})
			if err != nil {
				t.Fatal(err)
			}
			for i := range sg.Blocks {
				if e := maxRelErr(sp.Blocks[i].Values, sg.Blocks[i].Values); !(e <= 1e-11) {
					t.Errorf("spectrum block %d: max rel error %.3g (%d and %d values)", i, e, len(sp.Blocks[i].Values), len(sg.Blocks[i].Values))
				}
				if e := math.Abs(sp.Blocks[i].Trace-sg.Blocks[i].Trace) / sg.Blocks[i].Trace; !(e <= 1e-12) {
					t.Errorf("spectrum block %d: trace rel error %.3g", i, e)
				}
				if sp.Blocks[i].Side != "parameters" || sg.Blocks[i].Side != "gram" {
					t.Errorf("spectrum block %d: sides %q, %q", i, sg.Blocks[i].Side, sp.Blocks[i].Side)
				}
			}
		})
	}
}

// TestSidesAgreeGraphs checks the parameter side on small graph networks
// (residual MLP, convolutional residual block, attention) for both
// losses, with a small chunk budget so that V's columns come in many
// chunks.
func TestSidesAgreeGraphs(t *testing.T) {
	for _, loss := range []model.Loss{
		{Kind: model.CrossEntropy, Reduction: model.Mean},
		{Kind: model.MSE, Reduction: model.Sum},
	} {
		nets := map[string]*vivit.Model{
			"residual":  residualNet(t, loss, 5),
			"resblock":  resBlockNet(t, loss, 6),
			"attention": attentionNet(t, loss, 7),
		}
		for name, m := range nets {
			t.Run(fmt.Sprintf("%s/%s", name, loss), func(t *testing.T) {
				b := tinyBatch(m, 6, 11)
				compareSides(t, "whole", m, b, 4, vivit.Options{MemoryBudget: 4 << 10}, true)
				compareSides(t, "per layer", m, b, 3, vivit.Options{Groups: vivit.LayerGroups(m)}, true)
				compareSides(t, "sub-batch", m, b, 3, vivit.Options{SubBatch: []int{4, 0, 2}}, true)
				compareSides(t, "mc", m, b, 3, vivit.Options{MCSamples: 3, Seed: 1}, true)
			})
		}
	}
}

// TestSideAutoChoice checks which side SideAuto takes: the parameter side
// for a small network on a large batch, the Gram side for a large network
// on a small batch, and the Gram side when the D×D matrix does not fit
// the memory budget; and that the choice is reported per block.
func TestSideAutoChoice(t *testing.T) {
	m := tinyNet(t, `{"input_shape": [3], "layers": [{"type": "linear", "in": 3, "out": 4}, {"type": "tanh"}, {"type": "linear", "in": 4, "out": 3}], "loss": {"type": "cross_entropy", "reduction": "mean"}}`, 1)
	// D = 31; N·C' = 40·2 = 80.
	big := tinyBatch(m, 40, 2)
	res, err := vivit.TopEigen(m, big, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Side != "parameters" {
		t.Errorf("D = 31, N·C' = 80: side %q, want parameters", res.Side)
	}
	res, err = vivit.TopEigen(m, tinyBatch(m, 5, 2), 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Side != "gram" {
		t.Errorf("D = 31, N·C' = 10: side %q, want gram", res.Side)
	}
	res, err = vivit.TopEigen(m, big, 3, &vivit.Options{MemoryBudget: 31 * 31 * 8})
	if err != nil {
		t.Fatal(err)
	}
	if res.Side != "gram" {
		t.Errorf("budget below 8·D²: side %q, want gram", res.Side)
	}
	// Per layer on 5 samples (N·C' = 10): layer "0" has 16 parameters
	// (Gram side), layer "2" 15 (Gram side); on 40 samples both are on the
	// parameter side; a mixed case: 6 samples (12 columns).
	res, err = vivit.TopEigen(m, tinyBatch(m, 6, 2), 2, &vivit.Options{Groups: []vivit.Group{{Name: "w", Params: []string{"0.weight"}}, {Name: "b", Params: []string{"0.bias", "2.bias"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Blocks[0].Side != "gram" || res.Blocks[1].Side != "parameters" || res.Side != "mixed" {
		t.Errorf("sides %q, %q, result %q; want gram, parameters, mixed", res.Blocks[0].Side, res.Blocks[1].Side, res.Side)
	}
	if _, err := vivit.TopEigen(m, big, 3, &vivit.Options{Side: 7}); err == nil {
		t.Error("Side 7 accepted")
	}
}
