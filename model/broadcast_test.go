package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestBroadcastShape(t *testing.T) {
	for _, tc := range []struct {
		a, b, want []int
		err        string
	}{
		{[]int{4, 3}, []int{3}, []int{4, 3}, ""},
		{[]int{2, 1, 3}, []int{4, 1}, []int{2, 4, 3}, ""},
		{[]int{}, []int{2, 2}, []int{2, 2}, ""},
		{[]int{5}, []int{}, []int{5}, ""},
		{[]int{1}, []int{1, 1}, []int{1, 1}, ""},
		{[]int{4, 3}, []int{4}, nil, "shapes [4 3] and [4] do not broadcast: axis -1 has sizes 3 and 4"},
		{[]int{0, 3}, []int{3}, nil, "dimensions must be positive"},
	} {
		got, err := BroadcastShape(tc.a, tc.b)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v, %v: error %v, want %q", tc.a, tc.b, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%v, %v: %v, %v; want %v", tc.a, tc.b, got, err, tc.want)
		}
	}
}

// refIndex returns the flat index into a tensor of shape in of the entry
// broadcast to flat index k of shape out, by unravelling k.
func refIndex(in, out []int, k int) int {
	pos := make([]int, len(out))
	for i := len(out) - 1; i >= 0; i-- {
		pos[i] = k % out[i]
		k /= out[i]
	}
	idx := 0
	for j := range in {
		p := pos[len(out)-len(in)+j]
		if in[j] == 1 {
			p = 0
		}
		idx = idx*in[j] + p
	}
	return idx
}

// awayFromZero maps v to a value of the same sign at least 0.5 in size:
// denominators for div.
func awayFromZero(v float64) float64 { return math.Copysign(0.5+math.Abs(v), v) }

var broadcastPairs = []struct{ a, b []int }{
	{[]int{4, 3}, []int{3}},
	{[]int{3}, []int{4, 3}},
	{[]int{2, 1, 3}, []int{4, 1}},
	{[]int{2, 3}, []int{}},
	{[]int{}, []int{2, 2}},
	{[]int{2, 3}, []int{2, 3}},
	{[]int{1, 3}, []int{2, 1}},
}

// TestBinary checks the forward of every operation against a direct
// broadcast, and the backward against finite differences, for broadcasts
// in either input, scalars and equal shapes.
func TestBinary(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 31))
	const n, cols = 2, 3
	for _, op := range []string{"add", "sub", "mul", "div"} {
		for _, p := range broadcastPairs {
			t.Run(fmt.Sprintf("%s/%v/%v", op, p.a, p.b), func(t *testing.T) {
				l, err := NewBinary(op, p.a, p.b)
				if err != nil {
					t.Fatal(err)
				}
				out, _ := BroadcastShape(p.a, p.b)
				if !slices.Equal(l.OutShape(), out) {
					t.Fatalf("output shape %v, want %v", l.OutShape(), out)
				}
				a, b := randMat(rng, n, Numel(p.a)), randMat(rng, n, Numel(p.b))
				if op == "div" {
					b.Apply(func(_, _ int, v float64) float64 { return awayFromZero(v) }, b)
				}
				y := mat.NewDense(n, Numel(out), nil)
				l.ForwardJoin(y, []*mat.Dense{a, b})
				for i := 0; i < n; i++ {
					for k := 0; k < Numel(out); k++ {
						va, vb := a.At(i, refIndex(p.a, out, k)), b.At(i, refIndex(p.b, out, k))
						if want := bcApply(op, va, vb); y.At(i, k) != want {
							t.Fatalf("output %d of sample %d = %v, want %v", k, i, y.At(i, k), want)
						}
					}
				}
				checkJoinFD(t, l, []*mat.Dense{a, b}, randMat(rng, n*cols, Numel(out)), cols)
			})
		}
	}
	if _, err := NewBinary("pow", []int{2}, []int{2}); err == nil {
		t.Error("pow accepted")
	}
	if _, err := NewBinary("add", []int{2, 3}, []int{2}); err == nil || !strings.Contains(err.Error(), "do not broadcast") {
		t.Errorf("incompatible shapes: %v", err)
	}
}

// TestConstOp checks the forward against a direct broadcast and the
// backward against finite differences for every operation, both operand
// orders and constants that broadcast (with a leading batch axis of 1, a
// scalar), and the errors for constants that would grow the activation.
func TestConstOp(t *testing.T) {
	rng := rand.New(rand.NewPCG(32, 32))
	const n, cols = 3, 2
	shape := []int{4, 3}
	for _, cshape := range [][]int{{3}, {1, 4, 1}, {}, {4, 3}, {1, 1}} {
		for _, op := range []string{"add", "sub", "mul", "div"} {
			for _, first := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%v/first=%v", op, cshape, first), func(t *testing.T) {
					c := randMat(rng, 1, Numel(cshape)).RawRowView(0)
					for i := range c {
						c[i] = awayFromZero(c[i])
					}
					l, err := NewConstOp(op, shape, c, cshape, first)
					if err != nil {
						t.Fatal(err)
					}
					x := randMat(rng, n, 12)
					if op == "div" && first {
						x.Apply(func(_, _ int, v float64) float64 { return awayFromZero(v) }, x)
					}
					cs := cshape
					if len(cs) > len(shape) {
						cs = cs[1:]
					}
					y := forward(l, x)
					for i := 0; i < n; i++ {
						for k := 0; k < 12; k++ {
							a, b := x.At(i, k), c[refIndex(cs, shape, k)]
							if first {
								a, b = b, a
							}
							if want := bcApply(op, a, b); y.At(i, k) != want {
								t.Fatalf("output %d of sample %d = %v, want %v", k, i, y.At(i, k), want)
							}
						}
					}
					checkLayerFD(t, l, x, randMat(rng, n*cols, 12), cols)
				})
			}
		}
	}
	for _, tc := range []struct {
		op            string
		shape, cshape []int
		err           string
	}{
		{"add", shape, []int{2, 4, 3}, "would grow the per-sample activation [4 3] (the batch axis must be 1)"},
		{"add", shape, []int{1, 1, 4, 3}, "would grow"},
		{"mul", []int{1, 3}, []int{4, 1}, "would grow the per-sample activation [1 3] to [4 3]"},
		{"mul", shape, []int{5, 3}, "do not broadcast"},
		{"pow", shape, []int{3}, `constant operation "pow"`},
	} {
		_, err := NewConstOp(tc.op, tc.shape, make([]float64, Numel(tc.cshape)), tc.cshape, false)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s with %v: error %v, want %q", tc.op, tc.cshape, err, tc.err)
		}
	}
	if _, err := NewConstOp("add", shape, make([]float64, 2), []int{3}, false); err == nil {
		t.Error("a constant with the wrong number of values was accepted")
	}
}

// checkLearnedBroadcast checks a layer that combines the activation with
// a learned tensor broadcast against it (BiasAdd, Scale): the forward
// against a direct broadcast of combine, the backward (also in place) and
// the factor block against finite differences, for parameters that
// broadcast in several ways.
func checkLearnedBroadcast(t *testing.T, seed uint64, build func(shape []int, p *Param) (ParamLayer, error), combine func(x, p float64) float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	const n, cols = 3, 2
	for _, tc := range []struct{ shape, pshape []int }{
		{[]int{4, 3}, []int{3}},
		{[]int{4, 3}, []int{1, 4, 3}},
		{[]int{4, 3}, []int{4, 3}},
		{[]int{2, 3, 3}, []int{2, 1, 1}},
		{[]int{2, 3, 3}, []int{1, 2, 1, 3}},
		{[]int{5}, []int{1}},
	} {
		t.Run(fmt.Sprintf("%v/%v", tc.shape, tc.pshape), func(t *testing.T) {
			p := &Param{Name: "p", Shape: tc.pshape, Data: randMat(rng, 1, Numel(tc.pshape)).RawRowView(0)}
			l, err := build(tc.shape, p)
			if err != nil {
				t.Fatal(err)
			}
			f := Numel(tc.shape)
			x := randMat(rng, n, f)
			ps := tc.pshape
			if len(ps) > len(tc.shape) {
				ps = ps[1:]
			}
			y := forward(l, x)
			for i := 0; i < n; i++ {
				for k := 0; k < f; k++ {
					if want := combine(x.At(i, k), p.Data[refIndex(ps, tc.shape, k)]); y.At(i, k) != want {
						t.Fatalf("output %d of sample %d = %v, want %v", k, i, y.At(i, k), want)
					}
				}
			}
			s := randMat(rng, n*cols, f)
			checkLayerFD(t, l, x, s, cols)
			checkFactorFD(t, l, x, s, cols)
		})
	}
}

// TestBiasAdd checks the learned bias (checkLearnedBroadcast) and its
// refusals.
func TestBiasAdd(t *testing.T) {
	checkLearnedBroadcast(t, 33, func(shape []int, p *Param) (ParamLayer, error) { return NewBiasAdd(shape, p) },
		func(x, b float64) float64 { return x + b })
	for _, tc := range []struct {
		shape, pshape []int
		err           string
	}{
		{[]int{3}, []int{4, 3}, "would grow"},
		{[]int{4, 3}, []int{2, 4, 3}, "the batch axis must be 1"},
		{[]int{4, 3}, []int{4}, "do not broadcast"},
		{[]int{4, 3}, []int{0}, "dimension below 1"},
	} {
		_, err := NewBiasAdd(tc.shape, &Param{Name: "pos", Shape: tc.pshape, Data: make([]float64, Numel(tc.pshape))})
		if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), `"pos"`) {
			t.Errorf("%v on %v: error %v, want %q naming the parameter", tc.pshape, tc.shape, err, tc.err)
		}
	}
	if _, err := NewBiasAdd([]int{3}, &Param{Name: "b", Shape: []int{3}, Data: make([]float64, 2)}); err == nil {
		t.Error("a bias with the wrong number of values was accepted")
	}
}

// TestScale checks the learned elementwise scale (checkLearnedBroadcast:
// its backward is γ entrywise, its block Σ s ⊙ x per entry of γ) and a
// refusal.
func TestScale(t *testing.T) {
	checkLearnedBroadcast(t, 34, func(shape []int, p *Param) (ParamLayer, error) { return NewScale(shape, p) },
		func(x, g float64) float64 { return x * g })
	if _, err := NewScale([]int{4, 3}, &Param{Name: "g", Shape: []int{4}, Data: make([]float64, 4)}); err == nil || !strings.Contains(err.Error(), `"g"`) {
		t.Errorf("a scale that does not broadcast: err = %v", err)
	}
}
