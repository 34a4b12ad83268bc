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

// TestForwardKeepBackward runs the factor backward pass of every fixture
// (ONNX graphs and sequential checkpoints) on the activations Network.ForwardKeep keeps for it
// (BackwardReads, the others nil) and on all of them: every layer must
// read only what its BackwardReads says (a nil it reads panics), and the
// Gram matrices must agree bit for bit, in float64 and on float32 rows.
func TestForwardKeepBackward(t *testing.T) {
	eachFixture(t, func(t *testing.T, net *model.Network, b *model.Batch) {
		all, s, cols := lossFactor(net, b.Inputs)
		defer model.ReleaseActivations(all)
		reads := net.BackwardReads()
		kept, err := net.ForwardKeep(context.Background(), b.Inputs, reads)
		if err != nil {
			t.Fatal(err)
		}
		defer model.ReleaseActivations(kept)
		dropped := 0
		for i, a := range kept {
			switch {
			case a == nil && (i == 0 || i == len(kept)-1 || reads[i]):
				t.Fatalf("tensor %d is read but was not kept", i)
			case a == nil:
				dropped++
			case !mat.Equal(a, all[i]):
				t.Fatalf("tensor %d differs from Forward's", i)
			}
		}
		t.Logf("%d of %d activations not kept", dropped, len(kept)-1)
		r, _ := s.Dims()
		for _, prec := range []lowrank.Precision{lowrank.Float64, lowrank.Float32} {
			want := gramOf(t, net, all, s, cols, prec)
			got := gramOf(t, net, kept, s, cols, prec)
			for i := range r {
				for j := i; j < r; j++ {
					if g, w := got.At(i, j), want.At(i, j); g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
						t.Fatalf("precision %v: Gram[%d,%d] = %v on the kept activations, %v on all", prec, i, j, g, w)
					}
				}
			}
		}
	})
}

// gramOf forms the Gram matrix of the factor backpropagated from s, as
// the engine does at prec (each block's part added during the pass).
func gramOf(t *testing.T, net *model.Network, acts []*mat.Dense, s *mat.Dense, cols int, prec lowrank.Precision) *mat.SymDense {
	r, _ := s.Dims()
	g := mat.NewSymDense(r, nil)
	_, err := jacobians.BackpropEach(context.Background(), net, acts, s, cols, prec, nil, func(lf jacobians.LayerFactor) bool {
		if lf.Factor == nil {
			return false
		}
		if p, ok := lf.Factor.(lowrank.Precisioner); ok {
			p.SetPrecision(prec)
		}
		lf.Factor.AddGramTo(g)
		d, ok := lf.Factor.(lowrank.RowsDropper)
		return ok && d.DropRows()
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestBackpropEachDropped checks, on every fixture, the Gram matrix that
// BackpropEach forms block by block, letting the pass recycle or
// overwrite the rows of every block that drops them (a convolution's
// rows overwritten by its own backward in place), against the one of the
// blocks BackpropContext returns, which hold their rows: equal to
// rounding, in float64.
func TestBackpropEachDropped(t *testing.T) {
	eachFixture(t, func(t *testing.T, net *model.Network, b *model.Batch) {
		acts, s, cols := lossFactor(net, b.Inputs)
		defer model.ReleaseActivations(acts)
		got := gramOf(t, net, acts, s, cols, lowrank.Float64)
		fs, err := jacobians.BackpropContext(context.Background(), net, acts, s, cols, lowrank.Float64, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := s.Dims()
		want := mat.NewSymDense(r, nil)
		for _, lf := range fs {
			if lf.Factor != nil {
				lf.Factor.AddGramTo(want)
			}
		}
		scale := 0.0
		for i := range r {
			scale = math.Max(scale, math.Abs(want.At(i, i)))
		}
		for i := range r {
			for j := i; j < r; j++ {
				if g, w := got.At(i, j), want.At(i, j); !(math.Abs(g-w) <= 1e-12*scale) {
					t.Fatalf("Gram[%d,%d] = %v block by block, %v from the held blocks", i, j, g, w)
				}
			}
		}
	})
}

// TestFoldSteps checks, on every fixture, that folding an elementwise
// layer's backward into the pass of the BatchNorm before it
// (model.FactorThroughLayer: a ReLU after BatchNorm) changes no bit of
// the Gram matrix, in float64 and on float32 rows.
func TestFoldSteps(t *testing.T) {
	eachFixture(t, func(t *testing.T, net *model.Network, b *model.Batch) {
		acts, s, cols := lossFactor(net, b.Inputs)
		defer model.ReleaseActivations(acts)
		r, _ := s.Dims()
		for _, prec := range []lowrank.Precision{lowrank.Float64, lowrank.Float32} {
			got := gramOf(t, net, acts, s, cols, prec)
			want := func() *mat.SymDense {
				defer jacobians.SetFoldSteps(jacobians.SetFoldSteps(false))
				return gramOf(t, net, acts, s, cols, prec)
			}()
			for i := range r {
				for j := i; j < r; j++ {
					if g, w := got.At(i, j), want.At(i, j); g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
						t.Fatalf("precision %v: Gram[%d,%d] = %v folded, %v not", prec, i, j, g, w)
					}
				}
			}
		}
	})
}
