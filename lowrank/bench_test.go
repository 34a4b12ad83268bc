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
