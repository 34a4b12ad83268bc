package vivit_test

import (
	"math/rand/v2"
	"testing"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/model/im2col"
)

// Dense brute-force checks of graphs built from the operations of residual
// CNNs and MLPs as ONNX writes them.

// opOrFatal returns a constructor's operation, failing the test on an
// error.
func opOrFatal(t testing.TB) func(model.Op, error) model.Op {
	return func(op model.Op, err error) model.Op {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
}

// network is model.NewNetwork, failing the test on an error.
func network(t testing.TB, inputShape []int, nodes []model.Node, loss model.Loss, order []*model.Param) *vivit.Model {
	t.Helper()
	m, err := model.NewNetwork(inputShape, nodes, loss, order)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// randomize sets every parameter of m to N(0, 0.8²) draws.
func randomize(m *vivit.Model, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	for _, p := range m.Params() {
		for i := range p.Data {
			p.Data[i] = rng.NormFloat64() * 0.8
		}
	}
}

// named sets the names of a layer's weight and bias.
func named(w, b *model.Param, module string) {
	w.Name = module + ".weight"
	if b != nil {
		b.Name = module + ".bias"
	}
}

// resBlockNet returns a small residual CNN in inference mode:
//
//	x → conv1 → bn1 → relu → conv2 → bn2 ─→ add → relu → global avg pool → reshape → fc
//	└──────────────────────────────────────┘
//
// with the identity shortcut from the input, BatchNorm statistics fixed
// at random values, and conv1 without bias as in torchvision's ResNets.
// The parameter order separates each BatchNorm's weight from its bias, so
// that the engine must split their factor blocks.
func resBlockNet(t testing.TB, loss model.Loss, seed uint64) *vivit.Model {
	t.Helper()
	return resBlock(t, loss, seed, true)
}

// resBlockPlainBN is resBlockNet with bn2 without weight and bias (PyTorch's
// affine=False): a BatchNorm node that contributes no block.
func resBlockPlainBN(t testing.TB, loss model.Loss, seed uint64) *vivit.Model {
	t.Helper()
	return resBlock(t, loss, seed, false)
}

func resBlock(t testing.TB, loss model.Loss, seed uint64, affine2 bool) *vivit.Model {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 4))
	shape := []int{2, 4, 4}
	geom := im2col.New(2, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1, 1)
	conv1, conv2 := model.NewConv2d(0, geom, false), model.NewConv2d(0, geom, true)
	named(conv1.Weight, conv1.Bias, "conv1")
	named(conv2.Weight, conv2.Bias, "layer1.conv2")
	must := opOrFatal(t)
	bn := func(name string, affine bool) model.Op {
		var w, b *model.Param
		if affine {
			w = &model.Param{Name: name + ".weight", Shape: []int{2}, Data: make([]float64, 2)}
			b = &model.Param{Name: name + ".bias", Shape: []int{2}, Data: make([]float64, 2)}
		}
		mean := []float64{rng.NormFloat64(), rng.NormFloat64()}
		variance := []float64{0.5 + rng.Float64(), 0.5 + rng.Float64()}
		return must(model.NewBatchNorm(shape, w, b, mean, variance, 1e-5))
	}
	fc := model.NewLinear(0, 2, 3, true)
	named(fc.Weight, fc.Bias, "fc")
	nodes := []model.Node{
		{Name: "conv1", Op: conv1, Inputs: []int{0}},                                              // 1
		{Name: "bn1", Op: bn("bn1", true), Inputs: []int{1}},                                      // 2
		{Name: "relu1", Op: model.NewReLU(shape), Inputs: []int{2}},                               // 3
		{Name: "conv2", Op: conv2, Inputs: []int{3}},                                              // 4
		{Name: "bn2", Op: bn("layer1.bn2", affine2), Inputs: []int{4}},                            // 5
		{Name: "add", Op: model.NewAdd(shape, 2), Inputs: []int{5, 0}},                            // 6
		{Name: "relu2", Op: model.NewReLU(shape), Inputs: []int{6}},                               // 7
		{Name: "gap", Op: must(model.NewGlobalAvgPool(shape)), Inputs: []int{7}},                  // 8
		{Name: "flatten", Op: must(model.NewReshape([]int{2, 1, 1}, []int{2})), Inputs: []int{8}}, // 9
		{Name: "fc", Op: fc, Inputs: []int{9}},                                                    // 10
	}
	// A parameter order that splits the BatchNorm blocks (their tensors are
	// not adjacent) and puts the head first.
	p := func(i int) []*model.Param { return nodes[i].Op.(model.ParamLayer).Params() }
	order := []*model.Param{fc.Weight, p(1)[1], conv1.Weight, p(1)[0], conv2.Weight, conv2.Bias, fc.Bias}
	if affine2 {
		order = []*model.Param{fc.Weight, p(1)[1], conv1.Weight, p(1)[0], conv2.Weight, p(4)[1], conv2.Bias, p(4)[0], fc.Bias}
	}
	m := network(t, shape, nodes, loss, order)
	randomize(m, seed)
	return m
}

// resMLPNet returns a residual MLP whose LayerNorm acts on two tokens of
// width 3 and whose SiLU is written as ONNX writes it (Sigmoid, then Mul):
//
//	x → fc1 ─┬→ reshape [2 3] → ln → reshape [6] → gelu → fc2 → add → sigmoid ─→ mul → bias → fc3
//	         └───────────────────────────────────────────────────┘  └────────────┘
func resMLPNet(t testing.TB, loss model.Loss, seed uint64) *vivit.Model {
	t.Helper()
	fc1, fc2, fc3 := model.NewLinear(0, 4, 6, true), model.NewLinear(0, 6, 6, true), model.NewLinear(0, 6, 3, true)
	named(fc1.Weight, fc1.Bias, "fc1")
	named(fc2.Weight, fc2.Bias, "block.fc2")
	named(fc3.Weight, fc3.Bias, "head")
	lnW := &model.Param{Name: "block.ln.weight", Shape: []int{3}, Data: make([]float64, 3)}
	lnB := &model.Param{Name: "block.ln.bias", Shape: []int{3}, Data: make([]float64, 3)}
	bias := &model.Param{Name: "shift", Shape: []int{1, 6}, Data: make([]float64, 6)}
	v := []int{6}
	must := opOrFatal(t)
	nodes := []model.Node{
		{Name: "fc1", Op: fc1, Inputs: []int{0}},                                                  // 1
		{Name: "tokens", Op: must(model.NewReshape(v, []int{2, 3})), Inputs: []int{1}},            // 2
		{Name: "ln", Op: must(model.NewLayerNorm([]int{2, 3}, lnW, lnB, 1e-5)), Inputs: []int{2}}, // 3
		{Name: "flat", Op: must(model.NewReshape([]int{2, 3}, v)), Inputs: []int{3}},              // 4
		{Name: "gelu", Op: model.NewGELU(v), Inputs: []int{4}},                                    // 5
		{Name: "fc2", Op: fc2, Inputs: []int{5}},                                                  // 6
		{Name: "add", Op: must(model.NewBinary("add", v, v)), Inputs: []int{6, 1}},                // 7
		{Name: "sigmoid", Op: model.NewSigmoid(v), Inputs: []int{7}},                              // 8
		{Name: "mul", Op: must(model.NewBinary("mul", v, v)), Inputs: []int{7, 8}},                // 9
		{Name: "shift", Op: must(model.NewBiasAdd(v, bias)), Inputs: []int{9}},                    // 10
		{Name: "head", Op: fc3, Inputs: []int{10}},                                                // 11
	}
	m := network(t, []int{4}, nodes, loss, nil)
	randomize(m, seed)
	return m
}

// TestGraphOpsDenseBruteForce checks the residual CNN with BatchNorm and
// the residual MLP with LayerNorm, GELU and SiLU against a dense GGN from
// finite-difference Jacobians, under cross-entropy and MSE: spectrum,
// eigenpairs, γ and λ, statistics, per-module groups and a sub-batch.
func TestGraphOpsDenseBruteForce(t *testing.T) {
	for _, net := range []struct {
		name   string
		build  func(testing.TB, model.Loss, uint64) *vivit.Model
		across []string // a group across modules
	}{
		{"resblock", resBlockNet, []string{"layer1.bn2.weight", "bn1.bias", "fc.bias"}},
		{"resblock-plain-bn2", resBlockPlainBN, []string{"layer1.conv2.weight", "bn1.bias", "fc.bias"}},
		{"resmlp", resMLPNet, []string{"shift", "block.ln.weight", "head.weight"}},
	} {
		for i, loss := range []model.Loss{
			{Kind: model.CrossEntropy, Reduction: model.Mean},
			{Kind: model.MSE, Reduction: model.Mean},
			{Kind: model.CrossEntropy, Reduction: model.Sum},
		} {
			t.Run(net.name+"/"+string(loss.Kind)+"/"+string(loss.Reduction), func(t *testing.T) {
				m := net.build(t, loss, uint64(20+i))
				b := tinyBatch(m, 4, uint64(20+i))
				ref := buildDense(m, b)
				checkAgainstDense(t, m, b, ref)
				checkGroupsDense(t, "modules", m, b, ref, vivit.LayerGroups(m))
				checkGroupsDense(t, "across", m, b, ref, []vivit.Group{{Name: "x", Params: net.across}})
				checkSubBatchDense(t, "sub-batch", m, b, ref, 3, &vivit.Options{SubBatch: []int{3, 0}})
			})
		}
	}
}
