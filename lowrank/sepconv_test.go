package lowrank

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/model/im2col"
)

// sepRows returns dense factor rows S_r[o, p] = s_r[o]·m_n[o, p] for
// random s (R×out) and m (N×out·P), with about a third of m zero (ReLU
// masks), and s and m.
func sepRows(rng *rand.Rand, n, c, out, p int) (dense, s, m *mat.Dense) {
	s, m = randDense(rng, n*c, out), randDense(rng, n, out*p)
	for i, v := range m.RawMatrix().Data {
		if v < -0.4 {
			m.RawMatrix().Data[i] = 0
		}
	}
	dense = mat.NewDense(n*c, out*p, nil)
	for r := 0; r < n*c; r++ {
		row := dense.RawRowView(r)
		for o := 0; o < out; o++ {
			for q := 0; q < p; q++ {
				row[o*p+q] = s.At(r, o) * m.At(r/c, o*p+q)
			}
		}
	}
	return dense, s, m
}

// TestSepConv runs the factor conformance suite on the separable block of
// every geometry, each tensor selection, against the explicit V of the
// dense factor rows it stands for; the cross products are taken with a
// separable and with a dense (Conv) block of the same layer, both ways,
// with the channels in one group and one at a time (crossChannelFloats).
func TestSepConv(t *testing.T) {
	for _, limit := range []int{crossChannelFloats, 1} {
		defer func(old int) { crossChannelFloats = old }(crossChannelFloats)
		crossChannelFloats = limit
		testSepConv(t)
	}
}

func testSepConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for ci, tc := range convCases {
		g := tc.geom()
		for _, keep := range [][]bool{{true, true}, {true, false}, {false, true}} {
			t.Run(fmt.Sprintf("case%d/%v", ci, keep), func(t *testing.T) {
				dx, sx, mx := sepRows(rng, tc.n, tc.c, g.OutC, g.P())
				ax := randDense(rng, tc.n, g.InSize())
				x := NewSepConv(g, sx, mx, ax, tc.c, true, true).Select(keep)
				vx := explicitConv(NewConv(g, dx, ax, tc.c, true, true).Select(keep).(*Conv))

				dy, sy, my := sepRows(rng, tc.ny, tc.cy, g.OutC, g.P())
				ay := randDense(rng, tc.ny, g.InSize())
				y := NewSepConv(g, sy, my, ay, tc.cy, true, true).Select(keep)
				cy := NewConv(g, dy, ay, tc.cy, true, true).Select(keep).(*Conv)
				vy := explicitConv(cy)
				testFactor(t, x, vx, y, vy, rng)
				testFactor(t, x, vx, cy, vy, rng)
				testFactor(t, cy, vy, x, vx, rng)
			})
		}
	}
}

// BenchmarkSepConv measures the separable block of ResNet-8's last
// convolution (64→64 channels, 3×3 on 8×8, N = 32, c = 9): forming the
// M_n, the Gram matrix, and MulTo with 10 vectors; and, for comparison,
// the dense Conv block's Gram matrix on the same rows.
func BenchmarkSepConv(b *testing.B) {
	rng := rand.New(rand.NewPCG(17, 18))
	g := im2col.New(64, 8, 8, 64, 3, 3, 1, 1, 1, 1, 1, 1)
	const n, c = 32, 9
	dense, s, m := sepRows(rng, n, c, g.OutC, g.P())
	a := randDense(rng, n, g.InSize())
	b.Run("new", func(b *testing.B) {
		for b.Loop() {
			NewSepConv(g, s, m, a, c, true, false)
		}
	})
	f := NewSepConv(g, s, m, a, c, true, false)
	gram := mat.NewSymDense(n*c, nil)
	b.Run("gram", func(b *testing.B) {
		for b.Loop() {
			f.AddGramTo(gram)
		}
	})
	u, dst := randDense(rng, 10, n*c), mat.NewDense(10, f.Dim(), nil)
	b.Run("mulTo", func(b *testing.B) {
		for b.Loop() {
			f.MulTo(dst, u)
		}
	})
	conv := NewConv(g, dense, a, c, true, false)
	b.Run("dense gram", func(b *testing.B) {
		for b.Loop() {
			conv.AddGramTo(gram)
		}
	})
}
