package vivit_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/model"
)

// TestGradVarianceWellDetermined checks the gradient variance where the
// per-sample gradients agree to about seven digits (E[g²] ≈ 1e14·var),
// against a brute-force two-pass variance of per-sample gradients each
// computed on its own (vivit.Gradient on a one-sample batch). Subtracting
// E[g]² from E[g²] loses all but the last two digits there; the centred
// form keeps about nine.
func TestGradVarianceWellDetermined(t *testing.T) {
	archs := map[string]string{
		"mlp": `{"input_shape":[4],"layers":[{"type":"linear","in":4,"out":5},{"type":"tanh"},{"type":"linear","in":5,"out":3}],"loss":{"type":"cross_entropy","reduction":"mean"}}`,
		"cnn": `{"input_shape":[1,5,5],"layers":[{"type":"conv2d","in_channels":1,"out_channels":2,"kernel_size":3,"stride":1,"padding":0},{"type":"tanh"},{"type":"flatten"},{"type":"linear","in":18,"out":3}],"loss":{"type":"cross_entropy","reduction":"sum"}}`,
	}
	for name, arch := range archs {
		t.Run(name, func(t *testing.T) {
			m := tinyNet(t, arch, 7)
			const n, spread = 6, 1e-7
			rng := rand.New(rand.NewPCG(8, 9))
			f := m.InputSize()
			x := mat.NewDense(n, f, nil)
			for j := 0; j < f; j++ {
				x0 := rng.NormFloat64()
				for i := 0; i < n; i++ {
					x.Set(i, j, x0+spread*rng.NormFloat64())
				}
			}
			b := &vivit.Batch{Inputs: x, Targets: model.Targets{Classes: make([]int, n)}}
			st, err := vivit.ComputeStats(m, b, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Per-sample gradients, one sample at a time (w = 1 for a
			// batch of one, whatever the reduction).
			grads := make([][]float64, n)
			for i := range grads {
				one := &vivit.Batch{Inputs: mat.NewDense(1, f, x.RawRowView(i)), Targets: model.Targets{Classes: []int{0}}}
				_, g, err := vivit.Gradient(m, one)
				if err != nil {
					t.Fatal(err)
				}
				grads[i] = g
			}
			checked, worstOld := 0, 0.0
			for p := range grads[0] {
				var mean, sq, want float64
				for _, g := range grads {
					mean += g[p] / n
					sq += g[p] * g[p] / n
				}
				for _, g := range grads {
					want += (g[p] - mean) * (g[p] - mean) / n
				}
				if want == 0 {
					continue
				}
				checked++
				if got := st.GradVariance[p]; !(math.Abs(got-want) <= 1e-6*want) {
					t.Errorf("variance[%d] = %.10g, brute force %.10g (E[g²] = %.3g)", p, got, want, sq)
				}
				if sq < 1e10*want {
					continue
				}
				worstOld = math.Max(worstOld, math.Abs(sq-mean*mean-want)/want)
			}
			if checked == 0 {
				t.Fatal("no parameter with a nonzero variance")
			}
			t.Logf("%d parameters; E[g²] − E[g]² from the same gradients would be off by up to %.2g relative", checked, worstOld)
		})
	}
}
