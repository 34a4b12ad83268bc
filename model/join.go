package model

import (
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Add is the sum of activations of one shape: the residual connection.
type Add struct {
	Shape  []int
	Inputs int // how many tensors it sums (at least 2)
}

// NewAdd returns the sum of k tensors of the given shape.
func NewAdd(shape []int, k int) *Add {
	if k < 2 {
		panic("model: Add needs at least two inputs")
	}
	return &Add{Shape: slices.Clone(shape), Inputs: k}
}

func (a *Add) Type() string    { return "add" }
func (a *Add) OutShape() []int { return a.Shape }
func (a *Add) InShapes() [][]int {
	s := make([][]int, a.Inputs)
	for i := range s {
		s[i] = a.Shape
	}
	return s
}

func (a *Add) ForwardJoin(y *mat.Dense, xs []*mat.Dense) {
	if len(xs) != a.Inputs {
		panic("model: add has the wrong number of inputs")
	}
	n, f := y.Dims()
	for _, x := range xs {
		checkDims(x, n, f, "add input")
	}
	parallelSamples(n, func() any { return nil }, func(_ any, i int) {
		yr := y.RawRowView(i)
		floats.AddTo(yr, xs[0].RawRowView(i), xs[1].RawRowView(i))
		for _, x := range xs[2:] {
			floats.Add(yr, x.RawRowView(i))
		}
	})
}

// BackwardPassesThrough reports true: every input's factor is s.
func (a *Add) BackwardPassesThrough() bool { return true }

// BackwardReads implements BackwardReader: neither.
func (a *Add) BackwardReads() (in, out bool) { return false, false }

// BackwardJoin passes the factor unchanged to every input.
func (a *Add) BackwardJoin(dst []*mat.Dense, s *mat.Dense, _ []*mat.Dense, _ *mat.Dense, _ int) {
	for _, d := range dst {
		if d != nil {
			d.Copy(s)
		}
	}
}
