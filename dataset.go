package vivit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/eigen"
	"github.com/vivit-go/vivit/gram"
	"github.com/vivit-go/vivit/jacobians"
	"github.com/vivit-go/vivit/lowrank"
	"github.com/vivit-go/vivit/model"
)

// DataSet is a collection of samples that need not fit in memory at once:
// the data-set entry points (DataSetTopEigen, DataSetSpectrum) read it in
// batches of consecutive samples, several times for the streaming route.
type DataSet interface {
	// Len returns the number of samples.
	Len() int
	// Batch returns samples [start, end) (0 ≤ start < end ≤ Len()). The
	// caller does not modify the batch and drops it before asking for the
	// next one, so an implementation may hand out views or reuse storage.
	Batch(start, end int) (*Batch, error)
}

// BatchDataSet is the in-memory data set of one Batch; its batches are
// views of it (no copies of the inputs).
type BatchDataSet struct{ B *Batch }

// NewBatchDataSet returns the data set of b's samples.
func NewBatchDataSet(b *Batch) *BatchDataSet { return &BatchDataSet{B: b} }

// Len implements DataSet.
func (d *BatchDataSet) Len() int { return d.B.Len() }

// Batch implements DataSet.
func (d *BatchDataSet) Batch(start, end int) (*Batch, error) {
	if start < 0 || end > d.Len() || start >= end {
		return nil, fmt.Errorf("vivit: batch [%d, %d) is out of range for %d samples", start, end, d.Len())
	}
	return SliceBatch(d.B, start, end), nil
}

// SliceBatch returns samples [start, end) of b as a batch sharing b's
// storage.
func SliceBatch(b *Batch, start, end int) *Batch {
	_, f := b.Inputs.Dims()
	out := &Batch{Inputs: b.Inputs.Slice(start, end, 0, f).(*mat.Dense)}
	if b.Targets.Classes != nil {
		out.Targets.Classes = b.Targets.Classes[start:end]
	}
	if b.Targets.Values != nil {
		_, c := b.Targets.Values.Dims()
		out.Targets.Values = b.Targets.Values.Slice(start, end, 0, c).(*mat.Dense)
	}
	return out
}

// DataSetMethod is how a data set's curvature is computed.
type DataSetMethod int

const (
	// MethodAuto picks the first that applies: MethodBatch when one batch
	// holds the whole data set, MethodParameters when the D×D blocks fit
	// three quarters of the memory budget and cost less than Lanczos
	// (always for a whole spectrum), else MethodLanczos.
	MethodAuto DataSetMethod = iota
	// MethodBatch runs the mini-batch engine (TopEigen, Spectrum) on the
	// whole data set as one batch: Gram or parameter side as Options.Side
	// picks.
	MethodBatch
	// MethodParameters accumulates each block's D×D GGN Σ_b V_b V_bᵀ over
	// the batches (one forward and backward pass each) and solves it
	// densely: exact, 8·D² bytes per block.
	MethodParameters
	// MethodLanczos runs block Lanczos (eigen.Lanczos) in parameter space
	// on the operator G·Q = Σ_b V_b (V_bᵀ Q), one stream over the batches
	// per block of vectors, until the residuals reach DataSetOptions.Tol.
	MethodLanczos
)

// String returns "auto", "batch", "parameters" or "lanczos".
func (m DataSetMethod) String() string {
	switch m {
	case MethodBatch:
		return "batch"
	case MethodParameters:
		return "parameters"
	case MethodLanczos:
		return "lanczos"
	}
	return "auto"
}

// ParseDataSetMethod parses the names of String.
func ParseDataSetMethod(s string) (DataSetMethod, error) {
	for _, m := range []DataSetMethod{MethodAuto, MethodBatch, MethodParameters, MethodLanczos} {
		if m.String() == s {
			return m, nil
		}
	}
	return MethodAuto, fmt.Errorf("vivit: unknown data-set method %q (want auto, batch, parameters or lanczos)", s)
}

// DefaultStreamTol is the default residual tolerance of MethodLanczos,
// relative to λ₁.
const DefaultStreamTol = 1e-8

// DataSetOptions are the knobs of the data-set entry points.
type DataSetOptions struct {
	// Options are the curvature knobs, as for a mini-batch, with these
	// differences: SubBatch must be nil; MemoryBudget (0: DefaultMemoryBudget) bounds
	// the D×D blocks of MethodParameters, and the Lanczos basis and the
	// cache of batch factors of MethodLanczos; Monte-Carlo draws are keyed
	// by a sample's index in the data set; Solver applies to the dense
	// methods; Precision is ignored outside MethodBatch (the other
	// methods compute in float64); Progress is also called once per batch
	// of every pass, with stage "pass p: batch b of B".
	Options
	// BatchSize is the number of samples per batch (the last one may be
	// smaller); 0 means the whole data set in one batch.
	BatchSize int
	// Method says how to compute the curvature; MethodAuto by default.
	Method DataSetMethod
	// Tol bounds the residuals of MethodLanczos: ‖G e_j − λ_j e_j‖ ≤
	// Tol·λ₁ for every returned pair. 0 means DefaultStreamTol (1e-8).
	Tol float64
}

// DataSetResult is what DataSetTopEigen returns.
type DataSetResult struct {
	// Result holds the blocks, as for a mini-batch. BatchSize and
	// CurvatureSamples are the data set's size; Loss is the data set's
	// loss w Σ_n ℓ_n (w = 1/N for a mean reduction, 1 for a sum).
	Result
	// BatchSize is the samples per batch; Batches their number.
	BatchSize, Batches int
	// Method is the method used: "batch", "parameters" or "lanczos".
	Method string
	// Passes counts the passes over the data set (forward and backward
	// through every batch, or a product with cached factors).
	Passes int
	// Residuals holds, per block, ‖G e_j − λ_j e_j‖/λ₁ for each returned
	// pair (nil for MethodBatch, whose solvers are exact to rounding).
	Residuals [][]float64
	// Trace holds, per block, tr(G), the sum of the GGN's diagonal over
	// all samples (all eigenvalues, not only the top k).
	Trace []float64
}

// DataSetTopEigen returns the k largest eigenvalues, and their
// eigenvectors in the model's parameter layout, of the GGN of the data
// set's loss L = w Σ_n ℓ_n over all its samples (w = 1/N for a mean
// reduction, 1 for sum): G = w Σ_n G_n, for the whole network or each
// group of opts.Groups. The data set is read in batches of
// opts.BatchSize samples; see DataSetMethod for the methods and their
// costs, and docs/scaling.md.
func DataSetTopEigen(m *Model, ds DataSet, k int, opts *DataSetOptions) (*DataSetResult, error) {
	if k < 1 {
		return nil, fmt.Errorf("vivit: k must be at least 1, got %d", k)
	}
	r, err := newStream(m, ds, opts, k)
	if err != nil {
		return nil, err
	}
	switch r.method {
	case MethodBatch:
		return r.batchTopEigen(k)
	case MethodParameters:
		return r.denseTopEigen(k)
	}
	return r.lanczosTopEigen(k)
}

// DataSetSpectrum returns all nonzero eigenvalues of the GGN of the data
// set's loss (each block's), by MethodBatch or MethodParameters; the
// streaming method finds leading eigenpairs only and is refused.
func DataSetSpectrum(m *Model, ds DataSet, opts *DataSetOptions) (*SpectrumResult, error) {
	r, err := newStream(m, ds, opts, 0)
	if err != nil {
		return nil, err
	}
	switch r.method {
	case MethodBatch:
		b, err := ds.Batch(0, ds.Len())
		if err != nil {
			return nil, err
		}
		return Spectrum(m, b, &r.opts.Options)
	case MethodParameters:
		res := &SpectrumResult{NumParams: m.NumParams(), BatchSize: r.n, CurvatureSamples: r.n}
		gs, err := r.accumulate()
		if err != nil {
			return nil, err
		}
		res.Columns = r.cols
		for bi, g := range gs {
			t0 := time.Now()
			r.opts.report("eigensolve", bi, len(gs))
			vals, err := eigen.Values(g)
			if err != nil {
				return nil, fmt.Errorf("vivit: block %q: %w", r.blocks[bi].name, err)
			}
			r.timing.Eigen += time.Since(t0)
			n := eigen.NumericalRank(vals, r.opts.rankTol())
			res.Blocks = append(res.Blocks, SpectrumBlock{Name: r.blocks[bi].name, Layout: r.blocks[bi].layout, Values: vals[:n], Trace: r.trace[bi], Side: "parameters"})
			releaseGram(g)
		}
		res.Timing = r.timing
		return res, nil
	}
	return nil, fmt.Errorf("vivit: the whole spectrum of a data set needs the batch or parameters method: the D×D blocks (%d MiB) exceed three quarters of the memory budget (%d MiB)", r.denseBytes()>>20, budgetOrDefault(r.opts.MemoryBudget)>>20)
}

// stream is one data-set run: the batches, the blocks and what the
// passes accumulate.
type stream struct {
	net    *Model
	ds     DataSet
	opts   DataSetOptions
	n      int     // samples
	bs     int     // samples per batch
	w      float64 // weight of the data set's loss
	cols   int     // factor columns per sample
	method DataSetMethod

	blocks []block   // resolved on the first batch (layouts and names only)
	sizes  []int     // parameters per block
	trace  []float64 // per block, after the first pass
	loss   float64   // after the first pass
	passes int
	timing Timing

	cache      []*batchState // batches kept between passes (MethodLanczos)
	cacheBytes int64         // their estimated memory
	cacheCap   int64         // what the cache may hold
}

// batchState is one batch's activations and curvature factors.
type batchState struct {
	p      *pass
	bytes  int64
	blocks []block
}

var errSubBatchDataSet = errors.New("vivit: SubBatch does not apply to a data set (use a smaller data set or BatchSize)")

// newStream plans a run for the k leading eigenpairs (0: the whole
// spectrum).
func newStream(m *Model, ds DataSet, o *DataSetOptions, k int) (*stream, error) {
	if m == nil {
		return nil, errNilModel
	}
	if ds == nil || ds.Len() < 1 {
		return nil, errors.New("vivit: empty data set")
	}
	if o == nil {
		o = &DataSetOptions{}
	}
	if o.SubBatch != nil {
		return nil, errSubBatchDataSet
	}
	if o.BatchSize < 0 {
		return nil, fmt.Errorf("vivit: BatchSize must be ≥ 0, got %d", o.BatchSize)
	}
	if o.Tol < 0 || o.Tol >= 1 {
		return nil, fmt.Errorf("vivit: Tol must be in [0, 1), got %g", o.Tol)
	}
	if o.Method < MethodAuto || o.Method > MethodLanczos {
		return nil, fmt.Errorf("vivit: unknown data-set method %d", int(o.Method))
	}
	n := ds.Len()
	if err := o.Options.check(m, n); err != nil {
		return nil, err
	}
	r := &stream{net: m, ds: ds, opts: *o, n: n, bs: o.BatchSize, w: m.Loss.Weight(n)}
	if r.bs == 0 || r.bs > n {
		r.bs = n
	}
	r.cols = m.Loss.ReducedCols(m.NumOutputs())
	if o.MCSamples > 0 {
		r.cols = o.MCSamples
	}
	// Block sizes from the groups, without a pass.
	r.sizes = groupSizes(m, o.Groups)
	r.method = o.Method
	if r.method == MethodAuto {
		switch {
		case r.bs == n:
			r.method = MethodBatch
		case r.denseBytes() <= budgetOrDefault(o.MemoryBudget)/4*3 && (k == 0 || r.denseCheaper(k)):
			r.method = MethodParameters
		default:
			r.method = MethodLanczos
		}
	}
	return r, nil
}

// groupSizes returns the number of parameters of each group (one group
// of all parameters when groups is nil).
func groupSizes(m *Model, groups []Group) []int {
	size := map[string]int{}
	total := 0
	for _, p := range m.Params() {
		size[p.Name] = len(p.Data)
		total += len(p.Data)
	}
	if groups == nil {
		return []int{total}
	}
	out := make([]int, len(groups))
	for i, g := range groups {
		for _, name := range g.Params {
			out[i] += size[name]
		}
	}
	return out
}

// denseBytes is the memory of the D×D blocks of MethodParameters.
// denseCheaper reports whether accumulating the D×D blocks (D² products
// per factor column) costs less than block Lanczos for k pairs: each of
// its passes backpropagates and applies V_b and V_bᵀ to about 2k vectors
// (about D·(4k+2) products per factor column), and it takes about
// lanczosPasses passes. On the digits data set (D = 2,410, k = 10) the
// dense route took 7.2 s, Lanczos 0.47 s.
func (r *stream) denseCheaper(k int) bool {
	var dense, lanczos float64
	for _, d := range r.sizes {
		dense += float64(d) * float64(d)
		lanczos += lanczosPasses * float64(d) * float64(4*k+2)
	}
	return dense < lanczos
}

// lanczosPasses is the typical number of passes of MethodLanczos to
// residuals of 1e-8·λ₁ (12 on the digits data set).
const lanczosPasses = 15

func (r *stream) denseBytes() int64 {
	var b int64
	for _, d := range r.sizes {
		b += 8 * int64(d) * int64(d)
	}
	return b
}

// numBatches returns the number of batches.
func (r *stream) numBatches() int { return (r.n + r.bs - 1) / r.bs }

// load runs the forward pass and backpropagates the curvature factor of
// batch bi, scaled by √w of the data set's loss; Monte-Carlo draws are
// keyed by the samples' indices in the data set. On the first pass it
// adds the batch's losses to the data set's.
func (r *stream) load(bi int) (*batchState, error) {
	if err := r.opts.Options.stopped(); err != nil {
		return nil, err
	}
	if bi < len(r.cache) && r.cache[bi] != nil {
		return r.cache[bi], nil
	}
	start, end := bi*r.bs, min((bi+1)*r.bs, r.n)
	b, err := r.ds.Batch(start, end)
	if err != nil {
		return nil, fmt.Errorf("vivit: batch [%d, %d): %w", start, end, err)
	}
	if b.Len() != end-start {
		return nil, fmt.Errorf("vivit: batch [%d, %d) has %d samples", start, end, b.Len())
	}
	if err := b.Check(r.net); err != nil {
		return nil, fmt.Errorf("vivit: batch [%d, %d): %w", start, end, err)
	}
	opts := r.opts.Options
	p := &pass{net: r.net, batch: b, opts: opts}
	t0 := time.Now()
	p.acts, _ = r.net.ForwardKeep(context.Background(), b.Inputs, r.net.BackwardReads())
	losses := r.net.Loss.PerSample(p.logits(), b.Targets)
	for i, l := range losses {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			model.ReleaseActivations(p.acts)
			return nil, fmt.Errorf("vivit: the loss of sample %d is %v", start+i, l)
		}
	}
	if r.passes == 0 {
		r.loss += r.w * sum(losses)
	}
	p.losses = losses
	r.timing.Forward += time.Since(t0)
	t0 = time.Now()
	z := p.logits()
	nb := end - start
	c := r.net.NumOutputs()
	s := mat.NewDense(nb*r.cols, c, nil)
	if m := opts.MCSamples; m > 0 {
		ids := make([]int, nb)
		for i := range ids {
			ids[i] = start + i
		}
		r.net.Loss.SampleSqrtHessianTo(s, z, m, opts.Seed, ids, math.Sqrt(r.w))
	} else {
		r.net.Loss.ReducedSqrtHessianTo(s, z, math.Sqrt(r.w))
	}
	p.factors = configure(jacobians.Backprop(r.net, p.acts, s, r.cols), opts.scratch(), lowrank.Float64)
	p.cols = r.cols
	p.idx = allSamples(nb)
	r.timing.Backprop += time.Since(t0)
	st := &batchState{p: p, blocks: p.blocks()}
	st.bytes = stateBytes(p)
	if r.blocks == nil {
		r.blocks = st.blocks
	}
	return st, nil
}

// done releases a batch's state unless the cache keeps it.
func (r *stream) done(bi int, st *batchState, keep bool) {
	if bi < len(r.cache) && r.cache[bi] == st {
		return
	}
	if keep && r.cacheBytes+st.bytes <= r.cacheCap {
		for len(r.cache) <= bi {
			r.cache = append(r.cache, nil)
		}
		r.cache[bi] = st
		r.cacheBytes += st.bytes
		return
	}
	st.p.release()
}

// releaseCache drops every cached batch.
func (r *stream) releaseCache() {
	for _, st := range r.cache {
		if st != nil {
			st.p.release()
		}
	}
	r.cache, r.cacheBytes = nil, 0
}

// stateBytes estimates the memory a batch's state holds: its activations
// and its factors' own matrices.
func stateBytes(p *pass) int64 {
	var words int64
	for _, a := range p.acts {
		if a == nil {
			continue
		}
		r, c := a.Dims()
		words += int64(r * c)
	}
	for _, lf := range p.factors {
		words += factorWords(lf.Factor)
	}
	return 8 * words
}

// factorWords estimates the float64s a factor holds beyond the
// activations it references.
func factorWords(f lowrank.Factor) int64 {
	size := func(m *mat.Dense) int64 { r, c := m.Dims(); return int64(r * c) }
	switch t := f.(type) {
	case *lowrank.Linear:
		return size(t.S)
	case *lowrank.Conv:
		return t.HeldWords()
	case *lowrank.GroupedConv:
		return t.HeldWords()
	case *lowrank.Source:
		return size(t.S)
	case *lowrank.Explicit:
		return size(t.Vt())
	}
	return int64(f.Dim()) * int64(f.Cols())
}

// progress reports batch bi of the current pass.
func (r *stream) progress(bi int) {
	r.opts.report(fmt.Sprintf("pass %d: batch %d of %d", r.passes+1, bi+1, r.numBatches()), 0, 1)
}

// batchTopEigen is MethodBatch: the mini-batch engine on the whole data
// set, plus the trace.
func (r *stream) batchTopEigen(k int) (*DataSetResult, error) {
	b, err := r.ds.Batch(0, r.n)
	if err != nil {
		return nil, err
	}
	res, err := run(r.net, b, k, &r.opts.Options, false)
	if err != nil {
		return nil, err
	}
	out := &DataSetResult{Result: *res, BatchSize: r.n, Batches: 1, Method: "batch", Passes: 1}
	// The trace: one more backward pass for the diagonal.
	r.bs = r.n
	st, err := r.load(0)
	if err != nil {
		return nil, err
	}
	out.Trace = diagTraces(st)
	st.p.release()
	out.Timing.Backprop += r.timing.Backprop
	out.Timing.Forward += r.timing.Forward
	return out, nil
}

// diagTraces returns the trace of each block of the batch's GGN.
func diagTraces(st *batchState) []float64 {
	out := make([]float64, len(st.blocks))
	for i, blk := range st.blocks {
		for _, f := range blk.factors {
			d := make([]float64, f.Dim())
			f.AddDiagTo(d)
			out[i] += floats.Sum(d)
		}
	}
	return out
}

// accumulate is MethodParameters' pass: each block's D×D GGN summed over
// the batches, and the traces.
func (r *stream) accumulate() ([]*mat.SymDense, error) {
	gs := make([]*mat.SymDense, len(r.sizes))
	for i, d := range r.sizes {
		gs[i] = newGram(d)
		gram.ClearUpper(gs[i])
	}
	r.trace = make([]float64, len(r.sizes))
	for bi := 0; bi < r.numBatches(); bi++ {
		r.progress(bi)
		st, err := r.load(bi)
		if err != nil {
			for _, g := range gs {
				releaseGram(g)
			}
			return nil, err
		}
		t0 := time.Now()
		for i, blk := range st.blocks {
			addParamGGN(gs[i], blk.factors, r.opts.scratch())
		}
		r.timing.Gram += time.Since(t0)
		st.p.release()
	}
	r.passes++
	for i, g := range gs {
		raw := g.RawSymmetric()
		for j := 0; j < raw.N; j++ {
			r.trace[i] += raw.Data[j*raw.Stride+j]
		}
	}
	return gs, nil
}

// newResult returns the result shell of a streaming method.
func (r *stream) newResult() *DataSetResult {
	return &DataSetResult{
		Result: Result{NumParams: r.net.NumParams(), BatchSize: r.n, CurvatureSamples: r.n,
			Columns: r.cols, Loss: r.loss, Side: "parameters"},
		BatchSize: r.bs, Batches: r.numBatches(), Method: r.method.String(), Trace: r.trace,
	}
}

// denseTopEigen is MethodParameters.
func (r *stream) denseTopEigen(k int) (*DataSetResult, error) {
	gs, err := r.accumulate()
	if err != nil {
		return nil, err
	}
	res := r.newResult()
	for bi, g := range gs {
		blk := r.blocks[bi]
		r.opts.report("eigensolve", bi, len(gs))
		t0 := time.Now()
		vals, vecs, rank, err := topK(g, k, r.opts.Options)
		if err != nil {
			releaseGram(g)
			return nil, fmt.Errorf("vivit: block %q: %w", blk.name, err)
		}
		r.timing.Eigen += time.Since(t0)
		out := Block{Name: blk.name, Layout: blk.layout, Rank: rank, Side: "parameters", Values: vals, Vectors: &mat.Dense{}}
		var resid []float64
		if len(vals) > 0 {
			e := mat.DenseCopyOf(vecs.T())
			resid = symResiduals(g, e, vals)
			if !r.opts.SkipVectors {
				out.Vectors = e
			}
		}
		releaseGram(g)
		res.Blocks = append(res.Blocks, out)
		res.Residuals = append(res.Residuals, resid)
	}
	res.Passes = r.passes
	res.Timing = r.timing
	return res, nil
}

// symResiduals returns ‖G e_j − λ_j e_j‖/λ₁ for the rows e_j of e, with g's
// upper triangle.
func symResiduals(g *mat.SymDense, e *mat.Dense, vals []float64) []float64 {
	k, d := e.Dims()
	full := eigen.MirrorUpper(g)
	ge := mat.NewDense(k, d, nil)
	ge.Mul(e, full)
	out := make([]float64, k)
	for j := 0; j < k; j++ {
		row := ge.RawRowView(j)
		floats.AddScaled(row, -vals[j], e.RawRowView(j))
		out[j] = floats.Norm(row, 2) / vals[0]
	}
	return out
}

// lanczosTopEigen is MethodLanczos: per block, block Lanczos on the
// streamed operator.
func (r *stream) lanczosTopEigen(k int) (*DataSetResult, error) {
	defer r.releaseCache()
	budget := budgetOrDefault(r.opts.MemoryBudget)
	tol := r.opts.Tol
	if tol == 0 {
		tol = DefaultStreamTol
	}
	// The first pass computes the loss and the traces, and fills the
	// cache with as many batches as half the budget holds.
	r.cacheCap = budget / 2
	r.trace = make([]float64, len(r.sizes))
	for bi := 0; bi < r.numBatches(); bi++ {
		r.progress(bi)
		st, err := r.load(bi)
		if err != nil {
			return nil, err
		}
		for i, t := range diagTraces(st) {
			r.trace[i] += t
		}
		r.done(bi, st, true)
	}
	r.passes++
	res := r.newResult()
	for bi, d := range r.sizes {
		blk := r.blocks[bi]
		kb := min(k, d)
		// The basis and its images: 2·D·m float64s in the other half.
		m := int(budget / 2 / (16 * int64(d)))
		b := min(max(kb, 2), d)
		if m < kb+4*b && m < d {
			return nil, fmt.Errorf("vivit: block %q: the Lanczos basis for k = %d needs %d MiB, more than half the memory budget (%d MiB)", blk.name, k, (16*int64(d)*int64(kb+4*b))>>20, budget>>20)
		}
		l := eigen.Lanczos{Tol: tol, BlockSize: b, MaxBasis: min(m, max(100, 2*kb)), Seed: r.opts.Seed}
		op := &streamOp{r: r, block: bi, d: d}
		r.opts.report("eigensolve", bi, len(r.sizes))
		t0 := time.Now()
		vals, vecs, _, err := l.TopKOperator(op, kb)
		if op.err != nil {
			return nil, op.err
		}
		if err != nil {
			return nil, fmt.Errorf("vivit: block %q: %w", blk.name, err)
		}
		r.timing.Eigen += time.Since(t0) - op.spent
		nr := eigen.NumericalRank(vals, r.opts.rankTol())
		rank := -1
		if nr < len(vals) {
			rank = nr
		}
		vals = vals[:nr]
		out := Block{Name: blk.name, Layout: blk.layout, Rank: rank, Side: "parameters", Values: vals, Vectors: &mat.Dense{}}
		var resid []float64
		if nr > 0 {
			e := mat.DenseCopyOf(vecs.Slice(0, d, 0, nr).T())
			resid, err = op.residuals(e, vals)
			if err != nil {
				return nil, err
			}
			if !r.opts.SkipVectors {
				out.Vectors = e
			}
		}
		res.Blocks = append(res.Blocks, out)
		res.Residuals = append(res.Residuals, resid)
	}
	res.Passes = r.passes
	res.Timing = r.timing
	return res, nil
}

// streamOp is the GGN block G = Σ_b V_b V_bᵀ as an eigen.Operator: each
// application streams over the batches (cached ones are not recomputed).
type streamOp struct {
	r     *stream
	block int
	d     int
	err   error         // the first failure of a pass; later applies are no-ops
	spent time.Duration // time in passes (timed as forward, backprop, gram)
	// The last application, for the residuals of the final vectors.
	lastX, lastY *mat.Dense
}

func (o *streamOp) Size() int { return o.d }

// ApplyTo sets dst = G·x for the columns of x.
func (o *streamOp) ApplyTo(dst, x *mat.Dense) {
	_, nv := x.Dims()
	if dst.IsEmpty() {
		dst.ReuseAs(o.d, nv)
	}
	if o.err != nil {
		dst.Zero()
		return
	}
	t0 := time.Now()
	xt := mat.DenseCopyOf(x.T())
	y, err := o.apply(xt)
	o.spent += time.Since(t0)
	if err != nil {
		o.err = err
		dst.Zero()
		return
	}
	dst.Copy(y.T())
	o.lastX, o.lastY = xt, y
}

// apply returns the rows G x_j for the rows x_j of x, streaming over the
// batches: one pass.
func (o *streamOp) apply(x *mat.Dense) (*mat.Dense, error) {
	r := o.r
	nv, _ := x.Dims()
	y := mat.NewDense(nv, o.d, nil)
	for bi := 0; bi < r.numBatches(); bi++ {
		r.progress(bi)
		st, err := r.load(bi)
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		blk := st.blocks[o.block]
		u := mat.NewDense(nv, blk.factors[0].Cols(), nil)
		part := mat.NewDense(nv, blk.factors[0].Cols(), nil)
		off := 0
		for _, f := range blk.factors {
			f.TransMulTo(part, x.Slice(0, nv, off, off+f.Dim()).(*mat.Dense))
			u.Add(u, part)
			off += f.Dim()
		}
		off = 0
		for _, f := range blk.factors {
			dim := f.Dim()
			tmp := mat.NewDense(nv, dim, nil)
			f.MulTo(tmp, u)
			ys := y.Slice(0, nv, off, off+dim).(*mat.Dense)
			ys.Add(ys, tmp)
			off += dim
		}
		r.timing.Gram += time.Since(t0)
		r.done(bi, st, true)
	}
	r.passes++
	return y, nil
}

// residuals returns ‖G e_j − λ_j e_j‖/λ₁ for the rows of e: from the
// solver's final application when it was to these vectors (up to sign),
// else from one more pass.
func (o *streamOp) residuals(e *mat.Dense, vals []float64) ([]float64, error) {
	k, d := e.Dims()
	ge := o.matching(e)
	if ge == nil {
		var err error
		if ge, err = o.apply(e); err != nil {
			return nil, err
		}
	}
	out := make([]float64, k)
	row := make([]float64, d)
	for j := 0; j < k; j++ {
		copy(row, ge.RawRowView(j))
		floats.AddScaled(row, -vals[j], e.RawRowView(j))
		out[j] = floats.Norm(row, 2) / vals[0]
	}
	return out, nil
}

// matching returns G e_j (rows) from the last application when its
// vectors were the rows of e up to sign, else nil.
func (o *streamOp) matching(e *mat.Dense) *mat.Dense {
	k, d := e.Dims()
	if o.lastX == nil {
		return nil
	}
	if r, _ := o.lastX.Dims(); r < k {
		return nil
	}
	ge := mat.NewDense(k, d, nil)
	for j := 0; j < k; j++ {
		want := e.RawRowView(j)
		found := false
		for i := 0; i < k && !found; i++ {
			got := o.lastX.RawRowView(i)
			for _, s := range []float64{1, -1} {
				var diff float64
				for t := range want {
					diff = math.Max(diff, math.Abs(s*got[t]-want[t]))
				}
				if diff == 0 {
					floats.ScaleTo(ge.RawRowView(j), s, o.lastY.RawRowView(i))
					found = true
					break
				}
			}
		}
		if !found {
			return nil
		}
	}
	return ge
}
