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
