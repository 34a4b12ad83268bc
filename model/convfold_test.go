package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/model/im2col"
)

// shiftedGeoms are geometries on which both the forward and the backward
// convolution tests check the shifted (phased) products against the
// unfolded ones: strides 1–3, paddings, dilations, rectangular windows,
// rows of 8 to 50 entries.
var shiftedGeoms = []*im2col.Geom{
	im2col.New(3, 9, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1),
	im2col.New(16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1),
	im2col.New(5, 7, 20, 7, 3, 3, 1, 1, 1, 1, 1, 1),
	im2col.New(3, 12, 17, 13, 3, 5, 1, 1, 0, 2, 2, 1),
	im2col.New(7, 5, 16, 9, 1, 3, 1, 1, 0, 1, 1, 1),
	im2col.New(2, 6, 16, 3, 3, 3, 1, 1, 3, 3, 1, 1),
	im2col.New(4, 3, 33, 6, 2, 4, 1, 1, 1, 0, 1, 3),
	im2col.New(3, 9, 50, 4, 3, 2, 3, 3, 1, 2, 1, 2),
	im2col.New(2, 6, 35, 3, 3, 3, 2, 2, 2, 2, 2, 2),
	im2col.New(2, 5, 34, 3, 3, 3, 2, 2, 3, 3, 1, 1),
	im2col.New(2, 7, 33, 3, 2, 5, 3, 2, 0, 1, 1, 1),
	im2col.New(3, 12, 32, 8, 7, 7, 2, 2, 3, 3, 1, 1),
	im2col.New(3, 10, 20, 5, 5, 5, 1, 1, 2, 2, 1, 1),
}

// TestConvBackwardBlocks checks the blocked transposed convolution against
// the patch-table adjoint (im2col.Geom.FoldAdd of S_rᵀ W) on shapes
// with strides, paddings, dilations and rectangular kernels, with blocks of
// one, two and three output rows (an uneven last block) and the default,
// and, for factors 90 % zeros (as after max pooling) and many channels, the
// sparse products (backwardSparse); and BackwardInput32 within float32's
// worst-case rounding of the same sums (out·kh·kw products per entry,
// weights and factor rounded too).
func TestConvBackwardBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 1))
	geoms := append([]*im2col.Geom{
		im2col.New(2, 9, 11, 3, 3, 3, 2, 2, 1, 1, 1, 1),
		im2col.New(2, 8, 8, 3, 1, 1, 2, 2, 0, 0, 1, 1),
		im2col.New(2, 10, 9, 2, 3, 2, 1, 3, 2, 1, 2, 1),
		im2col.New(1, 7, 12, 2, 2, 5, 3, 1, 0, 3, 1, 2),
		im2col.New(4, 9, 8, 48, 3, 3, 1, 1, 1, 1, 1, 1),
		im2col.New(3, 10, 9, 40, 3, 2, 2, 1, 2, 1, 2, 1),
		im2col.New(8, 6, 6, 64, 3, 3, 1, 1, 1, 1, 1, 1),
		im2col.New(2, 9, 10, 3, 3, 2, 1, 1, 2, 1, 2, 3),
		im2col.New(3, 6, 7, 2, 2, 3, 1, 1, 0, 0, 1, 1),
		im2col.New(64, 8, 8, 64, 3, 3, 1, 1, 1, 1, 1, 1),
		im2col.New(2, 9, 10, 3, 3, 3, 2, 2, 2, 2, 1, 2),
		im2col.New(2, 7, 9, 2, 3, 3, 2, 2, 0, 0, 1, 1),
		im2col.New(3, 8, 32, 5, 3, 3, 2, 2, 1, 1, 1, 1),
		im2col.New(2, 7, 40, 3, 1, 1, 2, 2, 0, 0, 1, 1),
		im2col.New(4, 8, 8, 16, 3, 3, 2, 2, 1, 1, 1, 1), // in place: 4×8×8 in, 16×4×4 out
	}, shiftedGeoms...)
	defer func(b int) { convBlockFloats, shiftedConv = b, true }(convBlockFloats)
	for gi, g := range geoms {
		l := NewConv2d(0, g, false)
		for i := range l.Weight.Data {
			l.Weight.Data[i] = rng.NormFloat64()
		}
		const rows = 5
		s := randMat(rng, rows, g.OutSize())
		// Zeros, as after a ReLU, or 90 % of them, as after max pooling
		// (with one row all zeros) when there are many channels.
		sparse := g.OutC >= 40
		for i, v := range s.RawMatrix().Data {
			if v < -0.5 || sparse && (rng.Float64() < 0.9 || i < g.OutSize()) {
				s.RawMatrix().Data[i] = 0
			}
		}
		if got := sparseBackward(estimateNonzero(rowsOf(s)), rows, g.OutC, g.P(), 8); got != sparse {
			t.Fatalf("geom %d: sparse products %v, want %v", gi, got, sparse)
		}
		want, abs := mat.NewDense(rows, g.InSize(), nil), mat.NewDense(rows, g.InSize(), nil)
		absW := make([]float64, len(l.Weight.Data))
		for i, v := range l.Weight.Data {
			absW[i] = math.Abs(v)
		}
		for r := 0; r < rows; r++ {
			var c mat.Dense
			c.Mul(mat.NewDense(g.OutC, g.P(), s.RawRowView(r)).T(), mat.NewDense(g.OutC, g.K(), l.Weight.Data))
			g.FoldAdd(want.RawRowView(r), c.RawMatrix().Data, g.K())
			absS := mat.NewDense(g.OutC, g.P(), nil)
			absS.Apply(func(_, _ int, v float64) float64 { return math.Abs(v) }, mat.NewDense(g.OutC, g.P(), s.RawRowView(r)))
			c.Mul(absS.T(), mat.NewDense(g.OutC, g.K(), absW))
			g.FoldAdd(abs.RawRowView(r), c.RawMatrix().Data, g.K())
		}
		gamma := float64(g.OutC*g.KH*g.KW+3) * 0x1p-23
		for _, bh := range []int{1, 2, 3, 0, -1} {
			convBlockFloats = bh * g.K() * g.OutW
			if bh <= 0 {
				convBlockFloats = 24 << 10
			}
			// bh = −1 is the default with the flipped products
			// (backwardPhased) where they apply.
			shiftedConv = bh < 0
			t.Run(fmt.Sprintf("geom%d/block%d", gi, bh), func(t *testing.T) {
				got := mat.NewDense(rows, g.InSize(), nil)
				got.Apply(func(_, _ int, _ float64) float64 { return math.NaN() }, got)
				l.BackwardInput(got, s, nil, nil, 1)
				var worst, scale float64
				for i, w := range want.RawMatrix().Data {
					worst = math.Max(worst, math.Abs(got.RawMatrix().Data[i]-w))
					if math.IsNaN(got.RawMatrix().Data[i]) {
						worst = math.NaN()
						break
					}
					scale = math.Max(scale, math.Abs(w))
				}
				if !(worst <= 1e-13*(1+scale)) {
					t.Errorf("max deviation %.3g (scale %.3g)", worst, scale)
				}
				got.Apply(func(_, _ int, _ float64) float64 { return math.NaN() }, got)
				l.BackwardInput32(got, s, nil, nil, 1)
				for i, w := range want.RawMatrix().Data {
					if d := math.Abs(got.RawMatrix().Data[i] - w); !(d <= gamma*abs.RawMatrix().Data[i]) {
						t.Fatalf("float32: entry %d = %v, want %v (bound %.3g)", i, got.RawMatrix().Data[i], w, gamma*abs.RawMatrix().Data[i])
					}
				}
				checkBackwardInPlace(t, l, s)
				checkBackwardAdd(t, rng, l, s, want, func(i int, f32 bool, b, w float64) float64 {
					if f32 {
						return gamma*abs.RawMatrix().Data[i] + 1e-15*(math.Abs(b)+math.Abs(w))
					}
					return 1e-13 * (1 + scale + math.Abs(b))
				})
			})
		}
	}
}

// checkBackwardInPlace checks that BackwardInPlace reports whether the
// layer's input and output have the same size and, if they do, that
// BackwardInput and BackwardInput32 overwriting s give what they give
// into a matrix of their own, bit for bit.
func checkBackwardInPlace(t *testing.T, l *Conv2d, s *mat.Dense) {
	t.Helper()
	in, out := Numel(l.InShape()), Numel(l.OutShape())
	if got := l.BackwardInPlace(); got != (in == out) {
		t.Fatalf("BackwardInPlace = %v for %d inputs and %d outputs", got, in, out)
	}
	if !l.BackwardInPlace() {
		return
	}
	r, _ := s.Dims()
	for _, f32 := range []bool{false, true} {
		want, got := mat.NewDense(r, in, nil), mat.DenseCopyOf(s)
		if f32 {
			l.BackwardInput32(want, s, nil, nil, 1)
			l.BackwardInput32(got, got, nil, nil, 1)
		} else {
			l.BackwardInput(want, s, nil, nil, 1)
			l.BackwardInput(got, got, nil, nil, 1)
		}
		for i, w := range want.RawMatrix().Data {
			if g := got.RawMatrix().Data[i]; g != w {
				t.Fatalf("in place (float32 %v): entry %d = %v, want %v", f32, i, g, w)
			}
		}
	}
}

// checkBackwardAdd checks that BackwardInputAdd and BackwardInputAdd32 add
// want, BackwardInput's rows for s, to what the destination holds (random
// rows): each entry within tol(i, float32, held, want) of their sum.
func checkBackwardAdd(t *testing.T, rng *rand.Rand, l *Conv2d, s, want *mat.Dense, tol func(i int, f32 bool, b, w float64) float64) {
	t.Helper()
	r, c := want.Dims()
	base, got := randMat(rng, r, c), mat.NewDense(r, c, nil)
	for _, f32 := range []bool{false, true} {
		got.Copy(base)
		if f32 {
			l.BackwardInputAdd32(got, s, nil, nil, 1)
		} else {
			l.BackwardInputAdd(got, s, nil, nil, 1)
		}
		for i, w := range want.RawMatrix().Data {
			b := base.RawMatrix().Data[i]
			if d := math.Abs(got.RawMatrix().Data[i] - (b + w)); !(d <= tol(i, f32, b, w)) {
				t.Fatalf("add (float32 %v): entry %d = %v, want %v + %v", f32, i, got.RawMatrix().Data[i], b, w)
			}
		}
	}
}

// TestConvBackward32Groups checks BackwardInput32 of grouped and
// depthwise convolutions (strides 1 and 2) against BackwardInput, within
// float32's worst-case rounding of each entry's sum (BackwardInput on the
// absolute weights and factor rows bounds it).
func TestConvBackward32Groups(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 2))
	for _, tc := range []struct {
		g      *im2col.Geom
		groups int
	}{
		{im2col.New(2, 9, 8, 3, 3, 3, 1, 1, 1, 1, 1, 1), 3},
		{im2col.New(1, 10, 9, 1, 3, 3, 2, 2, 1, 1, 1, 1), 4},
		{im2col.New(4, 8, 8, 2, 1, 1, 2, 2, 0, 0, 1, 1), 2},
		{im2col.New(1, 8, 8, 1, 3, 3, 1, 1, 1, 1, 1, 1), 3}, // depthwise, in place
	} {
		l, abs := NewGroupedConv2d(0, tc.g, tc.groups, false), NewGroupedConv2d(0, tc.g, tc.groups, false)
		for i := range l.Weight.Data {
			l.Weight.Data[i] = rng.NormFloat64()
			abs.Weight.Data[i] = math.Abs(l.Weight.Data[i])
		}
		const rows = 4
		s := randMat(rng, rows, tc.groups*tc.g.OutSize())
		absS := mat.DenseCopyOf(s)
		absS.Apply(func(_, _ int, v float64) float64 { return math.Abs(v) }, absS)
		want, bound, got := mat.NewDense(rows, tc.groups*tc.g.InSize(), nil), mat.NewDense(rows, tc.groups*tc.g.InSize(), nil), mat.NewDense(rows, tc.groups*tc.g.InSize(), nil)
		l.BackwardInput(want, s, nil, nil, 1)
		abs.BackwardInput(bound, absS, nil, nil, 1)
		got.Apply(func(_, _ int, _ float64) float64 { return math.NaN() }, got)
		l.BackwardInput32(got, s, nil, nil, 1)
		gamma := float64(tc.g.OutC*tc.g.KH*tc.g.KW+3) * 0x1p-23
		for i, w := range want.RawMatrix().Data {
			if d := math.Abs(got.RawMatrix().Data[i] - w); !(d <= gamma*bound.RawMatrix().Data[i]) {
				t.Fatalf("groups %d: entry %d = %v, want %v", tc.groups, i, got.RawMatrix().Data[i], w)
			}
		}
		checkBackwardInPlace(t, l, s)
		// The accumulating variants (through a scratch matrix for groups).
		checkBackwardAdd(t, rng, l, s, want, func(i int, f32 bool, b, w float64) float64 {
			if f32 {
				return gamma*bound.RawMatrix().Data[i] + 1e-15*(math.Abs(b)+math.Abs(w))
			}
			return 1e-13 * (1 + math.Abs(b) + math.Abs(w))
		})
	}
}

// TestConvForwardShifted checks Forward (the shifted products of the
// phase planes, forwardShifted) against the unfolded product it replaces,
// with bias, strides 1 to 3, paddings, dilations, rectangular windows and
// output rows of 8 to 33 entries.
func TestConvForwardShifted(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 3))
	defer func() { shiftedConv = true }()
	for gi, g := range append([]*im2col.Geom{
		im2col.New(2, 4, 9, 3, 1, 1, 1, 1, 0, 0, 1, 1),
		im2col.New(16, 32, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1),
		im2col.New(16, 32, 32, 32, 1, 1, 2, 2, 0, 0, 1, 1),
	}, shiftedGeoms...) {
		l := NewConv2d(0, g, true)
		for i := range l.Weight.Data {
			l.Weight.Data[i] = rng.NormFloat64()
		}
		for i := range l.Bias.Data {
			l.Bias.Data[i] = rng.NormFloat64()
		}
		const n = 3
		x := randMat(rng, n, g.InSize())
		want, got := mat.NewDense(n, g.OutSize(), nil), mat.NewDense(n, g.OutSize(), nil)
		shiftedConv = false
		l.Forward(want, x)
		shiftedConv = true
		got.Apply(func(_, _ int, _ float64) float64 { return math.NaN() }, got)
		if !l.forwardShifted(got, x) {
			t.Fatalf("geom %d: shifted forward not taken", gi)
		}
		for i, w := range want.RawMatrix().Data {
			if d := math.Abs(got.RawMatrix().Data[i] - w); !(d <= 1e-13*(1+math.Abs(w))) {
				t.Fatalf("geom %d: entry %d = %v, want %v", gi, i, got.RawMatrix().Data[i], w)
			}
		}
	}
}

// TestConvBackwardSeparable checks the backward of separable factor rows
// s_r[o]·m_n[o, p] (BackwardSeparable) against BackwardInput on the rows
// written out, into float64 and float32 rows, on the stride-1 geometries
// (paddings, dilations, rectangular windows); strided ones decline.
func TestConvBackwardSeparable(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	tested := 0
	for gi, g := range shiftedGeoms {
		l := NewConv2d(0, g, false)
		for i := range l.Weight.Data {
			l.Weight.Data[i] = rng.NormFloat64()
		}
		const n, cols = 3, 4
		s, m := randMat(rng, n*cols, g.OutC), randMat(rng, n, g.OutSize())
		dense := mat.NewDense(n*cols, g.OutSize(), nil)
		for r := 0; r < n*cols; r++ {
			for j := 0; j < g.OutSize(); j++ {
				dense.Set(r, j, s.At(r, j/g.P())*m.At(r/cols, j))
			}
		}
		want := mat.NewDense(n*cols, g.InSize(), nil)
		l.BackwardInput(want, dense, nil, nil, cols)
		got := mat.NewDense(n*cols, g.InSize(), nil)
		got.Apply(func(_, _ int, _ float64) float64 { return math.NaN() }, got)
		if !l.BackwardSeparable(got, s, m, cols) {
			if g.SH == 1 && g.SW == 1 {
				t.Errorf("geom %d: stride 1 declined", gi)
			}
			continue
		}
		if g.SH != 1 || g.SW != 1 {
			t.Errorf("geom %d: stride %dx%d taken", gi, g.SH, g.SW)
		}
		tested++
		scale := mat.Norm(want, math.Inf(1))
		if e := maxAbsDiffModel(got, want); !(e <= 1e-13*scale) {
			t.Errorf("geom %d: error %.3g (scale %.3g)", gi, e, scale)
		}
		got32 := make([]float32, n*cols*g.InSize())
		l.BackwardSeparable(blas32.General{Rows: n * cols, Cols: g.InSize(), Stride: g.InSize(), Data: got32}, s, m, cols)
		for i, w := range want.RawMatrix().Data {
			if d := math.Abs(float64(got32[i]) - w); !(d <= 1e-6*scale) {
				t.Fatalf("geom %d: float32 entry %d = %v, want %v", gi, i, got32[i], w)
			}
		}
	}
	if tested < 5 {
		t.Errorf("only %d geometries tested", tested)
	}
}

func maxAbsDiffModel(a, b *mat.Dense) float64 {
	var worst float64
	for i, v := range a.RawMatrix().Data {
		d := math.Abs(v - b.RawMatrix().Data[i])
		if math.IsNaN(d) {
			return math.NaN()
		}
		worst = max(worst, d)
	}
	return worst
}
