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
	// ρ_k = b_k/(1+b_k), where b_k = N·SNR(γ_k) is the batch SNR of the
	// mean directional gradient (docs/maths.md): noisy directions move
	// less, clean ones take the full damped step. ρ_k minimises the
	// expected quadratic model when the batch slope is the true slope plus
	// noise of the measured variance.
	Shrink
	// Skip takes the damped step only along directions whose batch SNR
	// b_k (as in Shrink) is at least Threshold, and none along the others.
	Skip
	// Auto is the noise-aware default: ρ_k as in Shrink, and
	// δ_k = Delta + TinyCurvature·λ_1 + 3 λ_k / (N·SNR(λ_k)). The last term,
	// three times the variance of the batch-mean curvature over λ_k, is the
	// damping that minimises the expected quadratic model, to second order,
	// when λ_k is measured with that noise: directions whose curvature is
	// well measured get almost none, noisy ones more. The floor
	// TinyCurvature·λ_1 (λ_1 the block's largest eigenvalue) bounds the
	// step along nearly flat directions, where the quadratic model does not
	// hold far.
	Auto
)

// Damping configures NewtonStep. The zero value is constant damping with
// δ = 0, an undamped step in the top-k eigenspace; DefaultDamping is the
// safer choice.
type Damping struct {
	Kind      DampingKind
	Delta     float64 // δ ≥ 0 added to every eigenvalue
	Threshold float64 // batch SNR b_k below which Skip drops a direction
}

// DefaultDamping is the noise-aware damping of the command line's default
// (--damping auto): Auto with no constant part.
var DefaultDamping = Damping{Kind: Auto}

// ParseDamping reads "auto", "auto:δ", "constant:δ", "shrink:δ" or
// "skip:δ:τ" (the forms the command line takes).
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
	case "auto":
		d.Kind = Auto
		switch len(parts) {
		case 1:
		case 2:
			d.Delta, err = num(1, "δ")
		default:
			return d, fmt.Errorf("damping %q: want auto or auto:δ", s)
		}
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
		return d, fmt.Errorf("damping %q: unknown kind %q (want auto, auto:δ, constant:δ, shrink:δ or skip:δ:τ)", s, parts[0])
	}
	return d, err
}

// NewtonStep is a damped Newton step in the top-k GGN eigenbasis:
//
//	s = −Σ_k ρ_k (e_kᵀ∇L) / (λ_k + δ_k) e_k
//
// with ρ_k = 1 except under Shrink, Skip and Auto damping. With
// Options.Groups the eigenbasis is that of each group's GGN block and s the
// sum of the blocks' steps (a step for the block-diagonal GGN).
//
// SNRs follow docs/maths.md: SNR(x) = mean_n(x_n)²/Var_n(x_n) over the
// batch's per-sample values (population variance), the definition of
// directional.Summary and of the directional command; the batch SNR of the
// mean is N·SNR.
type NewtonStep struct {
	Layout *Layout
	Step   []float64 // s, in Layout
	// Per direction k (all blocks' directions, block by block):
	Block        []int     // the direction's block, an index into Result.Blocks
	Values       []float64 // λ_k
	GradProj     []float64 // e_kᵀ∇L = w Σ_n γ_nk
	GradSNR      []float64 // SNR(γ_k) = mean(γ_nk)²/Var(γ_nk); +Inf without noise
	GradBatchSNR []float64 // N·SNR(γ_k): the batch SNR of e_kᵀ∇L, which Shrink, Skip and Auto use
	CurvSNR      []float64 // SNR(λ_k) = mean(λ_nk)²/Var(λ_nk)
	Damping      []float64 // δ_k
	Weights      []float64 // ρ_k
	Coefficient  []float64 // the step along e_k: −ρ_k (e_kᵀ∇L)/(λ_k+δ_k)
	// PredictedChange is the quadratic model's change of L along the step,
	// Σ_k c_k e_kᵀ∇L + ½ λ_k c_k² (c_k the Coefficient).
	PredictedChange float64
	// Warnings say, in one sentence each, why PredictedChange may not be
	// trustworthy: directions whose batch gradient or curvature is within
	// its noise (batch SNR < 1), or whose damped curvature is tiny next to
	// the block's largest eigenvalue (λ_k+δ_k < TinyCurvature·λ_1). Empty
	// when none applies.
	Warnings []string
	Result   *Result // the eigenpairs and γ, λ it was built from
}

// TinyCurvature is the ratio (λ_k+δ_k)/λ_1 below which Newton warns that
// the quadratic model is nearly flat along e_k, so that the step along it
// is long and the model unlikely to hold that far.
const TinyCurvature = 1e-3

// Newton computes a damped Newton step for the batch loss L in the top-k
// eigenbasis of its GGN (of the whole network, or of each group's block
// with opts.Groups). With a mean reduction, e_kᵀ∇L/λ_k is the ratio of the
// batch means of γ_nk and λ_nk, the form of the ViViT paper; with a sum
// reduction it is still the step for L.
func Newton(m *Model, b *Batch, k int, d Damping, opts *Options) (*NewtonStep, error) {
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
	layout := m.Layout()
	n := float64(b.Len())
	w := m.Loss.Weight(b.Len())
	st := &NewtonStep{Layout: layout, Step: make([]float64, layout.Size()), Result: res}
	var lowGrad, lowCurv, tiny []string
	for bi := range res.Blocks {
		// Each block's directions live in its own tensors: the blocks' steps add up.
		blk := &res.Blocks[bi]
		if len(blk.Values) == 0 {
			continue
		}
		gs, ls := directional.Summarize(blk.Gamma), directional.Summarize(blk.Lambda)
		for j, lam := range blk.Values {
			proj := w * n * gs.Mean[j] // w Σ_n γ_nk
			gb, cb := n*gs.SNR[j], n*ls.SNR[j]
			rho, delta := 1.0, d.Delta
			switch d.Kind {
			case Shrink, Auto:
				if gb >= 0 && !math.IsInf(gb, 1) { // NaN (no slope, no noise) keeps ρ = 1: the step is 0 anyway
					rho = gb / (1 + gb)
				}
				if d.Kind == Auto {
					delta += TinyCurvature * blk.Values[0]
					if cb > 0 && !math.IsInf(cb, 1) {
						delta += 3 * lam / cb
					}
				}
			case Skip:
				if gb < d.Threshold {
					rho = 0
				}
			}
			coef := -rho * proj / (lam + delta)
			st.Block = append(st.Block, bi)
			st.Values = append(st.Values, lam)
			st.GradProj = append(st.GradProj, proj)
			st.GradSNR = append(st.GradSNR, gs.SNR[j])
			st.GradBatchSNR = append(st.GradBatchSNR, gb)
			st.CurvSNR = append(st.CurvSNR, ls.SNR[j])
			st.Damping = append(st.Damping, delta)
			st.Weights = append(st.Weights, rho)
			st.Coefficient = append(st.Coefficient, coef)
			st.PredictedChange += coef*proj + 0.5*lam*coef*coef
			vec := blk.Vector(j)
			for t, name := range blk.Layout.Names {
				lo, hi := blk.Layout.Offsets[t], blk.Layout.Offsets[t+1]
				dst := st.Step[layout.Offsets[layout.Index(name)]:]
				for i, e := range vec[lo:hi] {
					dst[i] += coef * e
				}
			}
			label := directionLabel(blk.Name, j)
			if rho > 0 && gb < 1 {
				lowGrad = append(lowGrad, label)
			}
			if cb < 1 {
				lowCurv = append(lowCurv, label)
			}
			if rho > 0 && coef != 0 && lam+delta < TinyCurvature*blk.Values[0] {
				tiny = append(tiny, label)
			}
		}
	}
	if len(lowGrad) > 0 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("the gradient along %s is within its noise (batch SNR N·SNR(γ) < 1): the step and the predicted decrease along it are not trustworthy", listDirections(lowGrad)))
	}
	if len(lowCurv) > 0 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("the curvature along %s is within its noise (batch SNR N·SNR(λ) < 1): 1/(λ_k+δ_k) is not trustworthy", listDirections(lowCurv)))
	}
	if len(tiny) > 0 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("the damped curvature along %s is below %g of the largest eigenvalue: the step along it is long and the quadratic model may not hold that far (increase δ or lower k)", listDirections(tiny), TinyCurvature))
	}
	return st, nil
}

// directionLabel names direction j (0-based) of a block: "k=3", or
// "k=3 of group 1" in a group.
func directionLabel(block string, j int) string {
	if block == "" {
		return fmt.Sprintf("k=%d", j+1)
	}
	return fmt.Sprintf("k=%d of group %s", j+1, block)
}

// listDirections spells labels as "direction k=2" or "directions k=2, k=5
// and k=7", eliding the middle of long lists.
func listDirections(labels []string) string {
	if len(labels) == 1 {
		return "direction " + labels[0]
	}
	if len(labels) > 8 {
		labels = append(append(labels[:3:3], fmt.Sprintf("%d more", len(labels)-6)), labels[len(labels)-3:]...)
	}
	return "directions " + strings.Join(labels[:len(labels)-1], ", ") + " and " + labels[len(labels)-1]
}
