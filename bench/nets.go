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
