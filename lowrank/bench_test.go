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
			u, us := newUnfolder[float64](f.G, f.A, cached, workers, false), newUnfolder[float64](f.G, f.A, cached, workers, true)
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
						f.formWeight(buf, ch, us, sr)
					}
				}
			})
			u.release()
			us.release()
		}
	}
}

// BenchmarkGroupedConv measures a depthwise convolution's block (3×3,
// padding 1, N = 32, c = 10 exact or 1 Monte-Carlo columns per sample) on
// an early and a late layer's shape: the Gram matrix and map-back (k = 10)
// of GroupedConv, group by group, against the same products on its block
// of V formed once (ColumnsTo) and held as an Explicit, whose forming is
// timed separately.
func BenchmarkGroupedConv(b *testing.B) {
	fastblas.Use()
	defer blas64.Use(gonum.Implementation{})
	defer blas32.Use(gonum.Implementation{})
	rng := rand.New(rand.NewPCG(2, 2))
	for _, sh := range []struct{ ch, hw int }{{32, 32}, {256, 8}} {
		for _, c := range []int{10, 1} {
			n, k := 32, 10
			g := im2col.New(1, sh.hw, sh.hw, 1, 3, 3, 1, 1, 1, 1, 1, 1)
			s := randFactorRows(rng, n*c, sh.ch*g.OutSize(), true, false)
			f := NewGroupedConv(g, sh.ch, s, randDense(rng, n, sh.ch*g.InSize()), c, true, true)
			vt := mat.NewDense(f.Cols(), f.Dim(), nil)
			e := NewExplicit(vt, []int{sh.ch * 9, sh.ch})
			u := randDense(rng, k, f.Cols())
			dst := mat.NewDense(k, f.Dim(), nil)
			gram := mat.NewSymDense(f.Cols(), nil)
			name := fmt.Sprintf("C=%d/%dx%d/c=%d", sh.ch, sh.hw, sh.hw, c)
			b.Run("gram/"+name, func(b *testing.B) {
				for b.Loop() {
					f.AddGramTo(gram)
				}
			})
			b.Run("mulTo/"+name, func(b *testing.B) {
				for b.Loop() {
					f.MulTo(dst, u)
				}
			})
			b.Run("form/"+name, func(b *testing.B) {
				for b.Loop() {
					f.ColumnsTo(vt, 0)
				}
			})
			b.Run("explicitGram/"+name, func(b *testing.B) {
				for b.Loop() {
					e.AddGramTo(gram)
				}
			})
		}
	}
}
