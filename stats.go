package vivit

import (
	"context"
	"fmt"
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
	// Plan is how the run fitted its memory budget
	// (Options.MemoryBudget): the whole batch at once, or chunks of
	// samples.
	Plan *Plan
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
//
// The run is planned within Options.MemoryBudget: when the whole batch
// does not fit, the gradients and the curvature factors are
// backpropagated over chunks of samples (same results up to rounding).
func ComputeStats(m *Model, b *Batch, opts *Options) (*Stats, error) {
	pl, idx, cols, err := planStats(m, b, opts)
	if err != nil {
		return nil, err
	}
	if pl.Chunked() {
		return statsChunked(m, b, *opts, pl, idx, cols)
	}
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
	ones := filledRow(n, p.w)
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
	st.Plan = pl
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

// statsChunked is ComputeStats on a chunked plan, DataSetStats' scheme
// on chunks of one batch: the gradients go over chunks of the batch, each
// giving its sum, its per-sample norms (the diagonal of the chunk's Gram
// matrix) and its centred sum of squares, merged into the running moments
// by Chan, Golub and LeVeque's pairwise update (mergeMoments), as stable
// as the two-pass form of the unchunked run. The diagonal GGN goes over
// chunks of the curvature samples.
func statsChunked(m *Model, b *Batch, o Options, pl *Plan, idx []int, cols int) (*Stats, error) {
	ck := newChunker(m, b, o, pl, idx, cols)
	n := b.Len()
	w := m.Loss.Weight(n)
	layout := m.Layout()
	d := layout.Size()
	st := &Stats{Layout: layout, Plan: pl, PerSampleLoss: make([]float64, 0, n),
		Grad: make([]float64, d), DiagGGN: make([]float64, d), PerSampleGradNorms: make([]float64, n)}
	// The merged moments of the chunks so far: mean and centred sum of
	// squares; bmean holds a chunk's gradient sum, then its mean.
	mean, m2, bmean := make([]float64, d), make([]float64, d), make([]float64, d)
	o.report("forward", 0, 1)
	for lo := 0; lo < n; lo += pl.Chunk {
		if err := o.stopped(); err != nil {
			return nil, err
		}
		hi := min(lo+pl.Chunk, n)
		nb := hi - lo
		t0 := time.Now()
		bc, err := ck.batchFactors(lo, hi, false)
		if err != nil {
			return nil, err
		}
		st.PerSampleLoss = append(st.PerSampleLoss, bc.losses...)
		ones := filledRow(nb, 1)
		norms := mat.NewSymDense(nb, nil)
		off := 0
		for _, gf := range bc.grads {
			f := gf.Factor
			dim := f.Dim()
			f.MulTo(mat.NewDense(1, dim, bmean[off:off+dim]), ones)
			f.AddGramTo(norms)
			off += dim
		}
		floats.Add(st.Grad, bmean)
		for i := 0; i < nb; i++ {
			st.PerSampleGradNorms[lo+i] = math.Sqrt(norms.At(i, i))
		}
		bm2, err := gradM2(bc.grads, nb, d, &o)
		bc.release()
		if err != nil {
			return nil, err
		}
		floats.Scale(1/float64(nb), bmean)
		mergeMoments(mean, m2, lo, bmean, bm2, nb)
		ck.timing.Directional += time.Since(t0)
	}
	for i, l := range st.PerSampleLoss {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return nil, fmt.Errorf("vivit: the loss of sample %d is %v", i, l)
		}
	}
	st.Loss = w * sum(st.PerSampleLoss)
	floats.Scale(w, st.Grad)
	st.GradNorm = floats.Norm(st.Grad, 2)
	floats.Scale(1/float64(n), m2)
	st.GradVariance = m2
	o.report("backprop", 0, 1)
	for ci := 0; ci < ck.chunks; ci++ {
		cs, err := ck.state(ci)
		if err != nil {
			return nil, err
		}
		off := 0
		for _, lf := range cs.factors {
			dim := lf.Factor.Dim()
			lf.Factor.AddDiagTo(st.DiagGGN[off : off+dim])
			off += dim
		}
		cs.release()
	}
	finishStats(m, st, n, w)
	st.Timing = ck.timing
	return st, nil
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
// layout: a forward and a backward pass, no curvature. Its memory stays
// within DefaultMemoryBudget: a batch whose activations and backward
// factors do not fit is processed in chunks of samples, whose gradients
// add up (the same result up to rounding); a model of which not even one
// sample fits gives a *MemoryError.
func Gradient(m *Model, b *Batch) (loss float64, grad []float64, err error) {
	return gradient(m, b, DefaultMemoryBudget())
}

// gradientChunk returns the samples of a batch of n whose gradient pass
// fits the budget at once (n when the whole batch does): their
// activations and backward factors (one column each), besides the
// gradient and the factors' scratch.
func gradientChunk(m *Model, n int, budget int64) (int, error) {
	s := sizesOf(m)
	perSample := s.acts + s.factors + s.maxT + 8*int64(m.NumOutputs())
	fixed := 8*int64(m.NumParams()) + scratchShare(budget)
	avail := budget - budget/headroom - fixed
	if avail < perSample {
		return 0, &MemoryError{Budget: budget, Needed: (fixed + perSample) * headroom / (headroom - 1), What: "Gradient (one sample's activations and backward factors)"}
	}
	return int(min(int64(n), avail/perSample)), nil
}

// gradient is Gradient within the memory budget.
func gradient(m *Model, b *Batch, budget int64) (loss float64, grad []float64, err error) {
	if m == nil {
		return 0, nil, errNilModel
	}
	if err := b.Check(m); err != nil {
		return 0, nil, err
	}
	n := b.Len()
	chunk, err := gradientChunk(m, n, budget)
	if err != nil {
		return 0, nil, err
	}
	w := m.Loss.Weight(n)
	grad = make([]float64, m.NumParams())
	var part []float64 // a chunk's gradient, when there are several
	if chunk < n {
		part = make([]float64, len(grad))
	}
	losses := make([]float64, 0, n)
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		sub := SliceBatch(b, lo, hi)
		acts, _ := m.ForwardKeep(context.Background(), sub.Inputs, m.BackwardReads())
		z := acts[len(acts)-1]
		losses = append(losses, m.Loss.PerSample(z, sub.Targets)...)
		_, c := z.Dims()
		g := mat.NewDense(hi-lo, c, nil)
		m.Loss.GradTo(g, z, sub.Targets)
		g.Scale(w, g) // ∇L = Σ_n J_nᵀ (w ∇ℓ_n): fold w in and sum over samples
		dst := grad
		if lo > 0 {
			dst = part
		}
		ones := filledRow(hi-lo, 1)
		off := 0
		for _, lf := range jacobians.Backprop(m, acts, g, 1) {
			dim := lf.Factor.Dim()
			lf.Factor.MulTo(mat.NewDense(1, dim, dst[off:off+dim]), ones)
			off += dim
		}
		if lo > 0 {
			floats.Add(grad, part)
		}
		model.ReleaseActivations(acts)
	}
	return w * sum(losses), grad, nil
}
