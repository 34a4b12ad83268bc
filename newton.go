package vivit

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/vivit-go/vivit/directional"
)

// DampingKind selects how NewtonStep damps each eigendirection.
type DampingKind int

const (
	// Constant damping: δ_k = Delta for every direction.
	Constant DampingKind = iota
	// Shrink keeps δ_k = Delta but scales the gradient projection by
	// ρ_k = snr_k/(1+snr_k), where snr_k = ḡ_k²/(Var_n(γ_nk)/N) is the
	// signal-to-noise ratio of the batch-mean directional gradient: noisy
	// directions move less, clean ones take the full damped step.
	Shrink
	// Skip takes the damped step only along directions whose snr_k (as in
	// Shrink) is at least Threshold, and none along the others.
	Skip
)

// Damping configures NewtonStep. The zero value is constant damping with
// δ = 0 (an undamped step in the top-k eigenspace).
type Damping struct {
	Kind      DampingKind
	Delta     float64 // δ ≥ 0 added to every eigenvalue
	Threshold float64 // snr_k below which Skip drops a direction
}

// ParseDamping reads "constant:δ", "shrink:δ" or "skip:δ:τ" (the forms the
// command line takes).
func ParseDamping(s string) (Damping, error) {
	parts := strings.Split(s, ":")
	num := func(i int, name string) (float64, error) {
		if i >= len(parts) {
			return 0, fmt.Errorf("damping %q: missing %s", s, name)
		}
		v, err := strconv.ParseFloat(parts[i], 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, fmt.Errorf("damping %q: %s must be a finite number ≥ 0", s, name)
		}
		return v, nil
	}
	var d Damping
	var err error
	switch parts[0] {
	case "constant", "shrink":
		if len(parts) != 2 {
			return d, fmt.Errorf("damping %q: want %s:δ", s, parts[0])
		}
		d.Kind = Constant
		if parts[0] == "shrink" {
			d.Kind = Shrink
		}
		d.Delta, err = num(1, "δ")
	case "skip":
		if len(parts) != 3 {
			return d, fmt.Errorf("damping %q: want skip:δ:τ", s)
		}
		d.Kind = Skip
		if d.Delta, err = num(1, "δ"); err == nil {
			d.Threshold, err = num(2, "τ")
		}
	default:
		return d, fmt.Errorf("damping %q: unknown kind %q (want constant:δ, shrink:δ or skip:δ:τ)", s, parts[0])
	}
	return d, err
}

// NewtonStep is a damped Newton step in the top-k GGN eigenbasis:
//
//	s = −Σ_k ρ_k (e_kᵀ∇L) / (λ_k + δ_k) e_k
//
// with ρ_k = 1 except under Shrink and Skip damping.
type NewtonStep struct {
	Layout *Layout
	Step   []float64 // s, in Layout
	// Per direction k:
	Values      []float64 // λ_k
	GradProj    []float64 // e_kᵀ∇L = w Σ_n γ_nk
	GradSNR     []float64 // snr_k = ḡ_k²/(Var_n(γ_nk)/N); +Inf without noise
	CurvSNR     []float64 // λ̄_k²/(Var_n(λ_nk)/N)
	Damping     []float64 // δ_k
	Weights     []float64 // ρ_k
	Coefficient []float64 // the step along e_k: −ρ_k (e_kᵀ∇L)/(λ_k+δ_k)
	Result      *Result   // the eigenpairs and γ, λ it was built from
}

// Newton computes a damped Newton step for the batch loss L in the top-k
// eigenbasis of its GGN (of the whole network; opts.Groups must be nil).
// With a mean reduction, e_kᵀ∇L/λ_k is the ratio of the batch means of γ_nk
// and λ_nk, the form of the ViViT paper; with a sum reduction it is still
// the step for L.
func Newton(m *Model, b *Batch, k int, d Damping, opts *Options) (*NewtonStep, error) {
	if opts != nil && opts.Groups != nil {
		return nil, fmt.Errorf("vivit: Newton takes the whole-network eigenbasis; Options.Groups must be nil")
	}
	if d.Delta < 0 || math.IsNaN(d.Delta) || math.IsInf(d.Delta, 0) || d.Threshold < 0 || math.IsNaN(d.Threshold) {
		return nil, fmt.Errorf("vivit: damping δ and threshold must be finite and ≥ 0")
	}
	if opts != nil && opts.SkipVectors {
		o := *opts
		o.SkipVectors = false // the step is a combination of the vectors
		opts = &o
	}
	res, err := Directional(m, b, k, opts)
	if err != nil {
		return nil, err
	}
	blk := res.Blocks[0]
	n := float64(b.Len())
	w := m.Loss.Weight(b.Len())
	st := &NewtonStep{Layout: blk.Layout, Step: make([]float64, blk.Layout.Size()), Values: blk.Values, Result: res}
	if len(blk.Values) == 0 {
		return st, nil
	}
	gs, ls := directional.Summarize(blk.Gamma), directional.Summarize(blk.Lambda)
	for j, lam := range blk.Values {
		proj := w * n * gs.Mean[j] // w Σ_n γ_nk
		gsnr := snrOfMean(gs.Mean[j], gs.Variance[j], n)
		rho := 1.0
		switch d.Kind {
		case Shrink:
			if !math.IsInf(gsnr, 1) {
				rho = gsnr / (1 + gsnr)
			}
		case Skip:
			if gsnr < d.Threshold {
				rho = 0
			}
		}
		coef := -rho * proj / (lam + d.Delta)
		st.GradProj = append(st.GradProj, proj)
		st.GradSNR = append(st.GradSNR, gsnr)
		st.CurvSNR = append(st.CurvSNR, snrOfMean(ls.Mean[j], ls.Variance[j], n))
		st.Damping = append(st.Damping, d.Delta)
		st.Weights = append(st.Weights, rho)
		st.Coefficient = append(st.Coefficient, coef)
		for i, e := range blk.Vector(j) {
			st.Step[i] += coef * e
		}
	}
	return st, nil
}

// snrOfMean is mean²/(variance/n), the squared signal-to-noise ratio of a
// batch mean; +Inf for zero variance with a nonzero mean, 0 for both zero.
func snrOfMean(mean, variance, n float64) float64 {
	if variance <= 0 {
		if mean == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return mean * mean * n / variance
}
