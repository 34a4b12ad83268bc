package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// forwardOp runs a Layer or a Join on the inputs xs.
func forwardOp(op Op, xs []*mat.Dense) *mat.Dense {
	n, _ := xs[0].Dims()
	y := mat.NewDense(n, Numel(op.OutShape()), nil)
	switch o := op.(type) {
	case Layer:
		o.Forward(y, xs[0])
	case Join:
		o.ForwardJoin(y, xs)
	}
	return y
}

// backwardOp runs the factor backward of a Layer or a Join for factor rows
// s into fresh destinations prefilled with NaN (every entry must be
// written), one per input.
func backwardOp(op Op, xs []*mat.Dense, y, s *mat.Dense, cols int) []*mat.Dense {
	r, _ := s.Dims()
	dst := make([]*mat.Dense, len(xs))
	for i, x := range xs {
		_, f := x.Dims()
		dst[i] = mat.NewDense(r, f, nil)
		dst[i].Apply(func(_, _ int, _ float64) float64 { return math.NaN() }, dst[i])
	}
	switch o := op.(type) {
	case Layer:
		o.BackwardInput(dst[0], s, xs[0], y, cols)
	case Join:
		o.BackwardJoin(dst, s, xs, y, cols)
	}
	return dst
}

// checkBackwardFD checks the factor backward of op (every input) against
// central differences of ⟨s_r, f(x)⟩ on random inputs, for stacked factors
// with 3 columns per sample. scale multiplies the random inputs.
func checkBackwardFD(t *testing.T, op Op, inShapes [][]int, rng *rand.Rand) {
	t.Helper()
	const n, cols, h = 2, 3, 1e-6
	xs := make([]*mat.Dense, len(inShapes))
	for i, s := range inShapes {
		xs[i] = randMat(rng, n, Numel(s))
	}
	y := forwardOp(op, xs)
	fout := Numel(op.OutShape())
	s := randMat(rng, n*cols, fout)
	got := backwardOp(op, xs, y, s, cols)
	var worst, scale float64
	for in, x := range xs {
		_, fin := x.Dims()
		for i := 0; i < n; i++ {
			one := make([]*mat.Dense, len(xs))
			for j := range xs {
				one[j] = mat.DenseCopyOf(xs[j].Slice(i, i+1, 0, Numel(inShapes[j])))
			}
			for j := 0; j < fin; j++ {
				v := one[in].At(0, j)
				one[in].Set(0, j, v+h)
				yp := forwardOp(op, one)
				one[in].Set(0, j, v-h)
				ym := forwardOp(op, one)
				one[in].Set(0, j, v)
				for c := 0; c < cols; c++ {
					r := i*cols + c
					var d float64
					for k := 0; k < fout; k++ {
						d += s.At(r, k) * (yp.At(0, k) - ym.At(0, k))
					}
					d /= 2 * h
					g := got[in].At(r, j)
					if e := math.Abs(g - d); !(e <= worst) {
						worst = e
					}
					scale = math.Max(scale, math.Abs(d))
				}
			}
		}
	}
	if !(worst <= 1e-7*(1+scale)) {
		t.Errorf("%s: max |Jᵀs − finite differences| = %.3g (scale %.3g)", op.Type(), worst, scale)
	}
}

// multiIndex returns the row-major multi-index of flat index k in shape.
func multiIndex(k int, shape []int) []int {
	idx := make([]int, len(shape))
	for a := len(shape) - 1; a >= 0; a-- {
		idx[a] = k % shape[a]
		k /= shape[a]
	}
	return idx
}

// flatIndex is the inverse of multiIndex.
func flatIndex(idx, shape []int) int {
	k := 0
	for a, v := range idx {
		k = k*shape[a] + v
	}
	return k
}

// refMatMul is numpy's matmul of one sample, entry by entry.
func refMatMul(a, b []float64, as, bs []int) (y []float64, ys []int) {
	a2, b2 := as, bs
	if len(as) == 1 {
		a2 = []int{1, as[0]}
	}
	if len(bs) == 1 {
		b2 = []int{bs[0], 1}
	}
	ab, bb := a2[:len(a2)-2], b2[:len(b2)-2]
	r := max(len(ab), len(bb))
	batch := make([]int, r)
	for i := range batch {
		batch[i] = 1
		if j := i - (r - len(ab)); j >= 0 {
			batch[i] = max(batch[i], ab[j])
		}
		if j := i - (r - len(bb)); j >= 0 {
			batch[i] = max(batch[i], bb[j])
		}
	}
	m, k, n := a2[len(a2)-2], a2[len(a2)-1], b2[len(b2)-1]
	full := append(append([]int{}, batch...), m, n)
	y = make([]float64, Numel(full))
	pick := func(bi []int, ob []int) []int {
		out := make([]int, len(ob))
		for j := range ob {
			if ob[j] > 1 {
				out[j] = bi[j+r-len(ob)]
			}
		}
		return out
	}
	for q := range y {
		idx := multiIndex(q, full)
		bi, i, j := idx[:r], idx[r], idx[r+1]
		var sum float64
		for kk := 0; kk < k; kk++ {
			ai := flatIndex(append(pick(bi, ab), i, kk), a2)
			bj := flatIndex(append(pick(bi, bb), kk, j), b2)
			sum += a[ai] * b[bj]
		}
		y[q] = sum
	}
	ys = append([]int{}, batch...)
	if len(as) > 1 {
		ys = append(ys, m)
	}
	if len(bs) > 1 {
		ys = append(ys, n)
	}
	return y, ys
}

var matmulCases = []struct{ a, b []int }{
	{[]int{3, 4}, []int{4, 2}},
	{[]int{2, 3, 4}, []int{2, 4, 5}},       // heads
	{[]int{2, 3, 4}, []int{4, 5}},          // b broadcast
	{[]int{3, 4}, []int{2, 4, 5}},          // a broadcast
	{[]int{2, 1, 3, 4}, []int{3, 4, 2}},    // both broadcast
	{[]int{1, 3, 3, 2}, []int{2, 1, 2, 3}}, // ones on either side
	{[]int{4}, []int{2, 4, 3}},             // vector · batch
	{[]int{2, 3, 4}, []int{4}},             // batch · vector
	{[]int{5}, []int{5}},                   // dot product
}

// TestMatMul checks the forward against numpy's definition and the
// factor backward into both operands against finite differences,
// including broadcast leading axes and 1-D operands.
func TestMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 1))
	for _, tc := range matmulCases {
		t.Run(fmt.Sprint(tc.a, tc.b), func(t *testing.T) {
			l, err := NewMatMul(tc.a, tc.b)
			if err != nil {
				t.Fatal(err)
			}
			xa, xb := randMat(rng, 2, Numel(tc.a)), randMat(rng, 2, Numel(tc.b))
			y := forwardOp(l, []*mat.Dense{xa, xb})
			for i := 0; i < 2; i++ {
				want, ws := refMatMul(xa.RawRowView(i), xb.RawRowView(i), tc.a, tc.b)
				if fmt.Sprint(ws) != fmt.Sprint(l.OutShape()) {
					t.Fatalf("output shape %v, want %v", l.OutShape(), ws)
				}
				for k, w := range want {
					if g := y.At(i, k); !(math.Abs(g-w) <= 1e-12*(1+math.Abs(w))) {
						t.Fatalf("y[%d][%d] = %g, want %g", i, k, g, w)
					}
				}
			}
			checkBackwardFD(t, l, [][]int{tc.a, tc.b}, rng)
		})
	}
}

// TestMatMulOneSide checks that a nil destination skips that operand and
// leaves the other's result unchanged, on a case large enough to run the
// rows in parallel.
func TestMatMulOneSide(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 2))
	as, bs := []int{4, 16, 8}, []int{1, 8, 16}
	l, err := NewMatMul(as, bs)
	if err != nil {
		t.Fatal(err)
	}
	n, cols := 4, 8
	xs := []*mat.Dense{randMat(rng, n, Numel(as)), randMat(rng, n, Numel(bs))}
	y := forwardOp(l, xs)
	s := randMat(rng, n*cols, Numel(l.OutShape()))
	both := backwardOp(l, xs, y, s, cols)
	for side := 0; side < 2; side++ {
		dst := []*mat.Dense{mat.NewDense(n*cols, Numel(as), nil), mat.NewDense(n*cols, Numel(bs), nil)}
		dst[1-side] = nil
		l.BackwardJoin(dst, s, xs, y, cols)
		if !mat.Equal(dst[side], both[side]) {
			t.Errorf("operand %d alone differs from both together", side)
		}
	}
}

// TestMatMulErrors checks that bad operand shapes are refused.
func TestMatMulErrors(t *testing.T) {
	for _, tc := range []struct{ a, b []int }{
		{[]int{3, 4}, []int{5, 2}},
		{[]int{2, 3, 4}, []int{3, 4, 5}},
		{[]int{}, []int{3}},
		{[]int{3, 0}, []int{0, 2}},
	} {
		if _, err := NewMatMul(tc.a, tc.b); err == nil {
			t.Errorf("NewMatMul(%v, %v) accepted", tc.a, tc.b)
		}
	}
}

// refSoftmax is the softmax of one sample along axis, fibre by fibre.
func refSoftmax(x []float64, shape []int, axis int) []float64 {
	y := make([]float64, len(x))
	for k := range x {
		idx := multiIndex(k, shape)
		var sum float64
		for a := 0; a < shape[axis]; a++ {
			j := append([]int{}, idx...)
			j[axis] = a
			sum += math.Exp(x[flatIndex(j, shape)])
		}
		y[k] = math.Exp(x[k]) / sum
	}
	return y
}

// TestSoftmax checks the softmax on every axis (negative too) against its
// definition, its backward against finite differences, and the in-place
// backward against the out-of-place one.
func TestSoftmax(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 1))
	for _, shape := range [][]int{{5}, {3, 4}, {2, 3, 4}} {
		for axis := -len(shape); axis < len(shape); axis++ {
			t.Run(fmt.Sprint(shape, axis), func(t *testing.T) {
				l, err := NewSoftmax(shape, axis)
				if err != nil {
					t.Fatal(err)
				}
				x := randMat(rng, 2, Numel(shape))
				x.Scale(3, x)
				y := forwardOp(l, []*mat.Dense{x})
				a := (axis + len(shape)) % len(shape)
				for i := 0; i < 2; i++ {
					want := refSoftmax(x.RawRowView(i), shape, a)
					for k, w := range want {
						if g := y.At(i, k); !(math.Abs(g-w) <= 1e-14) {
							t.Fatalf("y[%d][%d] = %g, want %g", i, k, g, w)
						}
					}
				}
				checkBackwardFD(t, l, [][]int{shape}, rng)
				s := randMat(rng, 6, Numel(shape))
				out := backwardOp(l, []*mat.Dense{x}, y, s, 3)[0]
				if !l.(InPlaceLayer).BackwardInPlace() {
					t.Fatal("softmax does not run in place")
				}
				l.BackwardInput(s, s, x, y, 3)
				if !mat.EqualApprox(s, out, 1e-15) {
					t.Error("in-place backward differs")
				}
			})
		}
	}
	if _, err := NewSoftmax([]int{3, 4}, 2); err == nil {
		t.Error("axis 2 of a 2-D shape accepted")
	}
	// Large logits: no overflow.
	l, _ := NewSoftmax([]int{3}, 0)
	y := forwardOp(l, []*mat.Dense{mat.NewDense(1, 3, []float64{1000, 999, -1000})})
	if v := y.At(0, 0); !(math.Abs(v-1/(1+math.Exp(-1))) < 1e-12) {
		t.Errorf("softmax of large logits: %v", y.RawRowView(0))
	}
}

// checkIndexOp checks a layer that picks entries of its input against
// ref (the input index of every output entry) and its backward against
// finite differences.
func checkIndexOp(t *testing.T, l Layer, ref func(out []int) []int, rng *rand.Rand) {
	t.Helper()
	in, out := l.InShape(), l.OutShape()
	x := randMat(rng, 2, Numel(in))
	y := forwardOp(l, []*mat.Dense{x})
	for k := 0; k < Numel(out); k++ {
		j := flatIndex(ref(multiIndex(k, out)), in)
		for i := 0; i < 2; i++ {
			if y.At(i, k) != x.At(i, j) {
				t.Fatalf("%s: y[%d][%v] = %g, want x%v = %g", l.Type(), i, multiIndex(k, out), y.At(i, k), multiIndex(j, in), x.At(i, j))
			}
		}
	}
	checkBackwardFD(t, l, [][]int{in}, rng)
}

// TestTranspose checks transposes of several ranks and permutations.
func TestTranspose(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 1))
	for _, tc := range []struct{ shape, perm []int }{
		{[]int{3, 4}, []int{1, 0}},
		{[]int{3, 4}, []int{0, 1}},
		{[]int{2, 3, 4}, []int{1, 0, 2}},
		{[]int{2, 3, 4}, []int{2, 0, 1}},
		{[]int{2, 3, 4}, []int{0, 2, 1}},
		{[]int{2, 3, 1, 4}, []int{3, 1, 0, 2}},
		{[]int{4, 3, 2, 8}, []int{2, 0, 1, 3}}, // runs of 8 (the last axis stays)
		{[]int{5, 2, 6}, []int{1, 0, 2}},       // attention heads' [T, H, d] → [H, T, d]
	} {
		t.Run(fmt.Sprint(tc.shape, tc.perm), func(t *testing.T) {
			l, err := NewTranspose(tc.shape, tc.perm)
			if err != nil {
				t.Fatal(err)
			}
			checkIndexOp(t, l, func(o []int) []int {
				in := make([]int, len(o))
				for i, p := range tc.perm {
					in[p] = o[i]
				}
				return in
			}, rng)
		})
	}
	for _, perm := range [][]int{{0, 0}, {0}, {1, 2}, {-1, 0}} {
		if _, err := NewTranspose([]int{3, 4}, perm); err == nil {
			t.Errorf("permutation %v accepted", perm)
		}
	}
}

// TestSlice checks slices with steps on every axis.
func TestSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(44, 1))
	for _, tc := range []struct {
		shape                  []int
		axis, start, end, step int
	}{
		{[]int{5}, 0, 1, 4, 1},
		{[]int{3, 7}, 1, 0, 7, 2},
		{[]int{3, 7}, -1, 2, 7, 3},
		{[]int{4, 3, 2}, 0, 1, 4, 2},
		{[]int{4, 3, 2}, 1, 2, 3, 1},
		{[]int{4, 3, 2}, 2, 0, 2, 5},
		{[]int{4, 3, 8}, 0, 1, 4, 2}, // runs of 24
	} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			l, err := NewSlice(tc.shape, tc.axis, tc.start, tc.end, tc.step)
			if err != nil {
				t.Fatal(err)
			}
			a := (tc.axis + len(tc.shape)) % len(tc.shape)
			if want := (tc.end - tc.start + tc.step - 1) / tc.step; l.OutShape()[a] != want {
				t.Fatalf("output shape %v, want %d on axis %d", l.OutShape(), want, a)
			}
			checkIndexOp(t, l, func(o []int) []int {
				in := append([]int{}, o...)
				in[a] = tc.start + o[a]*tc.step
				return in
			}, rng)
		})
	}
	for _, tc := range [][4]int{{0, 3, 3, 1}, {0, 0, 6, 1}, {0, -1, 2, 1}, {0, 0, 2, 0}, {2, 0, 2, 1}} {
		if _, err := NewSlice([]int{5, 3}, tc[0], tc[1], tc[2], tc[3]); err == nil {
			t.Errorf("slice %v accepted", tc)
		}
	}
}

// TestGather checks gathers with scalar, vector and matrix indices,
// repeated indices (whose factor entries sum) and every axis.
func TestGather(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 1))
	for _, tc := range []struct {
		shape       []int
		axis        int
		indices, is []int
	}{
		{[]int{4, 3}, 0, []int{2}, []int{}},
		{[]int{4, 3}, 0, []int{0, 3, 0}, []int{3}},
		{[]int{4, 3}, 1, []int{2, 0, 1, 1}, []int{2, 2}},
		{[]int{2, 4, 3}, 1, []int{3, 1}, []int{2}},
		{[]int{2, 4, 3}, -1, []int{1}, []int{}},
		{[]int{2, 4, 3}, 0, []int{1, 1, 0}, []int{3, 1}},
		{[]int{3, 2, 8}, 0, []int{2, 0, 2}, []int{3}}, // runs of 16, one read twice
	} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			l, err := NewGather(tc.shape, tc.axis, tc.indices, tc.is)
			if err != nil {
				t.Fatal(err)
			}
			a := (tc.axis + len(tc.shape)) % len(tc.shape)
			q := len(tc.is)
			checkIndexOp(t, l, func(o []int) []int {
				in := append([]int{}, o[:a]...)
				in = append(in, tc.indices[flatIndex(o[a:a+q], tc.is)])
				return append(in, o[a+q:]...)
			}, rng)
		})
	}
	for _, tc := range []struct {
		axis        int
		indices, is []int
	}{{0, []int{4}, []int{}}, {0, []int{-1}, []int{1}}, {2, []int{0}, []int{}}, {0, []int{0, 1}, []int{3}}} {
		if _, err := NewGather([]int{4, 3}, tc.axis, tc.indices, tc.is); err == nil {
			t.Errorf("gather %v accepted", tc)
		}
	}
}

// TestConcat checks concatenations of two and three tensors on several
// axes against a direct implementation, and the backward into every input.
func TestConcat(t *testing.T) {
	rng := rand.New(rand.NewPCG(46, 1))
	for _, tc := range []struct {
		shapes [][]int
		axis   int
	}{
		{[][]int{{2}, {3}}, 0},
		{[][]int{{1, 4}, {3, 4}}, 0},
		{[][]int{{3, 1}, {3, 2}, {3, 3}}, 1},
		{[][]int{{2, 3, 4}, {2, 1, 4}}, -2},
		{[][]int{{2, 3, 1}, {2, 3, 2}}, 2},
		{[][]int{{2, 3}}, 0},
	} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			l, err := NewConcat(tc.shapes, tc.axis)
			if err != nil {
				t.Fatal(err)
			}
			a := (tc.axis + len(tc.shapes[0])) % len(tc.shapes[0])
			xs := make([]*mat.Dense, len(tc.shapes))
			for i, s := range tc.shapes {
				xs[i] = randMat(rng, 2, Numel(s))
			}
			y := forwardOp(l, xs)
			out := l.OutShape()
			for k := 0; k < Numel(out); k++ {
				idx := multiIndex(k, out)
				in, pos := 0, idx[a]
				for pos >= tc.shapes[in][a] {
					pos -= tc.shapes[in][a]
					in++
				}
				idx[a] = pos
				j := flatIndex(idx, tc.shapes[in])
				for i := 0; i < 2; i++ {
					if y.At(i, k) != xs[in].At(i, j) {
						t.Fatalf("y[%d][%d] = %g, want input %d's %g", i, k, y.At(i, k), in, xs[in].At(i, j))
					}
				}
			}
			checkBackwardFD(t, l, tc.shapes, rng)
		})
	}
	for _, tc := range []struct {
		shapes [][]int
		axis   int
	}{{nil, 0}, {[][]int{{2, 3}, {3, 3}}, 1}, {[][]int{{2, 3}, {2, 3, 1}}, 0}, {[][]int{{2, 3}}, 2}} {
		if _, err := NewConcat(tc.shapes, tc.axis); err == nil {
			t.Errorf("concat %v accepted", tc)
		}
	}
}

// TestParamSource checks that a source outputs its tensor for every sample
// and passes nothing back to its input.
func TestParamSource(t *testing.T) {
	p := &Param{Name: "cls", Shape: []int{1, 1, 3}, Data: []float64{1, 2, 3}}
	l, err := NewParamSource([]int{2, 2}, p, []int{1, 3})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(47, 1))
	x := randMat(rng, 2, 4)
	y := forwardOp(l, []*mat.Dense{x})
	for i := 0; i < 2; i++ {
		for j, v := range p.Data {
			if y.At(i, j) != v {
				t.Fatalf("y[%d] = %v, want %v", i, y.RawRowView(i), p.Data)
			}
		}
	}
	checkBackwardFD(t, l, [][]int{{2, 2}}, rng)
	if _, err := NewParamSource([]int{2}, p, []int{4}); err == nil {
		t.Error("output shape of the wrong size accepted")
	}
	if _, err := NewParamSource([]int{2}, &Param{Name: "x", Shape: []int{2}, Data: []float64{1}}, []int{2}); err == nil {
		t.Error("tensor with too few values accepted")
	}
}

// TestTensorOpsParallelRows checks that the ops give each row the same
// result when many rows run in parallel (over 2^15 values) as when the
// row runs alone.
func TestTensorOpsParallelRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(48, 1))
	shape := []int{4, 16, 16}
	sm, _ := NewSoftmax(shape, 1)
	tr, _ := NewTranspose(shape, []int{2, 0, 1})
	ga, _ := NewGather(shape, 2, []int{3, 3, 0}, []int{3})
	for _, l := range []Layer{sm, tr, ga} {
		const n, cols = 16, 8
		x := randMat(rng, n, Numel(shape))
		y := forwardOp(l, []*mat.Dense{x})
		s := randMat(rng, n*cols, Numel(l.OutShape()))
		d := backwardOp(l, []*mat.Dense{x}, y, s, cols)[0]
		for i := 0; i < n; i++ {
			xi := mat.DenseCopyOf(x.Slice(i, i+1, 0, Numel(shape)))
			yi := forwardOp(l, []*mat.Dense{xi})
			if !mat.Equal(yi, y.Slice(i, i+1, 0, Numel(l.OutShape()))) {
				t.Fatalf("%s: forward of row %d differs", l.Type(), i)
			}
			si := mat.DenseCopyOf(s.Slice(i*cols, (i+1)*cols, 0, Numel(l.OutShape())))
			di := backwardOp(l, []*mat.Dense{xi}, yi, si, cols)[0]
			if !mat.Equal(di, d.Slice(i*cols, (i+1)*cols, 0, Numel(shape))) {
				t.Fatalf("%s: backward of row %d differs", l.Type(), i)
			}
		}
	}
}

// TestAddForward checks Add's sum of two and of three tensors entry by
// entry, summed left to right.
func TestAddForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	shape := []int{2, 3, 5}
	for _, k := range []int{2, 3} {
		a := NewAdd(shape, k)
		xs := make([]*mat.Dense, k)
		for i := range xs {
			xs[i] = randMat(rng, 4, Numel(shape))
		}
		y := mat.NewDense(4, Numel(shape), nil)
		a.ForwardJoin(y, xs)
		for r := 0; r < 4; r++ {
			for j := 0; j < Numel(shape); j++ {
				want := xs[0].At(r, j)
				for _, x := range xs[1:] {
					want += x.At(r, j)
				}
				if got := y.At(r, j); got != want {
					t.Fatalf("%d inputs: entry (%d, %d) = %v, want %v", k, r, j, got, want)
				}
			}
		}
	}
}

// TestIndexRuns checks the runs an index map moves instead of single
// entries: they reproduce its table exactly, and are used only when they
// are at least minRun long on average.
func TestIndexRuns(t *testing.T) {
	for _, tc := range []struct {
		shape, perm []int
		runs        bool
	}{
		{[]int{4, 3, 2, 8}, []int{2, 0, 1, 3}, true},
		{[]int{64, 3, 4, 16}, []int{1, 2, 0, 3}, true}, // a ViT's qkv
		{[]int{3, 4}, []int{1, 0}, false},
		{[]int{4, 16, 2}, []int{0, 2, 1}, false},
	} {
		l, err := NewTranspose(tc.shape, tc.perm)
		if err != nil {
			t.Fatal(err)
		}
		m := l.(*indexMap)
		runs, src := m.runsOf(), m.src.get()
		if (runs != nil) != tc.runs {
			t.Errorf("%v %v: runs used %v, want %v", tc.shape, tc.perm, runs != nil, tc.runs)
		}
		k := 0
		for _, r := range runs {
			for i := int32(0); i < r.n; i++ {
				if int(r.k+i) != k || src[k] != r.j+i {
					t.Fatalf("%v %v: run %v does not match the table at %d", tc.shape, tc.perm, r, k)
				}
				k++
			}
		}
		if runs != nil && k != len(src) {
			t.Errorf("%v %v: runs cover %d of %d entries", tc.shape, tc.perm, k, len(src))
		}
	}
}
