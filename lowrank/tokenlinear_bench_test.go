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

// BenchmarkTokenLinear times a token-wise linear layer's block (width 64 →
// 64, N = 32 samples, C = 10 columns: N·C = 320 factor rows) over T = 16,
// 64 and 256 tokens: the channel-major copy of its factor rows (which the
// kernel route reads), its Gram matrix by each route and its map-back of k = 10 vectors (the
// explicit route, R·out·T·in + k·R·out·in, and the cost model's choice). The
// explicit Gram costs R·out·T·in to form V (linear in T) plus R²·out·in/2
// to multiply (independent of T); the kernel route N²/2·(T²·in +
// C·out·T² + C²·out·T), quadratic in T.
func BenchmarkTokenLinear(b *testing.B) {
	fastblas.Use()
	defer blas64.Use(gonum.Implementation{})
	defer blas32.Use(gonum.Implementation{})
	rng := rand.New(rand.NewPCG(1, 1))
	const n, c, in, out, k = 32, 10, 64, 64, 10
	for _, tokens := range []int{16, 64, 256} {
		g := TokenGeom(tokens, in, out)
		s := randDense(rng, n*c, tokens*out)
		a := randDense(rng, n, tokens*in)
		b.Run(fmt.Sprintf("T=%d/copy", tokens), func(b *testing.B) {
			// The channel-major copy that the routes written for a
			// convolution's rows read, into memory already touched.
			dst := mat.NewDense(n*c, tokens*out, nil)
			for b.Loop() {
				transposeTokens(dst, s, tokens, out)
			}
		})
		f := NewTokenLinear(g, s, a, c, true, true).(*Conv)
		gram := mat.NewSymDense(f.Cols(), nil)
		for _, route := range []GramRoute{RouteExplicit, RouteKernel, RouteAuto} {
			b.Run(fmt.Sprintf("T=%d/gram/%v", tokens, route), func(b *testing.B) {
				f.Route = route
				for b.Loop() {
					f.AddGramTo(gram)
				}
			})
		}
		u := randDense(rng, k, f.Cols())
		dst := mat.NewDense(k, f.Dim(), nil)
		for _, route := range []GramRoute{RouteExplicit, RouteAuto} {
			b.Run(fmt.Sprintf("T=%d/mapback/%v", tokens, route), func(b *testing.B) {
				f.Route = route
				for b.Loop() {
					f.MulTo(dst, u)
				}
			})
		}
	}
}
