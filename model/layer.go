package model

import (
	"math"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/scratch"
	"github.com/vivit-go/vivit/lowrank"
)

// An Op is what a node of a Network computes: a Layer (one input) or a
// Join (several). Shapes are per sample and fixed when the network is
// built.
type Op interface {
	// Type is the operation's name ("linear", "relu", "add", …).
	Type() string
	// OutShape is the per-sample shape of the output.
	OutShape() []int
}

// A Layer is an operation on one tensor.
type Layer interface {
	Op
	// InShape is the per-sample shape of the input.
	InShape() []int
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

// A Join is an operation on several tensors, such as the residual sum of
// two branches. It has no parameters.
type Join interface {
	Op
	// InShapes are the per-sample shapes of the inputs, in order.
	InShapes() [][]int
	// ForwardJoin writes the output for every row of the inputs xs into y.
	ForwardJoin(y *mat.Dense, xs []*mat.Dense)
	// BackwardJoin writes J_iᵀ s_r into row r of dst[i] for every input i
	// with dst[i] not nil, where J_i is the Jacobian of the output with
	// respect to input i at sample r/cols. xs and y are the forward inputs
	// and output. No dst[i] aliases s or another dst[j].
	BackwardJoin(dst []*mat.Dense, s *mat.Dense, xs []*mat.Dense, y *mat.Dense, cols int)
}

// A PassThroughJoin whose BackwardPassesThrough reports true passes the
// factor unchanged to every input (a sum of its inputs): the factor
// backward pass then hands s itself to one input instead of a copy.
type PassThroughJoin interface {
	Join
	BackwardPassesThrough() bool
}

// An InPlaceLayer may be asked to overwrite its input factor:
// BackwardInput(s, s, in, out, cols) is allowed when BackwardInPlace
// reports true (diagonal and reshaping layers, whose row r of the result
// depends on row r of s entrywise; a convolution whose input and output
// have the same size, which reads each row before it writes it). The
// factor backward pass uses it to avoid a new N·C × features matrix per
// such layer. A Float32Layer's BackwardInput32 and a Rows32Layer's
// BackwardRows32 run in place under the same condition.
type InPlaceLayer interface {
	Layer
	BackwardInPlace() bool
}

// A Float32Layer has a float32 variant of its backward pass, which the
// factor backward pass takes at lowrank.Float32 precision (the
// convolution: its products dominate the pass). BackwardInput32 is
// BackwardInput with the factor rows and the layer's weights rounded to
// float32, the products formed and summed in float32 and the result
// widened to float64: errors of float32 rounding relative to the rows'
// magnitude. dst and s must not alias, unless the layer is an
// InPlaceLayer that reports true.
type Float32Layer interface {
	Layer
	BackwardInput32(dst, s, in, out *mat.Dense, cols int)
}

// A FactorInPlaceLayer is a FactorCopier with a diagonal Jacobian that
// can form its factor block and overwrite the factor rows s with their
// backward in one pass over them: FactorBackwardInPlace(s, in, out, cols)
// is Factor(s, in, cols) followed by BackwardInput(s, s, in, out, cols),
// and the block does not reference s (BatchNorm).
type FactorInPlaceLayer interface {
	FactorCopier
	FactorBackwardInPlace(s, in, out *mat.Dense, cols int) lowrank.Factor
}

// A FactorThroughLayer is a FactorInPlaceLayer that can first pass its
// factor rows back through an elementwise layer e that reads its output
// (with row forms, Elementwise.RowForms), row by row in the same pass:
// FactorBackwardInPlaceThrough(e, s, in, ex, ey, cols) is
// e.BackwardInput(s, s, ex, ey, cols) followed by
// FactorBackwardInPlace(s, in, nil, cols), with the same results, where
// ex and ey are e's forward input and output; the Rows32 form is the same
// on float32 rows. The factor backward pass folds a ReLU after BatchNorm
// this way: one pass over the rows instead of two (BatchNorm).
type FactorThroughLayer interface {
	FactorInPlaceLayer
	FactorBackwardInPlaceThrough(e *Elementwise, s, in, ex, ey *mat.Dense, cols int) lowrank.Factor
	FactorBackwardInPlaceRows32Through(e *Elementwise, s blas32.General, in, ex, ey *mat.Dense, cols int) lowrank.Factor
}

// A FactorBackwardToLayer is a FactorInPlaceLayer that can also leave
// the rows s as they are: FactorBackwardTo(dst, s, in, out, cols) is
// Factor(s, in, cols) followed by BackwardInput(dst, s, in, out, cols), in
// one pass over s. The backward pass uses it when s is also another
// tensor's factor (the two inputs of a residual sum share it).
type FactorBackwardToLayer interface {
	FactorInPlaceLayer
	FactorBackwardTo(dst, s, in, out *mat.Dense, cols int) lowrank.Factor
}

// A Rows32FactorBackwardToLayer is a FactorBackwardToLayer on float32
// rows.
type Rows32FactorBackwardToLayer interface {
	FactorBackwardToLayer
	FactorBackwardToRows32(dst, s blas32.General, in, out *mat.Dense, cols int) lowrank.Factor
}

// A Float32AccumulatingLayer has a float32 variant of BackwardInputAdd,
// as Float32Layer has of BackwardInput.
type Float32AccumulatingLayer interface {
	AccumulatingLayer
	BackwardInputAdd32(dst, s, in, out *mat.Dense, cols int)
}

// A Rows32Layer passes factor rows held in float32 back: the factor
// backward pass keeps the rows in float32 between such layers at
// lowrank.Float32 precision, instead of rounding float64 rows at each
// convolution and widening its result. BackwardRows32 is BackwardInput on
// float32 rows (contiguous, Stride = Cols), its products and sums in
// float32 and elementwise factors rounded to float32. dst may be s when
// the layer is an InPlaceLayer that reports true; otherwise they must not
// alias.
type Rows32Layer interface {
	Layer
	BackwardRows32(dst, s blas32.General, in, out *mat.Dense, cols int)
}

// A Rows32AccumulatingLayer adds BackwardRows32 to dst, as an
// AccumulatingLayer does on float64 rows.
type Rows32AccumulatingLayer interface {
	Rows32Layer
	BackwardRows32Add(dst, s blas32.General, in, out *mat.Dense, cols int)
}

// A Rows32ParamLayer forms its factor block from float32 factor rows:
// FactorRows32 is Factor on them (the block may reference s, as Factor
// references its rows, unless the layer is a FactorCopier that reports
// true).
type Rows32ParamLayer interface {
	ParamLayer
	FactorRows32(s blas32.General, in *mat.Dense, cols int) lowrank.Factor
}

// A Rows32FactorInPlaceLayer is a FactorInPlaceLayer on float32 rows.
type Rows32FactorInPlaceLayer interface {
	FactorInPlaceLayer
	FactorBackwardInPlaceRows32(s blas32.General, in, out *mat.Dense, cols int) lowrank.Factor
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

// A FactorCopier is a ParamLayer whose factor block may keep a copy of
// what it needs of the factor rows s instead of referencing them. When
// FactorCopiesRows reports true, the backward pass may recycle s as soon
// as the layer's input factor has been computed.
type FactorCopier interface {
	ParamLayer
	FactorCopiesRows() bool
}

// A BackwardReader says which of its forward tensors an operation's
// backward pass reads: its input(s) (in) and its output (out), in any of
// BackwardInput, BackwardJoin, Factor and their variants, which are then
// handed nil for a tensor reported false. An operation that does not
// implement it is taken to read both. Network.ForwardKeep uses it to
// recycle the activations no backward pass reads while the forward pass
// runs.
type BackwardReader interface {
	BackwardReads() (in, out bool)
}

// Param is one named parameter tensor.
type Param struct {
	Name  string // state_dict name, e.g. "0.weight"
	Shape []int  // PyTorch shape
	Data  []float64
}

// Numel returns the number of elements of a shape.
//
// A product beyond the int range saturates at math.MaxInt, so that size
// checks refuse it on 32-bit platforms too instead of seeing it wrapped.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		if n > 0 && d > 0 && n > math.MaxInt/d {
			return math.MaxInt
		}
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

// check32 panics unless m has r contiguous rows of c entries.
func check32(m blas32.General, r, c int, what string) {
	if m.Rows != r || m.Cols != c || m.Stride != c || len(m.Data) < r*c {
		panic("model: " + what + " has wrong shape")
	}
}

// widenRows returns the float32 rows m widened to float64, in a buffer of
// internal/scratch (the caller puts it back).
func widenRows(m blas32.General) factorRows[float64] {
	w := newRows64(m.Rows, m.Cols)
	fastblas.WidenRows(m.Rows, m.Cols, w.data, w.stride, m.Data, m.Stride)
	return w
}

// newRows64 returns r rows of c float64 entries from internal/scratch,
// not cleared.
func newRows64(r, c int) factorRows[float64] {
	return factorRows[float64]{r, c, c, *scratch.Get(r * c)}
}
