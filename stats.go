package vivit

import (
	"math"
	"time"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/jacobians"
	"github.com/vivit-go/vivit/model"
)

// Stats are first-order statistics and the diagonal GGN of a batch, from
// one forward pass, one gradient backward pass and one factor backward
// pass. Vectors of length P are in the model's Layout.
type Stats struct {
	Layout        *Layout
	Loss          float64   // L = w Σ_n ℓ_n
	PerSampleLoss []float64 // ℓ_n
	// Grad is ∇L; GradNorm its norm.
	Grad     []float64
	GradNorm float64
	// PerSampleGradNorms are ‖∇ℓ_n‖ of the unnormalised per-sample losses.
	PerSampleGradNorms []float64
	// GradVariance is (1/N) Σ_n (∇ℓ_n − ḡ)² per parameter, ḡ the mean of
	// the per-sample gradients: their population variance (independent of
	// w), computed in the centred two-pass form (exactly 0 for N = 1).
	GradVariance []float64
	// DiagGGN is the diagonal of G (Monte-Carlo when Options.MCSamples > 0,
	// from the curvature sub-batch when Options.SubBatch is set).
	DiagGGN  []float64
	GGNTrace float64 // Σ DiagGGN
	// GradSNR is the gradient SNR of the whole network, ‖ḡ‖²/Σ_p v_p with ḡ
	// the batch mean of the per-sample gradients and v their variance (the
	// SNR of docs/maths.md §4.1); NaN when the variance is 0 (e.g. N = 1).
	GradSNR float64
	Layers  []LayerStats
	Timing  Timing
}

// LayerStats are the statistics restricted to one layer: a module of the
// model (Model.Modules), the parameters whose names share the prefix before
// the last dot.
type LayerStats struct {
	Layer    string   // the module's name: "0" for "0.weight", "layer1.bn1"
	Params   []string // its tensors
	GradNorm float64  // ‖∇L restricted to the layer‖
	GGNTrace float64  // trace of the layer's diagonal GGN block
	// SNR is the layer's gradient SNR (docs/maths.md §4.1), ‖ḡ‖²/Σ_p v_p
	// over the layer, with ḡ the batch mean of the per-sample gradients and
	// v their variance; NaN when the variance is 0 (e.g. N = 1).
	SNR float64
}

// ComputeStats returns the loss, gradient, gradient noise and diagonal GGN
// of the batch. Options.Groups is ignored: statistics are per layer.
func ComputeStats(m *Model, b *Batch, opts *Options) (*Stats, error) {
	p, err := newPass(m, b, opts)
	if err != nil {
		return nil, err
	}
	defer p.release()
	n := b.Len()
	layout := m.Layout()
	d := layout.Size()
	st := &Stats{Layout: layout, PerSampleLoss: p.losses, Loss: p.w * sum(p.losses)}

	t0 := time.Now()
	grads, err := p.gradientFactors()
	if err != nil {
		return nil, err
	}
	st.Grad = make([]float64, d)
	st.DiagGGN = make([]float64, d)
	ones := mat.NewDense(1, n, nil)
	for i := range ones.RawRowView(0) {
		ones.RawRowView(0)[i] = p.w
	}
	norms := mat.NewSymDense(n, nil)
	off := 0
	for i, gf := range grads {
		if err := p.opts.stopped(); err != nil {
			return nil, err
		}
		f := gf.Factor
		dim := f.Dim()
		f.MulTo(mat.NewDense(1, dim, st.Grad[off:off+dim]), ones)
		f.AddGramTo(norms)
		p.factors[i].Factor.AddDiagTo(st.DiagGGN[off : off+dim])
		off += dim
	}
	st.GradNorm = floats.Norm(st.Grad, 2)
	st.PerSampleGradNorms = make([]float64, n)
	for i := range st.PerSampleGradNorms {
		st.PerSampleGradNorms[i] = math.Sqrt(norms.At(i, i))
	}
	if st.GradVariance, err = gradVariance(grads, n, d, &p.opts); err != nil {
		return nil, err
	}
	finishStats(m, st, n, p.w)
	p.timing.Directional = time.Since(t0)
	st.Timing = p.timing
	return st, nil
}

// finishStats fills in what follows from the gradient, its variance and the
// diagonal GGN of n samples with loss weight w: the trace, the gradient
// SNR and the per-layer statistics.
func finishStats(m *Model, st *Stats, n int, w float64) {
	st.GGNTrace = floats.Sum(st.DiagGGN)
	st.Layers = layerStats(m, st, n, w)
	var mean2, variance float64
	for j, v := range st.Grad {
		mu := v / (float64(n) * w)
		mean2 += mu * mu
		variance += st.GradVariance[j]
	}
	st.GradSNR = math.NaN()
	if variance > 0 {
		st.GradSNR = mean2 / variance
	}
}

func layerStats(m *Model, st *Stats, n int, w float64) []LayerStats {
	var ls []LayerStats
	for _, mod := range m.Modules() {
		l := LayerStats{Layer: mod.Name, Params: mod.Params}
		var g2, mean2, variance, trace float64
		for _, name := range mod.Params {
			i := st.Layout.Index(name)
			lo, hi := st.Layout.Offsets[i], st.Layout.Offsets[i+1]
			for j, v := range st.Grad[lo:hi] {
				g2 += v * v
				mu := v / (float64(n) * w)
				mean2 += mu * mu
				variance += st.GradVariance[lo+j]
			}
			trace += floats.Sum(st.DiagGGN[lo:hi])
		}
		l.GradNorm = math.Sqrt(g2)
		l.GGNTrace = trace
		l.SNR = math.NaN()
		if variance > 0 {
			l.SNR = mean2 / variance
		}
		ls = append(ls, l)
	}
	return ls
}

// Gradient returns the batch loss L and its gradient ∇L in the model's
// layout: one forward and one backward pass, no curvature.
func Gradient(m *Model, b *Batch) (loss float64, grad []float64, err error) {
	if m == nil {
		return 0, nil, errNilModel
	}
	if err := b.Check(m); err != nil {
		return 0, nil, err
	}
	n := b.Len()
	acts := m.Forward(b.Inputs)
	defer model.ReleaseActivations(acts)
	z := acts[len(acts)-1]
	w := m.Loss.Weight(n)
	loss = w * sum(m.Loss.PerSample(z, b.Targets))
	_, c := z.Dims()
	g := mat.NewDense(n, c, nil)
	m.Loss.GradTo(g, z, b.Targets)
	g.Scale(w, g) // ∇L = Σ_n J_nᵀ (w ∇ℓ_n): fold w in and sum over samples
	grad = make([]float64, m.NumParams())
	ones := mat.NewDense(1, n, nil)
	for i := range ones.RawRowView(0) {
		ones.RawRowView(0)[i] = 1
	}
	off := 0
	for _, lf := range jacobians.Backprop(m, acts, g, 1) {
		dim := lf.Factor.Dim()
		lf.Factor.MulTo(mat.NewDense(1, dim, grad[off:off+dim]), ones)
		off += dim
	}
	return loss, grad, nil
}
