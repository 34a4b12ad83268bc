package vivit

import (
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/gram"
	"github.com/vivit-go/vivit/internal/scratch"
	"github.com/vivit-go/vivit/jacobians"
	"github.com/vivit-go/vivit/lowrank"
	"github.com/vivit-go/vivit/model"
)

// Timing records the wall time of each stage of a run.
type Timing struct {
	Forward     time.Duration // forward pass and loss
	Backprop    time.Duration // backpropagation of the loss-Hessian factor
	Gram        time.Duration // Gram matrices
	Eigen       time.Duration // eigensolves
	MapBack     time.Duration // eigenvectors to parameter space
	Directional time.Duration // gradient backprop and γ, λ
}

// Total returns the sum of all stages.
func (t Timing) Total() time.Duration {
	return t.Forward + t.Backprop + t.Gram + t.Eigen + t.MapBack + t.Directional
}

var errNilModel = errors.New("vivit: nil model")

// pass holds one forward pass and the curvature factors of a run.
type pass struct {
	net   *Model
	batch *Batch
	opts  Options

	acts  []*mat.Dense // forward activations of the whole batch (nil where no backward pass reads them)
	setup passSetup
	// earlyGram is the whole network's Gram matrix when the backward pass
	// formed it (passSetup.earlyGram), until gram hands it out; earlyTime
	// is the time that took, within the backward pass.
	earlyGram *mat.SymDense
	earlyTime time.Duration
	losses    []float64 // ℓ_n
	idx       []int     // curvature samples
	w         float64   // batch weight of L
	wCurv     float64   // weight of the curvature (sub-)batch
	cols      int       // factor columns per sample (C or M)
	factors   []jacobians.LayerFactor

	timing Timing
}

// passSetup says what a run needs of its pass beyond the factors.
type passSetup struct {
	// freeActs: the backward pass recycles every activation that no
	// parameter node reads as soon as it is done with it
	// (jacobians.BackpropContext's releaseAct), for runs that use the
	// activations only through the factor blocks afterwards (no
	// gradients, no second backward pass). Their entries of p.acts are
	// then nil.
	freeActs bool
	// earlyGram: the run needs the Gram matrix of the whole network (one
	// block, no groups) and afterwards only V u (map-backs). The backward
	// pass then adds each layer's part to it as soon as the layer's
	// factor rows are formed, and recycles the rows of the layers that
	// can do without them afterwards (lowrank.RowsDropper: convolutions
	// whose weight block the Gram route kept), so the rows of every
	// convolution are not held at once. Ignored when the block is solved
	// on the parameter side.
	earlyGram bool
}

// newPass validates its inputs, runs the forward pass and backpropagates
// the curvature factor.
func newPass(m *Model, b *Batch, o *Options) (*pass, error) {
	return newPassWith(m, b, o, passSetup{})
}

// newPassWith is newPass for a run that needs what setup says.
func newPassWith(m *Model, b *Batch, o *Options, setup passSetup) (*pass, error) {
	if m == nil {
		return nil, errNilModel
	}
	if o == nil {
		o = &Options{}
	}
	if err := b.Check(m); err != nil {
		return nil, err
	}
	n := b.Len()
	if err := o.check(m, n); err != nil {
		return nil, err
	}
	p := &pass{net: m, batch: b, opts: *o, setup: setup}
	if err := o.stopped(); err != nil {
		return nil, err
	}
	o.report("forward", 0, 1)
	t0 := time.Now()
	acts, err := m.ForwardKeep(o.ctx(), b.Inputs, m.BackwardReads())
	if err != nil {
		return nil, fmt.Errorf("vivit: run stopped: %w", err)
	}
	p.acts = acts
	p.losses = m.Loss.PerSample(p.logits(), b.Targets)
	for i, l := range p.losses {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return nil, fmt.Errorf("vivit: the loss of sample %d is %v", i, l)
		}
	}
	p.w = m.Loss.Weight(n)
	p.idx = o.curvatureSamples(n)
	p.wCurv = m.Loss.Weight(len(p.idx))
	p.timing.Forward = time.Since(t0)
	if err := o.stopped(); err != nil {
		p.release()
		return nil, err
	}

	o.report("backprop", 0, 1)
	t0 = time.Now()
	p.factors, p.cols, err = p.curvatureFactors(p.idx, p.wCurv, setup.earlyGram)
	if err != nil {
		p.release()
		return nil, err
	}
	p.timing.Backprop = time.Since(t0) - p.earlyTime
	p.timing.Gram += p.earlyTime
	return p, nil
}

func (p *pass) logits() *mat.Dense { return p.acts[len(p.acts)-1] }

// curvatureFactors backpropagates the loss-Hessian factor of the samples
// idx, scaled by √w, and returns the per-layer factors and the columns per
// sample; the error is the run's stop. With early set it forms p.earlyGram
// on the way (passSetup.earlyGram).
func (p *pass) curvatureFactors(idx []int, w float64, early bool) ([]jacobians.LayerFactor, int, error) {
	acts := make([]*mat.Dense, len(p.acts))
	for i, a := range p.acts {
		if a != nil {
			acts[i] = model.Subset(a, idx)
		}
	}
	z := acts[len(acts)-1]
	c := p.net.NumOutputs()
	cols := c
	var s *mat.Dense
	if m := p.opts.MCSamples; m > 0 {
		cols = m
		s = mat.NewDense(len(idx)*m, c, nil)
		p.net.Loss.SampleSqrtHessianTo(s, z, m, p.opts.Seed, idx, math.Sqrt(w))
	} else {
		cols = p.net.Loss.ReducedCols(c)
		s = mat.NewDense(len(idx)*cols, c, nil)
		p.net.Loss.ReducedSqrtHessianTo(s, z, math.Sqrt(w))
	}
	var releaseAct func(t int)
	if p.setup.freeActs {
		releaseAct = func(t int) {
			if acts[t] == p.acts[t] {
				p.acts[t] = nil
			}
			model.ReleaseActivations([]*mat.Dense{nil, acts[t]})
			acts[t] = nil
		}
	}
	var each func(jacobians.LayerFactor) bool
	if r := len(idx) * cols; early && p.opts.chooseSide(p.net.NumParams(), r) == SideGram {
		t0 := time.Now()
		p.earlyGram = newGram(r)
		gram.ClearUpper(p.earlyGram)
		p.earlyTime = time.Since(t0)
		each = func(lf jacobians.LayerFactor) bool {
			if lf.Factor == nil {
				return false // a layer without parameter tensors
			}
			t0 := time.Now()
			configure([]jacobians.LayerFactor{lf}, p.opts.scratch(), p.opts.Precision)
			lf.Factor.AddGramTo(p.earlyGram)
			dropped := false
			if d, ok := lf.Factor.(lowrank.RowsDropper); ok {
				dropped = d.DropRows()
			}
			p.earlyTime += time.Since(t0)
			return dropped
		}
	}
	fs, err := jacobians.BackpropEach(p.opts.ctx(), p.net, acts, s, cols, p.opts.Precision, releaseAct, each)
	if err != nil {
		return nil, 0, fmt.Errorf("vivit: run stopped: %w", err)
	}
	return configure(fs, p.opts.scratch(), p.opts.Precision), cols, nil
}

// configure passes the scratch budget (Options.ScratchBudget) and the
// precision to the factors that take them.
func configure(fs []jacobians.LayerFactor, scratch int64, prec lowrank.Precision) []jacobians.LayerFactor {
	for _, f := range fs {
		if b, ok := f.Factor.(lowrank.Budgeter); ok {
			b.SetBudget(scratch)
		}
		if pr, ok := f.Factor.(lowrank.Precisioner); ok {
			pr.SetPrecision(prec)
		}
	}
	return fs
}

// gradientFactors backpropagates the per-sample loss gradients of the whole
// batch: column n of the result is ∇_θ ℓ_n (unnormalised). The error is
// the run's stop.
func (p *pass) gradientFactors() ([]jacobians.LayerFactor, error) {
	z := p.logits()
	n, c := z.Dims()
	g := mat.NewDense(n, c, nil)
	p.net.Loss.GradTo(g, z, p.batch.Targets)
	fs, err := jacobians.BackpropContext(p.opts.ctx(), p.net, p.acts, g, 1, lowrank.Float64, nil)
	if err != nil {
		return nil, fmt.Errorf("vivit: run stopped: %w", err)
	}
	// Gradients stay float64 whatever Options.Precision says.
	return configure(fs, p.opts.scratch(), lowrank.Float64), nil
}

// block is one parameter group resolved against the factors.
type block struct {
	name    string
	layout  *model.Layout
	factors []lowrank.Factor // in state_dict order
	// which layer factor each entry came from, for pairing with other
	// factor lists (gradients, whole-batch curvature)
	source []int
	keep   [][]bool
}

// blocks resolves the option groups (or the whole network) against the
// layer factors.
func (p *pass) blocks() []block {
	groups := p.opts.Groups
	if groups == nil {
		var all []string
		for _, q := range p.net.Params() {
			all = append(all, q.Name)
		}
		groups = []Group{{Params: all}}
	}
	params := map[string]*model.Param{}
	for _, q := range p.net.Params() {
		params[q.Name] = q
	}
	var bs []block
	for _, g := range groups {
		in := map[string]bool{}
		for _, name := range g.Params {
			in[name] = true
		}
		b := block{name: g.Name}
		var ps []*model.Param
		for fi, lf := range p.factors {
			keep := make([]bool, len(lf.Params))
			any := false
			for i, name := range lf.Params {
				keep[i] = in[name] && lf.Keep[i]
				if keep[i] {
					any = true
					ps = append(ps, params[name])
				}
			}
			if !any {
				continue
			}
			b.factors = append(b.factors, lf.Select(keep))
			b.source = append(b.source, fi)
			b.keep = append(b.keep, keep)
		}
		b.layout = model.NewLayout(ps)
		bs = append(bs, b)
	}
	return bs
}

// release hands the pass's activations, and the buffers its factors keep
// (lowrank.Conv's weight blocks), back for reuse once the results are
// computed; the pass (and every factor built on it) is dead after.
func (p *pass) release() {
	if p.earlyGram != nil {
		releaseGram(p.earlyGram)
		p.earlyGram = nil
	}
	for _, f := range p.factors {
		if r, ok := f.Factor.(interface{ Release() }); ok {
			r.Release()
		}
	}
	acts := p.acts[:1]
	for _, a := range p.acts[1:] {
		if a != nil {
			acts = append(acts, a)
		}
	}
	model.ReleaseActivations(acts)
}

// dropActivations releases the activations that no parameter node reads:
// the factor blocks reference only their layers' inputs, so once the
// factors have been backpropagated the others (attention scores, the
// intermediate results of every block) are no longer needed. Later stages
// must not use p.acts but through the blocks.
func (p *pass) dropActivations() {
	keep := make([]bool, len(p.acts))
	for _, nd := range p.net.Nodes {
		if _, ok := nd.Op.(model.ParamLayer); ok {
			keep[nd.Inputs[0]] = true
		}
	}
	for t := 1; t < len(p.acts); t++ {
		if !keep[t] && p.acts[t] != nil {
			model.ReleaseActivations([]*mat.Dense{nil, p.acts[t]})
			p.acts[t] = nil
		}
	}
}

// gram forms the Gram matrix of block bi of nblocks, reporting progress
// and timing the stage; the error is the run's stop.
func (p *pass) gram(blk block, bi, nblocks int) (*mat.SymDense, error) {
	p.opts.report("gram", bi, nblocks)
	if g := p.earlyGram; g != nil {
		// The backward pass formed it: the run has one block, the whole
		// network.
		p.earlyGram = nil
		if err := p.opts.stopped(); err != nil {
			releaseGram(g)
			return nil, err
		}
		return g, nil
	}
	t0 := time.Now()
	fs := contributors(blk.factors)
	g := newGram(fs[0].Cols())
	if err := gram.IntoContext(p.opts.ctx(), g, fs...); err != nil {
		releaseGram(g)
		return nil, fmt.Errorf("vivit: run stopped: %w", err)
	}
	p.timing.Gram += time.Since(t0)
	return g, nil
}

// newGram returns an n×n SymDense on recycled storage (internal/scratch:
// a fresh 1152×1152 Gram took about 10 ms of page faults on the project's
// VMs, as long as computing a third of it). Its contents are undefined.
func newGram(n int) *mat.SymDense {
	return mat.NewSymDense(n, *scratch.Get(n * n))
}

// releaseGram hands g's storage back for reuse; g must not be used after.
func releaseGram(g *mat.SymDense) {
	data := g.RawSymmetric().Data
	scratch.Put(&data)
}

// selectLike restricts other layer factors (same layers as the pass's
// curvature factors) to the block's tensors.
func (b *block) selectLike(other []jacobians.LayerFactor) []lowrank.Factor {
	fs := make([]lowrank.Factor, len(b.source))
	for i, src := range b.source {
		fs[i] = other[src].Select(b.keep[i])
	}
	return fs
}

// mapBack returns the parameter-space vectors V u_j for the rows u_j of u,
// one row per vector, in the block's layout, stopping between layers once
// o's context is done.
func (b *block) mapBack(u *mat.Dense, o *Options) (*mat.Dense, error) {
	k, _ := u.Dims()
	out := mat.NewDense(k, b.layout.Size(), nil)
	off := 0
	for _, f := range b.factors {
		if err := o.stopped(); err != nil {
			return nil, err
		}
		d := f.Dim()
		f.MulTo(out.Slice(0, k, off, off+d).(*mat.Dense), u)
		off += d
	}
	return out, nil
}
