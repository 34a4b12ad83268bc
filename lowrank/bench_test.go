package lowrank

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/model/im2col"
)

// BenchmarkLinearPrecision compares the float64 and float32 paths of a
// linear layer's Gram matrix and map-back on the benchmark MLPs' shapes
// (N = 128, C = 10, k = 10).
func BenchmarkLinearPrecision(b *testing.B) {
	// The engine's BLAS (the pure-Go build's), for this benchmark only: the
	// budget tests count the default BLAS's allocations.
	fastblas.Use()
	defer blas64.Use(gonum.Implementation{})
	defer blas32.Use(gonum.Implementation{})
	rng := rand.New(rand.NewPCG(1, 1))
	for _, sh := range []struct{ out, in int }{{128, 128}, {512, 784}} {
		n, c, k := 128, 10, 10
		l := NewLinear(randDense(rng, n*c, sh.out), randDense(rng, n, sh.in), c, true, true)
		u := randDense(rng, k, l.Cols())
		dst := mat.NewDense(k, l.Dim(), nil)
		g := mat.NewSymDense(l.Cols(), nil)
		for _, p := range []Precision{Float64, Float32} {
			l.SetPrecision(p)
			b.Run(fmt.Sprintf("gram/%dx%d/%v", sh.out, sh.in, p), func(b *testing.B) {
				for b.Loop() {
					l.AddGramTo(g)
				}
			})
			b.Run(fmt.Sprintf("mulTo/%dx%d/%v", sh.out, sh.in, p), func(b *testing.B) {
				for b.Loop() {
					l.MulTo(dst, u)
				}
			})
		}
	}
}

// BenchmarkConvForm compares forming a convolution's weight block of V by
// dense products and from the compressed sparse factor rows
// (formWeightSparse), on 3c3d's convolutions with 32 Monte-Carlo factor
// rows at the densities backpropagated factors have after max pooling and
// above.
func BenchmarkConvForm(b *testing.B) {
	fastblas.Use()
	defer blas64.Use(gonum.Implementation{})
	defer blas32.Use(gonum.Implementation{})
	rng := rand.New(rand.NewPCG(1, 2))
	for _, g := range []struct {
		name string
		g    *im2col.Geom
	}{
		{"conv1", im2col.New(3, 32, 32, 64, 5, 5, 1, 1, 0, 0, 1, 1)},
		{"conv2", im2col.New(64, 14, 14, 96, 3, 3, 1, 1, 0, 0, 1, 1)},
		{"conv3", im2col.New(96, 6, 6, 128, 3, 3, 1, 1, 1, 1, 1, 1)},
	} {
		n := 32
		a := randDense(rng, n, g.g.InSize())
		for _, rho := range []float64{0.12, 0.25, 0.4} {
			s := randDense(rng, n, g.g.OutSize())
			for i, v := range s.RawMatrix().Data {
				if rng.Float64() >= rho {
					s.RawMatrix().Data[i] = 0
				} else {
					s.RawMatrix().Data[i] = v
				}
			}
			f := NewConv(g.g, s, a, 1, true, false)
			r := f.rows()
			chunks, cached, workers := explicitPlan(f.G, r, n, f.Budget())
			u := newUnfolder(f.G, f.A, cached, workers)
			buf := make([]float64, r*chunks[0].width())
			sr := f.sparseRows()
			b.Run(fmt.Sprintf("%s/rho=%.2f/dense", g.name, rho), func(b *testing.B) {
				for b.Loop() {
					for _, ch := range chunks {
						f.formWeight(buf, ch, u, nil)
					}
				}
			})
			b.Run(fmt.Sprintf("%s/rho=%.2f/sparse", g.name, rho), func(b *testing.B) {
				for b.Loop() {
					for _, ch := range chunks {
						f.formWeight(buf, ch, u, sr)
					}
				}
			})
			u.release()
		}
	}
}
