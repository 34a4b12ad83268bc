package model

import (
	"errors"
	"fmt"
	"slices"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/mat"
)

// Layers that move, pad, pool or reduce entries without parameters.

// NewIdentity returns the identity on per-sample shape shape: ONNX
// Identity, and Dropout in inference mode.
func NewIdentity(shape []int) Layer {
	s := slices.Clone(shape)
	return &reshape{name: "identity", in: s, out: s}
}

// NewReshape returns the change of per-sample shape from in to out, which
// keeps the flat storage (Reshape, Flatten); both must have the same
// number of entries.
func NewReshape(in, out []int) (Layer, error) {
	if err := validShape("reshape input", in); err != nil {
		return nil, err
	}
	if err := validShape("reshape output", out); err != nil {
		return nil, err
	}
	if Numel(in) != Numel(out) {
		return nil, fmt.Errorf("reshape: %s has %d entries, %s has %d", FormatShape(in), Numel(in), FormatShape(out), Numel(out))
	}
	return &reshape{name: "reshape", in: slices.Clone(in), out: slices.Clone(out)}, nil
}

// GlobalAvgPool is the mean over all spatial positions of each channel:
// [C, ...] → [C, 1, ...] (ONNX GlobalAveragePool, PyTorch
// AdaptiveAvgPool2d(1)).
type GlobalAvgPool struct {
	in, out []int
}

// NewGlobalAvgPool returns the global average pool on per-sample shape
// [C, spatial...] with at least one spatial axis.
func NewGlobalAvgPool(shape []int) (Layer, error) {
	if err := validShape("global_avg_pool input", shape); err != nil {
		return nil, err
	}
	if len(shape) < 2 {
		return nil, fmt.Errorf("global_avg_pool: input shape %s needs a channel axis and at least one spatial axis", FormatShape(shape))
	}
	out := make([]int, len(shape))
	for i := range out {
		out[i] = 1
	}
	out[0] = shape[0]
	return &GlobalAvgPool{in: slices.Clone(shape), out: out}, nil
}

func (l *GlobalAvgPool) Type() string    { return "global_avg_pool" }
func (l *GlobalAvgPool) InShape() []int  { return l.in }
func (l *GlobalAvgPool) OutShape() []int { return l.out }

func (l *GlobalAvgPool) Forward(y, x *mat.Dense) {
	n, _ := x.Dims()
	c := l.in[0]
	p := Numel(l.in) / c
	checkDims(x, n, c*p, "global_avg_pool input")
	checkDims(y, n, c, "global_avg_pool output")
	parallelSamples(n, func() any { return nil }, func(_ any, i int) {
		xr, yr := x.RawRowView(i), y.RawRowView(i)
		for ch := range yr {
			var sum float64
			for _, v := range xr[ch*p : (ch+1)*p] {
				sum += v
			}
			yr[ch] = sum / float64(p)
		}
	})
}

// BackwardReads implements BackwardReader: neither.
func (l *GlobalAvgPool) BackwardReads() (in, out bool) { return false, false }

func (l *GlobalAvgPool) BackwardInput(dst, s, _, _ *mat.Dense, _ int) {
	r, _ := s.Dims()
	checkDims(s, r, l.in[0], "global_avg_pool factor")
	checkDims(dst, r, Numel(l.in), "global_avg_pool factor destination")
	spreadMeans(rowsOf(dst), rowsOf(s), Numel(l.in)/l.in[0])
}

// BackwardRows32 implements Rows32Layer: BackwardInput on float32 rows. A
// ResNet's last feature map then gets its factor rows in float32
// directly, instead of in float64 rounded afterwards.
func (l *GlobalAvgPool) BackwardRows32(dst, s blas32.General, _, _ *mat.Dense, _ int) {
	check32(s, s.Rows, l.in[0], "global_avg_pool factor")
	check32(dst, s.Rows, Numel(l.in), "global_avg_pool factor destination")
	spreadMeans(rows32Of(dst), rows32Of(s), Numel(l.in)/l.in[0])
}

// spreadMeans writes each channel's entry of every row of s, divided by
// the p positions (in float64), over those positions of dst's row.
func spreadMeans[R float32 | float64](dst, s factorRows[R], p int) {
	parallelSamples(s.n, func() any { return nil }, func(_ any, i int) {
		d := dst.row(i)
		for ch, v := range s.row(i) {
			w := R(float64(v) / float64(p))
			for j := range d[ch*p : (ch+1)*p] {
				d[ch*p+j] = w
			}
		}
	})
}

// Pad is constant zero padding: Before[i] zeros before and After[i] after
// the entries of per-sample axis i. Memory: an index per input entry.
type Pad struct {
	in, out       []int
	Before, After []int
	idx           []int32 // output entry of each input entry
}

// NewPad returns zero padding of per-sample shape shape by before and
// after (one non-negative count per axis).
func NewPad(shape []int, before, after []int) (Layer, error) {
	if err := validShape("pad input", shape); err != nil {
		return nil, err
	}
	if len(before) != len(shape) || len(after) != len(shape) {
		return nil, fmt.Errorf("pad: %d and %d padding counts for %d axes (input shape %s)", len(before), len(after), len(shape), FormatShape(shape))
	}
	out := make([]int, len(shape))
	for i, d := range shape {
		if before[i] < 0 || after[i] < 0 {
			return nil, fmt.Errorf("pad: padding must be non-negative, got before %v, after %v", before, after)
		}
		if before[i] > maxFeatures || after[i] > maxFeatures {
			return nil, fmt.Errorf("pad: padding before %v, after %v is too large", before, after)
		}
		out[i] = d + before[i] + after[i]
	}
	if err := validShape("pad output", out); err != nil {
		return nil, err
	}
	l := &Pad{in: slices.Clone(shape), out: out, Before: slices.Clone(before), After: slices.Clone(after)}
	// Input entry k goes to the output at its position shifted by before.
	st := rowMajorStrides(out)
	base := 0
	for i, b := range before {
		base += b * st[i]
	}
	l.idx = stridedIndex(shape, st, base)
	return l, nil
}

func (l *Pad) Type() string    { return "pad" }
func (l *Pad) InShape() []int  { return l.in }
func (l *Pad) OutShape() []int { return l.out }

func (l *Pad) Forward(y, x *mat.Dense) {
	n, _ := x.Dims()
	checkDims(x, n, len(l.idx), "pad input")
	checkDims(y, n, Numel(l.out), "pad output")
	parallelSamples(n, func() any { return nil }, func(_ any, i int) {
		xr, yr := x.RawRowView(i), y.RawRowView(i)
		clear(yr)
		for k, o := range l.idx {
			yr[o] = xr[k]
		}
	})
}

// BackwardReads implements BackwardReader: neither.
func (l *Pad) BackwardReads() (in, out bool) { return false, false }

// BackwardInput keeps the entries of the factor that are not padding.
func (l *Pad) BackwardInput(dst, s, _, _ *mat.Dense, _ int) {
	r, _ := s.Dims()
	checkDims(s, r, Numel(l.out), "pad factor")
	checkDims(dst, r, len(l.idx), "pad factor destination")
	parallelSamples(r, func() any { return nil }, func(_ any, i int) {
		sr, dr := s.RawRowView(i), dst.RawRowView(i)
		for k, o := range l.idx {
			dr[k] = sr[o]
		}
	})
}

// ReduceMean is the mean over some per-sample axes, which are kept with
// size 1 (KeepDims) or removed. Memory: an index per input entry.
type ReduceMean struct {
	in, out  []int
	Axes     []int
	KeepDims bool
	count    int     // entries averaged into each output entry
	idx      []int32 // output entry of each input entry
}

// NewReduceMean returns the mean over the per-sample axes (sorted, unique,
// in range, at least one) of per-sample shape shape.
func NewReduceMean(shape []int, axes []int, keepDims bool) (Layer, error) {
	if err := validShape("reduce_mean input", shape); err != nil {
		return nil, err
	}
	if len(axes) == 0 {
		return nil, errors.New("reduce_mean: no axes")
	}
	reduced := make([]bool, len(shape))
	for i, a := range axes {
		if a < 0 || a >= len(shape) {
			return nil, fmt.Errorf("reduce_mean: axis %d out of range for per-sample shape %s", a, FormatShape(shape))
		}
		if i > 0 && a <= axes[i-1] {
			return nil, fmt.Errorf("reduce_mean: axes %v must be sorted and unique", axes)
		}
		reduced[a] = true
	}
	l := &ReduceMean{in: slices.Clone(shape), Axes: slices.Clone(axes), KeepDims: keepDims, count: 1}
	kept := make([]int, len(shape)) // output size per input axis
	for i, d := range shape {
		if reduced[i] {
			l.count *= d
			kept[i] = 1
			if keepDims {
				l.out = append(l.out, 1)
			}
		} else {
			kept[i] = d
			l.out = append(l.out, d)
		}
	}
	if l.out == nil {
		l.out = []int{}
	}
	// Input entry k adds to the output entry of its kept axes' position.
	st := rowMajorStrides(kept)
	for i := range st {
		if reduced[i] {
			st[i] = 0
		}
	}
	l.idx = stridedIndex(shape, st, 0)
	return l, nil
}

func (l *ReduceMean) Type() string    { return "reduce_mean" }
func (l *ReduceMean) InShape() []int  { return l.in }
func (l *ReduceMean) OutShape() []int { return l.out }

func (l *ReduceMean) Forward(y, x *mat.Dense) {
	n, _ := x.Dims()
	checkDims(x, n, len(l.idx), "reduce_mean input")
	checkDims(y, n, Numel(l.out), "reduce_mean output")
	parallelSamples(n, func() any { return nil }, func(_ any, i int) {
		xr, yr := x.RawRowView(i), y.RawRowView(i)
		clear(yr)
		for k, o := range l.idx {
			yr[o] += xr[k]
		}
		for j := range yr {
			yr[j] /= float64(l.count)
		}
	})
}

// BackwardReads implements BackwardReader: neither.
func (l *ReduceMean) BackwardReads() (in, out bool) { return false, false }

func (l *ReduceMean) BackwardInput(dst, s, _, _ *mat.Dense, _ int) {
	r, _ := s.Dims()
	checkDims(s, r, Numel(l.out), "reduce_mean factor")
	checkDims(dst, r, len(l.idx), "reduce_mean factor destination")
	parallelSamples(r, func() any { return nil }, func(_ any, i int) {
		sr, dr := s.RawRowView(i), dst.RawRowView(i)
		for k, o := range l.idx {
			dr[k] = sr[o] / float64(l.count)
		}
	})
}

// poolGeomFor checks a pooling window on input shape in ([C, H, W]) as
// PyTorch does and returns its geometry: padding at most half the kernel,
// a window that fits the padded input, and no window without input
// entries.
func poolGeomFor(in []int, w window) (*poolGeom, error) {
	if _, _, err := checkPoolGeom(in, w); err != nil {
		return nil, err
	}
	return newPoolGeom(in[0], in[1], in[2], w.k, w.s, w.p, w.d), nil
}

// checkedWindow returns the window of a pooling layer built from code
// (not from an architecture file, whose parser checks the same).
func checkedWindow(what string, shape []int, kernel, stride, pad, dilation [2]int) (window, error) {
	w := window{k: kernel, s: stride, p: pad, d: dilation}
	if err := validShape(what+" input", shape); err != nil {
		return w, err
	}
	for _, f := range []struct {
		name string
		v    [2]int
		min  int
	}{{"kernel_size", kernel, 1}, {"stride", stride, 1}, {"padding", pad, 0}, {"dilation", dilation, 1}} {
		if f.v[0] < f.min || f.v[1] < f.min {
			return w, fmt.Errorf("%s: %s must be at least %d, got %v", what, f.name, f.min, f.v)
		}
		if f.v[0] > maxFeatures || f.v[1] > maxFeatures {
			return w, fmt.Errorf("%s: %s %v is too large", what, f.name, f.v)
		}
	}
	return w, nil
}

// NewMaxPool2d returns PyTorch's MaxPool2d (ceil_mode false) on per-sample
// shape [C, H, W], with the same checks as an architecture file's
// maxpool2d.
func NewMaxPool2d(shape []int, kernel, stride, pad, dilation [2]int) (*MaxPool2d, error) {
	w, err := checkedWindow("maxpool2d", shape, kernel, stride, pad, dilation)
	if err != nil {
		return nil, err
	}
	g, err := poolGeomFor(shape, w)
	if err != nil {
		return nil, fmt.Errorf("maxpool2d: %w", err)
	}
	return &MaxPool2d{g: g}, nil
}

// NewAvgPool2d returns PyTorch's AvgPool2d (ceil_mode false) on per-sample
// shape [C, H, W], dividing by kh·kw when countIncludePad is true and by
// the number of input entries in the window otherwise.
func NewAvgPool2d(shape []int, kernel, stride, pad [2]int, countIncludePad bool) (*AvgPool2d, error) {
	w, err := checkedWindow("avgpool2d", shape, kernel, stride, pad, [2]int{1, 1})
	if err != nil {
		return nil, err
	}
	g, err := poolGeomFor(shape, w)
	if err != nil {
		return nil, fmt.Errorf("avgpool2d: %w", err)
	}
	return newAvgPool2d(g, countIncludePad), nil
}
