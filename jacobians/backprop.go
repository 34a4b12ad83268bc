package jacobians

import (
	"context"
	"fmt"
	"slices"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/par"
	"github.com/vivit-go/vivit/internal/scratch"
	"github.com/vivit-go/vivit/lowrank"
	"github.com/vivit-go/vivit/model"
)

// LayerFactor is the factor block of one parameter node, or of some of its
// tensors.
type LayerFactor struct {
	Node   int      // index of the node in the network
	Params []string // the node's tensors, in its own order
	// Keep says which of Params the block covers (all of them when the
	// node's tensors are contiguous in the network's parameter order).
	Keep   []bool
	Factor lowrank.Factor // the block of V for the kept tensors

	whole lowrank.Factor // the block for all of Params
}

// Names returns the tensors the block covers.
func (lf LayerFactor) Names() []string {
	var ns []string
	for i, name := range lf.Params {
		if lf.Keep[i] {
			ns = append(ns, name)
		}
	}
	return ns
}

// Select returns the block restricted to the covered tensors with keep[i]
// true (keep indexes Params); nil if none is left.
func (lf LayerFactor) Select(keep []bool) lowrank.Factor {
	both := make([]bool, len(keep))
	for i := range keep {
		both[i] = keep[i] && lf.Keep[i]
	}
	return lf.whole.Select(both)
}

// Backprop propagates the output factor s ((n·c)×C) backwards through net,
// where acts are the network's activations for the same n samples
// (acts[0] the inputs, acts[i+1] the output of node i, as from
// Network.Forward; entries the pass does not read, Network.BackwardReads,
// may be nil, as from Network.ForwardKeep). It returns the factor blocks
// in the network's parameter order (Network.Params): their dimensions
// laid end to end give the network's Layout. s is not modified.
//
// The pass visits the nodes in reverse topological order. The factor of a
// tensor read by several nodes is the sum of what each passes back, as for
// a gradient; only tensors downstream of a parameter node carry one.
func Backprop(net *model.Network, acts []*mat.Dense, s *mat.Dense, c int) []LayerFactor {
	fs, _ := BackpropContext(context.Background(), net, acts, s, c, lowrank.Float64, nil)
	return fs
}

// BackpropContext is Backprop, stopped between nodes once ctx is done: it
// then returns nil and an error wrapping ctx.Err(); one node's backward (a
// large convolution's, say) runs to its end. It also calls releaseAct(t)
// for every tensor t > 0 as soon as the pass no longer reads acts[t]: once
// the node that computes it has been visited (all its readers come after
// it), unless it is the input of a parameter node, whose factor block
// references it. A caller that owns the activations may recycle them
// there, so that the activations of the nodes already visited are not
// held while the factors of the ones before them are formed. releaseAct
// may be nil.
//
// At precision lowrank.Float32, layers that implement model.Float32Layer
// (the convolutions) pass the factor back in float32
// (BackwardInput32); the other layers, and the factor rows between
// layers, stay float64. The blocks returned do not take the precision:
// the caller sets it (lowrank.Precisioner).
func BackpropContext(ctx context.Context, net *model.Network, acts []*mat.Dense, s *mat.Dense, c int, prec lowrank.Precision, releaseAct func(t int)) ([]LayerFactor, error) {
	return BackpropEach(ctx, net, acts, s, c, prec, releaseAct, nil)
}

// BackpropEach is BackpropContext that also calls each(lf) with the block
// of every parameter node (all its tensors, Keep not yet set) as soon as
// the node's input factor has been computed, while the factor rows the
// block references are still intact: a caller can form the block's Gram
// matrix there, while the rows are fresh in cache, instead of holding
// them for later. If each reports true the block no longer references
// those rows (lowrank.RowsDropper) and the pass recycles them (unless
// they are the caller's s). each may be nil.
//
// With each set and precision lowrank.Float32, the factor of a tensor is
// held in float32 when the node that computes it and every node that
// reads it take float32 rows (model.Rows32Layer, Rows32ParamLayer or a
// PassThroughJoin: the convolutions, BatchNorm, activations, global
// average pooling, residual sums), so such a chain is passed back without
// rounding the rows at each convolution and widening its result; where
// the chain starts or ends the rows are rounded or widened once. The convolutions' blocks then keep
// the float32 rows (lowrank.NewConv32), and widen them only for an
// operation that computes in float64.
func BackpropEach(ctx context.Context, net *model.Network, acts []*mat.Dense, s *mat.Dense, c int, prec lowrank.Precision, releaseAct func(t int), each func(LayerFactor) bool) ([]LayerFactor, error) {
	nodes := net.Nodes
	if len(acts) != len(nodes)+1 {
		panic("jacobians: activations do not match the network")
	}
	n, _ := acts[0].Dims()
	if r, _ := s.Dims(); r != n*c {
		panic("jacobians: factor rows do not match samples × columns")
	}
	rows := n * c
	// needed[t]: the factor at tensor t is needed, i.e. t is downstream of
	// (or is) the output of a parameter node.
	needed := net.CarriesFactor()
	// paramInput[t]: a factor block references acts[t].
	paramInput := make([]bool, len(nodes)+1)
	for _, nd := range nodes {
		if _, ok := nd.Op.(model.ParamLayer); ok {
			paramInput[nd.Inputs[0]] = true
		}
	}
	in32 := float32Tensors(nodes, needed, prec == lowrank.Float32 && each != nil)
	done := func(i int) {
		if releaseAct != nil && !paramInput[i+1] {
			releaseAct(i + 1)
		}
	}
	fac := make([]*mat.Dense, len(nodes)+1)
	fac32 := make([]blas32.General, len(nodes)+1) // where in32
	kept := make([]bool, len(nodes)+1)            // referenced by a parameter block
	// borrowed[t]: fac[t] is another tensor's factor (both inputs of a
	// residual sum), which the pass reads but neither modifies nor
	// releases.
	borrowed := make([]bool, len(nodes)+1)
	readers := make([][]int, len(nodes)+1)
	for i, nd := range nodes {
		for _, t := range nd.Inputs {
			readers[t] = append(readers[t], i)
		}
	}
	// canBorrow reports whether input t of join j may read the factor
	// that the join hands to its input owner, instead of a copy: t is read
	// by the join only; its producer, visited before owner's (t > owner),
	// reads the factor without keeping a reference (a layer, or a
	// parameter node whose block copies what it needs); and no other
	// reader of owner, which may add to that factor, is visited before it.
	canBorrow := func(t, owner, j int) bool {
		if t <= owner || len(readers[t]) != 1 {
			return false
		}
		if fc, ok := nodes[t-1].Op.(model.ParamLayer); ok {
			if cp, ok := fc.(model.FactorCopier); !ok || !cp.FactorCopiesRows() {
				return false
			}
		} else if _, ok := nodes[t-1].Op.(model.Layer); !ok {
			return false
		}
		for _, r := range readers[owner] {
			if r != j && r > t-1 {
				return false
			}
		}
		return true
	}
	fac[len(nodes)] = s
	kept[len(nodes)] = true // the caller's
	// Factors the pass has released are reused by the pass before it asks
	// internal/scratch: its pools may be emptied by a garbage collection
	// between a release and the next request, and a fresh buffer costs a
	// serial clear or page faults.
	var free [][]float64
	var free32 [][]float32
	defer func() {
		for i := range free {
			scratch.Put(&free[i])
		}
		for i := range free32 {
			scratch.Put32(&free32[i])
		}
	}()
	width := func(t int) int { return model.Numel(net.TensorShape(t)) }
	newFactor := func(t int) *mat.Dense {
		b := reuse(&free, rows*width(t))
		if b == nil {
			b = *scratch.Get(rows * width(t))
		}
		return mat.NewDense(rows, width(t), b)
	}
	newFactor32 := func(t int) blas32.General {
		b := reuse(&free32, rows*width(t))
		if b == nil {
			b = *scratch.Get32(rows * width(t))
		}
		return blas32.General{Rows: rows, Cols: width(t), Stride: width(t), Data: b}
	}
	release := func(m *mat.Dense) {
		free = append(free, m.RawMatrix().Data)
	}
	release32 := func(m blas32.General) {
		free32 = append(free32, m.Data)
	}
	// add accumulates the contribution d into tensor t's factor; d is
	// owned by the pass.
	add := func(t int, d *mat.Dense) {
		if fac[t] == nil {
			fac[t] = d
			return
		}
		addRows(fac[t], d)
		release(d)
	}
	add32 := func(t int, d blas32.General) {
		if fac32[t].Data == nil {
			fac32[t] = d
			return
		}
		addRows32(fac32[t], d)
		release32(d)
	}

	var out []LayerFactor
	var xs, dst []*mat.Dense
	for i := len(nodes) - 1; i >= 0; i-- {
		nd := nodes[i]
		if !needed[i+1] {
			done(i)
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("backpropagation stopped at node %d of %d: %w", len(nodes)-i, len(nodes), err)
		}
		cur, cur32, is32 := fac[i+1], fac32[i+1], in32[i+1]
		// owned: the pass may overwrite or hand on cur (no block
		// references it, which the node's own block may change below).
		owned := func() bool { return !kept[i+1] && !borrowed[i+1] }
		// temp holds cur rounded or widened for a node whose input factor
		// is held in the other precision; the pass owns it.
		var temp *mat.Dense
		var temp32 blas32.General
		as64 := func() *mat.Dense {
			if !is32 {
				return cur
			}
			if temp == nil {
				temp = newFactor(i + 1)
				raw := temp.RawMatrix()
				fastblas.WidenRows(cur32.Rows, cur32.Cols, raw.Data, raw.Stride, cur32.Data, cur32.Stride)
			}
			return temp
		}
		as32 := func() blas32.General {
			if is32 {
				return cur32
			}
			if temp32.Data == nil {
				temp32 = newFactor32(i + 1)
				raw := cur.RawMatrix()
				fastblas.NarrowRows(raw.Rows, raw.Cols, temp32.Data, temp32.Stride, raw.Data, raw.Stride)
			}
			return temp32
		}
		pl, isParam := nd.Op.(model.ParamLayer)
		fused := false // the node's block and backward in one pass
		if isParam {
			var names []string
			for _, p := range pl.Params() {
				names = append(names, p.Name)
			}
			t := nd.Inputs[0]
			var f lowrank.Factor
			// fuse: the node's input factor can be formed in the pass
			// over cur that forms its block.
			fuse := needed[t] && fac[t] == nil && fac32[t].Data == nil && in32[t] == is32 && !kept[i+1]
			if fl, ok := pl.(model.Rows32FactorBackwardToLayer); ok && is32 && fuse && borrowed[i+1] && fl.FactorCopiesRows() {
				d := newFactor32(t)
				f = fl.FactorBackwardToRows32(d, cur32, acts[t], acts[i+1], c)
				fac32[t], fused = d, true
			} else if fl, ok := pl.(model.FactorBackwardToLayer); ok && !is32 && fuse && borrowed[i+1] && fl.FactorCopiesRows() {
				d := newFactor(t)
				f = fl.FactorBackwardTo(d, cur, acts[t], acts[i+1], c)
				fac[t], fused = d, true
			} else if fl, ok := pl.(model.Rows32FactorInPlaceLayer); ok && is32 && fuse && !borrowed[i+1] && fl.FactorCopiesRows() {
				f = fl.FactorBackwardInPlaceRows32(cur32, acts[t], acts[i+1], c)
				fac32[t], fac32[i+1], fused = cur32, blas32.General{}, true
			} else if fl, ok := pl.(model.FactorInPlaceLayer); ok && !is32 && fuse && !borrowed[i+1] && fl.FactorCopiesRows() {
				f = fl.FactorBackwardInPlace(cur, acts[t], acts[i+1], c)
				fac[t], fac[i+1], fused = cur, nil, true
			} else if p32, ok := pl.(model.Rows32ParamLayer); ok && is32 {
				f = p32.FactorRows32(cur32, acts[t], c)
			} else {
				f = pl.Factor(as64(), acts[t], c)
				if is32 {
					temp = nil // the block references it
				}
			}
			out = append(out, LayerFactor{Node: i, Params: names, Factor: f, whole: f})
			if fc, ok := pl.(model.FactorCopier); !ok || !fc.FactorCopiesRows() {
				kept[i+1] = true
			}
		}
		switch op := nd.Op.(type) {
		case model.Layer:
			t := nd.Inputs[0]
			if !needed[t] || fused {
				break
			}
			if in32[t] {
				l32 := op.(model.Rows32Layer)
				src := as32()
				owned := !is32 || owned() // a conversion is the pass's
				if ip, ok := op.(model.InPlaceLayer); ok && ip.BackwardInPlace() && owned && fac32[t].Data == nil {
					l32.BackwardRows32(src, src, acts[t], acts[i+1], c)
					fac32[t] = src
					if is32 {
						fac32[i+1] = blas32.General{}
					} else {
						temp32 = blas32.General{}
					}
					break
				}
				if al, ok := op.(model.Rows32AccumulatingLayer); ok && fac32[t].Data != nil {
					al.BackwardRows32Add(fac32[t], src, acts[t], acts[i+1], c)
					break
				}
				d := newFactor32(t)
				l32.BackwardRows32(d, src, acts[t], acts[i+1], c)
				add32(t, d)
				break
			}
			src := as64()
			owned := is32 || owned() // a conversion is the pass's
			// A factor not kept by a block is an intermediate of this pass:
			// diagonal layers overwrite it in place.
			if ip, ok := op.(model.InPlaceLayer); ok && ip.BackwardInPlace() && owned && fac[t] == nil {
				op.BackwardInput(src, src, acts[t], acts[i+1], c)
				fac[t] = src
				if is32 {
					temp = nil
				} else {
					fac[i+1] = nil
				}
				break
			}
			// A second reader of t adds its part to t's factor directly
			// when it can, instead of through a matrix of its own.
			if al, ok := op.(model.AccumulatingLayer); ok && fac[t] != nil && fac[t] != src {
				if a32, ok := op.(model.Float32AccumulatingLayer); ok && prec == lowrank.Float32 {
					a32.BackwardInputAdd32(fac[t], src, acts[t], acts[i+1], c)
				} else {
					al.BackwardInputAdd(fac[t], src, acts[t], acts[i+1], c)
				}
				break
			}
			d := newFactor(t)
			if l32, ok := op.(model.Float32Layer); ok && prec == lowrank.Float32 {
				l32.BackwardInput32(d, src, acts[t], acts[i+1], c)
			} else {
				op.BackwardInput(d, src, acts[t], acts[i+1], c)
			}
			add(t, d)
		case model.Join:
			if pt, ok := op.(model.PassThroughJoin); ok && pt.BackwardPassesThrough() {
				// Every input's factor is cur: the input without a factor
				// yet, held in cur's precision, that the pass visits last
				// (the lowest tensor) takes cur itself (unless the pass does
				// not own it); inputs that canBorrow read it too; the
				// others add it to theirs or copy it.
				owner := -1
				for _, t := range nd.Inputs {
					if owned() && needed[t] && fac[t] == nil && fac32[t].Data == nil && in32[t] == is32 && (owner < 0 || t < owner) {
						owner = t
					}
				}
				handed := false
				for _, t := range nd.Inputs {
					switch {
					case !needed[t]:
					case in32[t] && fac32[t].Data != nil:
						addRows32(fac32[t], as32())
					case !in32[t] && fac[t] != nil:
						addRows(fac[t], as64())
					case t == owner || owner >= 0 && in32[t] == is32 && canBorrow(t, owner, i):
						if is32 {
							fac32[t] = cur32
						} else {
							fac[t] = cur
						}
						borrowed[t] = t != owner
						handed = handed || t == owner
					case in32[t]:
						fac32[t] = newFactor32(t)
						copyRows32(fac32[t], as32())
					default:
						fac[t] = newFactor(t)
						copyRows(fac[t], as64())
					}
				}
				if handed {
					fac[i+1], fac32[i+1] = nil, blas32.General{}
				}
				break
			}
			src := as64()
			xs, dst = xs[:0], dst[:0]
			for _, t := range nd.Inputs {
				xs = append(xs, acts[t])
				var d *mat.Dense
				if needed[t] {
					d = newFactor(t)
				}
				dst = append(dst, d)
			}
			op.BackwardJoin(dst, src, xs, acts[i+1], c)
			for j, t := range nd.Inputs {
				if dst[j] != nil {
					add(t, dst[j])
				}
			}
		}
		if isParam && each != nil && each(out[len(out)-1]) && i+1 < len(nodes) {
			kept[i+1] = false
		}
		if temp != nil {
			release(temp)
		}
		if temp32.Data != nil {
			release32(temp32)
		}
		if !kept[i+1] && !borrowed[i+1] {
			if fac[i+1] != nil {
				release(fac[i+1])
			}
			if fac32[i+1].Data != nil {
				release32(fac32[i+1])
			}
		}
		fac[i+1], fac32[i+1] = nil, blas32.General{}
		done(i)
	}
	return inParamOrder(net, out), nil
}

// float32Tensors reports, with on set, which tensors' factors the pass
// holds in float32: those computed by a node that takes float32 rows (as
// a layer whose input factor is needed, as a parameter node, or as a
// residual sum) and read only by nodes that write float32 rows
// (model.Rows32Layer, or a PassThroughJoin), except the output of a
// parameter node whose own input factor is float64. The network's output
// (the caller's float64 factor) and its input are not.
func float32Tensors(nodes []model.Node, needed []bool, on bool) []bool {
	in32 := make([]bool, len(nodes)+1)
	if !on {
		return in32
	}
	readers := make([]bool, len(nodes)+1) // every reader of t writes float32
	for t := range readers {
		readers[t] = true
	}
	for _, nd := range nodes {
		ok := passesThrough(nd.Op)
		if _, l32 := nd.Op.(model.Rows32Layer); l32 {
			ok = true
		}
		for _, t := range nd.Inputs {
			readers[t] = readers[t] && ok
		}
	}
	for i, nd := range nodes[:len(nodes)-1] {
		t := i + 1
		ok := needed[t] && readers[t]
		switch op := nd.Op.(type) {
		case model.ParamLayer:
			_, p32 := op.(model.Rows32ParamLayer)
			_, l32 := op.(model.Rows32Layer)
			ok = ok && p32 && (l32 || !needed[nd.Inputs[0]])
		case model.Layer:
			_, l32 := op.(model.Rows32Layer)
			ok = ok && l32
		default:
			ok = ok && passesThrough(op)
		}
		in32[t] = ok
	}
	// A parameter node whose input factor is float64 would widen its
	// float32 rows for its backward: keep its output in float64 too, so
	// that a float32 island (after max pooling, say) costs no rounding
	// and widening around one layer.
	for i, nd := range nodes {
		if _, ok := nd.Op.(model.ParamLayer); ok && in32[i+1] {
			if u := nd.Inputs[0]; needed[u] && !in32[u] {
				in32[i+1] = false
			}
		}
	}
	return in32
}

func passesThrough(op model.Op) bool {
	pt, ok := op.(model.PassThroughJoin)
	return ok && pt.BackwardPassesThrough()
}

// reuse takes the smallest buffer of at least size entries out of free,
// or returns nil.
func reuse[T float32 | float64](free *[][]T, size int) []T {
	best := -1
	for i, b := range *free {
		if cap(b) >= size && (best < 0 || cap(b) < cap((*free)[best])) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	b := (*free)[best][:size]
	*free = slices.Delete(*free, best, best+1)
	return b
}

// inParamOrder sorts the blocks into the network's parameter order,
// splitting a node's block where its tensors are not contiguous there.
func inParamOrder(net *model.Network, fs []LayerFactor) []LayerFactor {
	type where struct{ block, index int }
	at := map[string]where{}
	for bi, lf := range fs {
		for j, name := range lf.Params {
			at[name] = where{bi, j}
		}
	}
	var out []LayerFactor
	prev := where{-1, -1}
	for _, p := range net.Params() {
		w, ok := at[p.Name]
		if !ok {
			panic("jacobians: parameter " + p.Name + " has no factor block")
		}
		if w.block == prev.block && w.index > prev.index {
			last := &out[len(out)-1]
			last.Keep[w.index] = true
		} else {
			lf := fs[w.block]
			lf.Keep = make([]bool, len(lf.Params))
			lf.Keep[w.index] = true
			out = append(out, lf)
		}
		prev = w
	}
	for i := range out {
		lf := &out[i]
		all := true
		for _, k := range lf.Keep {
			all = all && k
		}
		if !all {
			lf.Factor = lf.whole.Select(lf.Keep)
		}
	}
	return out
}

// addRows adds s to dst (equal shapes, contiguous rows), and copyRows
// copies it, rows on GOMAXPROCS goroutines: factors are tens of megabytes,
// which one core would stream alone while the other waits.
func addRows(dst, s *mat.Dense) {
	forRows(dst, s, func(d, x []float64) { floats.Add(d, x) })
}

func copyRows(dst, s *mat.Dense) {
	forRows(dst, s, func(d, x []float64) { copy(d, x) })
}

func addRows32(dst, s blas32.General) {
	forRows32(dst, s, func(d, x []float32) { fastblas.Add32(d, x) })
}

func copyRows32(dst, s blas32.General) {
	forRows32(dst, s, func(d, x []float32) { copy(d, x) })
}

func forRows32(dst, s blas32.General, f func(d, x []float32)) {
	if dst.Rows != s.Rows || dst.Cols != s.Cols {
		panic("jacobians: factor shapes differ")
	}
	par.For(s.Rows, par.ProcsFor(s.Rows*s.Cols), func(_, i int) {
		f(dst.Data[i*dst.Stride:i*dst.Stride+dst.Cols], s.Data[i*s.Stride:i*s.Stride+s.Cols])
	})
}

func forRows(dst, s *mat.Dense, f func(d, x []float64)) {
	r, cols := s.Dims()
	if rd, cd := dst.Dims(); rd != r || cd != cols {
		panic("jacobians: factor shapes differ")
	}
	par.For(r, par.ProcsFor(r*cols), func(_, i int) { f(dst.RawRowView(i), s.RawRowView(i)) })
}
