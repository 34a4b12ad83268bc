package model

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/model/im2col"
)

// BenchmarkConvBackward times the transposed convolution of ResNet-8's
// layers on 320 factor rows (N = 32, C = 10), blocked (the route in use),
// its float32 variant (BackwardInput32), through the P×K product and
// patch-table fold, and for separable rows (BackwardSeparable, stride 1).
// cpu-ms/op is the CPU time per operation.
func BenchmarkConvBackward(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, g := range []*im2col.Geom{
		im2col.New(16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1),
		im2col.New(16, 32, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1),
		im2col.New(32, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1),
		im2col.New(64, 8, 8, 64, 3, 3, 1, 1, 1, 1, 1, 1),
	} {
		l := NewConv2d(0, g, false)
		for i := range l.Weight.Data {
			l.Weight.Data[i] = rng.NormFloat64()
		}
		const rows = 320
		s := randMat(rng, rows, g.OutSize())
		dst := mat.NewDense(rows, g.InSize(), nil)
		name := fmt.Sprintf("in=%d/%dx%d/out=%d/stride=%d", g.InC, g.InH, g.InW, g.OutC, g.SH)
		sepS, sepM := randMat(rng, rows, g.OutC), randMat(rng, rows/10, g.OutSize())
		for _, route := range []string{"blocked", "float32", "phased", "phased32", "patch", "separable"} {
			b.Run(name+"/"+route, func(b *testing.B) {
				c0 := cpuTime()
				for it := 0; it < b.N; it++ {
					switch route {
					case "blocked", "float32":
						shiftedConv = false
						if route == "blocked" {
							l.BackwardInput(dst, s, nil, nil, 10)
						} else {
							l.BackwardInput32(dst, s, nil, nil, 10)
						}
						shiftedConv = true
						continue
					case "separable":
						// Separable rows s_r[o]·m_n[o, p] (rows/10 samples):
						// GF/cpu-s counts the dense rows' work.
						if !l.BackwardSeparable(dst, sepS, sepM, 10) {
							b.Skip("no separable route")
						}
						continue
					case "phased", "phased32":
						if route == "phased" {
							f := newPhased(g, 8)
							if f == nil {
								b.Skip("no phased route")
							}
							backwardPhased(l, f, rowsOf(dst), rowsOf(s), func(d, s []float64) { copy(d, s) }, false)
						} else {
							f := newPhased(g, 16)
							if f == nil {
								f = newPhased(g, 8)
							}
							if f == nil {
								b.Skip("no phased route")
							}
							backwardPhased(l, f, rowsOf(dst), rowsOf(s), fastblas.Narrow, false)
						}
						continue
					}
					p, k := g.P(), g.K()
					parallelSamples(rows, func() any { return make([]float64, p*k) }, func(scr any, i int) {
						c := scr.([]float64)
						goBLAS.Dgemm(blas.Trans, blas.NoTrans, p, k, g.OutC, 1, s.RawRowView(i), p, l.w.Data, l.w.Stride, 0, c, k)
						d := dst.RawRowView(i)
						clear(d)
						g.FoldAdd(d, c, k)
					})
				}
				b.ReportMetric((cpuTime()-c0)*1000/float64(b.N), "cpu-ms/op")
				b.ReportMetric(2*float64(rows)*float64(g.P())*float64(g.K())*float64(g.OutC)/((cpuTime()-c0)/float64(b.N))/1e9, "GF/cpu-s")
			})
		}
	}
}
