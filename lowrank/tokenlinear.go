package lowrank

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/par"
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
// over tokens, chosen by cost within the memory budget). It references s
// and a as they are: the explicit route forms V's rows as S_rᵀ X_n, one
// product per row with S_r read transposed (formWeightTokens), and the
// bias block sums S_r's token rows; the operations written for a
// convolution's channel-major rows (out×T, the kernel route, the sparse
// and float32 products, cross products with a convolution's rows) read a
// channel-major copy made on first use. For T = 1 the block is a Linear
// on s and a, referencing s.
func NewTokenLinear(g *im2col.Geom, s, a *mat.Dense, c int, weight, bias bool) Factor {
	if g.InC != 1 || g.KH != 1 || g.KW != g.InW || g.OutW != 1 {
		panic("lowrank: not a token-wise linear geometry")
	}
	if g.InH == 1 {
		return NewLinear(s, a, c, weight, bias)
	}
	r, sc := s.Dims()
	n, ac := a.Dims()
	if sc != g.OutSize() || ac != g.InSize() || n*c != r {
		panic("lowrank: factor does not match the token-wise linear layer")
	}
	return &Conv{G: g, tok: s, A: a, C: c, Weight: weight, Bias: bias, stats: &convStats{}, nrows: r, nsamples: n}
}

// transposeTokens writes the token-major rows src (T×out each) into dst
// channel-major (out×T each, a convolution's layout), rows in parallel.
func transposeTokens(dst, src *mat.Dense, t, out int) {
	r, _ := src.Dims()
	par.For(r, par.ProcsFor(r*t*out), func(_, i int) {
		s, d := src.RawRowView(i), dst.RawRowView(i)
		// Eight tokens at a time: each channel's eight entries fill one
		// cache line of d (row by row, 5× slower at T = 256).
		for t0 := 0; t0 < t; t0 += 8 {
			t1 := min(t0+8, t)
			for o := 0; o < out; o++ {
				dd := d[o*t+t0 : o*t+t1]
				for j := range dd {
					dd[j] = s[(t0+j)*out+o]
				}
			}
		}
	})
}

// formWeightTokens is formWeight on token-major factor rows: the chunk of
// row r of V is S_rᵀ X_n restricted to the chunk's channels and inputs,
// with S_r (T×out) and X_n (T×in, the layer input, which the token
// geometry unfolds to itself) read as they are. The first chunk of all
// channels also sums the bias block (biasCols) while each row is in cache,
// unless it is already summed.
func (f *Conv) formWeightTokens(dst []float64, ch chunk) {
	if f.Bias && ch.k0 == 0 && ch.o0 == 0 && ch.o1 == f.G.OutC {
		formed := false
		f.stats.biasOnce.Do(func() {
			b := make([]float64, f.rows()*f.G.OutC)
			f.formTokens(dst, ch, b)
			f.stats.bias, formed = b, true
		})
		if formed {
			return
		}
	}
	f.formTokens(dst, ch, nil)
}

// formTokens is formWeightTokens, which also writes the bias block into
// bias (rows × out) unless it is nil.
func (f *Conv) formTokens(dst []float64, ch chunk, bias []float64) {
	t, out, in := f.G.OutH, f.G.OutC, f.G.K()
	co, kc := ch.o1-ch.o0, ch.k1-ch.k0
	w := co * kc
	par.For(f.n(), formWorkers(), func(_, i int) {
		x := blas64.General{Rows: t, Cols: kc, Stride: in, Data: f.A.RawRowView(i)[ch.k0:]}
		for j := 0; j < f.C; j++ {
			r := i*f.C + j
			row := f.tok.RawRowView(r)
			s := blas64.General{Rows: t, Cols: co, Stride: out, Data: row[ch.o0:]}
			gemm(blas.Trans, blas.NoTrans, 1, s, x, 0, blas64.General{Rows: co, Cols: kc, Stride: kc, Data: dst[r*w:]})
			if bias != nil {
				tokenSums(bias[r*out:(r+1)*out], row, t)
			}
		}
	})
}

// formTokens32 is formWeight32 on token-major factor rows, for a chunk of
// all output channels: each sample's input and factor rows are rounded
// to float32 in the worker's scratch (perWorker32), and one float32
// product per row, S_rᵀ X_n, forms its row of the chunk.
func (f *Conv) formTokens32(dst []float32, ch chunk, scr [][]float32) {
	t, out, in := f.G.OutH, f.G.OutC, f.G.K()
	kc := ch.k1 - ch.k0
	w := out * kc
	var serial fastblas.Serial
	par.For(f.n(), len(scr), func(wk, i int) {
		rows, x := scr[wk][:f.C*t*out], scr[wk][f.C*t*out:f.C*t*out+t*in]
		fastblas.Narrow(x, f.A.RawRowView(i))
		for j := 0; j < f.C; j++ {
			r := i*f.C + j
			s := rows[j*t*out : (j+1)*t*out]
			fastblas.Narrow(s, f.tok.RawRowView(r))
			serial.Sgemm(blas.Trans, blas.NoTrans, out, kc, t, 1, s, out, x[ch.k0:], in, 0, dst[r*w:], kc)
		}
	})
}

// tokenSums writes the sum of the t token rows of row (T×out,
// token-major) into dst (out).
func tokenSums(dst, row []float64, t int) {
	out := len(dst)
	copy(dst, row[:out])
	for tok := 1; tok < t; tok++ {
		floats.Add(dst, row[tok*out:(tok+1)*out])
	}
}
