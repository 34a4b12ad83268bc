package jacobians

import (
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/scratch"
	"github.com/vivit-go/vivit/lowrank"
	"github.com/vivit-go/vivit/model"
)

// LayerFactor is the factor block of one parameter layer.
type LayerFactor struct {
	Layer  int      // index of the layer in the network
	Params []string // its tensors, state_dict order
	Factor lowrank.Factor
}

// Backprop propagates the output factor s ((n·c)×C) backwards through net,
// where acts are the network's activations for the same n samples
// (acts[0] the inputs, acts[i+1] the output of layer i, as from
// Network.Forward). It returns the factor of every parameter layer, in
// layer order. s is not modified.
func Backprop(net *model.Network, acts []*mat.Dense, s *mat.Dense, c int) []LayerFactor {
	if len(acts) != len(net.Layers)+1 {
		panic("jacobians: activations do not match the network")
	}
	n, _ := acts[0].Dims()
	if r, _ := s.Dims(); r != n*c {
		panic("jacobians: factor rows do not match samples × columns")
	}
	first := len(net.Layers)
	for i, l := range net.Layers {
		if _, ok := l.(model.ParamLayer); ok {
			first = i
			break
		}
	}
	var out []LayerFactor
	cur := s
	for i := len(net.Layers) - 1; i >= first; i-- {
		l := net.Layers[i]
		if pl, ok := l.(model.ParamLayer); ok {
			names := make([]string, 0, 2)
			for _, p := range pl.Params() {
				names = append(names, p.Name)
			}
			out = append(out, LayerFactor{Layer: i, Params: names, Factor: pl.Factor(cur, acts[i], c)})
		}
		if i == first {
			break // nothing upstream needs the factor
		}
		// A factor is kept by its parameter layer's block; the others are
		// intermediates of this pass: overwritten in place by diagonal
		// layers, recycled after the next layer has read them.
		_, kept := l.(model.ParamLayer)
		var next *mat.Dense
		if ip, ok := l.(model.InPlaceLayer); ok && ip.BackwardInPlace() && !kept && cur != s {
			next = cur
		} else {
			next = mat.NewDense(n*c, model.Numel(l.InShape()), *scratch.Get(n * c * model.Numel(l.InShape())))
		}
		l.BackwardInput(next, cur, acts[i], acts[i+1], c)
		if next != cur && !kept && cur != s {
			data := cur.RawMatrix().Data
			scratch.Put(&data)
		}
		cur = next
	}
	// Reverse into layer order.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
