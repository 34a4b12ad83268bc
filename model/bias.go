package model

import (
	"fmt"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/lowrank"
)

// BiasAdd adds a learned tensor to the activation, broadcast numpy-style
// against [N, shape...]: a bias [D] on [T, D], a position embedding
// [1, T, D] on [T, D], a per-channel bias [C, 1, 1] on [C, H, W]. The
// output has the input's shape. Its block of V is held explicitly: the
// column of sample n and factor column j is, for each bias entry, the sum
// of the factor s over the activation entries broadcast from it
// (Cols × numel(bias) float64s, none
// when the bias has the activation's shape). Memory besides: an index per activation
// entry unless the bias has the activation's shape.
type BiasAdd struct {
	Shape []int
	Bias  *Param
	idx   []int32 // bias entry of each activation entry; nil: the same
}

// NewBiasAdd returns the addition of bias (its Shape as stored, possibly
// with leading axes of size 1 and a leading batch axis of size 1) to
// activations of per-sample shape shape.
func NewBiasAdd(shape []int, bias *Param) (*BiasAdd, error) {
	if bias == nil {
		panic("model: NewBiasAdd without a parameter")
	}
	if err := validShape("bias_add input", shape); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("bias_add: parameter %q", bias.Name)
	bs, err := sampleShape(what, shape, bias.Shape)
	if err != nil {
		return nil, err
	}
	if len(bias.Data) != Numel(bs) {
		return nil, fmt.Errorf("%s has %d values for shape %s", what, len(bias.Data), FormatShape(bias.Shape))
	}
	return &BiasAdd{Shape: slices.Clone(shape), Bias: bias, idx: broadcastIndex(bs, shape)}, nil
}

func (l *BiasAdd) Type() string     { return "bias_add" }
func (l *BiasAdd) InShape() []int   { return l.Shape }
func (l *BiasAdd) OutShape() []int  { return l.Shape }
func (l *BiasAdd) Params() []*Param { return []*Param{l.Bias} }

func (l *BiasAdd) Forward(y, x *mat.Dense) {
	n, f := x.Dims()
	checkDims(x, n, Numel(l.Shape), "bias_add input")
	checkDims(y, n, f, "bias_add output")
	b := l.Bias.Data
	parallelSamples(n, func() any { return nil }, func(_ any, i int) {
		xr, yr := x.RawRowView(i), y.RawRowView(i)
		for k, v := range xr {
			yr[k] = v + b[bcAt(l.idx, k)]
		}
	})
}

// BackwardInPlace reports true: the input Jacobian is the identity.
func (l *BiasAdd) BackwardInPlace() bool { return true }

// BackwardReads implements BackwardReader: neither.
func (l *BiasAdd) BackwardReads() (in, out bool) { return false, false }

func (l *BiasAdd) BackwardInput(dst, s, _, _ *mat.Dense, _ int) {
	if dst != s {
		dst.Copy(s)
	}
}

// Factor returns the explicit block: row r of Vᵀ is s_r summed onto the
// bias entries it was broadcast from; s itself (referenced, not copied)
// when the bias has the activation's shape.
func (l *BiasAdd) Factor(s, _ *mat.Dense, _ int) lowrank.Factor {
	r, f := s.Dims()
	checkDims(s, r, Numel(l.Shape), "bias_add factor")
	d := len(l.Bias.Data)
	if l.idx == nil {
		// The bias has the activation's shape: Vᵀ is s itself.
		return lowrank.NewExplicit(s, []int{d})
	}
	vt := mat.NewDense(r, d, nil)
	parallelSamples(r, func() any { return nil }, func(_ any, i int) {
		sr, vr := s.RawRowView(i), vt.RawRowView(i)
		for k := 0; k < f; k++ {
			vr[l.idx[k]] += sr[k]
		}
	})
	return lowrank.NewExplicit(vt, []int{d})
}
