package model

import (
	"fmt"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/backend"
	"github.com/vivit-go/vivit/lowrank"
	"github.com/vivit-go/vivit/model/im2col"
)

// TokenLinear is a linear layer applied to the last axis of a tensor:
// y[..., o] = Σ_i W[o, i] x[..., i] + b[o] for a per-sample input of shape
// [..., in] (T = the product of the leading axes, the "tokens"), with the
// weight W [out, in] (PyTorch's nn.Linear layout) and bias b [out]. It is
// what an ONNX MatMul or Gemm with an initializer computes on [N, T, D]
// activations; for a 1-D input [in] it is an ordinary linear layer.
//
// Its factor block (Factor) is lowrank.NewTokenLinear's: the weight is
// shared over the T tokens as a convolution's kernel over positions, so
// Gram matrices, map-backs, cross products and the diagonal take a
// convolution's routes (explicit chunks of V or the pair kernel over
// tokens, chosen by cost within the memory budget). Building it copies the
// factor rows once into channel-major order ((n·c)×(T·out) float64s, kept
// with the factor, from recycled memory); the inputs are used as they
// are. The block does not reference the factor rows it was built from
// (FactorCopier), so the backward pass recycles them: the memory is that
// of one factor at the output, as for a Linear. For T = 1 the block is
// lowrank.Linear's, with no copy.
type TokenLinear struct {
	Shape        []int // per-sample input shape [..., in]
	Tokens       int   // T, the product of the leading axes (1 for a 1-D input)
	In, Out      int
	Weight, Bias *Param // Bias is nil without bias
	out          []int
	geom         *im2col.Geom
}

// NewTokenLinear returns the token-wise linear layer on per-sample inputs
// of the given shape with weight [out, in] and bias [out] (nil for none).
// It checks that the shape is not empty and positive, that the weight's
// last axis is the input's, and that every tensor holds as many values as
// its shape says.
func NewTokenLinear(shape []int, weight, bias *Param) (*TokenLinear, error) {
	if len(shape) == 0 {
		return nil, fmt.Errorf("token_linear: input shape %s has no axis", FormatShape(shape))
	}
	for _, d := range shape {
		if d < 1 {
			return nil, fmt.Errorf("token_linear: input shape %s has a size below 1", FormatShape(shape))
		}
	}
	if weight == nil {
		return nil, fmt.Errorf("token_linear: no weight")
	}
	in := shape[len(shape)-1]
	if len(weight.Shape) != 2 || weight.Shape[1] != in || weight.Shape[0] < 1 {
		return nil, fmt.Errorf("token_linear: weight %q has shape %s, want [out %d] for input %s", weight.Name, FormatShape(weight.Shape), in, FormatShape(shape))
	}
	out := weight.Shape[0]
	if len(weight.Data) != out*in {
		return nil, fmt.Errorf("token_linear: weight %q holds %d values, its shape %s needs %d", weight.Name, len(weight.Data), FormatShape(weight.Shape), out*in)
	}
	if bias != nil {
		if len(bias.Shape) != 1 || bias.Shape[0] != out {
			return nil, fmt.Errorf("token_linear: bias %q has shape %s, want [%d]", bias.Name, FormatShape(bias.Shape), out)
		}
		if len(bias.Data) != out {
			return nil, fmt.Errorf("token_linear: bias %q holds %d values, want %d", bias.Name, len(bias.Data), out)
		}
	}
	tokens := Numel(shape[:len(shape)-1])
	if int64(tokens)*int64(max(in, out)) > 1<<31-1 {
		return nil, fmt.Errorf("token_linear: input %s too large", FormatShape(shape))
	}
	l := &TokenLinear{Shape: slices.Clone(shape), Tokens: tokens, In: in, Out: out, Weight: weight, Bias: bias}
	l.out = append(slices.Clone(shape[:len(shape)-1]), out)
	l.geom = lowrank.TokenGeom(tokens, in, out)
	return l, nil
}

func (l *TokenLinear) Type() string    { return "token_linear" }
func (l *TokenLinear) InShape() []int  { return l.Shape }
func (l *TokenLinear) OutShape() []int { return l.out }

// Params returns the weight and, if there is one, the bias.
func (l *TokenLinear) Params() []*Param {
	if l.Bias == nil {
		return []*Param{l.Weight}
	}
	return []*Param{l.Weight, l.Bias}
}

func (l *TokenLinear) w() blas64.General {
	return blas64.General{Rows: l.Out, Cols: l.In, Stride: l.In, Data: l.Weight.Data}
}

// tokenRows returns the rows of m (each T·width long) as one (rows·T)×width
// matrix when m is contiguous; ok is false otherwise.
func tokenRows(m *mat.Dense, tokens, width int) (blas64.General, bool) {
	raw := m.RawMatrix()
	if raw.Stride != raw.Cols && raw.Rows > 1 {
		return blas64.General{}, false
	}
	return blas64.General{Rows: raw.Rows * tokens, Cols: width, Stride: width, Data: raw.Data}, true
}

// Forward computes Y = X Wᵀ + b with the tokens of all samples as the rows
// of one product.
func (l *TokenLinear) Forward(y, x *mat.Dense) {
	n, _ := x.Dims()
	checkDims(x, n, l.Tokens*l.In, "token_linear input")
	checkDims(y, n, l.Tokens*l.Out, "token_linear output")
	xs, okx := tokenRows(x, l.Tokens, l.In)
	ys, oky := tokenRows(y, l.Tokens, l.Out)
	if okx && oky {
		backend.Gemm(blas.NoTrans, blas.Trans, 1, xs, l.w(), 0, ys)
	} else {
		parallelSamples(n, func() any { return nil }, func(_ any, i int) {
			goBLAS.Dgemm(blas.NoTrans, blas.Trans, l.Tokens, l.Out, l.In, 1, x.RawRowView(i), l.In, l.Weight.Data, l.In, 0, y.RawRowView(i), l.Out)
		})
	}
	if l.Bias != nil {
		for i := 0; i < n; i++ {
			row := y.RawRowView(i)
			for t := 0; t < l.Tokens; t++ {
				for o, b := range l.Bias.Data {
					row[t*l.Out+o] += b
				}
			}
		}
	}
}

// BackwardReads implements BackwardReader: the input, for the factor block.
func (l *TokenLinear) BackwardReads() (in, out bool) { return true, false }

// BackwardInput computes S_r W for every factor row (T×out), with the
// tokens of all rows as the rows of one product.
func (l *TokenLinear) BackwardInput(dst, s, in, out *mat.Dense, cols int) {
	r, _ := s.Dims()
	checkDims(s, r, l.Tokens*l.Out, "token_linear factor")
	checkDims(dst, r, l.Tokens*l.In, "token_linear factor destination")
	ss, oks := tokenRows(s, l.Tokens, l.Out)
	ds, okd := tokenRows(dst, l.Tokens, l.In)
	if oks && okd {
		backend.Gemm(blas.NoTrans, blas.NoTrans, 1, ss, l.w(), 0, ds)
		return
	}
	parallelSamples(r, func() any { return nil }, func(_ any, i int) {
		goBLAS.Dgemm(blas.NoTrans, blas.NoTrans, l.Tokens, l.In, l.Out, 1, s.RawRowView(i), l.Out, l.Weight.Data, l.In, 0, dst.RawRowView(i), l.In)
	})
}

// Factor returns lowrank.NewTokenLinear's block for the factor s at the
// output and the inputs in.
func (l *TokenLinear) Factor(s, in *mat.Dense, cols int) lowrank.Factor {
	return lowrank.NewTokenLinear(l.geom, s, in, cols, true, l.Bias != nil)
}
