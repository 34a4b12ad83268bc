package jacobians_test

import (
	"context"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/jacobians"
	"github.com/vivit-go/vivit/lowrank"
	"github.com/vivit-go/vivit/model"
)

// TestBackpropReleases checks on the ViT fixture (attention, LayerNorm,
// GELU, residual adds) that BackpropContext releases every activation
// that no parameter node reads exactly once, no other, and never reads one
// afterwards: released activations are overwritten with NaN, and the
// Gram matrix of the blocks must still equal Backprop's exactly.
func TestBackpropReleases(t *testing.T) {
	net, b := loadFixture(t, "vit_digits")
	gram := func(release bool) (*mat.SymDense, []int) {
		acts, s, cols := lossFactor(net, b.Inputs)
		r, _ := s.Dims()
		count := make([]int, len(acts))
		var fs []jacobians.LayerFactor
		if release {
			var err error
			fs, err = jacobians.BackpropContext(context.Background(), net, acts, s, cols, lowrank.Float64, func(t int) {
				count[t]++
				d := acts[t].RawMatrix().Data
				for i := range d {
					d[i] = math.NaN()
				}
			})
			if err != nil {
				t.Fatal(err)
			}
		} else {
			fs = jacobians.Backprop(net, acts, s, cols)
		}
		g := mat.NewSymDense(r, nil)
		for _, f := range fs {
			f.Factor.AddGramTo(g)
		}
		return g, count
	}
	want, _ := gram(false)
	got, count := gram(true)
	if !mat.Equal(got, want) {
		t.Errorf("Gram matrix changed by releasing activations")
	}
	paramInput := map[int]bool{}
	for _, nd := range net.Nodes {
		if _, ok := nd.Op.(model.ParamLayer); ok {
			paramInput[nd.Inputs[0]] = true
		}
	}
	released := 0
	for ti, k := range count {
		want := 1
		if ti == 0 || paramInput[ti] {
			want = 0
		}
		if k != want {
			t.Errorf("tensor %d released %d times, want %d", ti, k, want)
		}
		released += k
	}
	if released < len(net.Nodes)/2 {
		t.Errorf("only %d of %d activations released", released, len(net.Nodes))
	}
}
