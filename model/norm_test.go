package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/lowrank"
)

// TestBatchNormValues checks the forward against values computed by hand.
func TestBatchNormValues(t *testing.T) {
	w := &Param{Name: "bn.weight", Shape: []int{2}, Data: []float64{2, -1}}
	b := &Param{Name: "bn.bias", Shape: []int{2}, Data: []float64{0.5, 3}}
	// ε = 0.25. Channel 0: μ = 1, σ² + ε = 4 (σ = 2); channel 1: μ = −2,
	// σ² + ε = 0.25 (σ = 0.5).
	l, err := NewBatchNorm([]int{2, 2}, w, b, []float64{1, -2}, []float64{3.75, 0}, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	x := mat.NewDense(1, 4, []float64{5, -1, -1, -2.5})
	// y = γ (x − μ)/σ + β: 2·(4/2)+0.5, 2·(−2/2)+0.5, −(1/0.5)+3, −(−0.5/0.5)+3.
	want := []float64{4.5, -1.5, 1, 4}
	y := forward(l, x)
	for j, v := range want {
		if got := y.At(0, j); !(math.Abs(got-v) <= 1e-15) {
			t.Errorf("output %d = %.17g, want %g", j, got, v)
		}
	}
	// Without weight and bias: x̂ alone.
	l, _ = NewBatchNorm([]int{2, 2}, nil, nil, []float64{1, -2}, []float64{3.75, 0}, 0.25)
	y = forward(l, x)
	for j, v := range []float64{2, -1, 2, -1} {
		if got := y.At(0, j); !(math.Abs(got-v) <= 1e-15) {
			t.Errorf("normalised output %d = %.17g, want %g", j, got, v)
		}
	}
	if len(l.Params()) != 0 {
		t.Errorf("parameters %v, want none", l.Params())
	}
}

// TestLayerNormValues checks the forward against values computed by hand.
func TestLayerNormValues(t *testing.T) {
	w := &Param{Name: "ln.weight", Shape: []int{4}, Data: []float64{1, 2, -1, 0.5}}
	b := &Param{Name: "ln.bias", Shape: []int{4}, Data: []float64{0, 1, 0, -1}}
	// Token 1: [1 2 3 4], mean 2.5, biased variance 1.25; with ε = 0.75, σ = √2.
	// Token 2: [2 2 2 2], x̂ = 0.
	l, err := NewLayerNorm([]int{2, 4}, w, b, 0.75)
	if err != nil {
		t.Fatal(err)
	}
	x := mat.NewDense(1, 8, []float64{1, 2, 3, 4, 2, 2, 2, 2})
	r := 1 / math.Sqrt2
	want := []float64{-1.5 * r, 2*(-0.5*r) + 1, -(0.5 * r), 0.5*(1.5*r) - 1, 0, 1, 0, -1}
	y := forward(l, x)
	for j, v := range want {
		if got := y.At(0, j); !(math.Abs(got-v) <= 1e-15) {
			t.Errorf("output %d = %.17g, want %.17g", j, got, v)
		}
	}
}

// TestNormFD checks the input backward and the parameter factor of both
// normalisations against finite differences, with and without weight and
// bias, on vectors, sequences and feature maps.
func TestNormFD(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 41))
	const n, cols = 3, 2
	for _, shape := range [][]int{{4}, {3, 5}, {2, 3, 3}} {
		for mask := 0; mask < 4; mask++ {
			withW, withB := mask&1 != 0, mask&2 != 0
			t.Run(fmt.Sprintf("batchnorm/%v/w=%v/b=%v", shape, withW, withB), func(t *testing.T) {
				c := shape[0]
				var w, b *Param
				if withW {
					w = randParam(rng, "bn.weight", c)
				}
				if withB {
					b = randParam(rng, "bn.bias", c)
				}
				mean, variance := make([]float64, c), make([]float64, c)
				for i := range mean {
					mean[i] = rng.NormFloat64()
					variance[i] = rng.Float64() + 0.1
				}
				l, err := NewBatchNorm(shape, w, b, mean, variance, 1e-5)
				if err != nil {
					t.Fatal(err)
				}
				x := randMat(rng, n, Numel(shape))
				s := randMat(rng, n*cols, Numel(shape))
				checkLayerFD(t, l, x, s, cols)
				if withW || withB {
					checkFactorFD(t, l, x, s, cols)
				}
				checkFactorInPlace(t, l, x, s, cols)
				checkFactorThrough(t, l, x, s, cols)
			})
			t.Run(fmt.Sprintf("layernorm/%v/w=%v/b=%v", shape, withW, withB), func(t *testing.T) {
				d := shape[len(shape)-1]
				var w, b *Param
				if withW {
					w = randParam(rng, "ln.weight", d)
				}
				if withB {
					b = randParam(rng, "ln.bias", d)
				}
				l, err := NewLayerNorm(shape, w, b, 1e-5)
				if err != nil {
					t.Fatal(err)
				}
				x := randMat(rng, n, Numel(shape))
				s := randMat(rng, n*cols, Numel(shape))
				checkLayerFD(t, l, x, s, cols)
				if withW || withB {
					checkFactorFD(t, l, x, s, cols)
				}
			})
		}
	}
}

// TestNormErrors checks the messages for arguments that could come from a
// model file.
func TestNormErrors(t *testing.T) {
	p := func(n int) *Param { return &Param{Name: "bn.weight", Shape: []int{n}, Data: make([]float64, n)} }
	ok := []float64{0, 0, 0}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"weight size", func() error {
			_, err := NewBatchNorm([]int{3, 4, 4}, p(2), nil, ok, ok, 1e-5)
			return err
		}(), `parameter "bn.weight" has shape [2] (2 values), want [3] (channels of per-sample shape [3 4 4])`},
		{"running stats", func() error {
			_, err := NewBatchNorm([]int{3, 4, 4}, nil, nil, ok, []float64{1}, 1e-5)
			return err
		}(), "running mean and variance have 3 and 1 values, want 3"},
		{"negative variance", func() error {
			_, err := NewBatchNorm([]int{3}, nil, nil, ok, []float64{1, -1, 1}, 1e-5)
			return err
		}(), "running variance -1 of channel 1 plus epsilon 1e-05 is not positive and finite"},
		{"NaN mean", func() error {
			_, err := NewBatchNorm([]int{3}, nil, nil, []float64{0, math.NaN(), 0}, ok, 1e-5)
			return err
		}(), "running mean of channel 1 is NaN"},
		{"negative eps", func() error {
			_, err := NewBatchNorm([]int{3}, nil, nil, ok, ok, -1)
			return err
		}(), "epsilon must be finite and non-negative, got -1"},
		{"scalar input", func() error {
			_, err := NewBatchNorm([]int{}, nil, nil, nil, nil, 1e-5)
			return err
		}(), "input needs a channel axis"},
		{"layernorm weight", func() error {
			_, err := NewLayerNorm([]int{5, 4}, p(5), nil, 1e-5)
			return err
		}(), `want [4] (last axis of per-sample shape [5 4])`},
		{"layernorm eps", func() error {
			_, err := NewLayerNorm([]int{4}, nil, nil, math.Inf(1))
			return err
		}(), "epsilon must be finite"},
		{"layernorm zero dim", func() error {
			_, err := NewLayerNorm([]int{0, 4}, nil, nil, 1e-5)
			return err
		}(), "dimension below 1"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, tc.err, tc.want)
		}
	}
}

// checkFactorThrough checks that FactorBackwardInPlaceThrough with a
// ReLU after the layer gives, bit for bit, the rows and block of the
// ReLU's backward in place followed by FactorBackwardInPlace, on float64
// rows and (the Rows32 forms) on float32 rows.
func checkFactorThrough(t *testing.T, l *BatchNorm, x, s *mat.Dense, cols int) {
	t.Helper()
	r, f := s.Dims()
	relu := NewReLU(l.Shape)
	bn := forward(l, x)
	y := forward(relu, bn)
	blockOf := func(fac lowrank.Factor) *mat.Dense {
		if fac == nil {
			return nil
		}
		return explicitV(fac)
	}
	same := func(name string, got, want *mat.Dense) {
		t.Helper()
		if (got == nil) != (want == nil) || got != nil && !mat.Equal(got, want) {
			t.Errorf("%s differs from the ReLU's backward followed by FactorBackwardInPlace", name)
		}
	}
	want, got := mat.DenseCopyOf(s), mat.DenseCopyOf(s)
	relu.BackwardInput(want, want, bn, y, cols)
	wantF := l.FactorBackwardInPlace(want, x, nil, cols)
	gotF := l.FactorBackwardInPlaceThrough(relu, got, x, bn, y, cols)
	same("FactorBackwardInPlaceThrough's rows", got, want)
	same("FactorBackwardInPlaceThrough's block", blockOf(gotF), blockOf(wantF))

	want32, got32 := narrowed(s), narrowed(s)
	relu.BackwardRows32(want32, want32, bn, y, cols)
	wantF = l.FactorBackwardInPlaceRows32(want32, x, nil, cols)
	gotF = l.FactorBackwardInPlaceRows32Through(relu, got32, x, bn, y, cols)
	for i := range want32.Data[:r*f] {
		if got32.Data[i] != want32.Data[i] {
			t.Fatalf("FactorBackwardInPlaceRows32Through: entry %d = %v, want %v", i, got32.Data[i], want32.Data[i])
		}
	}
	same("FactorBackwardInPlaceRows32Through's block", blockOf(gotF), blockOf(wantF))
}

// checkFactorInPlace checks that FactorBackwardInPlace gives Factor's
// block (V as dense, the same sums) and overwrites s
// with BackwardInput's rows (exactly: the same scaling).
func checkFactorInPlace(t *testing.T, l FactorInPlaceLayer, x, s *mat.Dense, cols int) {
	t.Helper()
	r, f := s.Dims()
	want := mat.NewDense(r, f, nil)
	l.BackwardInput(want, s, x, nil, cols)
	wantF := l.Factor(s, x, cols)
	got := mat.DenseCopyOf(s)
	gotF := l.FactorBackwardInPlace(got, x, nil, cols)
	if !mat.Equal(got, want) {
		t.Errorf("FactorBackwardInPlace: rows differ from BackwardInput's")
	}
	if (wantF == nil) != (gotF == nil) {
		t.Fatalf("FactorBackwardInPlace block %v, Factor's %v", gotF, wantF)
	}
	if wantF == nil {
		return
	}
	id := mat.NewDense(r, r, nil)
	for i := 0; i < r; i++ {
		id.Set(i, i, 1)
	}
	vw, vg := mat.NewDense(r, wantF.Dim(), nil), mat.NewDense(r, gotF.Dim(), nil)
	wantF.MulTo(vw, id)
	gotF.MulTo(vg, id)
	if !mat.Equal(vg, vw) {
		t.Errorf("FactorBackwardInPlace: block differs from Factor's")
	}
	if lt, ok := l.(FactorBackwardToLayer); ok {
		keep := mat.DenseCopyOf(s)
		dst := mat.NewDense(r, f, nil)
		toF := lt.FactorBackwardTo(dst, s, x, nil, cols)
		if !mat.Equal(dst, want) || !mat.Equal(s, keep) {
			t.Errorf("FactorBackwardTo: rows differ from BackwardInput's, or s changed")
		}
		vt := mat.NewDense(r, toF.Dim(), nil)
		toF.MulTo(vt, id)
		if !mat.Equal(vt, vw) {
			t.Errorf("FactorBackwardTo: block differs from Factor's")
		}
	}
}
