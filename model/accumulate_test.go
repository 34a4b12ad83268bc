package model

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestBackwardInputAdd checks, for Gather (with a repeated index), Slice,
// Transpose and LayerNorm, that BackwardInputAdd adds exactly what
// BackwardInput writes.
func TestBackwardInputAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	shape := []int{3, 4, 2}
	var layers []Layer
	if l, err := NewGather(shape, 0, []int{2, 0, 2}, []int{3}); err != nil {
		t.Fatal(err)
	} else {
		layers = append(layers, l)
	}
	if l, err := NewSlice(shape, 1, 1, 4, 2); err != nil {
		t.Fatal(err)
	} else {
		layers = append(layers, l)
	}
	if l, err := NewTranspose(shape, []int{2, 0, 1}); err != nil {
		t.Fatal(err)
	} else {
		layers = append(layers, l)
	}
	// LayerNorm over the last axis, with a scale and a shift.
	gamma := &Param{Name: "ln.weight", Shape: []int{2}, Data: []float64{1.5, -0.7}}
	beta := &Param{Name: "ln.bias", Shape: []int{2}, Data: []float64{0.2, 0.1}}
	if l, err := NewLayerNorm(shape, gamma, beta, 1e-5); err != nil {
		t.Fatal(err)
	} else {
		layers = append(layers, l)
	}
	// Runs of 8 entries (indexMap.runsOf), one of them read twice.
	if l, err := NewGather([]int{3, 8}, 0, []int{2, 0, 2}, []int{3}); err != nil {
		t.Fatal(err)
	} else {
		layers = append(layers, l)
	}
	fill := func(m *mat.Dense) *mat.Dense {
		d := m.RawMatrix().Data
		for i := range d {
			d[i] = rng.NormFloat64()
		}
		return m
	}
	const n, cols = 2, 3
	for _, l := range layers {
		al, ok := l.(AccumulatingLayer)
		if !ok {
			t.Fatalf("%s does not accumulate", l.Type())
		}
		fin, fout := Numel(l.InShape()), Numel(l.OutShape())
		x := fill(mat.NewDense(n, fin, nil))
		y := mat.NewDense(n, fout, nil)
		l.Forward(y, x)
		s := fill(mat.NewDense(n*cols, fout, nil))
		base := fill(mat.NewDense(n*cols, fin, nil))
		want := mat.NewDense(n*cols, fin, nil)
		l.BackwardInput(want, s, x, y, cols)
		want.Add(want, base)
		al.BackwardInputAdd(base, s, x, y, cols)
		if !mat.EqualApprox(base, want, 1e-15) {
			t.Errorf("%s: accumulated backward differs", l.Type())
		}
	}
}
