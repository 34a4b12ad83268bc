package vivit_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/checkpoint"
	"github.com/vivit-go/vivit/model"
)

// tinyNet builds a random network from an architecture JSON.
func tinyNet(t testing.TB, arch string, seed uint64) *vivit.Model {
	t.Helper()
	a, err := checkpoint.ParseArchitecture([]byte(arch))
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.Build()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, p := range m.Params() {
		for i := range p.Data {
			p.Data[i] = rng.NormFloat64() * 0.8
		}
	}
	return m
}

// tinyBatch returns n random samples with targets for m's loss.
func tinyBatch(m *vivit.Model, n int, seed uint64) *vivit.Batch {
	rng := rand.New(rand.NewPCG(seed, 2))
	f, c := m.InputSize(), m.NumOutputs()
	x := mat.NewDense(n, f, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < f; j++ {
			x.Set(i, j, rng.NormFloat64())
		}
	}
	b := &vivit.Batch{Inputs: x}
	if m.Loss.Kind == model.CrossEntropy {
		for i := 0; i < n; i++ {
			b.Targets.Classes = append(b.Targets.Classes, rng.IntN(c))
		}
	} else {
		y := mat.NewDense(n, c, nil)
		for i := 0; i < n; i++ {
			for j := 0; j < c; j++ {
				y.Set(i, j, rng.NormFloat64())
			}
		}
		b.Targets.Values = y
	}
	return b
}

// denseReference holds quantities built the slow way: Jacobians by central
// finite differences, loss Hessians analytically, the GGN as a dense D×D
// matrix.
type denseReference struct {
	ggn   *mat.SymDense
	gn    []*mat.SymDense // per-sample G_n (unnormalised)
	grads [][]float64     // per-sample ∇ℓ_n
	w     float64
}

func setFlat(m *vivit.Model, theta []float64) {
	off := 0
	for _, p := range m.Params() {
		copy(p.Data, theta[off:off+len(p.Data)])
		off += len(p.Data)
	}
}

func getFlat(m *vivit.Model) []float64 {
	var th []float64
	for _, p := range m.Params() {
		th = append(th, p.Data...)
	}
	return th
}

func lossHessian(l model.Loss, z []float64) *mat.SymDense {
	c := len(z)
	h := mat.NewSymDense(c, nil)
	switch l.Kind {
	case model.CrossEntropy:
		mx := math.Inf(-1)
		for _, v := range z {
			mx = math.Max(mx, v)
		}
		p := make([]float64, c)
		var s float64
		for i, v := range z {
			p[i] = math.Exp(v - mx)
			s += p[i]
		}
		for i := range p {
			p[i] /= s
		}
		for i := 0; i < c; i++ {
			for j := i; j < c; j++ {
				v := -p[i] * p[j]
				if i == j {
					v += p[i]
				}
				h.SetSym(i, j, v)
			}
		}
	case model.MSE:
		s := 2.0
		if l.Reduction == model.Mean {
			s = 2 / float64(c)
		}
		for i := 0; i < c; i++ {
			h.SetSym(i, i, s)
		}
	}
	return h
}

func buildDense(m *vivit.Model, b *vivit.Batch) *denseReference {
	theta := getFlat(m)
	defer setFlat(m, theta)
	d := len(theta)
	n := b.Len()
	c := m.NumOutputs()
	jac := make([]*mat.Dense, n) // C×D
	for i := range jac {
		jac[i] = mat.NewDense(c, d, nil)
	}
	const h = 1e-6
	th := append([]float64(nil), theta...)
	for p := 0; p < d; p++ {
		th[p] = theta[p] + h
		setFlat(m, th)
		zp := m.Forward(b.Inputs)[len(m.Nodes)]
		th[p] = theta[p] - h
		setFlat(m, th)
		zm := m.Forward(b.Inputs)[len(m.Nodes)]
		th[p] = theta[p]
		for i := 0; i < n; i++ {
			for k := 0; k < c; k++ {
				jac[i].Set(k, p, (zp.At(i, k)-zm.At(i, k))/(2*h))
			}
		}
	}
	setFlat(m, theta)
	z := m.Forward(b.Inputs)[len(m.Nodes)]
	grad := mat.NewDense(n, c, nil)
	m.Loss.GradTo(grad, z, b.Targets)
	ref := &denseReference{ggn: mat.NewSymDense(d, nil), w: m.Loss.Weight(n)}
	for i := 0; i < n; i++ {
		hn := lossHessian(m.Loss, z.RawRowView(i))
		var t mat.Dense
		t.Mul(hn, jac[i])
		var gn mat.Dense
		gn.Mul(jac[i].T(), &t)
		sym := mat.NewSymDense(d, nil)
		for a := 0; a < d; a++ {
			for bb := a; bb < d; bb++ {
				sym.SetSym(a, bb, (gn.At(a, bb)+gn.At(bb, a))/2)
			}
		}
		ref.gn = append(ref.gn, sym)
		ref.ggn.AddSym(ref.ggn, scaledSym(sym, ref.w))
		g := mat.NewVecDense(d, nil)
		g.MulVec(jac[i].T(), mat.NewVecDense(c, grad.RawRowView(i)))
		ref.grads = append(ref.grads, g.RawVector().Data)
	}
	return ref
}

func scaledSym(a *mat.SymDense, s float64) *mat.SymDense {
	var out mat.SymDense
	out.ScaleSym(s, a)
	return &out
}

var tinyArchs = []struct{ name, layers string }{
	{"tanh", `{"type":"linear","in":3,"out":4},{"type":"tanh"},{"type":"linear","in":4,"out":3}`},
	{"sigmoid-nobias", `{"type":"linear","in":3,"out":5,"bias":false},{"type":"sigmoid"},{"type":"linear","in":5,"out":3}`},
	{"relu-deep", `{"type":"linear","in":3,"out":4},{"type":"relu"},{"type":"linear","in":4,"out":4},{"type":"relu"},{"type":"linear","in":4,"out":3}`},
}

var tinyLosses = []string{
	`{"type":"cross_entropy","reduction":"mean"}`,
	`{"type":"cross_entropy","reduction":"sum"}`,
	`{"type":"mse","reduction":"mean"}`,
	`{"type":"mse","reduction":"sum"}`,
}

// TestDenseBruteForce checks the Gram route against a dense GGN built from
// finite-difference Jacobians on tiny random networks, for both losses and
// both reductions.
func TestDenseBruteForce(t *testing.T) {
	for ai, a := range tinyArchs {
		for li, l := range tinyLosses {
			name := fmt.Sprintf("%s/%s", a.name, l)
			t.Run(name, func(t *testing.T) {
				arch := fmt.Sprintf(`{"input_shape":[3],"layers":[%s],"loss":%s}`, a.layers, l)
				m := tinyNet(t, arch, uint64(10*ai+li))
				b := tinyBatch(m, 5, uint64(10*ai+li))
				ref := buildDense(m, b)
				checkAgainstDense(t, m, b, ref)
			})
		}
	}
}

func checkAgainstDense(t *testing.T, m *vivit.Model, b *vivit.Batch, ref *denseReference) {
	t.Helper()
	const tol = 1e-6 // finite differences
	var es mat.EigenSym
	if !es.Factorize(ref.ggn, true) {
		t.Fatal("dense eigendecomposition failed")
	}
	dvals := es.Values(nil)
	sort.Sort(sort.Reverse(sort.Float64Slice(dvals)))
	l1 := dvals[0]

	spec, err := vivit.Spectrum(m, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := spec.Blocks[0].Values
	for i, v := range got {
		if !(math.Abs(v-dvals[i]) <= tol*l1) {
			t.Errorf("eigenvalue %d: %.10g, dense %.10g", i, v, dvals[i])
		}
	}
	for i := len(got); i < len(dvals); i++ {
		if !(dvals[i] <= 1e-6*l1) {
			t.Errorf("dense eigenvalue %d = %.3g missing from the spectrum (rank %d)", i, dvals[i], len(got))
			break
		}
	}
	var trace float64
	for i := 0; i < ref.ggn.SymmetricDim(); i++ {
		trace += ref.ggn.At(i, i)
	}
	if !(math.Abs(spec.Blocks[0].Trace-trace) <= tol*trace) {
		t.Errorf("trace %.10g, dense %.10g", spec.Blocks[0].Trace, trace)
	}

	k := 3
	res, err := vivit.Directional(m, b, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	blk := res.Blocks[0]
	d := ref.ggn.SymmetricDim()
	gradL := make([]float64, d)
	for _, g := range ref.grads {
		for i, v := range g {
			gradL[i] += ref.w * v
		}
	}
	for j := range blk.Values {
		e := mat.NewVecDense(d, blk.Vector(j))
		// Residual ‖G e − λ e‖ against the dense GGN.
		var ge mat.VecDense
		ge.MulVec(ref.ggn, e)
		ge.AddScaledVec(&ge, -blk.Values[j], e)
		if r := mat.Norm(&ge, 2); !(r <= tol*l1) {
			t.Errorf("eigenpair %d: dense residual %.3g", j, r)
		}
		for n := range ref.grads {
			gamma := mat.Dot(e, mat.NewVecDense(d, ref.grads[n]))
			if !(math.Abs(gamma-blk.Gamma.At(n, j)) <= tol*(1+math.Abs(gamma))) {
				t.Errorf("γ[%d][%d] = %.10g, dense %.10g", n, j, blk.Gamma.At(n, j), gamma)
			}
			lam := mat.Inner(e, ref.gn[n], e)
			if !(math.Abs(lam-blk.Lambda.At(n, j)) <= tol*(1+lam)) {
				t.Errorf("λ[%d][%d] = %.10g, dense %.10g", n, j, blk.Lambda.At(n, j), lam)
			}
		}
	}

	st, err := vivit.ComputeStats(m, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	nf := float64(len(ref.grads))
	for n, g := range ref.grads {
		var sq float64
		for _, v := range g {
			sq += v * v
		}
		if want := math.Sqrt(sq); !(math.Abs(st.PerSampleGradNorms[n]-want) <= tol*(1+want)) {
			t.Errorf("‖∇ℓ_%d‖ = %.10g, dense %.10g", n, st.PerSampleGradNorms[n], want)
		}
	}
	for i := 0; i < d; i++ {
		var mean, sq, want float64
		for _, g := range ref.grads {
			mean += g[i] / nf
			sq += g[i] * g[i] / nf
		}
		for _, g := range ref.grads {
			want += (g[i] - mean) * (g[i] - mean) / nf
		}
		if !(math.Abs(st.GradVariance[i]-want) <= tol*(1+sq)) {
			t.Errorf("gradient variance[%d] = %.10g, dense %.10g", i, st.GradVariance[i], want)
			break
		}
	}
	for i := 0; i < d; i++ {
		if !(math.Abs(st.DiagGGN[i]-ref.ggn.At(i, i)) <= tol*(1+ref.ggn.At(i, i))) {
			t.Errorf("diag GGN[%d] = %.10g, dense %.10g", i, st.DiagGGN[i], ref.ggn.At(i, i))
			break
		}
		if !(math.Abs(st.Grad[i]-gradL[i]) <= tol) {
			t.Errorf("grad[%d] = %.10g, dense %.10g", i, st.Grad[i], gradL[i])
			break
		}
	}
}

// TestDenseSubBatchAndGroups checks the sub-batch GGN (renormalised to the
// sub-batch), the directional derivatives of samples outside it, and
// block-diagonal groups against dense brute force.
func TestDenseSubBatchAndGroups(t *testing.T) {
	const tol = 1e-6
	for li, l := range tinyLosses {
		arch := fmt.Sprintf(`{"input_shape":[3],"layers":[%s],"loss":%s}`, tinyArchs[0].layers, l)
		m := tinyNet(t, arch, uint64(100+li))
		b := tinyBatch(m, 6, uint64(100+li))
		ref := buildDense(m, b)
		checkSubBatchDense(t, l, m, b, ref, 2, &vivit.Options{SubBatch: []int{4, 1, 2}})

		// Groups: the second layer's bias alone, and the first layer's weight
		// with the second layer's weight (a group across layers).
		groups := []vivit.Group{{Name: "b2", Params: []string{"2.bias"}}, {Name: "w", Params: []string{"2.weight", "0.weight"}}}
		gr := checkGroupsDense(t, l, m, b, ref, groups)
		if names := gr.Blocks[1].Layout.Names; len(names) != 2 || names[0] != "0.weight" || names[1] != "2.weight" {
			t.Errorf("group tensors %v, want state_dict order [0.weight 2.weight]", names)
		}
	}
}

// checkGroupsDense checks the block-diagonal eigenvalues of every group
// against the dense GGN's diagonal blocks and returns the result.
func checkGroupsDense(t *testing.T, l string, m *vivit.Model, b *vivit.Batch, ref *denseReference, groups []vivit.Group) *vivit.Result {
	t.Helper()
	const tol = 1e-6
	gr, err := vivit.TopEigen(m, b, 3, &vivit.Options{Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	layout := m.Layout()
	for gi, g := range gr.Blocks {
		// Dense block: rows/columns of the group's tensors in state_dict order.
		var idx []int
		for _, name := range g.Layout.Names {
			i := layout.Index(name)
			for p := layout.Offsets[i]; p < layout.Offsets[i+1]; p++ {
				idx = append(idx, p)
			}
		}
		blkG := mat.NewSymDense(len(idx), nil)
		for a := range idx {
			for c := a; c < len(idx); c++ {
				blkG.SetSym(a, c, ref.ggn.At(idx[a], idx[c]))
			}
		}
		var es mat.EigenSym
		es.Factorize(blkG, false)
		dv := es.Values(nil)
		sort.Sort(sort.Reverse(sort.Float64Slice(dv)))
		for j, v := range g.Values {
			if !(math.Abs(v-dv[j]) <= tol*dv[0]) {
				t.Errorf("%s: group %d eigenvalue %d = %.8g, dense %.8g", l, gi, j, v, dv[j])
			}
		}
	}
	return gr
}

// checkSubBatchDense checks a Directional run with opts.SubBatch against
// dense brute force: its eigenpairs against the dense sub-batch GGN
// (renormalised to the sub-batch), its γ and λ against every sample's
// dense gradient and G_n.
func checkSubBatchDense(t *testing.T, label string, m *vivit.Model, b *vivit.Batch, ref *denseReference, k int, opts *vivit.Options) {
	t.Helper()
	const tol = 1e-6
	d := ref.ggn.SymmetricDim()
	gs := mat.NewSymDense(d, nil)
	ws := m.Loss.Weight(len(opts.SubBatch))
	for _, n := range opts.SubBatch {
		gs.AddSym(gs, scaledSym(ref.gn[n], ws))
	}
	res, err := vivit.Directional(m, b, k, opts)
	if err != nil {
		t.Fatal(err)
	}
	blk := res.Blocks[0]
	for j, lam := range blk.Values {
		e := mat.NewVecDense(d, blk.Vector(j))
		var r mat.VecDense
		r.MulVec(gs, e)
		r.AddScaledVec(&r, -lam, e)
		if !(mat.Norm(&r, 2) <= tol*blk.Values[0]) {
			t.Errorf("%s: sub-batch eigenpair %d residual %.3g", label, j, mat.Norm(&r, 2))
		}
		for n := 0; n < b.Len(); n++ {
			wantL := mat.Inner(e, ref.gn[n], e)
			wantG := mat.Dot(e, mat.NewVecDense(d, ref.grads[n]))
			if !(math.Abs(blk.Lambda.At(n, j)-wantL) <= tol*(1+wantL)) || !(math.Abs(blk.Gamma.At(n, j)-wantG) <= tol*(1+math.Abs(wantG))) {
				t.Errorf("%s: sample %d direction %d: γ, λ = %.8g, %.8g, dense %.8g, %.8g", label, n, j, blk.Gamma.At(n, j), blk.Lambda.At(n, j), wantG, wantL)
			}
		}
	}
}
