package model

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// BenchmarkMaxPool measures max pooling's forward pass and its factor
// backward pass (one factor column per sample, as Monte-Carlo factors) on
// 3c3d's first pooling layer (3×3, stride 2, padding 1, on [64, 28, 28]
// ReLU outputs) at N = 32.
func BenchmarkMaxPool(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	const n = 32
	in := []int{64, 28, 28}
	l, err := NewMaxPool2d(in, [2]int{3, 3}, [2]int{2, 2}, [2]int{1, 1}, [2]int{1, 1})
	if err != nil {
		b.Fatal(err)
	}
	x := randMat(rng, n, Numel(in))
	for i, v := range x.RawMatrix().Data {
		x.RawMatrix().Data[i] = max(v, 0)
	}
	y := mat.NewDense(n, Numel(l.OutShape()), nil)
	s := randMat(rng, n, Numel(l.OutShape()))
	d := mat.NewDense(n, Numel(in), nil)
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			l.Forward(y, x)
		}
	})
	b.Run("backward", func(b *testing.B) {
		for b.Loop() {
			l.BackwardInput(d, s, x, y, 1)
		}
	})
}
