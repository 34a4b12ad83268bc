package gram

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func randDense(rng *rand.Rand, r, c int) *mat.Dense {
	m := mat.NewDense(r, c, nil)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			m.Set(i, j, rng.NormFloat64())
		}
	}
	return m
}

// direct computes dst[r][s] = (S_r·S_s)(α k[r/c][s/c] + β) entry by entry.
func direct(s, k *mat.Dense, c int, alpha, beta float64) *mat.Dense {
	r, _ := s.Dims()
	out := mat.NewDense(r, r, nil)
	for i := 0; i < r; i++ {
		for j := 0; j < r; j++ {
			g := beta
			if alpha != 0 {
				g += alpha * k.At(i/c, j/c)
			}
			out.Set(i, j, mat.Dot(s.RowView(i), s.RowView(j))*g)
		}
	}
	return out
}

func TestHadamardKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ n, c, f int }{{1, 1, 1}, {3, 2, 5}, {7, 3, 4}, {40, 5, 9}, {70, 1, 3}, {13, 10, 2}} {
		s := randDense(rng, tc.n*tc.c, tc.f)
		a := randDense(rng, tc.n, 4)
		var k mat.Dense
		k.Mul(a, a.T())
		for _, ab := range [][2]float64{{1, 1}, {1, 0}, {0, 1}, {0.5, -2}} {
			want := direct(s, &k, tc.c, ab[0], ab[1])
			kk := &k
			if ab[0] == 0 {
				kk = nil
			}
			// Tiled symmetric kernel.
			got := mat.NewSymDense(tc.n*tc.c, nil)
			AddSymHadamard(got, s, kk, tc.c, ab[0], ab[1])
			// Full-product kernels.
			var p mat.Dense
			p.Mul(s, s.T())
			got2 := mat.NewSymDense(tc.n*tc.c, nil)
			AddExpandedHadamardSym(got2, &p, kk, tc.c, ab[0], ab[1])
			got3 := mat.NewDense(tc.n*tc.c, tc.n*tc.c, nil)
			AddExpandedHadamard(got3, &p, kk, tc.c, tc.c, ab[0], ab[1])
			tol := 1e-13 * (1 + mat.Norm(want, math.Inf(1)))
			if !mat.EqualApprox(got, want, tol) || !mat.EqualApprox(got2, want, tol) || !mat.EqualApprox(got3, want, tol) {
				t.Errorf("n=%d c=%d f=%d α,β=%v: kernels disagree with the definition", tc.n, tc.c, tc.f, ab)
			}
			// Float32 tiles: the definition on S rounded to float32, up
			// to float32 rounding of the dot products.
			r, f := s.Dims()
			st32 := make([]float32, r*f) // Sᵀ, f×r
			rounded := mat.NewDense(r, f, nil)
			for i := 0; i < r; i++ {
				for j := 0; j < f; j++ {
					st32[j*r+i] = float32(s.At(i, j))
					rounded.Set(i, j, float64(st32[j*r+i]))
				}
			}
			got4 := mat.NewSymDense(r, nil)
			AddSymHadamard32(got4, st32, r, f, kk, tc.c, ab[0], ab[1])
			want4 := direct(rounded, &k, tc.c, ab[0], ab[1])
			if !mat.EqualApprox(got4, want4, 1e-6*float64(f)*(1+mat.Norm(want4, math.Inf(1)))) {
				t.Errorf("n=%d c=%d f=%d α,β=%v: float32 tiles disagree with the definition", tc.n, tc.c, tc.f, ab)
			}
		}
	}
}

func BenchmarkGram(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	n, c, f := 128, 10, 128
	s := randDense(rng, n*c, f)
	a := randDense(rng, n, 128)
	var k mat.Dense
	k.Mul(a, a.T())
	b.Run("tiled-sym", func(b *testing.B) {
		dst := mat.NewSymDense(n*c, nil)
		for i := 0; i < b.N; i++ {
			AddSymHadamard(dst, s, &k, c, 1, 1)
		}
		// Useful flops: the upper triangle of S Sᵀ.
		r := float64(n * c)
		b.ReportMetric(r*(r+1)*float64(f)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFlop/s")
	})
	b.Run("full-product", func(b *testing.B) {
		dst := mat.NewSymDense(n*c, nil)
		for i := 0; i < b.N; i++ {
			var p mat.Dense
			p.Mul(s, s.T())
			AddExpandedHadamardSym(dst, &p, &k, c, 1, 1)
		}
	})
}

// hadamardBlock is a Contributor of the Hadamard form, for Into.
type hadamardBlock struct {
	s, k *mat.Dense
	c    int
}

func (h hadamardBlock) Cols() int { r, _ := h.s.Dims(); return r }
func (h hadamardBlock) AddGramTo(dst *mat.SymDense) {
	AddSymHadamard(dst, h.s, h.k, h.c, 1, 1)
}

// TestInto checks that Into overwrites whatever the destination held (its
// upper triangle is cleared in parallel bands for large sizes) and sums
// the blocks.
func TestInto(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ n, c int }{{3, 2}, {100, 3}} {
		r := tc.n * tc.c
		var blocks []Contributor
		want := mat.NewDense(r, r, nil)
		for range 2 {
			s := randDense(rng, r, 5)
			a := randDense(rng, tc.n, 3)
			var k mat.Dense
			k.Mul(a, a.T())
			blocks = append(blocks, hadamardBlock{s, &k, tc.c})
			want.Add(want, direct(s, &k, tc.c, 1, 1))
		}
		data := make([]float64, r*r)
		for i := range data {
			data[i] = math.NaN()
		}
		g := mat.NewSymDense(r, data)
		Into(g, blocks...)
		if !mat.EqualApprox(g, want, 1e-12*(1+mat.Norm(want, math.Inf(1)))) {
			t.Errorf("n=%d c=%d: Into differs from the sum of the blocks' Gram matrices", tc.n, tc.c)
		}
	}
}
