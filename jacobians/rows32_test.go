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

// TestBackpropFloat32Rows checks the float32 factor rows of BackpropEach
// at Float32 (the Gram matrix formed in its hook, as the engine's top-k
// runs do) against the float64 pass, on graphs where the float32 chain
// starts and ends at various layers: ResNets (BatchNorm, residual adds,
// max pooling, dropout), a depthwise-separable CNN (grouped convolutions,
// which widen their rows) and a ViT (no float32 layer but activations and
// LayerNorm's neighbours). The Gram matrices agree to float32 rounding;
// on the convolutional nets some blocks must have kept float32 rows.
func TestBackpropFloat32Rows(t *testing.T) {
	for _, name := range []string{"resnet_digits", "resnet_rgb", "dwsep_rgb", "vit_digits", "resmlp_gelu"} {
		t.Run(name, func(t *testing.T) {
			net, b := loadFixture(t, name)
			acts, s, cols := lossFactor(net, b.Inputs)
			r, _ := s.Dims()
			want := mat.NewSymDense(r, nil)
			for _, f := range jacobians.Backprop(net, acts, s, cols) {
				f.Factor.AddGramTo(want)
			}
			got := mat.NewSymDense(r, nil)
			rows32 := 0
			_, err := jacobians.BackpropEach(context.Background(), net, acts, s, cols, lowrank.Float32, nil, func(lf jacobians.LayerFactor) bool {
				if lf.Factor == nil {
					return false
				}
				// A convolution's block without float64 rows holds float32
				// ones (a token-wise linear layer's holds token-major rows).
				if cv, ok := lf.Factor.(*lowrank.Conv); ok && cv.S == nil {
					if _, conv := net.Nodes[lf.Node].Op.(*model.Conv2d); conv {
						rows32++
					}
				}
				if p, ok := lf.Factor.(lowrank.Precisioner); ok {
					p.SetPrecision(lowrank.Float32)
				}
				lf.Factor.AddGramTo(got)
				d, ok := lf.Factor.(lowrank.RowsDropper)
				return ok && d.DropRows()
			})
			if err != nil {
				t.Fatal(err)
			}
			scale := mat.Norm(want, math.Inf(1))
			if e := maxAbsDiff(got, want); !(e <= 1e-5*scale) {
				t.Errorf("Gram matrix: error %.3g (scale %.3g)", e, scale)
			}
			if name[:3] == "res" && name != "resmlp_gelu" && rows32 == 0 {
				t.Errorf("no convolution kept float32 rows")
			}
			t.Logf("%d convolution blocks on float32 rows", rows32)
		})
	}
}

func maxAbsDiff(a, b mat.Matrix) float64 {
	r, c := a.Dims()
	worst := 0.0
	for i := range r {
		for j := range c {
			d := math.Abs(a.At(i, j) - b.At(i, j))
			if math.IsNaN(d) {
				return math.NaN()
			}
			worst = max(worst, d)
		}
	}
	return worst
}
