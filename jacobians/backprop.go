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
	return backprop(ctx, net, acts, s, c, prec, releaseAct, nil, false)
}

// BackpropEach is BackpropContext that also calls each(lf) with the block
// of every parameter node (all its tensors, Keep not yet set) as soon as
// the block is formed, before the node's backward pass, while the factor
// rows the block references are intact: a caller can form the block's
// Gram matrix there, while the rows are fresh in cache, instead of
// holding them for later. If each reports true the block no longer
// references those rows (lowrank.RowsDropper) and the pass recycles them
// or overwrites them with the node's backward (unless they are the
// caller's s). each may be nil.
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
	return backprop(ctx, net, acts, s, c, prec, releaseAct, each, true)
}

// backprop is BackpropEach; with separable it follows separable factor
// rows (model.SeparableParamLayer) and forms those layers' blocks from
// them.
func backprop(ctx context.Context, net *model.Network, acts []*mat.Dense, s *mat.Dense, c int, prec lowrank.Precision, releaseAct func(t int), each func(LayerFactor) bool, separable bool) ([]LayerFactor, error) {
	nodes := net.Nodes
	if len(acts) != len(nodes)+1 {
		panic("jacobians: activations do not match the network")
	}
	n, _ := acts[0].Dims()
	if r, _ := s.Dims(); r != n*c {
		panic("jacobians: factor rows do not match samples × columns")
	}
	p := newPass(net, acts, s, c, prec, releaseAct, each, separable)
	defer p.recycle()
	for i := len(nodes) - 1; i >= 0; i-- {
		if !p.needed[i+1] {
			p.done(i)
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("backpropagation stopped at node %d of %d: %w", len(nodes)-i, len(nodes), err)
		}
		p.backward(i)
	}
	return inParamOrder(net, p.out), nil
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
