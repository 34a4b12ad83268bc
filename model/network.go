package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/scratch"
)

// Network is a sequential network with a loss.
type Network struct {
	InputShape []int
	Layers     []Layer
	Loss       Loss
}

// NumOutputs returns C, the size of the network's output.
func (net *Network) NumOutputs() int {
	return Numel(net.Layers[len(net.Layers)-1].OutShape())
}

// InputSize returns the number of input features per sample.
func (net *Network) InputSize() int { return Numel(net.InputShape) }

// Params returns every parameter in state_dict order.
func (net *Network) Params() []*Param {
	var ps []*Param
	for _, l := range net.Layers {
		if pl, ok := l.(ParamLayer); ok {
			ps = append(ps, pl.Params()...)
		}
	}
	return ps
}

// NumParams returns D, the number of parameters.
func (net *Network) NumParams() int {
	d := 0
	for _, p := range net.Params() {
		d += len(p.Data)
	}
	return d
}

// Layout returns the parameter layout of the whole network.
func (net *Network) Layout() *Layout { return NewLayout(net.Params()) }

// Forward runs the network on x (rows are samples) and returns the
// activations: acts[0] = x, acts[i+1] = output of layer i. Their storage
// comes from a recycled pool; a caller that is done with them may hand it
// back with ReleaseActivations.
func (net *Network) Forward(x *mat.Dense) []*mat.Dense {
	n, f := x.Dims()
	if f != net.InputSize() {
		panic("model: input has wrong width")
	}
	acts := make([]*mat.Dense, len(net.Layers)+1)
	acts[0] = x
	for i, l := range net.Layers {
		acts[i+1] = mat.NewDense(n, Numel(l.OutShape()), *scratch.Get(n * Numel(l.OutShape())))
		l.Forward(acts[i+1], acts[i])
	}
	return acts
}

// ReleaseActivations hands the storage of acts[1:] (from Forward) back for
// reuse; neither they nor anything that references them (factors built on
// them) may be used afterwards. acts[0], the caller's input, is kept.
func ReleaseActivations(acts []*mat.Dense) {
	for _, a := range acts[1:] {
		data := a.RawMatrix().Data
		scratch.Put(&data)
	}
}

// CheckFinite returns an error naming the first parameter tensor with a NaN
// or infinite entry.
func (net *Network) CheckFinite() error {
	for _, p := range net.Params() {
		for i, v := range p.Data {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("tensor %q: non-finite value %v at flat index %d", p.Name, v, i)
			}
		}
	}
	return nil
}

// Layout describes how named tensors are laid out in one flat vector.
type Layout struct {
	Names   []string
	Shapes  [][]int
	Offsets []int // Offsets[i] is where tensor i starts; len = len(Names)+1
}

// NewLayout returns the layout of ps concatenated in order.
func NewLayout(ps []*Param) *Layout {
	l := &Layout{Offsets: []int{0}}
	for _, p := range ps {
		l.Names = append(l.Names, p.Name)
		l.Shapes = append(l.Shapes, p.Shape)
		l.Offsets = append(l.Offsets, l.Offsets[len(l.Offsets)-1]+len(p.Data))
	}
	return l
}

// Size returns the total number of entries.
func (l *Layout) Size() int { return l.Offsets[len(l.Offsets)-1] }

// Index returns the position of the named tensor, or -1.
func (l *Layout) Index(name string) int {
	for i, n := range l.Names {
		if n == name {
			return i
		}
	}
	return -1
}

// Tensor returns the part of the flat vector v that holds the named tensor
// (a view, not a copy) and its shape; ok is false for an unknown name.
func (l *Layout) Tensor(v []float64, name string) (t []float64, shape []int, ok bool) {
	i := l.Index(name)
	if i < 0 {
		return nil, nil, false
	}
	return v[l.Offsets[i]:l.Offsets[i+1]], l.Shapes[i], true
}

// InitDefault sets every parameter as PyTorch initialises Linear and Conv2d
// layers by default: U(−1/√fan_in, 1/√fan_in) for weight and bias, with
// fan_in the weight's elements per output (in, or in·kh·kw). Draws come
// from rng layer by layer, weight before bias, in storage order.
func (net *Network) InitDefault(rng *rand.Rand) {
	for _, l := range net.Layers {
		pl, ok := l.(ParamLayer)
		if !ok {
			continue
		}
		ps := pl.Params()
		fanIn := len(ps[0].Data) / ps[0].Shape[0]
		bound := 1 / math.Sqrt(float64(fanIn))
		for _, p := range ps {
			for i := range p.Data {
				p.Data[i] = bound * (2*rng.Float64() - 1)
			}
		}
	}
}
