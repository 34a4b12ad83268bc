package model

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// BenchmarkAttentionBackward times the factor backward of self-attention's
// products and softmax at the ViT benchmark's sizes: N = 32 samples, C =
// 10 factor columns, 4 heads of width 16 over 65 tokens.
func BenchmarkAttentionBackward(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	const n, c, h, t, dh = 32, 10, 4, 65, 16
	scores, _ := NewMatMul([]int{h, t, dh}, []int{h, dh, t})
	ctx, _ := NewMatMul([]int{h, t, t}, []int{h, t, dh})
	sm, _ := NewSoftmax([]int{h, t, t}, -1)
	for _, tc := range []struct {
		name string
		l    *MatMul
	}{{"scores", scores}, {"context", ctx}} {
		xs := []*mat.Dense{randMat(rng, n, Numel(tc.l.A)), randMat(rng, n, Numel(tc.l.B))}
		y := forwardOp(tc.l, xs)
		s := randMat(rng, n*c, Numel(tc.l.OutShape()))
		dst := []*mat.Dense{mat.NewDense(n*c, Numel(tc.l.A), nil), mat.NewDense(n*c, Numel(tc.l.B), nil)}
		b.Run("matmul/"+tc.name, func(b *testing.B) {
			for b.Loop() {
				tc.l.BackwardJoin(dst, s, xs, y, c)
			}
		})
	}
	x := randMat(rng, n, h*t*t)
	y := forwardOp(sm, []*mat.Dense{x})
	s := randMat(rng, n*c, h*t*t)
	b.Run("softmax", func(b *testing.B) {
		for b.Loop() {
			sm.BackwardInput(s, s, x, y, c)
		}
	})
}
