package vivit_test

import (
	"fmt"
	"math"
	"math/rand/v2"
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

// TestNewtonDecreasesQuadraticModel checks the undamped step against the
// quadratic model q(s) = ∇Lᵀs + ½ sᵀGs built from the dense GGN and the
// dense gradient (finite-difference Jacobians): s lies in the span of the
// dense top-k eigenvectors U, the model's gradient vanishes there
// (Uᵀ(∇L + G s) = 0), q(s) is the model's minimum over that span,
// −½ Σ_k (u_kᵀ∇L)²/λ_k, and no random move within the span does better. A
// damped step still decreases the model.
func TestNewtonDecreasesQuadraticModel(t *testing.T) {
	const k = 3
	arch := fmt.Sprintf(`{"input_shape":[3],"layers":[%s],"loss":%s}`, tinyArchs[0].layers, `{"type":"mse","reduction":"mean"}`)
	m := tinyNet(t, arch, 7)
	b := tinyBatch(m, 8, 7)
	ref := buildDense(m, b)
	d := ref.ggn.SymmetricDim()
	grad := mat.NewVecDense(d, nil)
	for _, g := range ref.grads {
		grad.AddScaledVec(grad, ref.w, mat.NewVecDense(d, g))
	}
	var es mat.EigenSym
	if !es.Factorize(ref.ggn, true) {
		t.Fatal("dense eigendecomposition failed")
	}
	vals := es.Values(nil)
	var all mat.Dense
	es.VectorsTo(&all)
	// The top k, descending.
	u := mat.NewDense(d, k, nil)
	lam := make([]float64, k)
	for j := 0; j < k; j++ {
		lam[j] = vals[d-1-j]
		u.SetCol(j, mat.Col(nil, d-1-j, &all))
	}
	if !(lam[k-1] > 1e-6*lam[0]) {
		t.Fatalf("the dense GGN has rank < %d: %v", k, lam)
	}
	q := func(s *mat.VecDense) float64 {
		var gs mat.VecDense
		gs.MulVec(ref.ggn, s)
		return mat.Dot(grad, s) + 0.5*mat.Dot(s, &gs)
	}
	var minimum float64
	for j := 0; j < k; j++ {
		p := mat.Dot(u.ColView(j), grad)
		minimum -= 0.5 * p * p / lam[j]
	}

	st, err := vivit.Newton(m, b, k, vivit.Damping{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := mat.NewVecDense(d, st.Step)
	// In the span: s = U Uᵀ s.
	var c, back mat.VecDense
	c.MulVec(u.T(), s)
	back.MulVec(u, &c)
	back.SubVec(&back, s)
	if r := mat.Norm(&back, 2) / mat.Norm(s, 2); !(r <= 1e-6) {
		t.Errorf("the step leaves the top-%d eigenspace: relative distance %.3g", k, r)
	}
	// Stationary in the span: Uᵀ(∇L + G s) = 0.
	var gs, resid mat.VecDense
	gs.MulVec(ref.ggn, s)
	gs.AddVec(&gs, grad)
	resid.MulVec(u.T(), &gs)
	var proj mat.VecDense
	proj.MulVec(u.T(), grad)
	if r := mat.Norm(&resid, 2) / mat.Norm(&proj, 2); !(r <= 1e-6) {
		t.Errorf("Uᵀ(∇L + G s) has relative norm %.3g", r)
	}
	// The model's minimum over the span, and no better point nearby.
	if got := q(s); !(math.Abs(got-minimum) <= 1e-6*math.Abs(minimum)) || !(minimum < 0) {
		t.Errorf("q(s) = %g, the minimum over the span is %g", got, minimum)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for trial := 0; trial < 20; trial++ {
		coef := make([]float64, k)
		for j := range coef {
			coef[j] = 1e-2 * rng.NormFloat64() * mat.Norm(s, 2)
		}
		var v mat.VecDense
		v.MulVec(u, mat.NewVecDense(k, coef))
		v.AddVec(&v, s)
		if !(q(&v) >= q(s)) {
			t.Errorf("a move within the span lowers the model: %g < %g", q(&v), q(s))
		}
	}
	// Damped steps are shorter and still descend.
	damped, err := vivit.Newton(m, b, k, vivit.Damping{Kind: vivit.Constant, Delta: lam[0]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sd := mat.NewVecDense(d, damped.Step)
	if !(q(sd) < 0) || !(mat.Norm(sd, 2) < mat.Norm(s, 2)) {
		t.Errorf("damped step: q = %g, ‖s‖ = %g (undamped %g)", q(sd), mat.Norm(sd, 2), mat.Norm(s, 2))
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
