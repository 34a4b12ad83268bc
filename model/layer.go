package model

import (
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/lowrank"
)

// A Layer is one stage of a sequential network. Shapes are per sample and
// fixed when the network is built.
type Layer interface {
	// Type is the layer's name in the architecture JSON ("linear", "relu", …).
	Type() string
	// InShape and OutShape are the per-sample tensor shapes.
	InShape() []int
	OutShape() []int
	// Forward writes the layer's output for every row of x into y
	// (rows × prod(OutShape)).
	Forward(y, x *mat.Dense)
	// BackwardInput writes Jᵀ s_r into row r of dst for every row r of the
	// stacked factor s, where J is the Jacobian of the layer's output with
	// respect to its input at sample r/cols. in and out are the layer's
	// forward input and output for those samples. dst and s must not alias,
	// unless the layer is an InPlaceLayer that reports true.
	BackwardInput(dst, s, in, out *mat.Dense, cols int)
}

// An InPlaceLayer may be asked to overwrite its input factor:
// BackwardInput(s, s, in, out, cols) is allowed when BackwardInPlace
// reports true (diagonal and reshaping layers, whose row r of the result
// depends on row r of s entrywise). The factor backward pass uses it to
// avoid a new N·C × features matrix per such layer.
type InPlaceLayer interface {
	Layer
	BackwardInPlace() bool
}

// A ParamLayer is a layer with trainable parameters.
type ParamLayer interface {
	Layer
	// Params returns the layer's parameters in state_dict order.
	Params() []*Param
	// Factor returns the layer's block of the factor V for the stacked
	// output factor s (cols rows per sample) and the layer inputs in. The
	// factor references s and in; it does not copy them.
	Factor(s, in *mat.Dense, cols int) lowrank.Factor
}

// Param is one named parameter tensor.
type Param struct {
	Name  string // state_dict name, e.g. "0.weight"
	Shape []int  // PyTorch shape
	Data  []float64
}

// Numel returns the number of elements of a shape.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func ensure(m *mat.Dense, r, c int) *mat.Dense {
	if m == nil {
		return mat.NewDense(r, c, nil)
	}
	if mr, mc := m.Dims(); mr != r || mc != c {
		panic("model: destination has wrong shape")
	}
	return m
}

func checkDims(m *mat.Dense, r, c int, what string) {
	if mr, mc := m.Dims(); mr != r || mc != c {
		panic("model: " + what + " has wrong shape")
	}
}
