package model

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Batch is a mini-batch: inputs (one row per sample, flattened) and targets.
type Batch struct {
	Inputs  *mat.Dense
	Targets Targets
}

// Len returns the number of samples.
func (b *Batch) Len() int {
	r, _ := b.Inputs.Dims()
	return r
}

// Check reports whether the batch fits the network: input width, finite
// inputs, and targets that suit the loss.
func (b *Batch) Check(net *Network) error {
	if b == nil || b.Inputs == nil {
		return fmt.Errorf("batch: no inputs")
	}
	n, f := b.Inputs.Dims()
	if f != net.InputSize() {
		return fmt.Errorf("batch: inputs have %d features per sample, the network's input_shape %v needs %d", f, net.InputShape, net.InputSize())
	}
	for i := 0; i < n; i++ {
		for j, v := range b.Inputs.RawRowView(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("batch: tensor \"inputs\": non-finite value %v in sample %d, feature %d", v, i, j)
			}
		}
	}
	return net.Loss.Check(b.Targets, n, net.NumOutputs())
}

// Subset returns the rows idx of the activations a (shared storage when idx
// is the identity).
func Subset(a *mat.Dense, idx []int) *mat.Dense {
	r, c := a.Dims()
	if len(idx) == r {
		identity := true
		for i, v := range idx {
			if v != i {
				identity = false
				break
			}
		}
		if identity {
			return a
		}
	}
	s := mat.NewDense(len(idx), c, nil)
	for i, n := range idx {
		s.SetRow(i, a.RawRowView(n))
	}
	return s
}
