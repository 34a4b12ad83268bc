package jacobians_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/jacobians"
	"github.com/vivit-go/vivit/lowrank"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/model/im2col"
)

// TestBackpropSeparable checks the blocks BackpropEach forms from
// separable factor rows (lowrank.SepConv: the convolutions between a
// ResNet's last residual block and its global average pooling) against
// the dense blocks of Backprop, method by method, on the project's
// graphs: ResNets (BatchNorm, residual sums, projection shortcuts,
// dropout), a depthwise-separable CNN, a ViT and a residual MLP (none:
// LayerNorm or no pooling). The ResNets must have such blocks, the others
// none, and with one column per sample nothing is separable.
func TestBackpropSeparable(t *testing.T) {
	for _, tc := range []struct {
		name string
		sep  bool
	}{{"resnet_digits", true}, {"resnet_rgb", true}, {"dwsep_rgb", false}, {"vit_digits", false}, {"resmlp_gelu", false}} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			net, b := loadFixture(t, tc.name)
			acts, s, cols := lossFactor(net, b.Inputs)
			checkSeparable(t, net, acts, s, cols, tc.sep, rng)
			r, c := s.Dims()
			one := mat.NewDense(r/cols, c, nil) // the first column of each sample
			for i := 0; i < r/cols; i++ {
				one.SetRow(i, s.RawRowView(i*cols))
			}
			checkSeparable(t, net, acts, one, 1, false, rng)
		})
	}
}

func checkSeparable(t *testing.T, net *model.Network, acts []*mat.Dense, s *mat.Dense, cols int, wantSep bool, rng *rand.Rand) {
	t.Helper()
	dense := jacobians.Backprop(net, acts, s, cols)
	got, err := jacobians.BackpropEach(context.Background(), net, acts, s, cols, lowrank.Float64, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(dense) {
		t.Fatalf("%d blocks, want %d", len(got), len(dense))
	}
	r, _ := s.Dims()
	// The whole Gram matrix: the blocks before the separable ones take
	// their factors from the separable backward (model.SeparableBackwardLayer).
	wg, gg := mat.NewSymDense(r, nil), mat.NewSymDense(r, nil)
	for bi := range got {
		dense[bi].Factor.AddGramTo(wg)
		got[bi].Factor.AddGramTo(gg)
	}
	if e, scale := maxAbsDiff(gg, wg), mat.Norm(wg, math.Inf(1)); !(e <= 1e-12*scale) {
		t.Errorf("Gram matrix of all blocks: error %.3g (scale %.3g)", e, scale)
	}
	seps := 0
	for bi, lf := range got {
		f, d := lf.Factor, dense[bi].Factor
		if _, ok := f.(*lowrank.SepConv); !ok {
			continue
		}
		seps++
		check := func(what string, g, w mat.Matrix) {
			t.Helper()
			if e, scale := maxAbsDiff(g, w), mat.Norm(w, math.Inf(1)); !(e <= 1e-12*scale) {
				t.Errorf("block %d (%v), %s: error %.3g (scale %.3g)", bi, lf.Names(), what, e, scale)
			}
		}
		gs, ws := mat.NewSymDense(r, nil), mat.NewSymDense(r, nil)
		f.AddGramTo(gs)
		d.AddGramTo(ws)
		check("Gram", gs, ws)
		u := randMatrix(rng, 3, r)
		gm, wm := mat.NewDense(3, f.Dim(), nil), mat.NewDense(3, f.Dim(), nil)
		f.MulTo(gm, u)
		d.MulTo(wm, u)
		check("MulTo", gm, wm)
		v := randMatrix(rng, 3, f.Dim())
		gt, wt := mat.NewDense(3, r, nil), mat.NewDense(3, r, nil)
		f.TransMulTo(gt, v)
		d.TransMulTo(wt, v)
		check("TransMulTo", gt, wt)
		gd, wd := make([]float64, f.Dim()), make([]float64, f.Dim())
		f.AddDiagTo(gd)
		d.AddDiagTo(wd)
		check("AddDiagTo", mat.NewVecDense(len(gd), gd), mat.NewVecDense(len(wd), wd))
		gc, wc := mat.NewDense(r, r, nil), mat.NewDense(r, r, nil)
		f.AddCrossTo(gc, d) // against the dense block of the same layer
		d.AddCrossTo(wc, d)
		check("AddCrossTo(dense)", gc, wc)
		gc.Zero()
		d.AddCrossTo(gc, f)
		check("dense AddCrossTo", gc, wc)
	}
	if wantSep != (seps > 0) {
		t.Errorf("%d columns per sample: %d separable blocks", cols, seps)
	}
}

func randMatrix(rng *rand.Rand, r, c int) *mat.Dense {
	m := mat.NewDense(r, c, nil)
	for i := range m.RawMatrix().Data {
		m.RawMatrix().Data[i] = rng.NormFloat64()
	}
	return m
}

// TestBackpropSeparableFanOut checks the one-reader rule on a graph
// where a residual sum's input is also read by a convolution: the sum's
// other input (that convolution's output) is separable, the shared
// tensor is not, so only the second convolution gets a separable block,
// and every block agrees with the dense one.
func TestBackpropSeparableFanOut(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	g1 := im2col.New(2, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1)
	g2 := im2col.New(3, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1)
	shape := []int{3, 5, 5}
	gap, err := model.NewGlobalAvgPool(shape)
	if err != nil {
		t.Fatal(err)
	}
	nodes := []model.Node{
		{Name: "conv1", Op: model.NewConv2d(0, g1, true), Inputs: []int{0}}, // 1
		{Name: "relu", Op: model.NewReLU(shape), Inputs: []int{1}},          // 2: read by conv2 and add
		{Name: "conv2", Op: model.NewConv2d(1, g2, true), Inputs: []int{2}}, // 3
		{Name: "add", Op: model.NewAdd(shape, 2), Inputs: []int{2, 3}},      // 4
		{Name: "pool", Op: gap, Inputs: []int{4}},                           // 5
		{Name: "flatten", Op: model.NewFlatten(gap.OutShape()), Inputs: []int{5}},
		{Name: "fc", Op: model.NewLinear(2, 3, 4, true), Inputs: []int{6}},
	}
	net, err := model.NewNetwork([]int{2, 5, 5}, nodes, model.Loss{Kind: model.CrossEntropy, Reduction: model.Mean}, nil)
	if err != nil {
		t.Fatal(err)
	}
	net.InitDefault(rng)
	acts, s, cols := lossFactor(net, randMatrix(rng, 4, net.InputSize()))
	checkSeparable(t, net, acts, s, cols, true, rng)
	fs, err := jacobians.BackpropEach(context.Background(), net, acts, s, cols, lowrank.Float64, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, lf := range fs {
		_, sep := lf.Factor.(*lowrank.SepConv)
		if want := lf.Params[0] == "1.weight"; sep != want { // conv2
			t.Errorf("block %v: separable %v, want %v", lf.Params, sep, want)
		}
	}
}

// TestBackpropSeparableChain checks the separable backward
// (model.SeparableBackwardLayer) on a chain conv → ReLU → conv → BatchNorm
// → ReLU → pooling → linear with 8×8 maps, wide enough for the shifted
// products: the second convolution's block is separable and passes its
// rows back without writing them out; the first convolution's block,
// formed from those, must agree with the dense pass.
func TestBackpropSeparableChain(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	g1 := im2col.New(2, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1)
	g2 := im2col.New(4, 8, 8, 5, 3, 3, 1, 1, 1, 1, 1, 1)
	shape1, shape2 := []int{4, 8, 8}, []int{5, 8, 8}
	gap, err := model.NewGlobalAvgPool(shape2)
	if err != nil {
		t.Fatal(err)
	}
	w, b := &model.Param{Name: "bn.weight", Shape: []int{5}, Data: make([]float64, 5)}, &model.Param{Name: "bn.bias", Shape: []int{5}, Data: make([]float64, 5)}
	mean, variance := make([]float64, 5), make([]float64, 5)
	for i := range variance {
		w.Data[i], b.Data[i], mean[i], variance[i] = rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64(), 0.5+rng.Float64()
	}
	bn, err := model.NewBatchNorm(shape2, w, b, mean, variance, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	nodes := []model.Node{
		{Name: "conv1", Op: model.NewConv2d(0, g1, true), Inputs: []int{0}},
		{Name: "relu1", Op: model.NewReLU(shape1), Inputs: []int{1}},
		{Name: "conv2", Op: model.NewConv2d(1, g2, false), Inputs: []int{2}},
		{Name: "bn", Op: bn, Inputs: []int{3}},
		{Name: "relu2", Op: model.NewReLU(shape2), Inputs: []int{4}},
		{Name: "pool", Op: gap, Inputs: []int{5}},
		{Name: "flatten", Op: model.NewFlatten(gap.OutShape()), Inputs: []int{6}},
		{Name: "fc", Op: model.NewLinear(2, 5, 3, true), Inputs: []int{7}},
	}
	net, err := model.NewNetwork([]int{2, 8, 8}, nodes, model.Loss{Kind: model.CrossEntropy, Reduction: model.Mean}, nil)
	if err != nil {
		t.Fatal(err)
	}
	net.InitDefault(rng)
	acts, s, cols := lossFactor(net, randMatrix(rng, 5, net.InputSize()))
	checkSeparable(t, net, acts, s, cols, true, rng)
}
