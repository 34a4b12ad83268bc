package model

import (
	"fmt"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/lowrank"
)

// Scale multiplies the activation by a learned tensor, broadcast
// numpy-style against [N, shape...] as BiasAdd's bias is: the weight of a
// LayerNorm that an exporter decomposed into ReduceMean, Sub, Pow, Sqrt,
// Div, Mul and Add (opsets before 17), or a learned per-channel scale. The
// output has the input's shape. Its input Jacobian is diagonal (γ). Its
// block of V is held explicitly: the column of sample n and factor column
// j is, for each entry of γ, the sum of s ⊙ x over the activation entries
// broadcast from it (Cols × numel(γ) float64s). Memory besides: an index
// per activation entry unless γ has the activation's shape.
type Scale struct {
	Shape  []int
	Weight *Param
	idx    []int32 // weight entry of each activation entry; nil: the same
}

// NewScale returns the multiplication of activations of per-sample shape
// shape by weight (its Shape as stored, possibly with leading axes of size
// 1 and a leading batch axis of size 1).
func NewScale(shape []int, weight *Param) (*Scale, error) {
	if weight == nil {
		panic("model: NewScale without a parameter")
	}
	if err := validShape("scale input", shape); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("scale: parameter %q", weight.Name)
	ws, err := sampleShape(what, shape, weight.Shape)
	if err != nil {
		return nil, err
	}
	if len(weight.Data) != Numel(ws) {
		return nil, fmt.Errorf("%s has %d values for shape %s", what, len(weight.Data), FormatShape(weight.Shape))
	}
	return &Scale{Shape: slices.Clone(shape), Weight: weight, idx: broadcastIndex(ws, shape)}, nil
}

func (l *Scale) Type() string     { return "scale" }
func (l *Scale) InShape() []int   { return l.Shape }
func (l *Scale) OutShape() []int  { return l.Shape }
func (l *Scale) Params() []*Param { return []*Param{l.Weight} }

func (l *Scale) Forward(y, x *mat.Dense) {
	n, f := x.Dims()
	checkDims(x, n, Numel(l.Shape), "scale input")
	checkDims(y, n, f, "scale output")
	w := l.Weight.Data
	parallelSamples(n, func() any { return nil }, func(_ any, i int) {
		xr, yr := x.RawRowView(i), y.RawRowView(i)
		for k, v := range xr {
			yr[k] = v * w[bcAt(l.idx, k)]
		}
	})
}

// BackwardInPlace reports true: row r of the result is row r of s times γ
// entrywise.
func (l *Scale) BackwardInPlace() bool { return true }

// FactorCopiesRows reports true: the block sums s ⊙ x into its own
// matrix, so the backward pass may overwrite s.
func (l *Scale) FactorCopiesRows() bool { return true }

// BackwardReads implements BackwardReader: the input, for the factor block.
func (l *Scale) BackwardReads() (in, out bool) { return true, false }

func (l *Scale) BackwardInput(dst, s, _, _ *mat.Dense, _ int) {
	r, f := s.Dims()
	checkDims(dst, r, f, "scale factor destination")
	w := l.Weight.Data
	parallelSamples(r, func() any { return nil }, func(_ any, i int) {
		sr, dr := s.RawRowView(i), dst.RawRowView(i)
		for k, v := range sr {
			dr[k] = v * w[bcAt(l.idx, k)]
		}
	})
}

// Factor returns the explicit block: row r of Vᵀ is s_r ⊙ x_{r/cols}
// summed onto the entries of γ it was broadcast from.
func (l *Scale) Factor(s, in *mat.Dense, cols int) lowrank.Factor {
	r, f := s.Dims()
	checkDims(s, r, Numel(l.Shape), "scale factor")
	d := len(l.Weight.Data)
	vt := mat.NewDense(r, d, nil)
	parallelSamples(r, func() any { return nil }, func(_ any, i int) {
		sr, xr, vr := s.RawRowView(i), in.RawRowView(i/cols), vt.RawRowView(i)
		for k := 0; k < f; k++ {
			vr[bcAt(l.idx, k)] += sr[k] * xr[k]
		}
	})
	return lowrank.NewExplicit(vt, []int{d})
}
