// Copyright ©2025 The vivit-go Authors. All rights reserved.

package fastblas

import (
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
