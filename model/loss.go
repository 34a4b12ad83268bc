package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// LossKind names a supported loss.
type LossKind string

// Reduction is PyTorch's reduction of per-sample losses.
type Reduction string

const (
	CrossEntropy LossKind = "cross_entropy"
	MSE          LossKind = "mse"

	Mean Reduction = "mean"
	Sum  Reduction = "sum"
)

// Loss is a per-sample loss ℓ(z, y) and its reduction; the batch loss is
// L = w Σ_n ℓ_n with w = Weight(N).
//
//	cross_entropy: ℓ_n = −log softmax(z_n)[y_n]           w = 1/N (mean), 1 (sum)
//	mse:           ℓ_n = (1/C) Σ_c (z_nc − y_nc)² (mean)   w = 1/N
//	               ℓ_n = Σ_c (z_nc − y_nc)²       (sum)    w = 1
//
// MSE with mean reduction averages over all N·C entries, as PyTorch does.
type Loss struct {
	Kind      LossKind
	Reduction Reduction
}

// Validate reports whether the loss is supported.
func (l Loss) Validate() error {
	switch l.Kind {
	case CrossEntropy, MSE:
	default:
		return fmt.Errorf("unknown loss type %q (want \"cross_entropy\" or \"mse\")", l.Kind)
	}
	switch l.Reduction {
	case Mean, Sum:
	default:
		return fmt.Errorf("unknown loss reduction %q (want \"mean\" or \"sum\")", l.Reduction)
	}
	return nil
}

// Weight returns w for a batch of n samples.
func (l Loss) Weight(n int) float64 {
	if l.Reduction == Sum {
		return 1
	}
	return 1 / float64(n)
}

// Targets are the labels of a batch: class indices for cross-entropy, or an
// N×C matrix of regression targets for MSE.
type Targets struct {
	Classes []int
	Values  *mat.Dense
}

// Len returns the number of samples the targets describe.
func (t Targets) Len() int {
	if t.Values != nil {
		r, _ := t.Values.Dims()
		return r
	}
	return len(t.Classes)
}

// Subset returns the targets of the given samples.
func (t Targets) Subset(idx []int) Targets {
	if t.Values != nil {
		_, c := t.Values.Dims()
		v := mat.NewDense(len(idx), c, nil)
		for i, n := range idx {
			v.SetRow(i, t.Values.RawRowView(n))
		}
		return Targets{Values: v}
	}
	cl := make([]int, len(idx))
	for i, n := range idx {
		cl[i] = t.Classes[n]
	}
	return Targets{Classes: cl}
}

// Check reports whether targets fit this loss for n samples and c outputs.
func (l Loss) Check(t Targets, n, c int) error {
	switch l.Kind {
	case CrossEntropy:
		if t.Classes == nil {
			return fmt.Errorf("targets: cross_entropy needs integer class indices")
		}
		if len(t.Classes) != n {
			return fmt.Errorf("targets: %d labels for %d inputs", len(t.Classes), n)
		}
		for i, y := range t.Classes {
			if y < 0 || y >= c {
				return fmt.Errorf("targets: label %d of sample %d is out of range [0, %d)", y, i, c)
			}
		}
	case MSE:
		if t.Values == nil {
			return fmt.Errorf("targets: mse needs real-valued targets of shape [N, %d]", c)
		}
		r, cc := t.Values.Dims()
		if r != n || cc != c {
			return fmt.Errorf("targets: shape [%d, %d], want [%d, %d]", r, cc, n, c)
		}
		for i := 0; i < r; i++ {
			for j, v := range t.Values.RawRowView(i) {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("targets: non-finite value %v at [%d, %d]", v, i, j)
				}
			}
		}
	}
	return nil
}

// softmaxTo writes softmax(z) into p, stably.
func softmaxTo(p, z []float64) (logSumExp float64) {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, v)
	}
	var s float64
	for i, v := range z {
		p[i] = math.Exp(v - m)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return m + math.Log(s)
}

// PerSample returns ℓ_n for every row of the outputs z.
func (l Loss) PerSample(z *mat.Dense, t Targets) []float64 {
	n, c := z.Dims()
	out := make([]float64, n)
	p := make([]float64, c)
	for i := 0; i < n; i++ {
		zr := z.RawRowView(i)
		switch l.Kind {
		case CrossEntropy:
			out[i] = softmaxTo(p, zr) - zr[t.Classes[i]]
		case MSE:
			var s float64
			for j, v := range zr {
				d := v - t.Values.At(i, j)
				s += d * d
			}
			if l.Reduction == Mean {
				s /= float64(c)
			}
			out[i] = s
		}
	}
	return out
}

// GradTo writes ∂ℓ_n/∂z_n into row n of dst (N×C).
func (l Loss) GradTo(dst, z *mat.Dense, t Targets) {
	n, c := z.Dims()
	checkDims(dst, n, c, "loss gradient")
	for i := 0; i < n; i++ {
		zr, dr := z.RawRowView(i), dst.RawRowView(i)
		switch l.Kind {
		case CrossEntropy:
			softmaxTo(dr, zr)
			dr[t.Classes[i]] -= 1
		case MSE:
			s := l.mseScale(c)
			for j, v := range zr {
				dr[j] = s * (v - t.Values.At(i, j))
			}
		}
	}
}

// mseScale returns h with H_n = h·I.
func (l Loss) mseScale(c int) float64 {
	if l.Reduction == Mean {
		return 2 / float64(c)
	}
	return 2
}

// SqrtHessianTo writes an exact symmetric factor S_n of H_n = ∂²ℓ_n/∂z_n²
// (H_n = S_n S_nᵀ, C columns per sample) into dst, stacked as rows
// n·C + c, and scales it by alpha.
//
//	cross_entropy: column c of S_n is √p_c (e_c − p), p = softmax(z_n)
//	mse:           S_n = √h I with h = 2/C (mean) or 2 (sum)
func (l Loss) SqrtHessianTo(dst, z *mat.Dense, alpha float64) {
	n, c := z.Dims()
	checkDims(dst, n*c, c, "loss Hessian factor")
	dst.Zero()
	p := make([]float64, c)
	for i := 0; i < n; i++ {
		switch l.Kind {
		case CrossEntropy:
			softmaxTo(p, z.RawRowView(i))
			for k := 0; k < c; k++ {
				row := dst.RawRowView(i*c + k)
				sq := alpha * math.Sqrt(p[k])
				for j := range row {
					row[j] = -sq * p[j]
				}
				row[k] += sq
			}
		case MSE:
			s := alpha * math.Sqrt(l.mseScale(c))
			for k := 0; k < c; k++ {
				dst.Set(i*c+k, k, s)
			}
		}
	}
}

// ReducedCols returns the number of columns per sample of the reduced
// exact factor: C−1 for cross-entropy, whose Hessian diag(p) − ppᵀ has the
// all-ones vector in its null space, and C for MSE.
func (l Loss) ReducedCols(c int) int {
	if l.Kind == CrossEntropy {
		return c - 1
	}
	return c
}

// ReducedSqrtHessianTo writes an exact factor with ReducedCols(C) columns
// per sample (H_n = S_n S_nᵀ), scaled by alpha, into dst. For cross-entropy
// S_n = diag(√p) Q with Q the C×(C−1) orthonormal basis of √p⊥ given by a
// Householder reflector that maps √p to −e_j (j the most likely class), so
// S_n S_nᵀ = diag(√p)(I − √p√pᵀ)diag(√p) = diag(p) − ppᵀ. It shrinks the
// Gram matrix by (C−1)/C per side at no loss. MSE uses SqrtHessianTo.
func (l Loss) ReducedSqrtHessianTo(dst, z *mat.Dense, alpha float64) {
	if l.Kind != CrossEntropy {
		l.SqrtHessianTo(dst, z, alpha)
		return
	}
	n, c := z.Dims()
	checkDims(dst, n*(c-1), c, "reduced loss Hessian factor")
	q := make([]float64, c)
	v := make([]float64, c)
	for i := 0; i < n; i++ {
		softmaxTo(q, z.RawRowView(i))
		j := 0
		for k, pk := range q {
			q[k] = math.Sqrt(pk)
			if q[k] > q[j] {
				j = k
			}
		}
		// v = √p + e_j, R = I − 2vvᵀ/(vᵀv); vᵀv = 2 + 2√p_j ≥ 2.
		copy(v, q)
		v[j]++
		beta := 2 / (2 + 2*q[j])
		col := 0
		for k := 0; k < c; k++ {
			if k == j {
				continue
			}
			// Column k of R scaled row-wise by √p: row r is √p_r (δ_rk − β v_r v_k).
			row := dst.RawRowView(i*(c-1) + col)
			for r := range row {
				e := -beta * v[r] * v[k]
				if r == k {
					e++
				}
				row[r] = alpha * q[r] * e
			}
			col++
		}
	}
}

// SampleSqrtHessianTo writes a Monte-Carlo factor with m columns per sample
// into dst (rows n·m + j), scaled by alpha, with E[S_n S_nᵀ] = H_n:
//
//	cross_entropy: s_j = (p − onehot(ŷ_j))/√m, ŷ_j ~ Categorical(p)
//	mse:           s_j = √h ξ_j/√m, ξ_j ~ N(0, I)
//
// The draws for sample n come from a generator seeded by (seed, ids[n]),
// so a sample gets the same draws whatever batch or sub-batch it is in.
func (l Loss) SampleSqrtHessianTo(dst, z *mat.Dense, m int, seed uint64, ids []int, alpha float64) {
	n, c := z.Dims()
	checkDims(dst, n*m, c, "Monte-Carlo loss Hessian factor")
	if len(ids) != n {
		panic("model: ids do not match samples")
	}
	p := make([]float64, c)
	scale := alpha / math.Sqrt(float64(m))
	for i := 0; i < n; i++ {
		rng := rand.New(rand.NewPCG(seed, uint64(ids[i])))
		switch l.Kind {
		case CrossEntropy:
			softmaxTo(p, z.RawRowView(i))
			for j := 0; j < m; j++ {
				y := categorical(rng, p)
				row := dst.RawRowView(i*m + j)
				for k := range row {
					row[k] = scale * p[k]
				}
				row[y] -= scale
			}
		case MSE:
			s := scale * math.Sqrt(l.mseScale(c))
			for j := 0; j < m; j++ {
				row := dst.RawRowView(i*m + j)
				for k := range row {
					row[k] = s * rng.NormFloat64()
				}
			}
		}
	}
}

func categorical(rng *rand.Rand, p []float64) int {
	u := rng.Float64()
	var cum float64
	last := 0
	for k, v := range p {
		if v > 0 {
			last = k
		}
		cum += v
		if u < cum {
			return k
		}
	}
	return last // rounding left u ≥ Σp: take the last class with mass
}

// ParseLoss reads a loss written as "type" or "type:reduction"
// ("cross_entropy", "mse:sum"); the reduction defaults to mean.
func ParseLoss(s string) (Loss, error) {
	kind, red, ok := strings.Cut(s, ":")
	if !ok {
		red = string(Mean)
	}
	l := Loss{Kind: LossKind(kind), Reduction: Reduction(red)}
	if err := l.Validate(); err != nil {
		return Loss{}, fmt.Errorf("loss %q: %v", s, err)
	}
	return l, nil
}

// String returns the loss as ParseLoss reads it ("cross_entropy:mean").
func (l Loss) String() string { return string(l.Kind) + ":" + string(l.Reduction) }
