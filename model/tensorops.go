package model

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/par"
	"github.com/vivit-go/vivit/lowrank"
)

// tensorForRows runs f(i) for the rows i = 0, …, n−1 of a pass that touches
// about perRow values per row: on GOMAXPROCS goroutines, or on the caller's
// alone below 2^15 values in all, where starting the others costs more than
// it saves.
func tensorForRows(n, perRow int, f func(i int)) {
	par.For(n, par.ProcsFor(n*perRow), func(_, i int) { f(i) })
}

// tensorAxis returns axis counted from the front of a rank-r shape, where a
// negative axis counts from the back; ok is false if it is out of range.
func tensorAxis(axis, r int) (int, bool) {
	if axis < 0 {
		axis += r
	}
	return axis, axis >= 0 && axis < r
}

// tensorShapeErr returns an error naming op if a shape has a size below 1.
func tensorShapeErr(op string, shape []int) error {
	for _, d := range shape {
		if d < 1 {
			return fmt.Errorf("%s: shape %s has a size below 1", op, FormatShape(shape))
		}
	}
	if Numel(shape) > 1<<31-1 {
		return fmt.Errorf("%s: shape %s too large", op, FormatShape(shape))
	}
	return nil
}

// tensorSplit returns the products of the axes before, at and after axis.
func tensorSplit(shape []int, axis int) (outer, n, inner int) {
	return Numel(shape[:axis]), shape[axis], Numel(shape[axis+1:])
}

// ---------------------------------------------------------------------------
// Softmax

// softmax is the softmax along one axis of a tensor.
type softmax struct {
	shape               []int
	axis                int
	outer, size, stride int // stride = product of the axes after axis
}

// NewSoftmax returns the softmax along axis (a per-sample axis; negative
// counts from the back) of tensors of the given shape:
// y = exp(x − max) / Σ_axis exp(x − max). Its factor backward is
// dX = y ⊙ (dY − Σ_axis dY ⊙ y), per factor row and fibre along the axis,
// and may run in place.
func NewSoftmax(shape []int, axis int) (Layer, error) {
	if err := tensorShapeErr("softmax", shape); err != nil {
		return nil, err
	}
	a, ok := tensorAxis(axis, len(shape))
	if !ok {
		return nil, fmt.Errorf("softmax: axis %d out of range for shape %s", axis, FormatShape(shape))
	}
	outer, size, inner := tensorSplit(shape, a)
	return &softmax{shape: slices.Clone(shape), axis: a, outer: outer, size: size, stride: inner}, nil
}

func (l *softmax) Type() string    { return "softmax" }
func (l *softmax) InShape() []int  { return l.shape }
func (l *softmax) OutShape() []int { return l.shape }

func (l *softmax) Forward(y, x *mat.Dense) {
	n, _ := x.Dims()
	f := Numel(l.shape)
	checkDims(x, n, f, "softmax input")
	checkDims(y, n, f, "softmax output")
	tensorForRows(n, 4*f, func(i int) {
		xr, yr := x.RawRowView(i), y.RawRowView(i)
		for o := 0; o < l.outer; o++ {
			for j := 0; j < l.stride; j++ {
				base := o*l.size*l.stride + j
				mx := math.Inf(-1)
				for a := 0; a < l.size; a++ {
					mx = math.Max(mx, xr[base+a*l.stride])
				}
				var sum float64
				for a := 0; a < l.size; a++ {
					e := math.Exp(xr[base+a*l.stride] - mx)
					yr[base+a*l.stride] = e
					sum += e
				}
				inv := 1 / sum
				for a := 0; a < l.size; a++ {
					yr[base+a*l.stride] *= inv
				}
			}
		}
	})
}

// BackwardInPlace reports true: each fibre's result is computed after its
// inner product with the output is.
func (l *softmax) BackwardInPlace() bool { return true }

// BackwardReads implements BackwardReader: the output.
func (l *softmax) BackwardReads() (in, out bool) { return false, true }

func (l *softmax) BackwardInput(dst, s, _, out *mat.Dense, cols int) {
	r, _ := s.Dims()
	f := Numel(l.shape)
	checkDims(s, r, f, "softmax factor")
	checkDims(dst, r, f, "softmax factor destination")
	checkDims(out, r/cols, f, "softmax output")
	tensorForRows(r, 3*f, func(i int) {
		sr, dr, yr := s.RawRowView(i), dst.RawRowView(i), out.RawRowView(i/cols)
		if l.stride == 1 {
			for o := 0; o < l.outer; o++ {
				lo, hi := o*l.size, (o+1)*l.size
				ys, ss, ds := yr[lo:hi], sr[lo:hi], dr[lo:hi]
				var dot float64
				for a, v := range ss {
					dot += v * ys[a]
				}
				for a, v := range ss {
					ds[a] = ys[a] * (v - dot)
				}
			}
			return
		}
		for o := 0; o < l.outer; o++ {
			for j := 0; j < l.stride; j++ {
				base := o*l.size*l.stride + j
				var dot float64
				for a := 0; a < l.size; a++ {
					dot += sr[base+a*l.stride] * yr[base+a*l.stride]
				}
				for a := 0; a < l.size; a++ {
					k := base + a*l.stride
					dr[k] = yr[k] * (sr[k] - dot)
				}
			}
		}
	})
}

// ---------------------------------------------------------------------------
// Index maps: Transpose, Slice, Gather

// indexMap is a layer that picks entries of its input: y[k] = x[src[k]].
// Its factor backward scatters each factor entry back to where it was read
// from, summing entries read from one place (Gather with repeated
// indices); entries never read get zero.
type indexMap struct {
	name    string
	in, out []int
	src     *lazyTable // y[k] = x[src[k]], built on first use
	// bijective: every input entry is read exactly once (Transpose), so
	// the backward needs no zeroing and no sums.
	bijective bool
	runsOnce  sync.Once
	runs      []indexRun // src as runs of consecutive entries, when they are long
}

// indexRun is n consecutive entries of an index map: y[k+i] = x[j+i].
type indexRun struct{ k, j, n int32 }

// minRun is the mean run length from which an index map moves runs (copies
// and sums of slices) instead of single entries: a Transpose that keeps
// the last axis (attention heads' [T, H, d] and [H, T, d]) and Gather and
// Slice along outer axes read runs of d or more.
const minRun = 4

// runsOf returns the index map's runs, or nil when they are shorter than
// minRun on average.
func (l *indexMap) runsOf() []indexRun {
	l.runsOnce.Do(func() {
		src := l.src.get()
		var runs []indexRun
		for k := 0; k < len(src); {
			n := 1
			for k+n < len(src) && src[k+n] == src[k]+int32(n) {
				n++
			}
			runs = append(runs, indexRun{int32(k), src[k], int32(n)})
			k += n
		}
		if len(runs)*minRun <= len(src) {
			l.runs = runs
		}
	})
	return l.runs
}

func (l *indexMap) Type() string    { return l.name }
func (l *indexMap) InShape() []int  { return l.in }
func (l *indexMap) OutShape() []int { return l.out }

func (l *indexMap) Forward(y, x *mat.Dense) {
	n, _ := x.Dims()
	checkDims(x, n, Numel(l.in), l.name+" input")
	src := l.src.get()
	checkDims(y, n, len(src), l.name+" output")
	runs := l.runsOf()
	tensorForRows(n, len(src), func(i int) {
		xr, yr := x.RawRowView(i), y.RawRowView(i)
		if runs != nil {
			for _, r := range runs {
				copy(yr[r.k:r.k+r.n], xr[r.j:r.j+r.n])
			}
			return
		}
		for k, j := range src {
			yr[k] = xr[j]
		}
	})
}

// BackwardReads implements BackwardReader: neither.
func (l *indexMap) BackwardReads() (in, out bool) { return false, false }

func (l *indexMap) BackwardInput(dst, s, _, _ *mat.Dense, _ int) {
	r, _ := s.Dims()
	src := l.src.get()
	checkDims(s, r, len(src), l.name+" factor")
	checkDims(dst, r, Numel(l.in), l.name+" factor destination")
	runs := l.runsOf()
	tensorForRows(r, len(src), func(i int) {
		sr, dr := s.RawRowView(i), dst.RawRowView(i)
		switch {
		case l.bijective && runs != nil:
			for _, r := range runs {
				copy(dr[r.j:r.j+r.n], sr[r.k:r.k+r.n])
			}
		case l.bijective:
			for k, j := range src {
				dr[j] = sr[k]
			}
		default:
			clear(dr)
			scatterAdd(dr, sr, src, runs)
		}
	})
}

// scatterAdd adds each entry of sr to the entry of dr it was read from, in
// the order of sr (so that entries read from one place sum in that order
// whichever way they are moved): by runs when runs is not nil.
func scatterAdd(dr, sr []float64, src []int32, runs []indexRun) {
	if runs != nil {
		for _, r := range runs {
			d, s := dr[r.j:r.j+r.n], sr[r.k:r.k+r.n]
			for a, v := range s {
				d[a] += v
			}
		}
		return
	}
	for k, j := range src {
		dr[j] += sr[k]
	}
}

// NewTranspose returns the permutation of the per-sample axes of tensors
// of the given shape: output axis i is input axis perm[i] (ONNX Transpose
// and numpy's transpose without the batch axis).
func NewTranspose(shape []int, perm []int) (Layer, error) {
	if err := tensorShapeErr("transpose", shape); err != nil {
		return nil, err
	}
	r := len(shape)
	if len(perm) != r {
		return nil, fmt.Errorf("transpose: permutation %v has %d axes, the shape %s has %d", perm, len(perm), FormatShape(shape), r)
	}
	seen := make([]bool, r)
	for _, p := range perm {
		if p < 0 || p >= r || seen[p] {
			return nil, fmt.Errorf("transpose: %v is not a permutation of the axes of %s", perm, FormatShape(shape))
		}
		seen[p] = true
	}
	out := make([]int, r)
	for i, p := range perm {
		out[i] = shape[p]
	}
	// Output axis a steps through the input with input axis perm[a]'s stride.
	inStride := rowMajorStrides(shape)
	stride := make([]int, r)
	for a, p := range perm {
		stride[a] = inStride[p]
	}
	src := newLazyTable(func() []int32 { return stridedIndex(out, stride, 0) })
	return &indexMap{name: "transpose", in: slices.Clone(shape), out: out, src: src, bijective: true}, nil
}

// NewSlice returns the slice start:end:step along one per-sample axis
// (negative counts from the back) of tensors of the given shape: ONNX
// Slice on one axis after the importer has clamped start and end into
// the axis, with 0 ≤ start < end ≤ size and step ≥ 1. The output has
// ⌈(end − start)/step⌉ entries along the axis.
func NewSlice(shape []int, axis, start, end, step int) (Layer, error) {
	if err := tensorShapeErr("slice", shape); err != nil {
		return nil, err
	}
	a, ok := tensorAxis(axis, len(shape))
	if !ok {
		return nil, fmt.Errorf("slice: axis %d out of range for shape %s", axis, FormatShape(shape))
	}
	if step < 1 {
		return nil, fmt.Errorf("slice: step %d, want ≥ 1", step)
	}
	if start < 0 || end > shape[a] || start >= end {
		return nil, fmt.Errorf("slice: %d:%d on axis %d of size %d is empty or out of range", start, end, a, shape[a])
	}
	count := (end - start + step - 1) / step
	outer, size, inner := tensorSplit(shape, a)
	out := slices.Clone(shape)
	out[a] = count
	src := newLazyTable(func() []int32 {
		src := make([]int32, 0, outer*count*inner)
		for o := 0; o < outer; o++ {
			for c := 0; c < count; c++ {
				base := (o*size + start + c*step) * inner
				for j := 0; j < inner; j++ {
					src = append(src, int32(base+j))
				}
			}
		}
		return src
	})
	return &indexMap{name: "slice", in: slices.Clone(shape), out: out, src: src}, nil
}

// NewGather returns ONNX Gather with constant indices along one per-sample
// axis (negative counts from the back) of tensors of the given shape. The
// indices, of shape indicesShape (empty for one scalar index), must lie in
// [0, size of the axis); repeats are allowed. The output shape is
// shape[:axis] + indicesShape + shape[axis+1:].
func NewGather(shape []int, axis int, indices []int, indicesShape []int) (Layer, error) {
	if err := tensorShapeErr("gather", shape); err != nil {
		return nil, err
	}
	a, ok := tensorAxis(axis, len(shape))
	if !ok {
		return nil, fmt.Errorf("gather: axis %d out of range for shape %s", axis, FormatShape(shape))
	}
	if err := tensorShapeErr("gather indices", indicesShape); err != nil {
		return nil, err
	}
	if Numel(indicesShape) != len(indices) {
		return nil, fmt.Errorf("gather: %d indices for an index shape %s", len(indices), FormatShape(indicesShape))
	}
	for _, ix := range indices {
		if ix < 0 || ix >= shape[a] {
			return nil, fmt.Errorf("gather: index %d out of range [0, %d) on axis %d of %s", ix, shape[a], a, FormatShape(shape))
		}
	}
	outer, size, inner := tensorSplit(shape, a)
	out := slices.Concat(shape[:a], indicesShape, shape[a+1:])
	if err := tensorShapeErr("gather", out); err != nil {
		return nil, err
	}
	indices = slices.Clone(indices)
	src := newLazyTable(func() []int32 {
		src := make([]int32, 0, Numel(out))
		for o := 0; o < outer; o++ {
			for _, ix := range indices {
				base := (o*size + ix) * inner
				for j := 0; j < inner; j++ {
					src = append(src, int32(base+j))
				}
			}
		}
		return src
	})
	return &indexMap{name: "gather", in: slices.Clone(shape), out: out, src: src}, nil
}

// ---------------------------------------------------------------------------
// Concat

// Concat joins tensors along one per-sample axis (ONNX Concat without the
// batch axis). Its factor backward hands each input its part of the
// factor rows.
type Concat struct {
	Shapes [][]int // per-sample shapes of the inputs
	Axis   int     // non-negative
	out    []int
	outer  int
	blocks []int // entries of input i per outer index: shape[axis]·inner
}

// NewConcat returns the concatenation along axis (negative counts from the
// back) of tensors with the given shapes, which must agree on every other
// axis.
func NewConcat(shapes [][]int, axis int) (*Concat, error) {
	if len(shapes) == 0 {
		return nil, fmt.Errorf("concat: no inputs")
	}
	r := len(shapes[0])
	a, ok := tensorAxis(axis, r)
	if !ok {
		return nil, fmt.Errorf("concat: axis %d out of range for shape %s", axis, FormatShape(shapes[0]))
	}
	out := slices.Clone(shapes[0])
	out[a] = 0
	c := &Concat{Axis: a}
	for i, s := range shapes {
		if err := tensorShapeErr("concat", s); err != nil {
			return nil, err
		}
		if len(s) != r {
			return nil, fmt.Errorf("concat: input %d has shape %s, input 0 has %s", i, FormatShape(s), FormatShape(shapes[0]))
		}
		for j := range s {
			if j != a && s[j] != shapes[0][j] {
				return nil, fmt.Errorf("concat: input %d has shape %s, input 0 has %s: they differ off axis %d", i, FormatShape(s), FormatShape(shapes[0]), a)
			}
		}
		out[a] += s[a]
		c.Shapes = append(c.Shapes, slices.Clone(s))
		_, size, inner := tensorSplit(s, a)
		c.blocks = append(c.blocks, size*inner)
	}
	if err := tensorShapeErr("concat", out); err != nil {
		return nil, err
	}
	c.out = out
	c.outer = Numel(out[:a])
	return c, nil
}

func (c *Concat) Type() string      { return "concat" }
func (c *Concat) OutShape() []int   { return c.out }
func (c *Concat) InShapes() [][]int { return c.Shapes }

// ForwardJoin copies each input's blocks into place.
func (c *Concat) ForwardJoin(y *mat.Dense, xs []*mat.Dense) {
	if len(xs) != len(c.Shapes) {
		panic("model: concat has the wrong number of inputs")
	}
	n, _ := y.Dims()
	f := Numel(c.out)
	checkDims(y, n, f, "concat output")
	for i, x := range xs {
		checkDims(x, n, c.outer*c.blocks[i], "concat input")
	}
	tensorForRows(n, f, func(r int) {
		yr := y.RawRowView(r)
		off := 0
		for o := 0; o < c.outer; o++ {
			for i, x := range xs {
				b := c.blocks[i]
				copy(yr[off:off+b], x.RawRowView(r)[o*b:(o+1)*b])
				off += b
			}
		}
	})
}

// BackwardReads implements BackwardReader: neither.
func (c *Concat) BackwardReads() (in, out bool) { return false, false }

// BackwardJoin copies each input's blocks of the factor rows out.
func (c *Concat) BackwardJoin(dst []*mat.Dense, s *mat.Dense, _ []*mat.Dense, _ *mat.Dense, _ int) {
	if len(dst) != len(c.Shapes) {
		panic("model: concat has the wrong number of inputs")
	}
	r, _ := s.Dims()
	f := Numel(c.out)
	checkDims(s, r, f, "concat factor")
	for i, d := range dst {
		if d != nil {
			checkDims(d, r, c.outer*c.blocks[i], "concat factor destination")
		}
	}
	tensorForRows(r, f, func(k int) {
		sr := s.RawRowView(k)
		off := 0
		for o := 0; o < c.outer; o++ {
			for i, d := range dst {
				b := c.blocks[i]
				if d != nil {
					copy(d.RawRowView(k)[o*b:(o+1)*b], sr[off:off+b])
				}
				off += b
			}
		}
	})
}

// ---------------------------------------------------------------------------
// ParamSource

// ParamSource outputs a learned tensor that does not depend on the input,
// the same for every sample: a class token or position embedding that an
// exported graph broadcasts over the batch (Expand). It reads the network
// input only so that it has an input; its input Jacobian is zero. Its
// factor block is the factor itself (lowrank.Source: V's rows for the
// tensor are the factor rows at the output), which it references without
// copying.
type ParamSource struct {
	In, Out []int // per-sample shapes of the input (ignored) and output
	P       *Param
}

// NewParamSource returns the source of the tensor p, read as a per-sample
// tensor of shape outShape (p's shape without its leading batch axis of
// 1, or any shape with as many entries), on a network input of shape
// inShape.
func NewParamSource(inShape []int, p *Param, outShape []int) (*ParamSource, error) {
	if p == nil {
		return nil, fmt.Errorf("param_source: no tensor")
	}
	if err := tensorShapeErr("param_source", outShape); err != nil {
		return nil, err
	}
	if err := tensorShapeErr("param_source", inShape); err != nil {
		return nil, err
	}
	if len(p.Shape) == 0 || Numel(p.Shape) != len(p.Data) {
		return nil, fmt.Errorf("param_source: tensor %q has shape %s and %d values", p.Name, FormatShape(p.Shape), len(p.Data))
	}
	if Numel(outShape) != len(p.Data) {
		return nil, fmt.Errorf("param_source: tensor %q of shape %s cannot be read as %s", p.Name, FormatShape(p.Shape), FormatShape(outShape))
	}
	return &ParamSource{In: slices.Clone(inShape), Out: slices.Clone(outShape), P: p}, nil
}

func (l *ParamSource) Type() string     { return "param_source" }
func (l *ParamSource) InShape() []int   { return l.In }
func (l *ParamSource) OutShape() []int  { return l.Out }
func (l *ParamSource) Params() []*Param { return []*Param{l.P} }

// Forward copies the tensor into every row of y.
func (l *ParamSource) Forward(y, x *mat.Dense) {
	n, _ := x.Dims()
	checkDims(y, n, len(l.P.Data), "param_source output")
	for i := 0; i < n; i++ {
		copy(y.RawRowView(i), l.P.Data)
	}
}

// BackwardReads implements BackwardReader: neither.
func (l *ParamSource) BackwardReads() (in, out bool) { return false, false }

// BackwardInput writes zeros: the output does not depend on the input.
func (l *ParamSource) BackwardInput(dst, s, _, _ *mat.Dense, _ int) {
	r, _ := s.Dims()
	checkDims(dst, r, Numel(l.In), "param_source factor destination")
	dst.Zero()
}

// Factor returns lowrank.Source's block for the factor rows s.
func (l *ParamSource) Factor(s, _ *mat.Dense, _ int) lowrank.Factor {
	return lowrank.NewSource(s)
}
