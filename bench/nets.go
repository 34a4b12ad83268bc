package bench

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/model"
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
	a, err := model.ParseArchitecture(js)
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
