package onnx

import (
	"math"
	"slices"

	"github.com/vivit-go/vivit/model"
)

// Fusion of the node patterns an exporter writes for one PyTorch module
// into the one operation they compute, after the graph has been converted
// and pruned:
//
//   - MatMul(x, Transpose(W)) followed by Add(bias) — nn.Linear on token
//     activations — becomes one TokenLinear with bias, when the product
//     is read by the Add alone and the bias is a vector [out]. The values
//     are the same (x Wᵀ + b with the same products and one addition per
//     entry); the Add's activation and its factor are no longer stored,
//     and the bias block comes from the TokenLinear's factor.
//   - GELU's Div(x, √2) → Erf → Add(1) → Mul(x, ·) → Mul(·, ½) becomes one
//     NewGELU node, when the intermediate results are read by the pattern
//     alone and its constants are √2, 1 and ½ (as snapped from float32 by
//     the reader). The values agree with the pattern's to a few ulps
//     (x·½·(1 + erf(x·(√2/2))) against ½·(x·(1 + erf(x·(1/√2))))); four
//     activations and factors fewer are stored.
//
// Parameters keep their Param values, hence their names and the network's
// parameter order. NodeInfo.Mapped of the absorbed nodes says what they
// became.

// affineOf records the constants a and b of the affine layers
// (y = a·x + b) the converter made, for the pattern matcher.
type affineOf map[model.Op][2]float64

// noFusion switches the fusion off (tests compare with the unfused graph).
var noFusion bool

// fuse returns nodes with the patterns above replaced by single nodes.
func (c *converter) fuse(nodes []model.Node) []model.Node {
	if noFusion {
		return nodes
	}
	readers := make([][]int, len(nodes)+1) // readers[t]: the nodes that read tensor t
	for i, nd := range nodes {
		for _, t := range nd.Inputs {
			if !slices.Contains(readers[t], i) {
				readers[t] = append(readers[t], i)
			}
		}
	}
	// only returns the one node that reads the output of node i, or −1.
	only := func(i int) int {
		if r := readers[i+1]; len(r) == 1 {
			return r[0]
		}
		return -1
	}
	removed := make([]bool, len(nodes))
	absorbed := map[string]string{} // ONNX node name → Mapped
	for i := range nodes {
		if removed[i] {
			continue
		}
		if j, tl := c.fuseBias(nodes, i, only); tl != nil {
			absorbed[nodes[j].Name] = "token_linear bias (fused with " + nodes[i].Name + ")"
			nodes[j] = model.Node{Name: nodes[i].Name, Op: tl, Inputs: nodes[i].Inputs}
			removed[i] = true
			continue
		}
		if chain := c.geluChain(nodes, i, only); chain != nil {
			last := chain[len(chain)-1]
			x := nodes[i].Inputs[0]
			for _, k := range chain {
				absorbed[nodes[k].Name] = "gelu (fused)"
			}
			nodes[last] = model.Node{Name: nodes[last].Name, Op: model.NewGELU(nodes[i].Op.(model.Layer).InShape()), Inputs: []int{x}}
			for _, k := range chain[:len(chain)-1] {
				removed[k] = true
			}
		}
	}
	if len(absorbed) == 0 {
		return nodes
	}
	for k := range c.m.Nodes {
		if m, ok := absorbed[c.m.Nodes[k].Name]; ok {
			c.m.Nodes[k].Mapped = m
		}
	}
	id := make([]int, len(nodes)+1)
	var out []model.Node
	for i, nd := range nodes {
		if removed[i] {
			continue
		}
		in := make([]int, len(nd.Inputs))
		for j, t := range nd.Inputs {
			in[j] = id[t]
		}
		nd.Inputs = in
		out = append(out, nd)
		id[i+1] = len(out)
	}
	return out
}

// fuseBias returns, if node i is a TokenLinear without bias whose output
// only an Add of a bias vector [out] reads, that node's index and the
// TokenLinear with the bias; else −1 and nil.
func (c *converter) fuseBias(nodes []model.Node, i int, only func(int) int) (int, *model.TokenLinear) {
	tl, ok := nodes[i].Op.(*model.TokenLinear)
	if !ok || tl.Bias != nil {
		return -1, nil
	}
	j := only(i)
	if j < 0 {
		return -1, nil
	}
	ba, ok := nodes[j].Op.(*model.BiasAdd)
	if !ok || len(ba.Bias.Shape) != 1 || ba.Bias.Shape[0] != tl.Out || !slices.Equal(ba.Shape, tl.OutShape()) {
		return -1, nil
	}
	fused, err := model.NewTokenLinear(tl.Shape, tl.Weight, ba.Bias)
	if err != nil {
		return -1, nil
	}
	return j, fused
}

// geluChain returns the nodes of GELU's pattern starting at node i (the
// Div by √2) in order, the last one the Mul by ½; nil if there is none.
func (c *converter) geluChain(nodes []model.Node, i int, only func(int) int) []int {
	near := func(v, want float64) bool { return math.Abs(v-want) <= 4e-16*math.Abs(want) }
	isAffine := func(k int, a, b float64) bool {
		ab, ok := c.affine[nodes[k].Op]
		return ok && near(ab[0], a) && ab[1] == b
	}
	if !isAffine(i, 1/math.Sqrt2, 0) {
		return nil
	}
	x := nodes[i].Inputs[0]
	e := only(i)
	if e < 0 || nodes[e].Op.Type() != "erf" {
		return nil
	}
	a := only(e)
	if a < 0 || !isAffine(a, 1, 1) {
		return nil
	}
	m := only(a)
	if m < 0 {
		return nil
	}
	mul, ok := nodes[m].Op.(*model.Binary)
	if !ok || mul.Op != "mul" || !slices.Equal(mul.A, mul.B) || len(nodes[m].Inputs) != 2 {
		return nil
	}
	if in := nodes[m].Inputs; !(in[0] == x && in[1] == a+1 || in[0] == a+1 && in[1] == x) {
		return nil
	}
	h := only(m)
	if h < 0 || !isAffine(h, 0.5, 0) {
		return nil
	}
	return []int{i, e, a, m, h}
}

// recordAffine notes the constants of the affine layer l made for op with
// the scalar v (constFirst: v is the first operand).
func (c *converter) recordAffine(l model.Layer, op string, v float64, constFirst bool) {
	if c.affine == nil {
		c.affine = affineOf{}
	}
	var ab [2]float64
	switch {
	case op == "add":
		ab = [2]float64{1, v}
	case op == "sub" && !constFirst:
		ab = [2]float64{1, -v}
	case op == "sub":
		ab = [2]float64{-1, v}
	case op == "mul":
		ab = [2]float64{v, 0}
	default: // div by v
		ab = [2]float64{1 / v, 0}
	}
	c.affine[l] = ab
}
