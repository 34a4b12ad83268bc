package vivit_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/vivit-go/vivit"
)

// TestStatsGradSNRAgainstDense checks the whole-network gradient SNR,
// ‖ḡ‖²/Σ_p Var_n(g_np) (docs/maths.md §4.1), against per-sample gradients
// from finite differences.
func TestStatsGradSNRAgainstDense(t *testing.T) {
	for li, l := range tinyLosses {
		arch := fmt.Sprintf(`{"input_shape":[3],"layers":[%s],"loss":%s}`, tinyArchs[2].layers, l)
		m := tinyNet(t, arch, uint64(400+li))
		b := tinyBatch(m, 7, uint64(400+li))
		ref := buildDense(m, b)
		st, err := vivit.ComputeStats(m, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := float64(len(ref.grads))
		var mean2, variance float64
		for p := range ref.grads[0] {
			var mu, sq float64
			for _, g := range ref.grads {
				mu += g[p]
				sq += g[p] * g[p]
			}
			mu /= n
			mean2 += mu * mu
			variance += sq/n - mu*mu
		}
		want := mean2 / variance
		if !(math.Abs(st.GradSNR-want) <= 1e-6*want) {
			t.Errorf("%s: gradient SNR %g, want %g", l, st.GradSNR, want)
		}
	}
}
