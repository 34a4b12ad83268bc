package jacobians

import (
	"slices"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/scratch"
	"github.com/vivit-go/vivit/lowrank"
	"github.com/vivit-go/vivit/model"
)

// pass is the state of one backward pass of BackpropEach: the factor of
// every tensor (fac, or fac32 where in32), who holds it, and the buffers
// the pass has released for reuse.
type pass struct {
	nodes      []model.Node
	net        *model.Network
	acts       []*mat.Dense
	c, rows    int
	prec       lowrank.Precision
	releaseAct func(t int)
	each       func(LayerFactor) bool
	// grow[t] is the width of a fresh buffer for tensor t's rows once
	// dropping: a block has let go of rows of the pass it referenced
	// (allocWidth).
	grow     []int
	dropping bool

	needed     []bool // the factor of tensor t is needed (Network.CarriesFactor)
	paramInput []bool // a factor block references acts[t]
	in32       []bool // tensor t's factor is held in float32 (float32Tensors)
	readers    [][]int
	fac        []*mat.Dense
	fac32      []blas32.General
	kept       []bool // fac[t] is referenced by a parameter block (or is the caller's)
	// borrowed[t]: fac[t] is another tensor's factor (both inputs of a
	// residual sum), which the pass reads but neither modifies nor
	// releases.
	borrowed []bool
	// Factors the pass has released are reused by the pass before it asks
	// internal/scratch: its pools may be emptied by a garbage collection
	// between a release and the next request, and a fresh buffer costs a
	// serial clear or page faults.
	free   [][]float64
	free32 [][]float32
	out    []LayerFactor
	// xs, dst: a join's inputs and input factors, reused from join to join.
	xs, dst []*mat.Dense
	// sep[t], where set, says tensor t's factor rows are separable
	// (model.SeparableParamLayer); nil when the pass does not follow the
	// structure.
	sep []*sepRows
	// folded[t], where set, is the elementwise layer reading t alone
	// whose backward the pass left for t's producer, a BatchNorm
	// (model.FactorThroughLayer), to apply in its own pass over the rows.
	folded []*foldedStep
}

// foldedStep is an elementwise layer (node) whose backward a
// model.FactorThroughLayer applies to its input's rows.
type foldedStep struct {
	e    *model.Elementwise
	node int
}

// foldSteps lets the pass fold elementwise layers into BatchNorm's pass
// (a variable for tests).
var foldSteps = true

// sepRows are factor rows S_r[o, p] = s_r[o]·m_n[o, p], row r of sample
// n = r/c: s holds the s_r (R×channels), m the m_n (N×entries).
type sepRows struct{ s, m *mat.Dense }

func newPass(net *model.Network, acts []*mat.Dense, s *mat.Dense, c int, prec lowrank.Precision, releaseAct func(t int), each func(LayerFactor) bool, separable bool) *pass {
	nodes := net.Nodes
	n, _ := acts[0].Dims()
	p := &pass{
		nodes: nodes, net: net, acts: acts, c: c, rows: n * c, prec: prec,
		releaseAct: releaseAct, each: each,
		needed:     net.CarriesFactor(),
		paramInput: make([]bool, len(nodes)+1),
		readers:    make([][]int, len(nodes)+1),
		fac:        make([]*mat.Dense, len(nodes)+1),
		fac32:      make([]blas32.General, len(nodes)+1),
		kept:       make([]bool, len(nodes)+1),
		borrowed:   make([]bool, len(nodes)+1),
		folded:     make([]*foldedStep, len(nodes)+1),
	}
	for i, nd := range nodes {
		if _, ok := nd.Op.(model.ParamLayer); ok {
			p.paramInput[nd.Inputs[0]] = true
		}
		for _, t := range nd.Inputs {
			p.readers[t] = append(p.readers[t], i)
		}
	}
	p.in32 = float32Tensors(nodes, p.needed, prec == lowrank.Float32 && each != nil)
	if each != nil {
		p.grow = growWidths(p)
	}
	p.fac[len(nodes)] = s
	p.kept[len(nodes)] = true // the caller's
	// With one column per sample (Monte-Carlo, M = 1) a separable block
	// costs what the dense one does, whose products run faster (ResNet-8:
	// 6–10 % longer runs); from two on it saves c−1 of every c.
	if separable && c >= 2 {
		p.sep = make([]*sepRows, len(nodes)+1)
	}
	return p
}

// recycle hands the released buffers back to internal/scratch.
func (p *pass) recycle() {
	for i := range p.free {
		scratch.Put(&p.free[i])
	}
	for i := range p.free32 {
		scratch.Put32(&p.free32[i])
	}
}

// done releases the output activation of node i, which the pass no longer
// reads, unless a factor block references it.
func (p *pass) done(i int) {
	if p.releaseAct != nil && !p.paramInput[i+1] {
		p.releaseAct(i + 1)
	}
}

func (p *pass) width(t int) int { return model.Numel(p.net.TensorShape(t)) }

// newFactor returns a matrix for tensor t's factor rows, from the
// buffers the pass released if one is large enough, else from
// internal/scratch (allocWidth).
func (p *pass) newFactor(t int) *mat.Dense {
	b := reuse(&p.free, p.rows*p.width(t))
	if b == nil {
		b = (*scratch.Get(p.rows * p.allocWidth(t)))[:p.rows*p.width(t)]
	}
	return mat.NewDense(p.rows, p.width(t), b)
}

// allocWidth is the width of a fresh buffer for tensor t's rows (see
// growWidths).
func (p *pass) allocWidth(t int) int {
	if !p.dropping {
		return p.width(t)
	}
	return p.grow[t]
}

// growWidths returns, for each tensor t, the width at which the pass
// allocates a fresh buffer for its rows once a block has let go of the
// pass's rows it referenced (dropping: a convolution whose Gram route kept
// its weight block): the narrowest width of 1.5 to 2 times t's among the
// tensors the pass reaches later (those before t), else t's own. Such
// rows are released as soon as the pass has moved on, and a ResNet's
// widen from the head to the stem (they double at each stage): a buffer
// allocated for one stage then holds the next stage's rows where fresh
// memory would cost page faults. Fresh pages beyond the rows stay
// untouched, but Go clears the whole of a buffer it recycles, so where
// the blocks copy what they need (a transformer's token-wise layers,
// whose widths also double) the slack measured as resident memory and
// the buffers are allocated at their width.
func growWidths(p *pass) []int {
	grow := make([]int, len(p.nodes)+1)
	var seen []int // the widths of the needed tensors before t, ascending
	for t := range grow {
		w := p.width(t)
		grow[t] = w
		// The narrowest width seen of at least 1.5·w.
		if j, _ := slices.BinarySearch(seen, (3*w+1)/2); j < len(seen) && seen[j] <= 2*w {
			grow[t] = seen[j]
		}
		if j, found := slices.BinarySearch(seen, w); p.needed[t] && !found {
			seen = slices.Insert(seen, j, w)
		}
	}
	return grow
}

func (p *pass) newFactor32(t int) blas32.General {
	b := reuse(&p.free32, p.rows*p.width(t))
	if b == nil {
		b = (*scratch.Get32(p.rows * p.allocWidth(t)))[:p.rows*p.width(t)]
	}
	return blas32.General{Rows: p.rows, Cols: p.width(t), Stride: p.width(t), Data: b}
}

func (p *pass) release(m *mat.Dense)       { p.free = append(p.free, m.RawMatrix().Data) }
func (p *pass) release32(m blas32.General) { p.free32 = append(p.free32, m.Data) }

// add accumulates the contribution d into tensor t's factor; d is owned
// by the pass.
func (p *pass) add(t int, d *mat.Dense) {
	if p.fac[t] == nil {
		p.fac[t] = d
		return
	}
	addRows(p.fac[t], d)
	p.release(d)
}

func (p *pass) add32(t int, d blas32.General) {
	if p.fac32[t].Data == nil {
		p.fac32[t] = d
		return
	}
	addRows32(p.fac32[t], d)
	p.release32(d)
}

// canBorrow reports whether input t of join j may read the factor that
// the join hands to its input owner, instead of a copy: t is read by the
// join only; its producer, visited before owner's (t > owner), reads the
// factor without keeping a reference (a layer, or a parameter node whose
// block copies what it needs); and no other reader of owner, which may
// add to that factor, is visited before it.
func (p *pass) canBorrow(t, owner, j int) bool {
	if t <= owner || len(p.readers[t]) != 1 {
		return false
	}
	if fc, ok := p.nodes[t-1].Op.(model.ParamLayer); ok {
		if cp, ok := fc.(model.FactorCopier); !ok || !cp.FactorCopiesRows() {
			return false
		}
	} else if _, ok := p.nodes[t-1].Op.(model.Layer); !ok {
		return false
	}
	for _, r := range p.readers[owner] {
		if r != j && r > t-1 {
			return false
		}
	}
	return true
}

// visit is the pass through node i: its output factor cur (cur32 when
// is32) and, for a node that reads it in the other precision, the
// conversion temp (temp32), which the pass owns.
type visit struct {
	*pass
	i      int
	cur    *mat.Dense
	cur32  blas32.General
	is32   bool
	temp   *mat.Dense
	temp32 blas32.General
	// deferred: the node is an elementwise layer whose backward its
	// input's producer applies (fold); its output activation is
	// released then.
	deferred bool
}

// backward passes the factor of node i's output back to its inputs and,
// for a parameter node, forms its block.
func (p *pass) backward(i int) {
	v := &visit{pass: p, i: i, cur: p.fac[i+1], cur32: p.fac32[i+1], is32: p.in32[i+1]}
	nd := p.nodes[i]
	if l, ok := nd.Op.(model.Layer); ok && p.sep != nil {
		v.separable(l, nd.Inputs[0])
	}
	pl, isParam := nd.Op.(model.ParamLayer)
	fused := false // the node's block and backward in one pass
	if isParam {
		fused = v.block(pl)
		// The caller's step runs before the node's backward: a block
		// that lets go of cur (a convolution that kept its weight
		// block) leaves it to be overwritten by the backward in place.
		if p.each != nil && p.each(p.out[len(p.out)-1]) && i+1 < len(p.nodes) {
			p.dropping = p.dropping || p.kept[i+1]
			p.kept[i+1] = false
		}
	}
	switch op := nd.Op.(type) {
	case model.Layer:
		if t := nd.Inputs[0]; p.needed[t] && !fused {
			v.layer(op, t)
		}
	case model.Join:
		v.join(op)
	}
	if v.temp != nil {
		p.release(v.temp)
	}
	if v.temp32.Data != nil {
		p.release32(v.temp32)
	}
	if !p.kept[i+1] && !p.borrowed[i+1] {
		if p.fac[i+1] != nil {
			p.release(p.fac[i+1])
		}
		if p.fac32[i+1].Data != nil {
			p.release32(p.fac32[i+1])
		}
	}
	p.fac[i+1], p.fac32[i+1] = nil, blas32.General{}
	if !v.deferred {
		p.done(i)
	}
}

// owned reports whether the pass may overwrite or hand on cur (no block
// references it, which the node's own block may change).
func (v *visit) owned() bool { return !v.kept[v.i+1] && !v.borrowed[v.i+1] }

// as64 returns cur in float64, widened into temp if it is float32.
func (v *visit) as64() *mat.Dense {
	if !v.is32 {
		return v.cur
	}
	if v.temp == nil {
		v.temp = v.newFactor(v.i + 1)
		raw := v.temp.RawMatrix()
		fastblas.WidenRows(v.cur32.Rows, v.cur32.Cols, raw.Data, raw.Stride, v.cur32.Data, v.cur32.Stride)
	}
	return v.temp
}

// as32 returns cur in float32, rounded into temp32 if it is float64.
func (v *visit) as32() blas32.General {
	if v.is32 {
		return v.cur32
	}
	if v.temp32.Data == nil {
		v.temp32 = v.newFactor32(v.i + 1)
		raw := v.cur.RawMatrix()
		fastblas.NarrowRows(raw.Rows, raw.Cols, v.temp32.Data, v.temp32.Stride, raw.Data, raw.Stride)
	}
	return v.temp32
}

// block appends the parameter node's block to the pass's output and
// reports whether it also formed the node's input factor in the same pass
// over cur (fused).
func (v *visit) block(pl model.ParamLayer) (fused bool) {
	var names []string
	for _, q := range pl.Params() {
		names = append(names, q.Name)
	}
	i, t := v.i, v.nodes[v.i].Inputs[0]
	if sl, ok := pl.(model.SeparableParamLayer); ok && v.sep != nil && v.sep[i+1] != nil {
		if f, ok := sl.SeparableFactor(v.sep[i+1].s, v.sep[i+1].m, v.acts[t], v.c); ok {
			v.out = append(v.out, LayerFactor{Node: i, Params: names, Factor: f, whole: f})
			return false // the block references none of the rows
		}
	}
	var f lowrank.Factor
	// fuse: the node's input factor can be formed in the pass over cur
	// that forms its block.
	fuse := v.needed[t] && v.fac[t] == nil && v.fac32[t].Data == nil && v.in32[t] == v.is32 && !v.kept[i+1]
	st := v.folded[i+1]
	tl, through := pl.(model.FactorThroughLayer)
	if st != nil && !(through && fuse && !v.borrowed[i+1] && tl.FactorCopiesRows()) {
		v.unfold(st) // the block takes another route
		st = nil
	}
	if st != nil {
		ex, ey := v.acts[i+1], v.acts[st.node+1]
		if v.is32 {
			f = tl.FactorBackwardInPlaceRows32Through(st.e, v.cur32, v.acts[t], ex, ey, v.c)
			v.fac32[t], v.fac32[i+1] = v.cur32, blas32.General{}
		} else {
			f = tl.FactorBackwardInPlaceThrough(st.e, v.cur, v.acts[t], ex, ey, v.c)
			v.fac[t], v.fac[i+1] = v.cur, nil
		}
		v.folded[i+1] = nil
		v.done(st.node)
		fused = true
	} else if fl, ok := pl.(model.Rows32FactorBackwardToLayer); ok && v.is32 && fuse && v.borrowed[i+1] && fl.FactorCopiesRows() {
		d := v.newFactor32(t)
		f = fl.FactorBackwardToRows32(d, v.cur32, v.acts[t], v.acts[i+1], v.c)
		v.fac32[t], fused = d, true
	} else if fl, ok := pl.(model.FactorBackwardToLayer); ok && !v.is32 && fuse && v.borrowed[i+1] && fl.FactorCopiesRows() {
		d := v.newFactor(t)
		f = fl.FactorBackwardTo(d, v.cur, v.acts[t], v.acts[i+1], v.c)
		v.fac[t], fused = d, true
	} else if fl, ok := pl.(model.Rows32FactorInPlaceLayer); ok && v.is32 && fuse && !v.borrowed[i+1] && fl.FactorCopiesRows() {
		f = fl.FactorBackwardInPlaceRows32(v.cur32, v.acts[t], v.acts[i+1], v.c)
		v.fac32[t], v.fac32[i+1], fused = v.cur32, blas32.General{}, true
	} else if fl, ok := pl.(model.FactorInPlaceLayer); ok && !v.is32 && fuse && !v.borrowed[i+1] && fl.FactorCopiesRows() {
		f = fl.FactorBackwardInPlace(v.cur, v.acts[t], v.acts[i+1], v.c)
		v.fac[t], v.fac[i+1], fused = v.cur, nil, true
	} else if p32, ok := pl.(model.Rows32ParamLayer); ok && v.is32 {
		f = p32.FactorRows32(v.cur32, v.acts[t], v.c)
	} else {
		f = pl.Factor(v.as64(), v.acts[t], v.c)
		if v.is32 {
			v.temp = nil // the block references it
		}
	}
	v.out = append(v.out, LayerFactor{Node: i, Params: names, Factor: f, whole: f})
	if fc, ok := pl.(model.FactorCopier); !ok || !fc.FactorCopiesRows() {
		v.kept[i+1] = true
	}
	return fused
}

// fold leaves the backward of op, an elementwise layer that alone reads
// t, to t's producer when that is a model.FactorThroughLayer (BatchNorm),
// which applies it row by row in the pass that forms its block: cur
// becomes t's factor as it is, and op's output activation is kept until
// then. It reports whether it did. The pass must own cur in t's
// precision, and t must have no factor yet and no separable rows.
func (v *visit) fold(op model.Layer, t int) bool {
	e, ok := op.(*model.Elementwise)
	if !ok || !foldSteps || !e.RowForms() || t == 0 || len(v.readers[t]) != 1 || v.in32[t] != v.is32 || !v.owned() {
		return false
	}
	if _, ok := v.nodes[t-1].Op.(model.FactorThroughLayer); !ok || v.sep != nil && v.sep[t] != nil {
		return false
	}
	if v.is32 {
		if v.fac32[t].Data != nil {
			return false
		}
		v.fac32[t], v.fac32[v.i+1] = v.cur32, blas32.General{}
	} else {
		if v.fac[t] != nil {
			return false
		}
		v.fac[t], v.fac[v.i+1] = v.cur, nil
	}
	v.folded[t] = &foldedStep{e: e, node: v.i}
	v.deferred = true
	return true
}

// unfold applies the folded step st to cur, tensor st's input's factor,
// for a producer that does not take it into its pass.
func (v *visit) unfold(st *foldedStep) {
	t := v.i + 1
	ex, ey := v.acts[t], v.acts[st.node+1]
	if v.is32 {
		st.e.BackwardRows32(v.cur32, v.cur32, ex, ey, v.c)
	} else {
		st.e.BackwardInput(v.cur, v.cur, ex, ey, v.c)
	}
	v.folded[t] = nil
	v.done(st.node)
}

// layer passes cur back through a layer to its input t.
func (v *visit) layer(op model.Layer, t int) {
	i := v.i
	if v.separableBackward(op, t) || v.fold(op, t) {
		return
	}
	if v.in32[t] {
		l32 := op.(model.Rows32Layer)
		src := v.as32()
		owned := !v.is32 || v.owned() // a conversion is the pass's
		if ip, ok := op.(model.InPlaceLayer); ok && ip.BackwardInPlace() && owned && v.fac32[t].Data == nil {
			l32.BackwardRows32(src, src, v.acts[t], v.acts[i+1], v.c)
			v.fac32[t] = src
			if v.is32 {
				v.fac32[i+1] = blas32.General{}
			} else {
				v.temp32 = blas32.General{}
			}
			return
		}
		if al, ok := op.(model.Rows32AccumulatingLayer); ok && v.fac32[t].Data != nil {
			al.BackwardRows32Add(v.fac32[t], src, v.acts[t], v.acts[i+1], v.c)
			return
		}
		d := v.newFactor32(t)
		l32.BackwardRows32(d, src, v.acts[t], v.acts[i+1], v.c)
		v.add32(t, d)
		return
	}
	src := v.as64()
	owned := v.is32 || v.owned() // a conversion is the pass's
	// A factor not kept by a block is an intermediate of this pass:
	// in-place layers (diagonal ones, same-size convolutions) overwrite
	// it.
	if ip, ok := op.(model.InPlaceLayer); ok && ip.BackwardInPlace() && owned && v.fac[t] == nil {
		v.backwardInput(op, src, src, t)
		v.fac[t] = src
		if v.is32 {
			v.temp = nil
		} else {
			v.fac[i+1] = nil
		}
		return
	}
	// A second reader of t adds its part to t's factor directly when it
	// can, instead of through a matrix of its own.
	if al, ok := op.(model.AccumulatingLayer); ok && v.fac[t] != nil && v.fac[t] != src {
		if a32, ok := op.(model.Float32AccumulatingLayer); ok && v.prec == lowrank.Float32 {
			a32.BackwardInputAdd32(v.fac[t], src, v.acts[t], v.acts[i+1], v.c)
		} else {
			al.BackwardInputAdd(v.fac[t], src, v.acts[t], v.acts[i+1], v.c)
		}
		return
	}
	d := v.newFactor(t)
	v.backwardInput(op, d, src, t)
	v.add(t, d)
}

// backwardInput writes op's backward of src into dst, the rows of its
// input t: in float32 products at float32 precision where op has them.
func (v *visit) backwardInput(op model.Layer, dst, src *mat.Dense, t int) {
	if l32, ok := op.(model.Float32Layer); ok && v.prec == lowrank.Float32 {
		l32.BackwardInput32(dst, src, v.acts[t], v.acts[v.i+1], v.c)
		return
	}
	op.BackwardInput(dst, src, v.acts[t], v.acts[v.i+1], v.c)
}

// join passes cur back through a join to its inputs.
func (v *visit) join(op model.Join) {
	i, nd := v.i, v.nodes[v.i]
	if pt, ok := op.(model.PassThroughJoin); ok && pt.BackwardPassesThrough() {
		v.passThrough()
		return
	}
	src := v.as64()
	v.xs, v.dst = v.xs[:0], v.dst[:0]
	for _, t := range nd.Inputs {
		v.xs = append(v.xs, v.acts[t])
		var d *mat.Dense
		if v.needed[t] {
			d = v.newFactor(t)
		}
		v.dst = append(v.dst, d)
	}
	op.BackwardJoin(v.dst, src, v.xs, v.acts[i+1], v.c)
	for j, t := range nd.Inputs {
		if v.dst[j] != nil {
			v.add(t, v.dst[j])
		}
	}
}

// passThrough passes cur back through a join whose every input's factor
// is cur (a residual sum): the input without a factor yet, held in cur's
// precision, that the pass visits last (the lowest tensor) takes cur
// itself (unless the pass does not own it); inputs that canBorrow read it
// too; the others add it to theirs or copy it.
func (v *visit) passThrough() {
	i, nd := v.i, v.nodes[v.i]
	owner := -1
	for _, t := range nd.Inputs {
		if v.owned() && v.needed[t] && v.fac[t] == nil && v.fac32[t].Data == nil && v.in32[t] == v.is32 && (owner < 0 || t < owner) {
			owner = t
		}
	}
	handed := false
	for _, t := range nd.Inputs {
		if v.sep != nil && len(v.readers[t]) == 1 {
			v.sep[t] = v.sep[i+1] // never modified in place
		}
		switch {
		case !v.needed[t]:
		case v.in32[t] && v.fac32[t].Data != nil:
			addRows32(v.fac32[t], v.as32())
		case !v.in32[t] && v.fac[t] != nil:
			addRows(v.fac[t], v.as64())
		case t == owner || owner >= 0 && v.in32[t] == v.is32 && v.canBorrow(t, owner, i):
			if v.is32 {
				v.fac32[t] = v.cur32
			} else {
				v.fac[t] = v.cur
			}
			v.borrowed[t] = t != owner
			handed = handed || t == owner
		case v.in32[t]:
			v.fac32[t] = v.newFactor32(t)
			copyRows32(v.fac32[t], v.as32())
		default:
			v.fac[t] = v.newFactor(t)
			copyRows(v.fac[t], v.as64())
		}
	}
	if handed {
		v.fac[i+1], v.fac32[i+1] = nil, blas32.General{}
	}
}

// separable records whether the factor rows of the layer's input t are
// separable: a model.ChannelSpreader makes them so from its output rows,
// a model.DiagonalLayer keeps them so (its backward applied to the maps),
// if t has no other reader, whose part would be added to the rows.
func (v *visit) separable(op model.Layer, t int) {
	if !v.needed[t] || len(v.readers[t]) != 1 {
		return
	}
	n := v.rows / v.c
	switch l := op.(type) {
	case model.ChannelSpreader:
		v.sep[t] = &sepRows{s: mat.DenseCopyOf(v.as64()), m: l.SpreadMaps(n)}
	case model.DiagonalLayer:
		d := v.sep[v.i+1]
		if d == nil || !l.DiagonalJacobian() {
			return
		}
		m := mat.NewDense(n, v.width(t), nil)
		l.BackwardInput(m, d.m, v.acts[t], v.acts[v.i+1], 1)
		v.sep[t] = &sepRows{s: d.s, m: m}
	}
}

// separableBackward passes separable rows back through a
// model.SeparableBackwardLayer into t's factor, if t has none yet, and
// reports whether it did.
func (v *visit) separableBackward(op model.Layer, t int) bool {
	sb, ok := op.(model.SeparableBackwardLayer)
	if !ok || v.sep == nil || v.sep[v.i+1] == nil {
		return false
	}
	d := v.sep[v.i+1]
	switch {
	case v.in32[t] && v.fac32[t].Data == nil:
		f := v.newFactor32(t)
		if sb.BackwardSeparable(f, d.s, d.m, v.c) {
			v.fac32[t] = f
			return true
		}
		v.release32(f)
	case !v.in32[t] && v.fac[t] == nil:
		f := v.newFactor(t)
		if sb.BackwardSeparable(f, d.s, d.m, v.c) {
			v.fac[t] = f
			return true
		}
		v.release(f)
	}
	return false
}
