package model

import (
	"fmt"
	"slices"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// Broadcasting follows numpy (and ONNX): shapes are aligned at their last
// axes, and an axis of size 1 stretches to the other's size. Here it acts
// on per-sample shapes; every activation also has the batch axis in front.

// BroadcastShape returns the numpy broadcast of two shapes, or an error
// naming the axis at which they are incompatible.
func BroadcastShape(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da < 1 || db < 1:
			return nil, fmt.Errorf("shapes %s and %s: dimensions must be positive", FormatShape(a), FormatShape(b))
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %s and %s do not broadcast: axis %d has sizes %d and %d", FormatShape(a), FormatShape(b), i-n, da, db)
		}
	}
	return out, nil
}

// broadcastIndex returns, for every flat index k of the row-major shape
// out, the flat index of the entry of a tensor of shape in that
// broadcasting maps to k; nil when in equals out (the identity). in must
// broadcast to out.
func broadcastIndex(in, out []int) []int32 {
	if slices.Equal(in, out) {
		return nil
	}
	// stride[i] is in's stride along out's axis i, 0 where in is stretched.
	stride := make([]int, len(out))
	st := 1
	for i := len(out) - 1; i >= 0; i-- {
		j := len(in) - len(out) + i
		if j >= 0 && in[j] != 1 {
			stride[i] = st
			st *= in[j]
		}
	}
	return stridedIndex(out, stride, 0)
}

// lazyTable is an index table built on first use. Constructors check
// shapes only, so an importer that refuses a later node of a graph has
// allocated none of the earlier nodes' tables (which can reach gigabytes
// for hostile shapes).
type lazyTable struct {
	once  sync.Once
	build func() []int32
	t     []int32
}

func newLazyTable(build func() []int32) *lazyTable { return &lazyTable{build: build} }

// get returns the table, building it on the first call.
func (l *lazyTable) get() []int32 {
	l.once.Do(func() { l.t = l.build(); l.build = nil })
	return l.t
}

// stridedIndex returns, for every flat index k of the row-major shape,
// base + Σ_i pos_i·stride[i] where pos is k's multi-index: the offsets a
// strided view reads (a broadcast, a transpose, a padded or reduced
// layout).
func stridedIndex(shape, stride []int, base int) []int32 {
	idx := make([]int32, Numel(shape))
	pos := make([]int, len(shape))
	at := base
	for k := range idx {
		idx[k] = int32(at)
		for i := len(shape) - 1; i >= 0; i-- {
			pos[i]++
			at += stride[i]
			if pos[i] < shape[i] {
				break
			}
			at -= stride[i] * pos[i]
			pos[i] = 0
		}
	}
	return idx
}

// rowMajorStrides returns the strides of a row-major tensor of the shape.
func rowMajorStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

// bcAt returns idx[k], or k for the identity map.
func bcAt(idx []int32, k int) int {
	if idx == nil {
		return k
	}
	return int(idx[k])
}

// validShape returns an error unless every dimension of shape is positive
// and the tensor is at most maxFeatures entries.
func validShape(what string, shape []int) error {
	n := 1
	for _, d := range shape {
		if d < 1 {
			return fmt.Errorf("%s: shape %s has a dimension below 1", what, FormatShape(shape))
		}
		if d > maxFeatures/n {
			return fmt.Errorf("%s: shape %s is too large", what, FormatShape(shape))
		}
		n *= d
	}
	return nil
}

// sampleShape returns the per-sample part of the shape cshape of a tensor
// broadcast against activations [N, shape...]: cshape without a leading
// batch axis of size 1 when it has one axis more than shape. It is an
// error for the tensor to grow the activation (a larger rank, a batch axis
// other than 1, an axis that stretches the activation's) or not to
// broadcast.
func sampleShape(what string, shape, cshape []int) ([]int, error) {
	if err := validShape(what, cshape); err != nil {
		return nil, err
	}
	cs := cshape
	if len(cs) > len(shape) {
		if len(cs) > len(shape)+1 || cs[0] != 1 {
			return nil, fmt.Errorf("%s: shape %s would grow the per-sample activation %s (the batch axis must be 1)", what, FormatShape(cshape), FormatShape(shape))
		}
		cs = cs[1:]
	}
	b, err := BroadcastShape(shape, cs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if !slices.Equal(b, shape) {
		return nil, fmt.Errorf("%s: shape %s would grow the per-sample activation %s to %s", what, FormatShape(cshape), FormatShape(shape), FormatShape(b))
	}
	return cs, nil
}

// binaryOps are the operations of ConstOp and Binary.
var binaryOps = map[string]bool{"add": true, "sub": true, "mul": true, "div": true}

func bcApply(op string, a, b float64) float64 {
	switch op {
	case "add":
		return a + b
	case "sub":
		return a - b
	case "mul":
		return a * b
	default:
		return a / b
	}
}

// ConstOp is a binary operation between the activation and a constant
// tensor broadcast against it: x op c, or c op x with ConstFirst (ONNX
// Sub(c, x), Div(c, x)). Its input Jacobian is diagonal. Memory: the
// constant and, unless it has the activation's shape, an index per
// activation entry.
type ConstOp struct {
	Op         string // "add", "sub", "mul" or "div"
	Shape      []int
	C          []float64
	ConstFirst bool
	idx        []int32 // entry of C for each activation entry; nil: the same
}

// NewConstOp returns x op c (c op x with constFirst) on per-sample shape
// shape, for the constant c of shape cshape (row-major), which may have a
// leading batch axis of size 1. The output has the input's shape; a
// constant that would grow it is an error.
func NewConstOp(op string, shape []int, c []float64, cshape []int, constFirst bool) (*ConstOp, error) {
	if !binaryOps[op] {
		return nil, fmt.Errorf("constant operation %q: want add, sub, mul or div", op)
	}
	if err := validShape(op, shape); err != nil {
		return nil, err
	}
	cs, err := sampleShape(op+" constant", shape, cshape)
	if err != nil {
		return nil, err
	}
	if len(c) != Numel(cs) {
		return nil, fmt.Errorf("%s constant: %d values for shape %s", op, len(c), FormatShape(cshape))
	}
	return &ConstOp{Op: op, Shape: slices.Clone(shape), C: slices.Clone(c), ConstFirst: constFirst, idx: broadcastIndex(cs, shape)}, nil
}

func (l *ConstOp) Type() string    { return l.Op + "_const" }
func (l *ConstOp) InShape() []int  { return l.Shape }
func (l *ConstOp) OutShape() []int { return l.Shape }

func (l *ConstOp) Forward(y, x *mat.Dense) {
	n, f := x.Dims()
	checkDims(x, n, Numel(l.Shape), l.Type()+" input")
	checkDims(y, n, f, l.Type()+" output")
	parallelSamples(n, func() any { return nil }, func(_ any, i int) {
		xr, yr := x.RawRowView(i), y.RawRowView(i)
		for k, v := range xr {
			c := l.C[bcAt(l.idx, k)]
			if l.ConstFirst {
				yr[k] = bcApply(l.Op, c, v)
			} else {
				yr[k] = bcApply(l.Op, v, c)
			}
		}
	})
}

// deriv returns ∂y/∂x at input x with constant c.
func (l *ConstOp) deriv(x, c float64) float64 {
	switch {
	case l.Op == "add":
		return 1
	case l.Op == "sub" && l.ConstFirst:
		return -1
	case l.Op == "sub":
		return 1
	case l.Op == "mul":
		return c
	case l.ConstFirst: // c / x
		return -c / (x * x)
	default: // x / c
		return 1 / c
	}
}

// BackwardInPlace reports true: the Jacobian is diagonal.
func (l *ConstOp) BackwardInPlace() bool { return true }

// BackwardReads implements BackwardReader: the input.
func (l *ConstOp) BackwardReads() (in, out bool) { return true, false }

func (l *ConstOp) BackwardInput(dst, s, in, _ *mat.Dense, cols int) {
	r, f := s.Dims()
	checkDims(dst, r, f, l.Type()+" factor destination")
	n, _ := in.Dims()
	if n*cols != r {
		panic("model: factor rows do not match samples × cols")
	}
	parallelSamples(n, func() any { return make([]float64, f) }, func(scratch any, i int) {
		d := scratch.([]float64)
		for k, v := range in.RawRowView(i) {
			d[k] = l.deriv(v, l.C[bcAt(l.idx, k)])
		}
		for c := 0; c < cols; c++ {
			sr, dr := s.RawRowView(i*cols+c), dst.RawRowView(i*cols+c)
			for k, v := range sr {
				dr[k] = v * d[k]
			}
		}
	})
}

// Binary is a binary operation between two activations with numpy
// broadcasting of their per-sample shapes: a op b, with the broadcast
// shape as output. The input-Jacobian transposes sum over the axes an
// input was stretched along. Memory: an index per output entry for each
// input whose shape differs from the output's.
type Binary struct {
	Op     string // "add", "sub", "mul" or "div"
	A, B   []int  // per-sample input shapes
	Out    []int
	ia, ib []int32 // input entry for each output entry; nil: the same
}

// NewBinary returns a op b for per-sample shapes a and b that broadcast.
func NewBinary(op string, a, b []int) (*Binary, error) {
	if !binaryOps[op] {
		return nil, fmt.Errorf("binary operation %q: want add, sub, mul or div", op)
	}
	if err := validShape(op+" input 0", a); err != nil {
		return nil, err
	}
	if err := validShape(op+" input 1", b); err != nil {
		return nil, err
	}
	out, err := BroadcastShape(a, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := validShape(op+" output", out); err != nil {
		return nil, err
	}
	return &Binary{Op: op, A: slices.Clone(a), B: slices.Clone(b), Out: out,
		ia: broadcastIndex(a, out), ib: broadcastIndex(b, out)}, nil
}

func (l *Binary) Type() string      { return l.Op }
func (l *Binary) OutShape() []int   { return l.Out }
func (l *Binary) InShapes() [][]int { return [][]int{l.A, l.B} }

func (l *Binary) ForwardJoin(y *mat.Dense, xs []*mat.Dense) {
	if len(xs) != 2 {
		panic("model: binary operation needs two inputs")
	}
	n, _ := xs[0].Dims()
	checkDims(xs[0], n, Numel(l.A), l.Op+" input 0")
	checkDims(xs[1], n, Numel(l.B), l.Op+" input 1")
	checkDims(y, n, Numel(l.Out), l.Op+" output")
	parallelSamples(n, func() any { return nil }, func(_ any, i int) {
		ar, br, yr := xs[0].RawRowView(i), xs[1].RawRowView(i), y.RawRowView(i)
		for k := range yr {
			yr[k] = bcApply(l.Op, ar[bcAt(l.ia, k)], br[bcAt(l.ib, k)])
		}
	})
}

// BackwardReads implements BackwardReader: the inputs.
func (l *Binary) BackwardReads() (in, out bool) { return true, false }

// BackwardJoin writes, for each input with a destination, the factor
// times the partial derivative, summed over the entries broadcast from
// one input entry.
func (l *Binary) BackwardJoin(dst []*mat.Dense, s *mat.Dense, xs []*mat.Dense, _ *mat.Dense, cols int) {
	if len(dst) != 2 || len(xs) != 2 {
		panic("model: binary operation needs two inputs")
	}
	r, _ := s.Dims()
	checkDims(s, r, Numel(l.Out), l.Op+" factor")
	n, _ := xs[0].Dims()
	if n*cols != r {
		panic("model: factor rows do not match samples × cols")
	}
	for j, d := range dst {
		if d != nil {
			checkDims(d, r, Numel(l.InShapes()[j]), l.Op+" factor destination")
		}
	}
	nout := Numel(l.Out)
	parallelSamples(n, func() any { return make([]float64, 2*nout) }, func(scratch any, i int) {
		// da, db: the partial derivatives at each output entry.
		da, db := scratch.([]float64)[:nout], scratch.([]float64)[nout:]
		ar, br := xs[0].RawRowView(i), xs[1].RawRowView(i)
		for k := range da {
			a, b := ar[bcAt(l.ia, k)], br[bcAt(l.ib, k)]
			switch l.Op {
			case "add":
				da[k], db[k] = 1, 1
			case "sub":
				da[k], db[k] = 1, -1
			case "mul":
				da[k], db[k] = b, a
			default:
				da[k], db[k] = 1/b, -a/(b*b)
			}
		}
		for c := 0; c < cols; c++ {
			sr := s.RawRowView(i*cols + c)
			for j, part := range [2]struct {
				idx []int32
				d   []float64
			}{{l.ia, da}, {l.ib, db}} {
				if dst[j] == nil {
					continue
				}
				dr := dst[j].RawRowView(i*cols + c)
				if part.idx == nil {
					for k, v := range sr {
						dr[k] = v * part.d[k]
					}
					continue
				}
				clear(dr)
				for k, v := range sr {
					dr[part.idx[k]] += v * part.d[k]
				}
			}
		}
	})
}
