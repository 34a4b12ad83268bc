package vivit_test

import (
	"fmt"
	"math"
	"sort"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/directional"
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
		snr := mean * mean * n / variance // batch SNR of the mean slope
		// The per-sample curvatures λ_nk = e_kᵀG_n e_k and their batch SNR.
		var lmean, lsq float64
		ev := mat.NewVecDense(dim, e)
		for _, gn := range ref.gn {
			l := mat.Inner(ev, gn, ev)
			lmean += l
			lsq += l * l
		}
		lmean /= n
		csnr := lmean * lmean * n / (lsq/n - lmean*lmean)
		rho, delta := 1.0, d.Delta
		switch d.Kind {
		case vivit.Shrink, vivit.Auto:
			rho = snr / (1 + snr)
			if d.Kind == vivit.Auto {
				delta += vivit.TinyCurvature*vals[order[0]] + 3*vals[idx]/csnr
			}
		case vivit.Skip:
			if snr < d.Threshold {
				rho = 0
			}
		}
		coef := -rho * ref.w * n * mean / (vals[idx] + delta)
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
			{Kind: vivit.Auto},
			{Kind: vivit.Auto, Delta: 0.2},
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
				for j, s := range st.GradBatchSNR {
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
		{"auto", vivit.Damping{Kind: vivit.Auto}, ""},
		{"auto:0.25", vivit.Damping{Kind: vivit.Auto, Delta: 0.25}, ""},
		{"auto:1:2", vivit.Damping{}, "want auto or auto:δ"},
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

// TestNewtonSNRDefinitions checks that Newton's SNRs are those of
// directional.Summarize on the same γ and λ (docs/maths.md), its batch SNR
// N times that, and its predicted change the quadratic model's.
func TestNewtonSNRDefinitions(t *testing.T) {
	_, m, b := loadCase(t, "mse_regression")
	st, err := vivit.Newton(m, b, 4, vivit.DefaultDamping, nil)
	if err != nil {
		t.Fatal(err)
	}
	blk := st.Result.Blocks[0]
	gs, ls := directional.Summarize(blk.Gamma), directional.Summarize(blk.Lambda)
	n := float64(b.Len())
	var pred float64
	for j := range st.Values {
		if st.GradSNR[j] != gs.SNR[j] || st.CurvSNR[j] != ls.SNR[j] {
			t.Errorf("direction %d: SNRs %g, %g; directional.Summarize %g, %g", j, st.GradSNR[j], st.CurvSNR[j], gs.SNR[j], ls.SNR[j])
		}
		if !(math.Abs(st.GradBatchSNR[j]-n*gs.SNR[j]) <= 1e-12*n*gs.SNR[j]) {
			t.Errorf("direction %d: batch SNR %g, want N·SNR = %g", j, st.GradBatchSNR[j], n*gs.SNR[j])
		}
		c := st.Coefficient[j]
		pred += c*st.GradProj[j] + 0.5*st.Values[j]*c*c
	}
	if !(math.Abs(st.PredictedChange-pred) <= 1e-12*math.Abs(pred)) || !(pred < 0) {
		t.Errorf("predicted change %g, want %g < 0", st.PredictedChange, pred)
	}
}

// TestNewtonGroupsAgainstDense checks the block-diagonal step: with
// Options.Groups it is the sum of each group's dense damped Newton step in
// its own block of the GGN.
func TestNewtonGroupsAgainstDense(t *testing.T) {
	arch := fmt.Sprintf(`{"input_shape":[3],"layers":[%s],"loss":%s}`, tinyArchs[2].layers, tinyLosses[0])
	m := tinyNet(t, arch, 321)
	b := tinyBatch(m, 8, 321)
	ref := buildDense(m, b)
	groups := vivit.LayerGroups(m)
	layout := m.Layout()
	for _, d := range []vivit.Damping{{Kind: vivit.Constant, Delta: 0.1}, {Kind: vivit.Auto}} {
		st, err := vivit.Newton(m, b, 2, d, &vivit.Options{Groups: groups})
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float64, layout.Size())
		for _, g := range groups {
			var idx []int
			for _, name := range g.Params {
				i := layout.Index(name)
				for p := layout.Offsets[i]; p < layout.Offsets[i+1]; p++ {
					idx = append(idx, p)
				}
			}
			sub := &denseReference{ggn: restrictSym(ref.ggn, idx), w: ref.w}
			for _, gn := range ref.gn {
				sub.gn = append(sub.gn, restrictSym(gn, idx))
			}
			for _, g := range ref.grads {
				r := make([]float64, len(idx))
				for a, p := range idx {
					r[a] = g[p]
				}
				sub.grads = append(sub.grads, r)
			}
			for a, v := range denseNewton(sub, 2, d) {
				want[idx[a]] += v
			}
		}
		var scale, diff float64
		for i, v := range want {
			scale = math.Max(scale, math.Abs(v))
			diff = math.Max(diff, math.Abs(st.Step[i]-v))
		}
		if !(diff <= 1e-6*(scale+1e-3)) {
			t.Errorf("%+v: block-diagonal step differs from dense by %.3g (scale %.3g)", d, diff, scale)
		}
		if len(st.Values) != 2*len(groups) || st.Block[len(st.Block)-1] != len(groups)-1 {
			t.Errorf("%+v: %d directions in blocks %v, want 2 in each of %d", d, len(st.Values), st.Block, len(groups))
		}
	}
}

// restrictSym returns the principal submatrix of a on idx.
func restrictSym(a *mat.SymDense, idx []int) *mat.SymDense {
	out := mat.NewSymDense(len(idx), nil)
	for i, p := range idx {
		for j, q := range idx[i:] {
			out.SetSym(i, i+j, a.At(p, q))
		}
	}
	return out
}
