// Copyright ©2025 The vivit-go Authors. All rights reserved.

package fastblas

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkKernel measures the micro-kernel alone with L1-resident panels.
func BenchmarkKernel(b *testing.B) {
	rnd := rand.New(rand.NewPCG(1, 1))
	const kc = 256
	ap := randMat(rnd, 1, kc*mr, kc*mr)
	bp := randMat(rnd, 1, kc*nr, kc*nr)
	c := make([]float64, mr*nr)
	for b.Loop() {
		microKernel(kc, ap, bp, c, nr, 1, 1)
	}
	b.ReportMetric(2*mr*nr*kc*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFlop/s")
}

// BenchmarkKernel32 is BenchmarkKernel for the float32 micro-kernel.
func BenchmarkKernel32(b *testing.B) {
	rnd := rand.New(rand.NewPCG(1, 1))
	const kc = 256
	ap := make([]float32, kc*mr)
	bp := make([]float32, kc*nr32)
	for i := range ap {
		ap[i] = float32(rnd.NormFloat64())
	}
	for i := range bp {
		bp[i] = float32(rnd.NormFloat64())
	}
	c := make([]float32, mr*nr32)
	for b.Loop() {
		microKernel32(kc, ap, bp, c, nr32, 1, 1)
	}
	b.ReportMetric(2*mr*nr32*kc*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFlop/s")
}

// BenchmarkShifted measures the shifted kernels alone with L1-resident
// operands (offsets of a 3×3 window on a 34-wide plane, 16 channels, 12
// output rows).
func BenchmarkShifted(b *testing.B) {
	offs := make([]int32, 0, 144)
	for c := 0; c < 16; c++ {
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				offs = append(offs, int32(c*34*4+i*34+j))
			}
		}
	}
	for _, w := range ShiftedWidths[float64]() {
		b.Run(fmt.Sprintf("float64x%d", w), func(b *testing.B) { benchShifted[float64](b, offs, w) })
	}
	for _, w := range ShiftedWidths[float32]() {
		b.Run(fmt.Sprintf("float32x%d", w), func(b *testing.B) { benchShifted[float32](b, offs, w) })
	}
}

func benchShifted[T element](b *testing.B, offs []int32, w int) {
	k, m := len(offs), 2*mr
	a := make([]T, m*k)
	for i := range a {
		a[i] = T(i%7) / 7
	}
	s := NewShifted(m, k, a, k, offs, w)
	x := make([]T, s.Span()+w)
	c := make([]T, m*w)
	for b.Loop() {
		s.Block(c, w, x)
	}
	b.ReportMetric(2*float64(m*w*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFlop/s")
}
