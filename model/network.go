package model

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/scratch"
)

// Network is a directed acyclic graph of operations with a loss. Tensor 0
// is the network input and tensor i+1 the output of Nodes[i]; the nodes
// are in topological order (each reads only tensors before its own), and
// the last node's output is the network output. A sequential network is
// the chain in which node i reads tensor i.
type Network struct {
	InputShape []int
	Nodes      []Node
	Loss       Loss

	params []*Param // state_dict order; nil means node order
}

// Node is one operation of a Network and the tensors it reads.
type Node struct {
	// Name identifies the node in messages: the ONNX node name, or the
	// layer index of a sequential network.
	Name string
	// Op is a Layer (one input) or a Join (several).
	Op Op
	// Inputs are the tensors the node reads: 0 is the network input, i+1
	// the output of node i.
	Inputs []int
}

// NewSequential returns the chain of layers as a network: node i is
// layers[i], named by its index, reading the previous layer's output.
func NewSequential(inputShape []int, layers []Layer, loss Loss) (*Network, error) {
	nodes := make([]Node, len(layers))
	for i, l := range layers {
		nodes[i] = Node{Name: fmt.Sprint(i), Op: l, Inputs: []int{i}}
	}
	return NewNetwork(inputShape, nodes, loss, nil)
}

// NewNetwork checks a graph and returns it as a network. order lists every
// parameter of the nodes once, in state_dict order; nil means node order
// (each node's parameters in its own order).
func NewNetwork(inputShape []int, nodes []Node, loss Loss, order []*Param) (*Network, error) {
	if len(nodes) == 0 {
		return nil, errors.New("network: no nodes")
	}
	net := &Network{InputShape: inputShape, Nodes: nodes, Loss: loss}
	used := make([]bool, len(nodes)+1)
	for i, nd := range nodes {
		if nd.Op == nil {
			return nil, fmt.Errorf("network: node %s has no operation", nd.Name)
		}
		var want [][]int
		switch op := nd.Op.(type) {
		case Layer:
			want = [][]int{op.InShape()}
		case Join:
			want = op.InShapes()
		default:
			return nil, fmt.Errorf("network: node %s (%s) is neither a Layer nor a Join", nd.Name, nd.Op.Type())
		}
		if len(nd.Inputs) != len(want) {
			return nil, fmt.Errorf("network: node %s (%s) reads %d tensors, its operation takes %d", nd.Name, nd.Op.Type(), len(nd.Inputs), len(want))
		}
		for j, t := range nd.Inputs {
			if t < 0 || t > i {
				return nil, fmt.Errorf("network: node %s (%s) reads tensor %d, which is not computed before it", nd.Name, nd.Op.Type(), t)
			}
			if got := net.TensorShape(t); !slices.Equal(got, want[j]) {
				return nil, fmt.Errorf("network: node %s (%s) input %d has shape %s, the operation needs %s", nd.Name, nd.Op.Type(), j, FormatShape(got), FormatShape(want[j]))
			}
			used[t] = true
		}
	}
	for t, u := range used[:len(nodes)] {
		if !u {
			if t == 0 {
				return nil, errors.New("network: no node reads the input")
			}
			nd := nodes[t-1]
			return nil, fmt.Errorf("network: the output of node %s (%s) is not used", nd.Name, nd.Op.Type())
		}
	}
	seen := map[*Param]bool{}
	names := map[string]bool{}
	for _, nd := range nodes {
		pl, ok := nd.Op.(ParamLayer)
		if !ok {
			continue
		}
		for _, p := range pl.Params() {
			if seen[p] || names[p.Name] {
				return nil, fmt.Errorf("network: parameter %q is used by more than one node", p.Name)
			}
			seen[p], names[p.Name] = true, true
		}
	}
	if order != nil {
		if len(order) != len(seen) {
			return nil, fmt.Errorf("network: the parameter order lists %d tensors, the nodes have %d", len(order), len(seen))
		}
		for _, p := range order {
			if !seen[p] {
				return nil, fmt.Errorf("network: the parameter order lists %q twice or it belongs to no node", p.Name)
			}
			delete(seen, p)
		}
		net.params = order
	}
	return net, nil
}

// TensorShape returns the per-sample shape of tensor t.
func (net *Network) TensorShape(t int) []int {
	if t == 0 {
		return net.InputShape
	}
	return net.Nodes[t-1].Op.OutShape()
}

// FormatShape writes a shape as [a b c], the notation of every message.
func FormatShape(s []int) string { return fmt.Sprint(s) }

// NumOutputs returns C, the size of the network's output.
func (net *Network) NumOutputs() int {
	return Numel(net.TensorShape(len(net.Nodes)))
}

// InputSize returns the number of input features per sample.
func (net *Network) InputSize() int { return Numel(net.InputShape) }

// Params returns every parameter in state_dict order.
func (net *Network) Params() []*Param {
	if net.params != nil {
		return net.params
	}
	var ps []*Param
	for _, nd := range net.Nodes {
		if pl, ok := nd.Op.(ParamLayer); ok {
			ps = append(ps, pl.Params()...)
		}
	}
	return ps
}

// NumParams returns D, the number of parameters.
func (net *Network) NumParams() int {
	d := 0
	for _, p := range net.Params() {
		d += len(p.Data)
	}
	return d
}

// Layout returns the parameter layout of the whole network.
func (net *Network) Layout() *Layout { return NewLayout(net.Params()) }

// Module is a named set of parameters: the tensors whose names share the
// prefix before the last dot ("layer1.bn1" for "layer1.bn1.weight" and
// "layer1.bn1.bias"; "0" for "0.weight"; a name without a dot alone).
type Module struct {
	Name   string
	Params []string // state_dict order
}

// ModuleName returns the module a parameter name belongs to.
func ModuleName(param string) string {
	if i := strings.LastIndexByte(param, '.'); i > 0 {
		return param[:i]
	}
	return param
}

// Modules returns the network's modules in the order of their first
// parameter.
func (net *Network) Modules() []Module {
	var ms []Module
	at := map[string]int{}
	for _, p := range net.Params() {
		m := ModuleName(p.Name)
		i, ok := at[m]
		if !ok {
			i = len(ms)
			at[m] = i
			ms = append(ms, Module{Name: m})
		}
		ms[i].Params = append(ms[i].Params, p.Name)
	}
	return ms
}

// Forward runs the network on x (rows are samples) and returns the
// activations: acts[0] = x, acts[i+1] = output of node i. Their storage
// comes from a recycled pool; a caller that is done with them may hand it
// back with ReleaseActivations.
func (net *Network) Forward(x *mat.Dense) []*mat.Dense {
	acts, _ := net.ForwardContext(context.Background(), x)
	return acts
}

// ForwardContext is Forward, stopped between nodes once ctx is done: it
// then releases the activations computed so far and returns an error
// wrapping ctx.Err().
func (net *Network) ForwardContext(ctx context.Context, x *mat.Dense) ([]*mat.Dense, error) {
	keep := make([]bool, len(net.Nodes)+1)
	for t := range keep {
		keep[t] = true
	}
	return net.ForwardKeep(ctx, x, keep)
}

// ForwardKeep is ForwardContext for a caller that needs only some
// activations afterwards: acts[t] is kept when keep[t] is true (keep may
// be nil), acts[0] and the output always; every other entry is nil, and
// its storage is recycled as soon as the nodes that read it have run, so
// the next nodes' outputs reuse it. With keep = BackwardReads(), the
// activations are those the factor and gradient backward passes read:
// a ResNet's BatchNorm outputs and residual sums, which only ReLUs read,
// are not held.
func (net *Network) ForwardKeep(ctx context.Context, x *mat.Dense, keep []bool) ([]*mat.Dense, error) {
	n, f := x.Dims()
	if f != net.InputSize() {
		panic("model: input has wrong width")
	}
	if keep != nil && len(keep) != len(net.Nodes)+1 {
		panic("model: keep does not match the network")
	}
	last := net.lastReaders()
	acts := make([]*mat.Dense, len(net.Nodes)+1)
	acts[0] = x
	// drop releases tensor t once node i, its last reader, has run,
	// unless it is held.
	drop := func(t, i int) {
		if last[t] != i || net.held(t, keep) || acts[t] == nil {
			return
		}
		ReleaseActivations([]*mat.Dense{nil, acts[t]})
		acts[t] = nil
	}
	var xs []*mat.Dense
	for i, nd := range net.Nodes {
		if err := ctx.Err(); err != nil {
			ReleaseActivations(acts[:i+1])
			return nil, fmt.Errorf("forward pass stopped at node %d of %d: %w", i, len(net.Nodes), err)
		}
		size := Numel(nd.Op.OutShape())
		y := mat.NewDense(n, size, *scratch.Get(n * size))
		switch op := nd.Op.(type) {
		case Layer:
			op.Forward(y, acts[nd.Inputs[0]])
		case Join:
			xs = xs[:0]
			for _, t := range nd.Inputs {
				xs = append(xs, acts[t])
			}
			op.ForwardJoin(y, xs)
		}
		acts[i+1] = y
		for _, t := range nd.Inputs {
			drop(t, i)
		}
		drop(i+1, i)
	}
	return acts, nil
}

// lastReaders returns, for each tensor, the last node that reads it (its
// producer when none does).
func (net *Network) lastReaders() []int {
	last := make([]int, len(net.Nodes)+1)
	for i, nd := range net.Nodes {
		last[i+1] = i
		for _, t := range nd.Inputs {
			last[t] = i
		}
	}
	return last
}

// held reports whether ForwardKeep with keep holds tensor t to the end:
// the input, the output and the tensors keep marks.
func (net *Network) held(t int, keep []bool) bool {
	return t == 0 || t == len(net.Nodes) || (keep != nil && keep[t])
}

// TransientPeak returns the most entries per sample that ForwardKeep
// with keep holds at once in the activations it does not keep to the
// end: each lives from the node that computes it to the last node that
// reads it.
func (net *Network) TransientPeak(keep []bool) int {
	last := net.lastReaders()
	freed := make([]int, len(net.Nodes)) // entries released after node i
	for t := 1; t <= len(net.Nodes); t++ {
		if !net.held(t, keep) {
			freed[last[t]] += Numel(net.TensorShape(t))
		}
	}
	live, peak := 0, 0
	for i := range net.Nodes {
		if !net.held(i+1, keep) {
			live += Numel(net.TensorShape(i + 1))
		}
		peak = max(peak, live)
		live -= freed[i]
	}
	return peak
}

// BackwardReads reports, for each tensor (0 the input, t > 0 the output
// of node t−1), whether a backward pass through the network reads its
// activation (BackwardReader): the nodes a factor passes through
// (CarriesFactor) read their inputs, outputs or neither.
func (net *Network) BackwardReads() []bool {
	reads := make([]bool, len(net.Nodes)+1)
	carries := net.CarriesFactor()
	for i, nd := range net.Nodes {
		if !carries[i+1] {
			continue
		}
		in, out := true, true
		if r, ok := nd.Op.(BackwardReader); ok {
			in, out = r.BackwardReads()
		}
		if in {
			for _, t := range nd.Inputs {
				reads[t] = true
			}
		}
		reads[i+1] = reads[i+1] || out
	}
	return reads
}

// CarriesFactor reports, for each tensor, whether a backward pass
// carries a factor (or gradient) at it: the tensor is the output of a
// parameter node or downstream of one. The nodes whose output carries
// none are not visited by the backward passes.
func (net *Network) CarriesFactor() []bool {
	carries := make([]bool, len(net.Nodes)+1)
	for i, nd := range net.Nodes {
		_, carries[i+1] = nd.Op.(ParamLayer)
		for _, t := range nd.Inputs {
			carries[i+1] = carries[i+1] || carries[t]
		}
	}
	return carries
}

// ReleaseActivations hands the storage of acts[1:] (from Forward or
// ForwardKeep; nil entries are skipped) back for reuse; neither they nor
// anything that references them (factors built on them) may be used
// afterwards. acts[0], the caller's input, is kept.
func ReleaseActivations(acts []*mat.Dense) {
	for _, a := range acts[1:] {
		if a == nil {
			continue
		}
		data := a.RawMatrix().Data
		scratch.Put(&data)
	}
}

// CheckFinite returns an error naming the first parameter tensor with a NaN
// or infinite entry.
func (net *Network) CheckFinite() error {
	for _, p := range net.Params() {
		for i, v := range p.Data {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("tensor %q: non-finite value %v at flat index %d", p.Name, v, i)
			}
		}
	}
	return nil
}

// Layout describes how named tensors are laid out in one flat vector.
type Layout struct {
	Names   []string
	Shapes  [][]int
	Offsets []int // Offsets[i] is where tensor i starts; len = len(Names)+1
}

// NewLayout returns the layout of ps concatenated in order.
func NewLayout(ps []*Param) *Layout {
	l := &Layout{Offsets: []int{0}}
	for _, p := range ps {
		l.Names = append(l.Names, p.Name)
		l.Shapes = append(l.Shapes, p.Shape)
		l.Offsets = append(l.Offsets, l.Offsets[len(l.Offsets)-1]+len(p.Data))
	}
	return l
}

// Size returns the total number of entries.
func (l *Layout) Size() int { return l.Offsets[len(l.Offsets)-1] }

// Index returns the position of the named tensor, or -1.
func (l *Layout) Index(name string) int {
	for i, n := range l.Names {
		if n == name {
			return i
		}
	}
	return -1
}

// Tensor returns the part of the flat vector v that holds the named tensor
// (a view, not a copy) and its shape; ok is false for an unknown name.
func (l *Layout) Tensor(v []float64, name string) (t []float64, shape []int, ok bool) {
	i := l.Index(name)
	if i < 0 {
		return nil, nil, false
	}
	return v[l.Offsets[i]:l.Offsets[i+1]], l.Shapes[i], true
}

// InitDefault sets every parameter as PyTorch initialises Linear and Conv2d
// layers by default: U(−1/√fan_in, 1/√fan_in) for weight and bias, with
// fan_in the weight's elements per output (in, or in·kh·kw). Draws come
// from rng layer by layer, weight before bias, in storage order.
func (net *Network) InitDefault(rng *rand.Rand) {
	for _, nd := range net.Nodes {
		pl, ok := nd.Op.(ParamLayer)
		if !ok {
			continue
		}
		ps := pl.Params()
		fanIn := len(ps[0].Data) / ps[0].Shape[0]
		bound := 1 / math.Sqrt(float64(fanIn))
		for _, p := range ps {
			for i := range p.Data {
				p.Data[i] = bound * (2*rng.Float64() - 1)
			}
		}
	}
}
