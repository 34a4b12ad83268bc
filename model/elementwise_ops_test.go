package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestElementwiseOpsFD checks the derivative of every new entrywise
// function against finite differences, on inputs in its domain.
func TestElementwiseOpsFD(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 21))
	shape := []int{2, 3}
	positive := func(v float64) float64 { return 0.3 + math.Abs(v) }
	wide := func(v float64) float64 { return 3 * v }
	for _, tc := range []struct {
		l  *Elementwise
		in func(float64) float64
	}{
		{NewGELU(shape), wide},
		{NewGELUTanh(shape), wide},
		{NewSiLU(shape), wide},
		{NewErf(shape), nil},
		{NewSqrt(shape), positive},
		{NewAffine(shape, -0.7, 0.3), nil},
		{NewAffine(shape, 1/math.Sqrt2, 0), nil},
		{NewPowConst(shape, 2), nil},
		{NewPowConst(shape, 3), nil},
		{NewPowConst(shape, 0.5), positive},
		{NewPowConst(shape, -1.5), positive},
		{NewPowConst(shape, 0), nil},
		{NewHardtanh(shape, 0, 6), offKinks(wide, 0, 6)},
		{NewHardtanh(shape, -2, 3), offKinks(wide, -2, 3)},
		{NewHardSigmoid(shape, 1.0/6, 0.5), offKinks(wide, -3, 3)},
		{NewHardSigmoid(shape, 0.2, 0.5), offKinks(wide, -2.5, 2.5)},
		{NewHardSwish(shape), offKinks(wide, -3, 3)},
	} {
		t.Run(tc.l.Name, func(t *testing.T) {
			x := randMat(rng, 3, 6)
			if tc.in != nil {
				x.Apply(func(_, _ int, v float64) float64 { return tc.in(v) }, x)
			}
			checkLayerFD(t, tc.l, x, randMat(rng, 3*2, 6), 2)
		})
	}
}

// TestElementwiseOpsValues checks forward values against references
// computed in Python (math.erf, math.tanh, math.exp).
func TestElementwiseOpsValues(t *testing.T) {
	x := []float64{1, -0.7, 2.5}
	for _, tc := range []struct {
		l    *Elementwise
		want []float64
	}{
		{NewGELU([]int{3}), []float64{0.8413447460685429, -0.1693745565561511, 2.4844758366855597}},
		{NewGELUTanh([]int{3}), []float64{0.8411919906082768, -0.16942986529488321, 2.484915733910001}},
		{NewSiLU([]int{3}), []float64{0.7310585786300049, -0.2322685594822837, 2.3103545499468914}},
		{NewAffine([]int{3}, 2, -1), []float64{1, -2.4, 4}},
		{NewPowConst([]int{3}, 2), []float64{1, 0.49, 6.25}},
		{NewHardtanh([]int{3}, -0.5, 2), []float64{1, -0.5, 2}},
		{NewHardSigmoid([]int{3}, 1.0/6, 0.5), []float64{2.0 / 3, 0.5 - 0.7/6, 2.5/6 + 0.5}},
		{NewHardSwish([]int{3}), []float64{2.0 / 3, -0.7 * (2.3 / 6), 2.5 * 5.5 / 6}},
	} {
		y := forward(tc.l, mat.NewDense(1, 3, x))
		for j, w := range tc.want {
			if got := y.At(0, j); !(math.Abs(got-w) <= 1e-15*(1+math.Abs(w))) {
				t.Errorf("%s(%v) = %.17g, want %.17g", tc.l.Name, x[j], got, w)
			}
		}
	}
}

// TestGELUComposed checks that GELU written as ONNX writes nn.GELU —
// Div(x, √2), Erf, Add(·, 1), Mul(x, ·), Mul(·, 0.5) — gives NewGELU's
// forward and backward, through a network of those nodes.
func TestGELUComposed(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 22))
	shape := []int{2, 4}
	mul, err := NewBinary("mul", shape, shape)
	if err != nil {
		t.Fatal(err)
	}
	nodes := []Node{
		{Name: "div", Op: NewAffine(shape, 1/math.Sqrt2, 0), Inputs: []int{0}}, // 1
		{Name: "erf", Op: NewErf(shape), Inputs: []int{1}},                     // 2
		{Name: "add", Op: NewAffine(shape, 1, 1), Inputs: []int{2}},            // 3
		{Name: "mul", Op: mul, Inputs: []int{0, 3}},                            // 4
		{Name: "half", Op: NewAffine(shape, 0.5, 0), Inputs: []int{4}},         // 5
	}
	net, err := NewNetwork(shape, nodes, Loss{Kind: MSE, Reduction: Sum}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gelu := NewGELU(shape)
	const n, cols = 3, 2
	x := randMat(rng, n, 8)
	x.Scale(2, x)
	acts := net.Forward(x)
	want := forward(gelu, x)
	checkClose(t, "composed GELU forward", acts[5], want, 1e-15)

	// Backward: through the nodes in reverse, summing at the fan-out of x.
	s := randMat(rng, n*cols, 8)
	wantB := mat.NewDense(n*cols, 8, nil)
	gelu.BackwardInput(wantB, s, x, want, cols)
	d5 := mat.NewDense(n*cols, 8, nil)
	nodes[4].Op.(Layer).BackwardInput(d5, s, acts[4], acts[5], cols)
	dx, d3 := mat.NewDense(n*cols, 8, nil), mat.NewDense(n*cols, 8, nil)
	mul.BackwardJoin([]*mat.Dense{dx, d3}, d5, []*mat.Dense{acts[0], acts[3]}, acts[4], cols)
	d := d3
	for i := 2; i >= 0; i-- {
		next := mat.NewDense(n*cols, 8, nil)
		nodes[i].Op.(Layer).BackwardInput(next, d, acts[nodes[i].Inputs[0]], acts[i+1], cols)
		d = next
	}
	dx.Add(dx, d)
	checkClose(t, "composed GELU backward", dx, wantB, 1e-14)
}

// offKinks maps in's values away from the kinks of a piecewise function
// (finite differences across a kink measure neither side's derivative).
func offKinks(in func(float64) float64, kinks ...float64) func(float64) float64 {
	return func(v float64) float64 {
		x := in(v)
		for _, k := range kinks {
			if math.Abs(x-k) < 1e-3 {
				x = k + 2e-3
			}
		}
		return x
	}
}

// TestHardActivationsKinks pins the derivatives at the kinks to
// autograd's choices.
func TestHardActivationsKinks(t *testing.T) {
	for _, tc := range []struct {
		l    *Elementwise
		x    []float64
		want []float64
	}{
		{NewHardtanh(nil, 0, 6), []float64{0, 6, 3, -1, 7}, []float64{0, 0, 1, 0, 0}},
		{NewHardSigmoid(nil, 1.0/6, 0.5), []float64{-3, 3, 0}, []float64{0, 0, float64(float32(1.0 / 6))}},
		{NewHardSwish(nil), []float64{-3, 3, -4, 4}, []float64{-0.5, 1.5, 0, 1}},
	} {
		for i, x := range tc.x {
			if got := tc.l.DF(x, tc.l.F(x)); got != tc.want[i] {
				t.Errorf("%s'(%v) = %v, want %v", tc.l.Name, x, got, tc.want[i])
			}
		}
	}
}
