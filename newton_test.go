package vivit_test

import (
	"fmt"
	"math"
	"sort"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
)

// denseNewton computes the damped Newton step from the dense GGN and dense
// per-sample gradients.
func denseNewton(ref *denseReference, k int, d vivit.Damping) []float64 {
	var es mat.EigenSym
	es.Factorize(ref.ggn, true)
	vals := es.Values(nil)
	var vecs mat.Dense
	es.VectorsTo(&vecs)
	order := make([]int, len(vals))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return vals[order[a]] > vals[order[b]] })
	dim := len(vals)
	n := float64(len(ref.grads))
	step := make([]float64, dim)
	for _, idx := range order[:k] {
		e := mat.Col(nil, idx, &vecs)
		var mean, sq float64
		for _, g := range ref.grads {
			gamma := mat.Dot(mat.NewVecDense(dim, e), mat.NewVecDense(dim, g))
			mean += gamma
			sq += gamma * gamma
		}
		mean /= n
		variance := sq/n - mean*mean
		snr := mean * mean * n / variance
		rho := 1.0
		switch d.Kind {
		case vivit.Shrink:
			rho = snr / (1 + snr)
		case vivit.Skip:
			if snr < d.Threshold {
				rho = 0
			}
		}
		coef := -rho * ref.w * n * mean / (vals[idx] + d.Delta)
		for i := range step {
			step[i] += coef * e[i]
		}
	}
	return step
}

func TestNewtonAgainstDense(t *testing.T) {
	for li, l := range tinyLosses {
		arch := fmt.Sprintf(`{"input_shape":[3],"layers":[%s],"loss":%s}`, tinyArchs[0].layers, l)
		m := tinyNet(t, arch, uint64(200+li))
		b := tinyBatch(m, 8, uint64(200+li))
		ref := buildDense(m, b)
		for _, d := range []vivit.Damping{
			{Kind: vivit.Constant},
			{Kind: vivit.Constant, Delta: 0.5},
			{Kind: vivit.Shrink, Delta: 0.1},
			{Kind: vivit.Skip, Delta: 0.1, Threshold: 1},
		} {
			st, err := vivit.Newton(m, b, 3, d, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := denseNewton(ref, 3, d)
			var scale, diff float64
			for i, v := range want {
				scale = math.Max(scale, math.Abs(v))
				diff = math.Max(diff, math.Abs(st.Step[i]-v))
			}
			if !(diff <= 1e-6*(scale+1e-3)) {
				t.Errorf("%s %+v: step differs from dense by %.3g (scale %.3g)", l, d, diff, scale)
			}
			if d.Kind == vivit.Skip {
				for j, s := range st.GradSNR {
					if (s < d.Threshold) != (st.Weights[j] == 0) {
						t.Errorf("skip: direction %d has snr %.3g and weight %g", j, s, st.Weights[j])
					}
				}
			}
		}
	}
}

// TestNewtonDecreasesQuadraticModel checks that an undamped step minimises
// the quadratic model in the eigenspace: the gradient of the model vanishes
// along each e_k, i.e. e_kᵀ(∇L + G s) = 0.
func TestNewtonDecreasesQuadraticModel(t *testing.T) {
	_, m, b := loadCase(t, "mse_regression")
	st, err := vivit.Newton(m, b, 5, vivit.Damping{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for j, lam := range st.Values {
		// e_kᵀ G s = λ_k coef_k, so e_kᵀ∇L + λ_k coef_k must be 0.
		if r := st.GradProj[j] + lam*st.Coefficient[j]; !(math.Abs(r) <= 1e-12*math.Abs(st.GradProj[j])+1e-15) {
			t.Errorf("direction %d: residual %.3g", j, r)
		}
	}
}

func TestParseDamping(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want vivit.Damping
		err  string
	}{
		{"constant:0.1", vivit.Damping{Kind: vivit.Constant, Delta: 0.1}, ""},
		{"shrink:1e-3", vivit.Damping{Kind: vivit.Shrink, Delta: 1e-3}, ""},
		{"skip:0.5:2", vivit.Damping{Kind: vivit.Skip, Delta: 0.5, Threshold: 2}, ""},
		{"constant", vivit.Damping{}, "want constant:δ"},
		{"constant:-1", vivit.Damping{}, "δ must be a finite number ≥ 0"},
		{"constant:NaN", vivit.Damping{}, "δ must be a finite number ≥ 0"},
		{"skip:1", vivit.Damping{}, "want skip:δ:τ"},
		{"levenberg:1", vivit.Damping{}, `unknown kind "levenberg"`},
	} {
		got, err := vivit.ParseDamping(tc.in)
		if tc.err != "" {
			if err == nil || !contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}
