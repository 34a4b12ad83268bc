package vivit

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"time"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/directional"
	"github.com/vivit-go/vivit/eigen"
	"github.com/vivit-go/vivit/gram"
	"github.com/vivit-go/vivit/internal/par"
	"github.com/vivit-go/vivit/internal/scratch"
	"github.com/vivit-go/vivit/jacobians"
	"github.com/vivit-go/vivit/lowrank"
	"github.com/vivit-go/vivit/model"
)

// A chunked run backpropagates the curvature factor over chunks of the
// curvature samples (Plan.Chunk samples each) instead of the whole batch,
// so that only Plan.Held chunks' factors are alive at once. The Gram
// matrix is assembled from blocks: chunk i's own Gram matrix on the
// diagonal, the cross products V_iᵀV_j of two chunks off it. Chunks are
// held in groups of Plan.Held; each group's chunks are crossed with each
// other and then with every later chunk, recomputed one at a time (the
// forward pass and the backpropagation of a chunk are cheaper than the
// memory of keeping its factors). The map-back V u sums the chunks'
// contributions, starting with the group still held. Every entry of the
// Gram matrix is the same sum over layers of the same products as in an
// unchunked run, up to rounding.
type chunker struct {
	net   *Model
	batch *Batch
	opts  Options
	plan  *Plan
	idx   []int   // curvature samples
	w     float64 // curvature weight
	cols  int

	chunks  int
	timing  Timing
	kept    []bool // tensors that factors reference (parameter layers' inputs)
	blocks  []block
	held    []*chunkState // the group held after the Gram matrix
	heldLo  int           // its first chunk
	scratch int64
}

// chunkState is one chunk's factors and the activations they reference.
type chunkState struct {
	acts    []*mat.Dense
	own     bool // acts[0] is a copy the state owns
	factors []jacobians.LayerFactor
}

func newChunker(m *Model, b *Batch, o Options, pl *Plan, idx []int, cols int) *chunker {
	ck := &chunker{net: m, batch: b, opts: o, plan: pl, idx: idx, cols: cols,
		w: m.Loss.Weight(len(idx)), scratch: o.scratch()}
	ck.chunks = (len(idx) + pl.Chunk - 1) / pl.Chunk
	ck.kept = make([]bool, len(m.Nodes)+1)
	ck.kept[0] = true
	for _, nd := range m.Nodes {
		if _, ok := nd.Op.(model.ParamLayer); ok {
			ck.kept[nd.Inputs[0]] = true
		}
	}
	return ck
}

// span returns the columns of chunk ci in the Gram matrix.
func (ck *chunker) span(ci int) (lo, hi int) {
	lo = ci * ck.plan.Chunk
	hi = min(lo+ck.plan.Chunk, len(ck.idx))
	return lo * ck.cols, hi * ck.cols
}

// state runs the forward pass and the factor backpropagation of chunk ci
// and releases the activations its factors do not reference.
func (ck *chunker) state(ci int) (*chunkState, error) {
	if err := ck.opts.stopped(); err != nil {
		return nil, err
	}
	lo := ci * ck.plan.Chunk
	rows := ck.idx[lo:min(lo+ck.plan.Chunk, len(ck.idx))]
	t0 := time.Now()
	x := model.Subset(ck.batch.Inputs, rows)
	acts, _ := ck.net.ForwardKeep(context.Background(), x, ck.net.BackwardReads())
	z := acts[len(acts)-1]
	c := ck.net.NumOutputs()
	var s *mat.Dense
	if m := ck.opts.MCSamples; m > 0 {
		s = mat.NewDense(len(rows)*m, c, nil)
		ck.net.Loss.SampleSqrtHessianTo(s, z, m, ck.opts.Seed, rows, math.Sqrt(ck.w))
	} else {
		s = mat.NewDense(len(rows)*ck.cols, c, nil)
		ck.net.Loss.ReducedSqrtHessianTo(s, z, math.Sqrt(ck.w))
	}
	t1 := time.Now()
	ck.timing.Forward += t1.Sub(t0)
	// Activations no later node reads are recycled during the pass.
	fs, err := jacobians.BackpropContext(ck.opts.ctx(), ck.net, acts, s, ck.cols, ck.opts.Precision, func(t int) {
		model.ReleaseActivations([]*mat.Dense{nil, acts[t]})
		acts[t] = nil
	})
	st := &chunkState{acts: acts, own: x != ck.batch.Inputs, factors: fs}
	if err != nil {
		st.release()
		return nil, fmt.Errorf("vivit: run stopped: %w", err)
	}
	configure(fs, ck.scratch, ck.opts.Precision)
	for t := 1; t < len(acts); t++ {
		if !ck.kept[t] {
			model.ReleaseActivations([]*mat.Dense{nil, acts[t]})
			acts[t] = nil
		}
	}
	ck.timing.Backprop += time.Since(t1)
	return st, nil
}

// release hands a chunk's activations back for reuse.
func (st *chunkState) release() {
	for t, a := range st.acts {
		if a == nil || (t == 0 && !st.own) {
			continue
		}
		data := a.RawMatrix().Data
		scratch.Put(&data)
	}
	st.acts, st.factors = nil, nil
}

func (ck *chunker) releaseHeld() {
	for _, st := range ck.held {
		st.release()
	}
	ck.held = nil
}

// factorsOf restricts a chunk's layer factors to the block.
func factorsOf(blk block, st *chunkState) []lowrank.Factor {
	return blk.selectLike(st.factors)
}

// view returns rows [r0, r1) and columns [c0, c1) of g's storage.
func view(g *mat.SymDense, r0, r1, c0, c1 int) *mat.Dense {
	raw := g.RawSymmetric()
	var d mat.Dense
	d.SetRawMatrix(blas64.General{Rows: r1 - r0, Cols: c1 - c0, Stride: raw.Stride, Data: raw.Data[r0*raw.Stride+c0 : (r1-1)*raw.Stride+c1]})
	return &d
}

// diag returns the diagonal block [lo, hi) of g as a SymDense view.
func diag(g *mat.SymDense, lo, hi int) *mat.SymDense {
	raw := g.RawSymmetric()
	var s mat.SymDense
	s.SetRawSymmetric(blas64.Symmetric{N: hi - lo, Stride: raw.Stride, Uplo: raw.Uplo, Data: raw.Data[lo*raw.Stride+lo : (hi-1)*raw.Stride+hi]})
	return &s
}

// gram assembles the block's Gram matrix (or, on the parameter side, its
// D×D GGN) over the chunks, leaving the last group of chunks held.
func (ck *chunker) gram(blk block, side Side) (*mat.SymDense, error) {
	ck.releaseHeld()
	if side == SideParameters {
		d := blk.layout.Size()
		g := newGram(d)
		gram.ClearUpper(g)
		for ci := 0; ci < ck.chunks; ci++ {
			st, err := ck.state(ci)
			if err != nil {
				releaseGram(g)
				return nil, err
			}
			t0 := time.Now()
			addParamGGN(g, factorsOf(blk, st), ck.opts.scratch())
			ck.timing.Gram += time.Since(t0)
			st.release()
		}
		return g, nil
	}
	g := newGram(len(ck.idx) * ck.cols)
	gram.ClearUpper(g)
	h := ck.plan.Held
	cross := func(a, b *chunkState, ai, bi int) {
		t0 := time.Now()
		r0, r1 := ck.span(ai)
		c0, c1 := ck.span(bi)
		dst := view(g, r0, r1, c0, c1)
		fb := factorsOf(blk, b)
		for i, f := range factorsOf(blk, a) {
			f.AddCrossTo(dst, fb[i])
		}
		ck.timing.Gram += time.Since(t0)
	}
	for g0 := 0; g0 < ck.chunks; g0 += h {
		ck.releaseHeld()
		g1 := min(g0+h, ck.chunks)
		ck.heldLo = g0
		for ci := g0; ci < g1; ci++ {
			st, err := ck.state(ci)
			if err != nil {
				releaseGram(g)
				return nil, err
			}
			t0 := time.Now()
			lo, hi := ck.span(ci)
			d := diag(g, lo, hi)
			for _, f := range factorsOf(blk, st) {
				f.AddGramTo(d)
			}
			ck.timing.Gram += time.Since(t0)
			for j, other := range ck.held {
				cross(other, st, g0+j, ci)
			}
			ck.held = append(ck.held, st)
		}
		for cj := g1; cj < ck.chunks; cj++ {
			st, err := ck.state(cj)
			if err != nil {
				releaseGram(g)
				return nil, err
			}
			for j, other := range ck.held {
				cross(other, st, g0+j, cj)
			}
			st.release()
		}
	}
	return g, nil
}

// mapBack returns the unit eigenvectors e_j = V ũ_j/√λ_j (rows) for the
// Gram eigenvectors ũ_j (the columns of u), summing the chunks'
// contributions. With sign set they take the sign convention of
// mapBackNormalized (u's columns flipped along); without, they follow u's.
func (ck *chunker) mapBack(blk block, u *mat.Dense, vals []float64, sign bool) (*mat.Dense, error) {
	k := len(vals)
	ut := mat.DenseCopyOf(u.T())
	for j, l := range vals {
		row := ut.RawRowView(j)
		for i := range row {
			row[i] /= math.Sqrt(l)
		}
	}
	out := mat.NewDense(k, blk.layout.Size(), nil)
	var tmp []float64
	add := func(ci int, st *chunkState) {
		lo, hi := ck.span(ci)
		uc := mat.DenseCopyOf(ut.Slice(0, k, lo, hi))
		off := 0
		for _, f := range factorsOf(blk, st) {
			d := f.Dim()
			if cap(tmp) < k*d {
				tmp = make([]float64, k*d)
			}
			t := mat.NewDense(k, d, tmp[:k*d])
			f.MulTo(t, uc)
			dst := out.Slice(0, k, off, off+d).(*mat.Dense)
			dst.Add(dst, t)
			off += d
		}
	}
	for j, st := range ck.held {
		add(ck.heldLo+j, st)
	}
	heldLo, heldHi := ck.heldLo, ck.heldLo+len(ck.held)
	ck.releaseHeld()
	for ci := 0; ci < ck.chunks; ci++ {
		if ci >= heldLo && ci < heldHi {
			continue
		}
		st, err := ck.state(ci)
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		add(ci, st)
		ck.timing.MapBack += time.Since(t0)
		st.release()
	}
	if !sign {
		return out, nil
	}
	flipped := make([]bool, k)
	par.For(k, runtime.GOMAXPROCS(0), func(_, j int) {
		flipped[j] = normalizeSign(out.RawRowView(j))
	})
	r, _ := u.Dims()
	for j, f := range flipped {
		if f {
			for i := 0; i < r; i++ {
				u.Set(i, j, -u.At(i, j))
			}
		}
	}
	return out, nil
}

// chunkedLosses runs the forward pass of the whole batch in chunks and
// returns the per-sample losses.
func (ck *chunker) losses() ([]float64, error) {
	t0 := time.Now()
	defer func() { ck.timing.Forward += time.Since(t0) }()
	n := ck.batch.Len()
	out := make([]float64, 0, n)
	for lo := 0; lo < n; lo += ck.plan.Chunk {
		if err := ck.opts.stopped(); err != nil {
			return nil, err
		}
		hi := min(lo+ck.plan.Chunk, n)
		sub := SliceBatch(ck.batch, lo, hi)
		acts, _ := ck.net.ForwardKeep(context.Background(), sub.Inputs, nil)
		out = append(out, ck.net.Loss.PerSample(acts[len(acts)-1], sub.Targets)...)
		model.ReleaseActivations(acts)
	}
	for i, l := range out {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return nil, fmt.Errorf("vivit: the loss of sample %d is %v", i, l)
		}
	}
	return out, nil
}

// blockTemplates resolves the option groups against the factors of one
// chunk (every chunk's factors have the same structure).
func (ck *chunker) blockTemplates() ([]block, error) {
	st, err := ck.state(0)
	if err != nil {
		return nil, err
	}
	defer st.release()
	p := &pass{net: ck.net, opts: ck.opts, factors: st.factors}
	bs := p.blocks()
	for i := range bs {
		bs[i].factors = nil
	}
	return bs, nil
}

// batchChunk is one chunk of the batch (not of the curvature samples):
// its activations, per-sample losses, per-sample gradients and, when
// asked for, its loss-Hessian factor.
type batchChunk struct {
	acts   []*mat.Dense
	losses []float64
	grads  []jacobians.LayerFactor
	curv   []jacobians.LayerFactor
}

// release hands the chunk's activations back; its factors are dead after.
func (bc *batchChunk) release() { model.ReleaseActivations(bc.acts) }

// batchFactors runs the forward pass of the batch's samples [lo, hi) and
// backpropagates their per-sample gradients (one column per sample) and,
// with curvature set, their loss-Hessian factor scaled by the square root
// of the batch's weight (the factor of the whole batch, for λ of samples
// outside a curvature sub-batch).
func (ck *chunker) batchFactors(lo, hi int, curvature bool) (*batchChunk, error) {
	sub := SliceBatch(ck.batch, lo, hi)
	acts, err := ck.net.ForwardKeep(ck.opts.ctx(), sub.Inputs, ck.net.BackwardReads())
	if err != nil {
		return nil, fmt.Errorf("vivit: run stopped: %w", err)
	}
	bc := &batchChunk{acts: acts}
	z := acts[len(acts)-1]
	bc.losses = ck.net.Loss.PerSample(z, sub.Targets)
	c := ck.net.NumOutputs()
	g := mat.NewDense(hi-lo, c, nil)
	ck.net.Loss.GradTo(g, z, sub.Targets)
	fs, err := jacobians.BackpropContext(ck.opts.ctx(), ck.net, acts, g, 1, lowrank.Float64, nil)
	if err != nil {
		bc.release()
		return nil, fmt.Errorf("vivit: run stopped: %w", err)
	}
	bc.grads = configure(fs, ck.scratch, lowrank.Float64)
	if !curvature {
		return bc, nil
	}
	sw := math.Sqrt(ck.net.Loss.Weight(ck.batch.Len()))
	s := mat.NewDense((hi-lo)*ck.cols, c, nil)
	if m := ck.opts.MCSamples; m > 0 {
		ck.net.Loss.SampleSqrtHessianTo(s, z, m, ck.opts.Seed, allSamples(hi)[lo:], sw)
	} else {
		ck.net.Loss.ReducedSqrtHessianTo(s, z, sw)
	}
	if fs, err = jacobians.BackpropContext(ck.opts.ctx(), ck.net, acts, s, ck.cols, lowrank.Float64, nil); err != nil {
		bc.release()
		return nil, fmt.Errorf("vivit: run stopped: %w", err)
	}
	bc.curv = configure(fs, ck.scratch, lowrank.Float64)
	return bc, nil
}

// project returns the products Xᵀe_j of the factors fs (the block's, in
// its layout) with the rows e_j of e, as a k × X.Cols() matrix.
func project(fs []lowrank.Factor, e *mat.Dense) *mat.Dense {
	k, _ := e.Dims()
	out := mat.NewDense(k, fs[0].Cols(), nil)
	tmp := mat.NewDense(k, fs[0].Cols(), nil)
	off := 0
	for _, f := range fs {
		d := f.Dim()
		f.TransMulTo(tmp, e.Slice(0, k, off, off+d).(*mat.Dense))
		out.Add(out, tmp)
		off += d
	}
	return out
}

// directional returns the block's directional derivatives γ and λ (N×k),
// timed as the directional stage, along its unit eigenvectors e (rows, in the block's layout) with the
// values vals: γ_nk = ∇ℓ_nᵀe_k over chunks of the batch; λ_nk from the
// Gram eigenvectors gu (directional.LambdaOwn) when the curvature samples
// are the whole batch, else ‖X_nᵀe_k‖²/w from the whole batch's factor
// X, also over chunks. On the parameter side (gu nil) the Gram
// eigenvectors are formed as Vᵀe_k/√λ_k over the curvature chunks, and
// with SkipVectors they take the Gram side's sign convention, e's rows
// flipped along, as the unchunked run does.
func (ck *chunker) directional(blk block, e, gu *mat.Dense, vals []float64) (gamma, lambda *mat.Dense, err error) {
	ck.releaseHeld()
	k := len(vals)
	n := ck.batch.Len()
	sub := len(ck.idx) != n
	if gu == nil && (!sub || ck.opts.SkipVectors) {
		gu = mat.NewDense(len(ck.idx)*ck.cols, k, nil)
		for ci := 0; ci < ck.chunks; ci++ {
			st, err := ck.state(ci)
			if err != nil {
				return nil, nil, err
			}
			t0 := time.Now()
			lo, _ := ck.span(ci)
			x := project(factorsOf(blk, st), e)
			st.release()
			for j, l := range vals {
				s := 1 / math.Sqrt(l)
				for i, v := range x.RawRowView(j) {
					gu.Set(lo+i, j, s*v)
				}
			}
			ck.timing.Directional += time.Since(t0)
		}
		if ck.opts.SkipVectors {
			col := make([]float64, len(ck.idx)*ck.cols)
			for j := 0; j < k; j++ {
				mat.Col(col, j, gu)
				if normalizeSign(col) {
					gu.SetCol(j, col)
					floats.Scale(-1, e.RawRowView(j))
				}
			}
		}
	}
	gamma = mat.NewDense(n, k, nil)
	if !sub {
		lambda = directional.LambdaOwn(gu, vals, ck.cols, ck.w)
	} else {
		lambda = mat.NewDense(n, k, nil)
	}
	w := ck.net.Loss.Weight(n)
	for lo := 0; lo < n; lo += ck.plan.Chunk {
		if err := ck.opts.stopped(); err != nil {
			return nil, nil, err
		}
		hi := min(lo+ck.plan.Chunk, n)
		t0 := time.Now()
		bc, err := ck.batchFactors(lo, hi, sub)
		if err != nil {
			return nil, nil, err
		}
		x := project(blk.selectLike(bc.grads), e)
		for j := 0; j < k; j++ {
			for i, v := range x.RawRowView(j) {
				gamma.Set(lo+i, j, v)
			}
		}
		if sub {
			x = project(blk.selectLike(bc.curv), e)
			for j := 0; j < k; j++ {
				for i, v := range x.RawRowView(j) {
					r := lambda.RawRowView(lo + i/ck.cols)
					r[j] += v * v / w
				}
			}
		}
		bc.release()
		ck.timing.Directional += time.Since(t0)
	}
	return gamma, lambda, nil
}

// runChunked is TopEigen (Directional with withDirectional) on a chunked
// plan.
func runChunked(m *Model, b *Batch, k int, o Options, pl *Plan, idx []int, cols int, withDirectional bool) (*Result, error) {
	ck := newChunker(m, b, o, pl, idx, cols)
	defer ck.releaseHeld()
	o.report("forward", 0, 1)
	losses, err := ck.losses()
	if err != nil {
		return nil, err
	}
	res := &Result{NumParams: m.NumParams(), BatchSize: b.Len(), CurvatureSamples: len(idx),
		Columns: cols, Loss: m.Loss.Weight(b.Len()) * sum(losses), Plan: pl}
	blocks, err := ck.blockTemplates()
	if err != nil {
		return nil, err
	}
	for bi, blk := range blocks {
		out := Block{Name: blk.name, Layout: blk.layout, Rank: -1, Vectors: &mat.Dense{}}
		side := o.chooseSide(blk.layout.Size(), cols*len(idx))
		out.Side = side.String()
		o.report("gram", bi, len(blocks))
		g, err := ck.gram(blk, side)
		if err != nil {
			return nil, err
		}
		o.report("eigensolve", bi, len(blocks))
		t0 := time.Now()
		vals, u, rank, err := topK(g, k, o)
		releaseGram(g)
		ck.timing.Eigen += time.Since(t0)
		if err != nil {
			return nil, fmt.Errorf("vivit: block %q: %w", blk.name, err)
		}
		out.Rank, out.Values = rank, vals
		if len(vals) > 0 {
			// e: the unit eigenvectors (rows), formed for the directional
			// derivatives even with SkipVectors; gu: the Gram eigenvectors
			// they go with, nil on the parameter side.
			var e, gu *mat.Dense
			switch {
			case side == SideParameters:
				e, _ = parameterSideVectors(blk, u, vals, false, false)
			case o.SkipVectors && !withDirectional:
				normalizeColumnSigns(u)
			default:
				if o.SkipVectors {
					normalizeColumnSigns(u)
				}
				o.report("map-back", bi, len(blocks))
				if e, err = ck.mapBack(blk, u, vals, !o.SkipVectors); err != nil {
					return nil, err
				}
				gu = u
			}
			if withDirectional {
				o.report("directional", bi, len(blocks))
				if out.Gamma, out.Lambda, err = ck.directional(blk, e, gu, vals); err != nil {
					return nil, err
				}
			}
			if e != nil && !o.SkipVectors {
				out.Vectors = e
			}
		}
		ck.releaseHeld()
		res.Blocks = append(res.Blocks, out)
	}
	sides := make([]string, len(res.Blocks))
	for i, b := range res.Blocks {
		sides[i] = b.Side
	}
	res.Side = sideName(sides)
	res.Timing = ck.timing
	return res, nil
}

// spectrumChunked is Spectrum on a chunked plan.
func spectrumChunked(m *Model, b *Batch, o Options, pl *Plan, idx []int, cols int) (*SpectrumResult, error) {
	ck := newChunker(m, b, o, pl, idx, cols)
	defer ck.releaseHeld()
	o.report("forward", 0, 1)
	losses, err := ck.losses()
	if err != nil {
		return nil, err
	}
	res := &SpectrumResult{NumParams: m.NumParams(), BatchSize: b.Len(), CurvatureSamples: len(idx),
		Columns: cols, Loss: m.Loss.Weight(b.Len()) * sum(losses)}
	blocks, err := ck.blockTemplates()
	if err != nil {
		return nil, err
	}
	for bi, blk := range blocks {
		side := o.chooseSide(blk.layout.Size(), cols*len(idx))
		o.report("gram", bi, len(blocks))
		g, err := ck.gram(blk, side)
		ck.releaseHeld()
		if err != nil {
			return nil, err
		}
		o.report("eigensolve", bi, len(blocks))
		t0 := time.Now()
		tr := 0.0
		for i := 0; i < g.SymmetricDim(); i++ {
			tr += g.At(i, i)
		}
		vals, err := eigen.Values(g)
		releaseGram(g)
		ck.timing.Eigen += time.Since(t0)
		if err != nil {
			return nil, fmt.Errorf("vivit: block %q: %w", blk.name, err)
		}
		r := eigen.NumericalRank(vals, o.rankTol())
		res.Blocks = append(res.Blocks, SpectrumBlock{Name: blk.name, Layout: blk.layout, Values: vals[:r], Trace: tr, Side: side.String()})
	}
	res.Timing = ck.timing
	return res, nil
}
