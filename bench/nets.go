package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/checkpoint"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/model/im2col"
)

// MLP returns a fully connected network with the given layer sizes
// (sizes[0] inputs, the last the number of classes) and the activation act
// between linear layers, with cross-entropy (mean) loss, plus a random
// batch of n samples.
func MLP(sizes []int, act string, n int, seed uint64) (*vivit.Model, *vivit.Batch, error) {
	var layers []map[string]any
	for i := 0; i+1 < len(sizes); i++ {
		if i > 0 {
			layers = append(layers, map[string]any{"type": act})
		}
		layers = append(layers, map[string]any{"type": "linear", "in": sizes[i], "out": sizes[i+1], "bias": true})
	}
	return Build([]int{sizes[0]}, layers, n, seed)
}

// Build makes a network from layer specs (as in the architecture JSON) with
// PyTorch's default initialisation, and a random batch of n samples with
// standard normal inputs and uniform random class labels.
func Build(inputShape []int, layers []map[string]any, n int, seed uint64) (*vivit.Model, *vivit.Batch, error) {
	arch := map[string]any{"input_shape": inputShape, "layers": layers,
		"loss": map[string]any{"type": "cross_entropy", "reduction": "mean"}}
	js, err := json.Marshal(arch)
	if err != nil {
		return nil, nil, err
	}
	a, err := checkpoint.ParseArchitecture(js)
	if err != nil {
		return nil, nil, err
	}
	m, err := a.Build()
	if err != nil {
		return nil, nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	m.InitDefault(rng)
	x := mat.NewDense(n, m.InputSize(), nil)
	for i := 0; i < n; i++ {
		row := x.RawRowView(i)
		for j := range row {
			row[j] = rng.NormFloat64()
		}
	}
	b := &vivit.Batch{Inputs: x}
	for i := 0; i < n; i++ {
		b.Targets.Classes = append(b.Targets.Classes, rng.IntN(m.NumOutputs()))
	}
	if err := b.Check(m); err != nil {
		return nil, nil, fmt.Errorf("bench: %w", err)
	}
	return m, b, nil
}

// ThreeC3DLayers are the layers of the 3c3d-like network of the
// performance targets (DeepOBS's 3c3d on CIFAR-10 sized inputs 3×32×32):
// conv 3→64 5×5, max-pool 3×3 stride 2 padding 1, conv 64→96 3×3, the
// same pool, conv 96→128 3×3 padding 1, the same pool, then linear
// 1152→512→256→10, with ReLU after every conv and hidden linear layer.
// It has 895,210 parameters.
func ThreeC3DLayers() []map[string]any {
	pool := map[string]any{"type": "maxpool2d", "kernel_size": 3, "stride": 2, "padding": 1}
	relu := map[string]any{"type": "relu"}
	return []map[string]any{
		{"type": "conv2d", "in_channels": 3, "out_channels": 64, "kernel_size": 5}, relu, pool,
		{"type": "conv2d", "in_channels": 64, "out_channels": 96, "kernel_size": 3}, relu, pool,
		{"type": "conv2d", "in_channels": 96, "out_channels": 128, "kernel_size": 3, "padding": 1}, relu, pool,
		{"type": "flatten"},
		{"type": "linear", "in": 1152, "out": 512}, relu,
		{"type": "linear", "in": 512, "out": 256}, relu,
		{"type": "linear", "in": 256, "out": 10},
	}
}

// ThreeC3D returns the 3c3d-like network with PyTorch's default
// initialisation and a random batch of n CIFAR-sized samples.
func ThreeC3D(n int, seed uint64) (*vivit.Model, *vivit.Batch, error) {
	return Build([]int{3, 32, 32}, ThreeC3DLayers(), n, seed)
}

// ResNet8 returns a CIFAR-style ResNet-8 with BatchNorm (inference mode)
// on 3×32×32 inputs, as a graph: a 3×3 stem convolution to 16 channels,
// BatchNorm and ReLU; three basic blocks (conv-BN-ReLU-conv-BN plus a
// shortcut, then ReLU) of 16, 32 and 64 channels, the last two with stride
// 2 and a projection shortcut (1×1 convolution with stride 2 and
// BatchNorm); global average pooling; a linear layer to 10 classes. It has
// 78,042 parameters, named as PyTorch's state_dict would name them.
// Weights follow PyTorch's default initialisation; BatchNorm's scales,
// shifts and running statistics are drawn around their defaults so that
// they are not trivial. The batch has n samples with standard normal
// inputs and uniform random labels.
func ResNet8(n int, seed uint64) (*vivit.Model, *vivit.Batch, error) {
	rng := rand.New(rand.NewPCG(seed, 8))
	var nodes []model.Node
	add := func(name string, op model.Op, inputs ...int) int {
		nodes = append(nodes, model.Node{Name: name, Op: op, Inputs: inputs})
		return len(nodes)
	}
	shape := func(t int) []int {
		if t == 0 {
			return []int{3, 32, 32}
		}
		return nodes[t-1].Op.OutShape()
	}
	var firstErr error
	conv := func(name string, in, cout, k, stride int) int {
		s := shape(in)
		g := im2col.New(s[0], s[1], s[2], cout, k, k, stride, stride, k/2, k/2, 1, 1)
		l := model.NewConv2d(0, g, false)
		l.Weight.Name = name + ".weight"
		bound := 1 / math.Sqrt(float64(g.K()))
		for i := range l.Weight.Data {
			l.Weight.Data[i] = bound * (2*rng.Float64() - 1)
		}
		return add(name, l, in)
	}
	bn := func(name string, in int) int {
		c := shape(in)[0]
		w := &model.Param{Name: name + ".weight", Shape: []int{c}, Data: make([]float64, c)}
		b := &model.Param{Name: name + ".bias", Shape: []int{c}, Data: make([]float64, c)}
		mean, variance := make([]float64, c), make([]float64, c)
		for i := 0; i < c; i++ {
			w.Data[i] = 1 + 0.1*rng.NormFloat64()
			b.Data[i] = 0.1 * rng.NormFloat64()
			mean[i] = 0.1 * rng.NormFloat64()
			variance[i] = 0.5 + rng.Float64()
		}
		l, err := model.NewBatchNorm(shape(in), w, b, mean, variance, 1e-5)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return add(name, l, in)
	}
	relu := func(name string, in int) int { return add(name, model.NewReLU(shape(in)), in) }
	block := func(name string, in, cout, stride int) int {
		x := relu(name+".relu1", bn(name+".bn1", conv(name+".conv1", in, cout, 3, stride)))
		x = bn(name+".bn2", conv(name+".conv2", x, cout, 3, 1))
		short := in
		if stride != 1 || shape(in)[0] != cout {
			short = bn(name+".shortcut.1", conv(name+".shortcut.0", in, cout, 1, stride))
		}
		return relu(name+".relu2", add(name+".add", model.NewAdd(shape(x), 2), x, short))
	}
	x := relu("relu", bn("bn1", conv("conv1", 0, 16, 3, 1)))
	x = block("layer1", x, 16, 1)
	x = block("layer2", x, 32, 2)
	x = block("layer3", x, 64, 2)
	pool, err := model.NewGlobalAvgPool(shape(x))
	if err != nil {
		return nil, nil, err
	}
	x = add("pool", pool, x)
	flat, err := model.NewReshape(shape(x), []int{64})
	if err != nil {
		return nil, nil, err
	}
	x = add("flatten", flat, x)
	fc := model.NewLinear(0, 64, 10, true)
	fc.Weight.Name, fc.Bias.Name = "fc.weight", "fc.bias"
	for _, p := range fc.Params() {
		for i := range p.Data {
			p.Data[i] = (2*rng.Float64() - 1) / 8
		}
	}
	add("fc", fc, x)
	if firstErr != nil {
		return nil, nil, firstErr
	}
	m, err := model.NewNetwork([]int{3, 32, 32}, nodes, model.Loss{Kind: model.CrossEntropy, Reduction: model.Mean}, nil)
	if err != nil {
		return nil, nil, err
	}
	xs := mat.NewDense(n, m.InputSize(), nil)
	for i := range xs.RawMatrix().Data {
		xs.RawMatrix().Data[i] = rng.NormFloat64()
	}
	b := &vivit.Batch{Inputs: xs}
	for i := 0; i < n; i++ {
		b.Targets.Classes = append(b.Targets.Classes, rng.IntN(10))
	}
	return m, b, nil
}
