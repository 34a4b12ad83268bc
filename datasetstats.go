package vivit

import (
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// DataSetStats returns the statistics of ComputeStats over all samples of
// the data set: the loss L = w Σ_n ℓ_n (w = 1/N for a mean reduction, 1
// for sum), its gradient, the per-sample losses and gradient norms, the
// population variance of the per-sample gradients, the diagonal of the
// data set's GGN G = w Σ_n G_n and its trace, and the gradient SNRs. The
// data set is read once, in batches of opts.BatchSize samples (0: one
// batch), so that memory holds one batch's activations and factors and a
// few vectors of the parameters' size (and the 2·N per-sample values).
//
// The variance is exact to rounding whatever the batching: each batch
// contributes its mean and its centred sum of squares (the corrected
// two-pass form of ComputeStats), and batches are merged by Chan, Golub
// and LeVeque's pairwise update, never as E[g²] − E[g]². Monte-Carlo
// draws are keyed by a sample's index in the data set, so the result
// does not depend on the batch size. Options.Groups, Method and Tol are
// ignored; SubBatch must be nil.
func DataSetStats(m *Model, ds DataSet, opts *DataSetOptions) (*Stats, error) {
	r, err := newStream(m, ds, opts, 0)
	if err != nil {
		return nil, err
	}
	r.opts.Groups = nil
	layout := m.Layout()
	d := layout.Size()
	n := r.n
	if need, budget := statsBytes(m, r.bs, r.cols, n), budgetOrDefault(r.opts.MemoryBudget); need > budget {
		return nil, &MemoryError{Budget: budget, Needed: need,
			What: fmt.Sprintf("DataSetStats with batches of %d samples (a smaller BatchSize needs less)", r.bs)}
	}
	st := &Stats{Layout: layout, PerSampleLoss: make([]float64, 0, n), PerSampleGradNorms: make([]float64, 0, n),
		Grad: make([]float64, d), DiagGGN: make([]float64, d)}
	// The merged moments of the per-sample gradients of the batches so far:
	// count, mean and centred sum of squares.
	var seen int
	mean := make([]float64, d)
	m2 := make([]float64, d)
	bmean := make([]float64, d)
	var gradTime time.Duration
	for bi := 0; bi < r.numBatches(); bi++ {
		r.progress(bi)
		bs, err := r.load(bi)
		if err != nil {
			return nil, err
		}
		p := bs.p
		nb := p.batch.Len()
		st.PerSampleLoss = append(st.PerSampleLoss, p.losses...)
		t0 := time.Now()
		grads, err := p.gradientFactors()
		if err != nil {
			p.release()
			return nil, err
		}
		ones := filledRow(nb, 1)
		norms := mat.NewSymDense(nb, nil)
		// bmean holds the batch's gradient sum Σ_{n∈b} ∇ℓ_n until scaled.
		off := 0
		for i, gf := range grads {
			if err := p.opts.stopped(); err != nil {
				p.release()
				return nil, err
			}
			f := gf.Factor
			dim := f.Dim()
			f.MulTo(mat.NewDense(1, dim, bmean[off:off+dim]), ones)
			f.AddGramTo(norms)
			p.factors[i].Factor.AddDiagTo(st.DiagGGN[off : off+dim])
			off += dim
		}
		floats.Add(st.Grad, bmean)
		for i := 0; i < nb; i++ {
			st.PerSampleGradNorms = append(st.PerSampleGradNorms, math.Sqrt(norms.At(i, i)))
		}
		bm2, err := gradM2(grads, nb, d, &p.opts)
		if err != nil {
			p.release()
			return nil, err
		}
		p.release()
		floats.Scale(1/float64(nb), bmean)
		mergeMoments(mean, m2, seen, bmean, bm2, nb)
		seen += nb
		gradTime += time.Since(t0)
	}
	st.Loss = r.loss
	floats.Scale(r.w, st.Grad)
	st.GradNorm = floats.Norm(st.Grad, 2)
	floats.Scale(1/float64(n), m2)
	st.GradVariance = m2
	finishStats(m, st, n, r.w)
	st.Timing = r.timing
	st.Timing.Directional = gradTime
	return st, nil
}

// statsBytes estimates the memory of DataSetStats with batches of bs
// samples and cols curvature columns per sample, of n samples in all: one
// batch's activations, curvature and gradient factors, backpropagation
// transients and per-sample gradient Gram matrix, the six vectors of the
// parameters' size, and the per-sample values.
func statsBytes(m *Model, bs, cols, n int) int64 {
	s := sizesOf(m)
	b, c := int64(bs), int64(cols)
	return b*(s.acts+(c+1)*(s.factors+s.maxT)) + 8*b*b + 6*8*int64(m.NumParams()) + 16*int64(n)
}

// mergeMoments merges the moments of a group of nb values (mean bmean,
// centred sum of squares bm2) into those of na values (mean, m2), in
// place: Chan, Golub and LeVeque's pairwise update, δ = m_b − m_a,
// m = m_a + δ·n_b/n, M2 = M2_a + M2_b + δ²·n_a·n_b/n.
func mergeMoments(mean, m2 []float64, na int, bmean, bm2 []float64, nb int) {
	if na == 0 {
		copy(mean, bmean)
		copy(m2, bm2)
		return
	}
	n := float64(na + nb)
	fa, fb := float64(na), float64(nb)
	for j := range mean {
		delta := bmean[j] - mean[j]
		mean[j] += delta * fb / n
		m2[j] += bm2[j] + delta*delta*fa*fb/n
	}
}
