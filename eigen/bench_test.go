package eigen

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"gonum.org/v1/gonum/mat"
)

const benchN = 1280

var benchMatrices = sync.OnceValue(func() map[string]*mat.SymDense {
	flat := make([]float64, benchN)
	for i := range flat {
		flat[i] = 1 - float64(i)/benchN
	}
	return map[string]*mat.SymDense{
		"decay": ggnLike(benchN, 11),
		"flat":  withSpectrum("flat", flat, rand.New(rand.NewPCG(5, 5))).a,
	}
})

// BenchmarkTopK measures every solver on n = 1280, k = 10 for a decaying
// (GGN-like) and a flat spectrum.
func BenchmarkTopK(b *testing.B) {
	const k = 10
	for _, s := range append([]Solver{Dense{}, Tridiagonal{}, Lanczos{}}, backendSolvers()...) {
		for _, spec := range []string{"decay", "flat"} {
			b.Run(fmt.Sprintf("%s/%s/n=%d,k=%d", s.Name(), spec, benchN, k), func(b *testing.B) {
				a := benchMatrices()[spec]
				b.ResetTimer()
				for range b.N {
					if _, _, err := s.TopK(a, k); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkValues(b *testing.B) {
	a := benchMatrices()["decay"]
	b.Run(fmt.Sprintf("n=%d", benchN), func(b *testing.B) {
		for range b.N {
			if _, err := Values(a); err != nil {
				b.Fatal(err)
			}
		}
	})
}
