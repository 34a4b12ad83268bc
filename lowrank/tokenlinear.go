package lowrank

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/par"
	"github.com/vivit-go/vivit/internal/scratch"
	"github.com/vivit-go/vivit/model/im2col"
)

// TokenGeom returns the convolution geometry of a token-wise linear layer
// (a weight [out, in] applied to each of T tokens of a token-major input
// [T, in]): one input channel of height T and width in, a 1×in kernel of
// stride 1 and out output channels. Its unfolded input of a sample (T×in)
// is the sample's input itself, its weight [out, 1, 1, in] is the linear
// weight, and its output [out, T, 1] is the layer's output transposed.
func TokenGeom(tokens, in, out int) *im2col.Geom {
	if tokens < 1 || in < 1 || out < 1 {
		panic(fmt.Sprintf("lowrank: invalid token-wise linear geometry T=%d in=%d out=%d", tokens, in, out))
	}
	return im2col.New(1, tokens, in, out, 1, in, 1, 1, 0, 0, 1, 1)
}

// NewTokenLinear returns the block of V for a token-wise linear layer with
// geometry g (from TokenGeom), factor rows s ((n·c)×(T·out), each row a
// token-major [T, out] tensor) and layer inputs a (n×(T·in), token-major
// [T, in]): column r is vec(S_rᵀ X_{r/c}) for the weight and S_rᵀ 1 for
// the bias, where S_r is T×out and X_n is T×in.
//
// The weight is shared over the T tokens as a convolution's kernel is
// shared over positions, so for T > 1 the block is a Conv on g: it takes
// every route of a convolution (explicit chunks of V or the pair kernel
// over tokens, chosen by cost within the memory budget). The Conv reads
// the inputs as they are (the geometry unfolds them to themselves) and a
// channel-major copy of s (out×T per row, the layout of a convolution's
// output), made here in a buffer from internal/scratch (recycled memory,
// where a fresh (n·c)×(T·out) matrix would cost a page fault per 4 KiB)
// that DropRows hands back, for the next layer's copy; the bias block's
// sums are formed in the same pass. The block does not reference s, which
// the caller may reuse. For T = 1 the block is a Linear on s and a, with
// no copy, referencing s.
//
// Measured (BenchmarkTokenLinear: N = 32, C = 10, width 64, 2 cores):
// the copy takes 0.1, 1.0 and 5.8 ms at T = 16, 64 and 256 from recycled
// memory (several times that from fresh memory), against 7.0, 8.4 and
// 16.6 ms for the explicit Gram matrix and 3.0, 4.6 and 10.7 ms for the
// explicit map-back of 10 vectors. A dedicated factor reading token-major
// rows would save that copy (a transposed operand in every product
// instead) but duplicate the convolution's routes, cost model and budget
// plans.
func NewTokenLinear(g *im2col.Geom, s, a *mat.Dense, c int, weight, bias bool) Factor {
	if g.InC != 1 || g.KH != 1 || g.KW != g.InW || g.OutW != 1 {
		panic("lowrank: not a token-wise linear geometry")
	}
	if g.InH == 1 {
		return NewLinear(s, a, c, weight, bias)
	}
	r, sc := s.Dims()
	if sc != g.OutSize() {
		panic("lowrank: factor does not match the token-wise linear layer")
	}
	t, out := g.OutH, g.OutC
	// Every entry is written below. The block owns the buffer: DropRows
	// hands it back, for the next layer's copy.
	buf := scratch.Get(r * sc)
	st := mat.NewDense(r, sc, *buf)
	// The bias block (row i: Σ_t S_i[t, :]) is summed in the same pass,
	// while the rows are in cache, instead of in a pass over the copy.
	var sums []float64
	if bias {
		sums = make([]float64, r*out)
	}
	par.For(r, par.ProcsFor(r*sc), func(_, i int) {
		src, dst := s.RawRowView(i), st.RawRowView(i)
		var b []float64
		if sums != nil {
			b = sums[i*out : (i+1)*out]
		}
		// Eight tokens at a time: each channel's eight entries fill one
		// cache line of dst (row by row, 5× slower at T = 256).
		for t0 := 0; t0 < t; t0 += 8 {
			t1 := min(t0+8, t)
			for o := 0; o < out; o++ {
				d := dst[o*t+t0 : o*t+t1]
				var sum float64
				for j := range d {
					v := src[(t0+j)*out+o]
					d[j] = v
					sum += v
				}
				if b != nil {
					b[o] += sum
				}
			}
		}
	})
	f := NewConv(g, st, a, c, weight, bias)
	f.stats.ownedS = buf
	if bias {
		f.stats.biasOnce.Do(func() { f.stats.bias = sums })
	}
	return f
}
