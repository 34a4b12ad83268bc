package vivit_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/bench"
	"github.com/vivit-go/vivit/model"
)

// residualNet returns a small graph with fan-out and fan-in:
//
//	x → fc1 → tanh ─┬→ fc2 → sigmoid ─┐
//	                ├────────────────→ add → fc3 → add2 ← fc4 ← (tanh)
//	                └→ fc4 ──────────────────────────┘
//
// The tanh output feeds three nodes (fc2, the first add and fc4, a
// parameter node), and the logits are a residual sum. Parameters are listed
// in an order unlike the nodes': fc4 first, and fc2's bias apart from its
// weight, so that the engine must split and reorder the factor blocks.
func residualNet(t testing.TB, loss model.Loss, seed uint64) *vivit.Model {
	t.Helper()
	fc1 := model.NewLinear(0, 4, 5, true)
	fc2 := model.NewLinear(0, 5, 5, true)
	fc3 := model.NewLinear(0, 5, 3, true)
	fc4 := model.NewLinear(0, 5, 3, false)
	for _, x := range []struct {
		l    *model.Linear
		name string
	}{{fc1, "fc1"}, {fc2, "block.fc2"}, {fc3, "head"}, {fc4, "skip"}} {
		x.l.Weight.Name = x.name + ".weight"
		if x.l.Bias != nil {
			x.l.Bias.Name = x.name + ".bias"
		}
	}
	nodes := []model.Node{
		{Name: "fc1", Op: fc1, Inputs: []int{0}},                            // tensor 1
		{Name: "tanh", Op: model.NewTanh([]int{5}), Inputs: []int{1}},       // 2
		{Name: "fc2", Op: fc2, Inputs: []int{2}},                            // 3
		{Name: "sigmoid", Op: model.NewSigmoid([]int{5}), Inputs: []int{3}}, // 4
		{Name: "add", Op: model.NewAdd([]int{5}, 2), Inputs: []int{4, 2}},   // 5
		{Name: "head", Op: fc3, Inputs: []int{5}},                           // 6
		{Name: "skip", Op: fc4, Inputs: []int{2}},                           // 7
		{Name: "add2", Op: model.NewAdd([]int{3}, 2), Inputs: []int{6, 7}},  // 8
	}
	order := []*model.Param{fc4.Weight, fc2.Bias, fc1.Weight, fc1.Bias, fc2.Weight, fc3.Weight, fc3.Bias}
	m, err := model.NewNetwork([]int{4}, nodes, loss, order)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	for _, p := range m.Params() {
		for i := range p.Data {
			p.Data[i] = rng.NormFloat64() * 0.8
		}
	}
	return m
}

// TestGraphDenseBruteForce checks a graph with fan-out, residual sums and a
// parameter order unlike the node order against a dense GGN from
// finite-difference Jacobians: spectrum, top eigenpairs, γ and λ, groups
// and the first-order statistics.
func TestGraphDenseBruteForce(t *testing.T) {
	for i, loss := range []model.Loss{
		{Kind: model.CrossEntropy, Reduction: model.Mean},
		{Kind: model.MSE, Reduction: model.Sum},
	} {
		t.Run(string(loss.Kind), func(t *testing.T) {
			m := residualNet(t, loss, uint64(i))
			b := tinyBatch(m, 5, uint64(i))
			ref := buildDense(m, b)
			checkAgainstDense(t, m, b, ref)
			checkGroupsDense(t, "layers", m, b, ref, vivit.LayerGroups(m))
			checkGroupsDense(t, "across", m, b, ref, []vivit.Group{{Name: "x", Params: []string{"head.bias", "block.fc2.weight", "skip.weight"}}})
			checkSubBatchDense(t, "sub-batch", m, b, ref, 3, &vivit.Options{SubBatch: []int{1, 3}})
		})
	}
}

// TestGraphModules checks that layer groups are the modules, in parameter
// order.
func TestGraphModules(t *testing.T) {
	m := residualNet(t, model.Loss{Kind: model.CrossEntropy, Reduction: model.Mean}, 0)
	var got []string
	for _, g := range vivit.LayerGroups(m) {
		got = append(got, g.Name+":"+join(g.Params))
	}
	want := []string{"skip:skip.weight", "block.fc2:block.fc2.bias,block.fc2.weight", "fc1:fc1.weight,fc1.bias", "head:head.weight,head.bias"}
	if len(got) != len(want) {
		t.Fatalf("groups %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("group %d: %q, want %q", i, got[i], want[i])
		}
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// TestEarlyGramMatchesGroups checks the Gram matrix formed during the
// backward pass (a run on the whole network) against the one formed
// afterwards from every factor (the same network as one explicit group,
// which keeps every factor row), on a ResNet with BatchNorm, projection
// shortcuts and fan-outs into two convolutions: eigenvalues, eigenvectors
// and the spectrum, exact in float64 and float32 and Monte-Carlo.
func TestEarlyGramMatchesGroups(t *testing.T) {
	m, b, err := bench.ResNet8(6, 3)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, p := range m.Params() {
		all = append(all, p.Name)
	}
	for _, o := range []vivit.Options{{}, {Precision: vivit.Float32}, {MCSamples: 2, Seed: 5}} {
		t.Run(fmt.Sprintf("precision=%v/mc=%d", o.Precision, o.MCSamples), func(t *testing.T) {
			tol := 1e-12
			if o.Precision == vivit.Float32 {
				tol = 1e-5
			}
			early, err := vivit.TopEigen(m, b, 6, &o)
			if err != nil {
				t.Fatal(err)
			}
			g := o
			g.Groups = []vivit.Group{{Name: "all", Params: all}}
			late, err := vivit.TopEigen(m, b, 6, &g)
			if err != nil {
				t.Fatal(err)
			}
			ev, lv := early.Blocks[0].Values, late.Blocks[0].Values
			if len(ev) != 6 || len(lv) != 6 {
				t.Fatalf("%d and %d eigenvalues, want 6", len(ev), len(lv))
			}
			for i := range ev {
				if !(math.Abs(ev[i]-lv[i]) <= tol*lv[0]) {
					t.Errorf("λ_%d = %v during the backward pass, %v after", i, ev[i], lv[i])
				}
				e, l := early.Blocks[0].Vectors.RawRowView(i), late.Blocks[0].Vectors.RawRowView(i)
				if i < 4 && !(math.Abs(floats.Dot(e, l)) >= 1-100*tol) {
					t.Errorf("eigenvector %d: overlap %v", i, floats.Dot(e, l))
				}
			}
			se, err := vivit.Spectrum(m, b, &o)
			if err != nil {
				t.Fatal(err)
			}
			sl, err := vivit.Spectrum(m, b, &g)
			if err != nil {
				t.Fatal(err)
			}
			if a, c := se.Blocks[0].Trace, sl.Blocks[0].Trace; !(math.Abs(a-c) <= tol*c) {
				t.Errorf("spectrum trace %v during the backward pass, %v after", a, c)
			}
		})
	}
}
