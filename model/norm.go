package model

import (
	"fmt"
	"gonum.org/v1/gonum/blas/blas32"
	"math"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/lowrank"
)

// Normalisation layers in inference mode. Their parameters (a scale γ and
// a shift β per channel or feature) are few next to the activations, so
// their blocks of V are held explicitly (lowrank.Explicit): the column of
// sample n and factor column j is Σ_positions s ⊙ x̂ for γ and
// Σ_positions s for β, where s is the factor at the layer's output and x̂
// the normalised input, recomputed from the forward input.

// checkAffine returns an error unless p is nil or holds n values.
func checkAffine(what string, p *Param, n int, unit string) error {
	if p == nil {
		return nil
	}
	if len(p.Data) != n || Numel(p.Shape) != n {
		return fmt.Errorf("%s: parameter %q has shape %s (%d values), want [%d] (%s)", what, p.Name, FormatShape(p.Shape), len(p.Data), n, unit)
	}
	return nil
}

// affineParams returns the non-nil of weight and bias, in that order.
func affineParams(weight, bias *Param) []*Param {
	var ps []*Param
	if weight != nil {
		ps = append(ps, weight)
	}
	if bias != nil {
		ps = append(ps, bias)
	}
	return ps
}

// affineSizes returns the tensor sizes of the block of V of a layer with
// the given scale and shift.
func affineSizes(weight, bias *Param, n int) []int {
	var sizes []int
	if weight != nil {
		sizes = append(sizes, n)
	}
	if bias != nil {
		sizes = append(sizes, n)
	}
	return sizes
}

// BatchNorm is batch normalisation in inference mode (PyTorch's
// BatchNorm1d/2d after model.eval(), ONNX BatchNormalization) on
// per-sample shape [C, ...] with channels on axis 0:
// y = γ_c (x − μ_c)/√(σ²_c + ε) + β_c with fixed running statistics μ, σ².
// Weight (γ) and Bias (β) may be nil (γ = 1, β = 0; no rows in V). Its
// input Jacobian is diagonal. Memory of the factor block: Cols × C per
// tensor (lowrank.Explicit).
type BatchNorm struct {
	Shape        []int
	Weight, Bias *Param
	Mean, Var    []float64
	Eps          float64
	invStd       []float64 // 1/√(σ²_c + ε)
}

// NewBatchNorm returns inference-mode batch normalisation on per-sample
// shape shape (channels first) with running mean and variance (one value
// per channel) and eps.
func NewBatchNorm(shape []int, weight, bias *Param, mean, variance []float64, eps float64) (*BatchNorm, error) {
	if err := validShape("batchnorm input", shape); err != nil {
		return nil, err
	}
	if len(shape) == 0 {
		return nil, fmt.Errorf("batchnorm: input needs a channel axis, got per-sample shape %s", FormatShape(shape))
	}
	c := shape[0]
	unit := fmt.Sprintf("channels of per-sample shape %s", FormatShape(shape))
	if err := checkAffine("batchnorm", weight, c, unit); err != nil {
		return nil, err
	}
	if err := checkAffine("batchnorm", bias, c, unit); err != nil {
		return nil, err
	}
	if len(mean) != c || len(variance) != c {
		return nil, fmt.Errorf("batchnorm: running mean and variance have %d and %d values, want %d (%s)", len(mean), len(variance), c, unit)
	}
	if math.IsNaN(eps) || math.IsInf(eps, 0) || eps < 0 {
		return nil, fmt.Errorf("batchnorm: epsilon must be finite and non-negative, got %v", eps)
	}
	l := &BatchNorm{Shape: slices.Clone(shape), Weight: weight, Bias: bias,
		Mean: slices.Clone(mean), Var: slices.Clone(variance), Eps: eps, invStd: make([]float64, c)}
	for i := range c {
		if math.IsNaN(mean[i]) || math.IsInf(mean[i], 0) {
			return nil, fmt.Errorf("batchnorm: running mean of channel %d is %v", i, mean[i])
		}
		v := variance[i] + eps
		if math.IsNaN(v) || math.IsInf(v, 0) || !(v > 0) {
			return nil, fmt.Errorf("batchnorm: running variance %v of channel %d plus epsilon %v is not positive and finite", variance[i], i, eps)
		}
		l.invStd[i] = 1 / math.Sqrt(v)
	}
	return l, nil
}

func (l *BatchNorm) Type() string     { return "batchnorm" }
func (l *BatchNorm) InShape() []int   { return l.Shape }
func (l *BatchNorm) OutShape() []int  { return l.Shape }
func (l *BatchNorm) Params() []*Param { return affineParams(l.Weight, l.Bias) }

// positions returns the entries per channel.
func (l *BatchNorm) positions() int { return Numel(l.Shape) / l.Shape[0] }

// scaleShift returns a_c = γ_c/√(σ²_c + ε) and b_c = β_c − μ_c a_c, the
// affine map per channel, computed as PyTorch's CPU kernel does.
func (l *BatchNorm) scaleShift() (a, b []float64) {
	c := l.Shape[0]
	a, b = make([]float64, c), make([]float64, c)
	for i := range c {
		a[i] = l.invStd[i]
		if l.Weight != nil {
			a[i] *= l.Weight.Data[i]
		}
		if l.Bias != nil {
			b[i] = l.Bias.Data[i]
		}
		b[i] -= l.Mean[i] * a[i]
	}
	return a, b
}

func (l *BatchNorm) Forward(y, x *mat.Dense) {
	n, f := x.Dims()
	checkDims(x, n, Numel(l.Shape), "batchnorm input")
	checkDims(y, n, f, "batchnorm output")
	a, b := l.scaleShift()
	p := l.positions()
	parallelSamples(n, func() any { return nil }, func(_ any, i int) {
		xr, yr := x.RawRowView(i), y.RawRowView(i)
		for c, ac := range a {
			bc, xs := b[c], xr[c*p:(c+1)*p]
			ys := yr[c*p : c*p+len(xs)]
			for j, v := range xs {
				ys[j] = v*ac + bc
			}
		}
	})
}

// BackwardInPlace reports true: the Jacobian is diagonal.
func (l *BatchNorm) BackwardInPlace() bool { return true }

// BackwardReads implements BackwardReader: the input, for the normalised values of the factor block.
func (l *BatchNorm) BackwardReads() (in, out bool) { return true, false }

// BackwardInput multiplies channel c of every factor row by
// γ_c/√(σ²_c + ε).
func (l *BatchNorm) BackwardInput(dst, s, _, _ *mat.Dense, _ int) {
	r, f := s.Dims()
	checkDims(s, r, Numel(l.Shape), "batchnorm factor")
	checkDims(dst, r, f, "batchnorm factor destination")
	a, _ := l.scaleShift()
	p := l.positions()
	parallelSamples(r, func() any { return nil }, func(_ any, i int) {
		sr, dr := s.RawRowView(i), dst.RawRowView(i)
		for c, v := range a {
			floats.ScaleTo(dr[c*p:(c+1)*p], v, sr[c*p:(c+1)*p])
		}
	})
}

// FactorCopiesRows reports true: the block is explicit (Factor), so the
// backward pass may overwrite the factor rows in place afterwards.
func (l *BatchNorm) FactorCopiesRows() bool { return true }

// Factor returns the explicit block: for factor row r of sample r/cols,
// Σ_p s_r[c, p] x̂[c, p] for γ_c and Σ_p s_r[c, p] for β_c.
func (l *BatchNorm) Factor(s, in *mat.Dense, cols int) lowrank.Factor {
	return l.factor(s, in, cols, false)
}

// FactorBackwardInPlace implements FactorInPlaceLayer: Factor, then
// BackwardInput(s, s, …), channel slice by channel slice while the slice
// is in cache.
func (l *BatchNorm) FactorBackwardInPlace(s, in, _ *mat.Dense, cols int) lowrank.Factor {
	return l.factor(s, in, cols, true)
}

// factor is Factor that, with backward set, also scales each channel
// slice of the factor rows by a_c (BackwardInput in place) once its sums
// are taken.
func (l *BatchNorm) factor(s, in *mat.Dense, cols int, backward bool) lowrank.Factor {
	r, _ := s.Dims()
	checkDims(s, r, Numel(l.Shape), "batchnorm factor")
	var dst *factorRows[float64]
	if backward {
		d := rowsOf(s)
		dst = &d
	}
	return batchNormFactor(l, rowsOf(s), dst, in, cols)
}

// FactorBackwardTo implements FactorBackwardToLayer: Factor, and
// BackwardInput into dst, in one pass over s.
func (l *BatchNorm) FactorBackwardTo(dst, s, in, _ *mat.Dense, cols int) lowrank.Factor {
	r, _ := s.Dims()
	checkDims(s, r, Numel(l.Shape), "batchnorm factor")
	checkDims(dst, r, Numel(l.Shape), "batchnorm factor destination")
	d := rowsOf(dst)
	return batchNormFactor(l, rowsOf(s), &d, in, cols)
}

// FactorBackwardInPlaceThrough implements FactorThroughLayer.
func (l *BatchNorm) FactorBackwardInPlaceThrough(e *Elementwise, s, in, ex, ey *mat.Dense, cols int) lowrank.Factor {
	r, _ := s.Dims()
	checkDims(s, r, Numel(l.Shape), "batchnorm factor")
	d := rowsOf(s)
	return batchNormFactorThrough(l, rowsOf(s), &d, in, cols, e.rowStep(ex, ey, r, cols))
}

// FactorBackwardInPlaceRows32Through implements FactorThroughLayer.
func (l *BatchNorm) FactorBackwardInPlaceRows32Through(e *Elementwise, s blas32.General, in, ex, ey *mat.Dense, cols int) lowrank.Factor {
	check32(s, s.Rows, Numel(l.Shape), "batchnorm factor")
	d := rows32Of(s)
	return batchNormFactorThrough(l, rows32Of(s), &d, in, cols, e.rowStep(ex, ey, s.Rows, cols))
}

// FactorBackwardToRows32 implements Rows32FactorBackwardToLayer.
func (l *BatchNorm) FactorBackwardToRows32(dst, s blas32.General, in, _ *mat.Dense, cols int) lowrank.Factor {
	check32(s, s.Rows, Numel(l.Shape), "batchnorm factor")
	check32(dst, s.Rows, Numel(l.Shape), "batchnorm factor destination")
	d := rows32Of(dst)
	return batchNormFactor(l, rows32Of(s), &d, in, cols)
}

// BackwardRows32 implements Rows32Layer: channel c of every factor row
// times γ_c/√(σ²_c + ε) rounded to float32.
func (l *BatchNorm) BackwardRows32(dst, s blas32.General, _, _ *mat.Dense, _ int) {
	check32(s, s.Rows, Numel(l.Shape), "batchnorm factor")
	check32(dst, s.Rows, Numel(l.Shape), "batchnorm factor destination")
	a, _ := l.scaleShift()
	p := l.positions()
	sr, dr := rows32Of(s), rows32Of(dst)
	parallelSamples(s.Rows, func() any { return nil }, func(_ any, i int) {
		scaleChannels(dr.row(i), sr.row(i), a, p)
	})
}

// FactorRows32 implements Rows32ParamLayer: Factor on float32 rows, the
// sums in float64.
func (l *BatchNorm) FactorRows32(s blas32.General, in *mat.Dense, cols int) lowrank.Factor {
	check32(s, s.Rows, Numel(l.Shape), "batchnorm factor")
	return batchNormFactor(l, rows32Of(s), nil, in, cols)
}

// FactorBackwardInPlaceRows32 implements Rows32FactorInPlaceLayer.
func (l *BatchNorm) FactorBackwardInPlaceRows32(s blas32.General, in, _ *mat.Dense, cols int) lowrank.Factor {
	check32(s, s.Rows, Numel(l.Shape), "batchnorm factor")
	d := rows32Of(s)
	return batchNormFactor(l, rows32Of(s), &d, in, cols)
}

// scaleChannels writes channel c (p entries) of s times a_c into d (d may
// be s).
func scaleChannels[R float32 | float64](d, s []R, a []float64, p int) {
	for c, v := range a {
		switch dc := any(d[c*p : (c+1)*p]).(type) {
		case []float64:
			floats.ScaleTo(dc, v, any(s[c*p:(c+1)*p]).([]float64))
		case []float32:
			if sc := any(s[c*p : (c+1)*p]).([]float32); &sc[0] != &dc[0] {
				copy(dc, sc)
			}
			fastblas.Scale32(float32(v), dc)
		}
	}
}

// batchNormFactor is BatchNorm's factor on rows of either precision; with
// dst set it also writes the backward of each channel slice of s into dst
// (which may be s) once its sums are taken.
func batchNormFactor[R float32 | float64](l *BatchNorm, s factorRows[R], dst *factorRows[R], in *mat.Dense, cols int) lowrank.Factor {
	return batchNormFactorThrough(l, s, dst, in, cols, nil)
}

// batchNormFactorThrough is batchNormFactor that first passes each factor
// row back through the elementwise step, in place, where step is not nil
// (then dst must be s).
func batchNormFactorThrough[R float32 | float64](l *BatchNorm, s factorRows[R], dst *factorRows[R], in *mat.Dense, cols int, step *rowStep) lowrank.Factor {
	backward := dst != nil
	if step != nil && (!backward || &dst.data[0] != &s.data[0]) {
		panic("model: an elementwise step before BatchNorm's block needs the block in place")
	}
	r, f := s.n, s.cols
	n, _ := in.Dims()
	checkDims(in, n, f, "batchnorm input")
	if n*cols != r {
		panic("model: factor rows do not match samples × cols")
	}
	c, p := l.Shape[0], l.positions()
	sizes := affineSizes(l.Weight, l.Bias, c)
	var a []float64
	if backward {
		a, _ = l.scaleShift()
	}
	if len(sizes) == 0 {
		if backward {
			parallelSamples(r, func() any { return nil }, func(_ any, i int) {
				applyStep(step, s.row(i), i/cols)
				scaleChannels(dst.row(i), s.row(i), a, p)
			})
		}
		return nil
	}
	vt := mat.NewDense(r, c*len(sizes), nil)
	parallelSamples(n, func() any { return make([]float64, f) }, func(scratch any, i int) {
		xhat := scratch.([]float64)
		xr := in.RawRowView(i)
		for ch := range c {
			for j := ch * p; j < (ch+1)*p; j++ {
				xhat[j] = (xr[j] - l.Mean[ch]) * l.invStd[ch]
			}
		}
		for k := i * cols; k < (i+1)*cols; k++ {
			sr, vr := s.row(k), vt.RawRowView(k)
			applyStep(step, sr, i)
			var dr []R
			if backward {
				dr = dst.row(k)
			}
			for ch := range c {
				sc, xc := sr[ch*p:(ch+1)*p], xhat[ch*p:(ch+1)*p]
				// One pass over the channel for its sums and, with dst, its
				// backward; the sums are the same either way.
				var dot, sum float64
				if backward {
					dot, sum = fastblas.DotSumScale(dr[ch*p:(ch+1)*p], sc, xc, a[ch])
				} else {
					dot, sum = fastblas.DotSum(sc, xc)
				}
				off := 0
				if l.Weight != nil {
					vr[ch] = dot
					off = c
				}
				if l.Bias != nil {
					vr[off+ch] = sum
				}
			}
		}
	})
	return lowrank.NewExplicit(vt, sizes)
}

// LayerNorm is layer normalisation over the last axis of the per-sample
// shape (PyTorch's LayerNorm(D), ONNX LayerNormalization with axis −1):
// each token x (width D) becomes y = γ ⊙ x̂ + β with x̂ = (x − m)/σ,
// m its mean and σ = √(var + ε) (biased variance). Weight (γ) and Bias (β)
// may be nil. Memory of the factor block: Cols × D per tensor
// (lowrank.Explicit); the token statistics are recomputed from the
// forward input when needed.
type LayerNorm struct {
	Shape        []int
	Weight, Bias *Param
	Eps          float64
}

// NewLayerNorm returns layer normalisation over the last axis of the
// per-sample shape shape, with weight and bias of shape [D].
func NewLayerNorm(shape []int, weight, bias *Param, eps float64) (*LayerNorm, error) {
	if err := validShape("layernorm input", shape); err != nil {
		return nil, err
	}
	if len(shape) == 0 {
		return nil, fmt.Errorf("layernorm: input needs at least one axis, got per-sample shape %s", FormatShape(shape))
	}
	d := shape[len(shape)-1]
	unit := fmt.Sprintf("last axis of per-sample shape %s", FormatShape(shape))
	if err := checkAffine("layernorm", weight, d, unit); err != nil {
		return nil, err
	}
	if err := checkAffine("layernorm", bias, d, unit); err != nil {
		return nil, err
	}
	if math.IsNaN(eps) || math.IsInf(eps, 0) || eps < 0 {
		return nil, fmt.Errorf("layernorm: epsilon must be finite and non-negative, got %v", eps)
	}
	return &LayerNorm{Shape: slices.Clone(shape), Weight: weight, Bias: bias, Eps: eps}, nil
}

func (l *LayerNorm) Type() string     { return "layernorm" }
func (l *LayerNorm) InShape() []int   { return l.Shape }
func (l *LayerNorm) OutShape() []int  { return l.Shape }
func (l *LayerNorm) Params() []*Param { return affineParams(l.Weight, l.Bias) }

func (l *LayerNorm) width() int { return l.Shape[len(l.Shape)-1] }

// normalize writes x̂ of every token of the sample x into xhat and 1/σ of
// token t into rstd[t].
func (l *LayerNorm) normalize(xhat, rstd, x []float64) {
	d := l.width()
	for t := range rstd {
		tok := x[t*d : (t+1)*d]
		var m float64
		for _, v := range tok {
			m += v
		}
		m /= float64(d)
		var ss float64
		for _, v := range tok {
			ss += (v - m) * (v - m)
		}
		rs := 1 / math.Sqrt(ss/float64(d)+l.Eps)
		rstd[t] = rs
		for j, v := range tok {
			xhat[t*d+j] = (v - m) * rs
		}
	}
}

// lnScratch holds one sample's x̂ and 1/σ per token.
type lnScratch struct{ xhat, rstd []float64 }

func (l *LayerNorm) newScratch() any {
	f := Numel(l.Shape)
	return &lnScratch{xhat: make([]float64, f), rstd: make([]float64, f/l.width())}
}

func (l *LayerNorm) Forward(y, x *mat.Dense) {
	n, f := x.Dims()
	checkDims(x, n, Numel(l.Shape), "layernorm input")
	checkDims(y, n, f, "layernorm output")
	d := l.width()
	parallelSamples(n, l.newScratch, func(scratch any, i int) {
		sc := scratch.(*lnScratch)
		l.normalize(sc.xhat, sc.rstd, x.RawRowView(i))
		yr := y.RawRowView(i)
		copy(yr, sc.xhat)
		for t := 0; t < f; t += d {
			yt := yr[t : t+d]
			if l.Weight != nil {
				for j, w := range l.Weight.Data {
					yt[j] *= w
				}
			}
			if l.Bias != nil {
				for j, b := range l.Bias.Data {
					yt[j] += b
				}
			}
		}
	})
}

// BackwardInPlace reports true: row r of the result depends only on row r
// of the factor, and each token is read before it is written.
func (l *LayerNorm) BackwardInPlace() bool { return true }

// BackwardReads implements BackwardReader: the input.
func (l *LayerNorm) BackwardReads() (in, out bool) { return true, false }

// BackwardInput applies, per token with g = γ ⊙ s,
// (g − mean(g) − x̂·mean(g ⊙ x̂))/σ.
func (l *LayerNorm) BackwardInput(dst, s, in, _ *mat.Dense, cols int) {
	l.backward(dst, s, in, cols, false)
}

// BackwardInputAdd adds BackwardInput's result to dst
// (AccumulatingLayer): a pre-norm transformer's LayerNorm reads the
// residual stream, whose factor the residual sum has already started.
// dst must not alias s.
func (l *LayerNorm) BackwardInputAdd(dst, s, in, _ *mat.Dense, cols int) {
	l.backward(dst, s, in, cols, true)
}

// backward is BackwardInput, adding to dst with add set.
func (l *LayerNorm) backward(dst, s, in *mat.Dense, cols int, add bool) {
	r, f := s.Dims()
	n, _ := in.Dims()
	checkDims(s, r, Numel(l.Shape), "layernorm factor")
	checkDims(dst, r, f, "layernorm factor destination")
	checkDims(in, n, f, "layernorm input")
	if n*cols != r {
		panic("model: factor rows do not match samples × cols")
	}
	d := l.width()
	parallelSamples(n, l.newScratch, func(scratch any, i int) {
		sc := scratch.(*lnScratch)
		l.normalize(sc.xhat, sc.rstd, in.RawRowView(i))
		for k := i * cols; k < (i+1)*cols; k++ {
			sr, dr := s.RawRowView(k), dst.RawRowView(k)
			for t, rs := range sc.rstd {
				st, dt, xt := sr[t*d:(t+1)*d], dr[t*d:(t+1)*d], sc.xhat[t*d:(t+1)*d]
				var mg, mgx float64
				for j, v := range st {
					if l.Weight != nil {
						v *= l.Weight.Data[j]
					}
					mg += v
					mgx += v * xt[j]
				}
				mg /= float64(d)
				mgx /= float64(d)
				for j, v := range st {
					if l.Weight != nil {
						v *= l.Weight.Data[j]
					}
					if add {
						dt[j] += (v - mg - xt[j]*mgx) * rs
					} else {
						dt[j] = (v - mg - xt[j]*mgx) * rs
					}
				}
			}
		}
	})
}

// FactorCopiesRows reports true: the block is explicit (Factor), so the
// backward pass may recycle or overwrite the factor rows afterwards.
func (l *LayerNorm) FactorCopiesRows() bool { return true }

// Factor returns the explicit block: for factor row r of sample r/cols,
// Σ_tokens s_r ⊙ x̂ for γ and Σ_tokens s_r for β.
func (l *LayerNorm) Factor(s, in *mat.Dense, cols int) lowrank.Factor {
	r, f := s.Dims()
	n, _ := in.Dims()
	checkDims(s, r, Numel(l.Shape), "layernorm factor")
	checkDims(in, n, f, "layernorm input")
	if n*cols != r {
		panic("model: factor rows do not match samples × cols")
	}
	d := l.width()
	sizes := affineSizes(l.Weight, l.Bias, d)
	if len(sizes) == 0 {
		return nil
	}
	vt := mat.NewDense(r, d*len(sizes), nil)
	parallelSamples(n, l.newScratch, func(scratch any, i int) {
		sc := scratch.(*lnScratch)
		l.normalize(sc.xhat, sc.rstd, in.RawRowView(i))
		for k := i * cols; k < (i+1)*cols; k++ {
			sr, vr := s.RawRowView(k), vt.RawRowView(k)
			var g, b []float64
			if l.Weight != nil {
				g, vr = vr[:d], vr[d:]
			}
			if l.Bias != nil {
				b = vr[:d]
			}
			for t := 0; t < f; t += d {
				st, xt := sr[t:t+d], sc.xhat[t:t+d]
				if g != nil {
					for j, v := range st {
						g[j] += v * xt[j]
					}
				}
				if b != nil {
					for j, v := range st {
						b[j] += v
					}
				}
			}
		}
	})
	return lowrank.NewExplicit(vt, sizes)
}
