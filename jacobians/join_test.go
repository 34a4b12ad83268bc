package jacobians_test

import (
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/bench"
	"github.com/vivit-go/vivit/jacobians"
	"github.com/vivit-go/vivit/model"
)

// copyingJoin hides a join's model.PassThroughJoin method: the backward
// pass then copies the factor to every input through BackwardJoin.
type copyingJoin struct{ model.Join }

// TestPassThroughJoin checks that handing the factor through residual
// adds (model.PassThroughJoin) gives exactly the Gram matrix of copying
// it, on ResNet8 (adds of two branches, one of them the block's input,
// which two nodes read) and on a sum of a tensor with itself.
func TestPassThroughJoin(t *testing.T) {
	net, b, err := bench.ResNet8(3, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Append x + x after the last block's output.
	last := len(net.Nodes) - 3 // relu2 of layer3, before pool, flatten, fc
	nodes := append([]model.Node(nil), net.Nodes[:last+1]...)
	nodes = append(nodes, model.Node{Name: "double", Op: model.NewAdd(net.Nodes[last].Op.OutShape(), 2), Inputs: []int{last + 1, last + 1}})
	for _, nd := range net.Nodes[last+1:] {
		nd.Inputs = []int{nd.Inputs[0] + 1}
		nodes = append(nodes, nd)
	}
	copying := append([]model.Node(nil), nodes...)
	adds := 0
	for i, nd := range copying {
		if j, ok := nd.Op.(model.PassThroughJoin); ok && j.BackwardPassesThrough() {
			copying[i].Op = copyingJoin{j}
			adds++
		}
	}
	if adds != 4 {
		t.Fatalf("%d pass-through joins, want 4", adds)
	}
	gram := func(nodes []model.Node) *mat.SymDense {
		n, err := model.NewNetwork([]int{3, 32, 32}, nodes, net.Loss, nil)
		if err != nil {
			t.Fatal(err)
		}
		acts, s, cols := lossFactor(n, b.Inputs)
		rows, _ := s.Dims()
		g := mat.NewSymDense(rows, nil)
		for _, f := range jacobians.Backprop(n, acts, s, cols) {
			f.Factor.AddGramTo(g)
		}
		return g
	}
	want, got := gram(copying), gram(nodes)
	if !mat.Equal(got, want) {
		t.Errorf("Gram matrix differs from the copying backward pass")
	}
	if mat.Norm(want, 1) == 0 {
		t.Error("zero Gram matrix")
	}
}
