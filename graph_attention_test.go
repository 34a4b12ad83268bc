package vivit_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/model"
)

// tokenMean is a test-only layer: the mean over the tokens of a [T, D]
// tensor, [D].
type tokenMean struct{ t, d int }

func (l *tokenMean) Type() string    { return "token_mean" }
func (l *tokenMean) InShape() []int  { return []int{l.t, l.d} }
func (l *tokenMean) OutShape() []int { return []int{l.d} }

func (l *tokenMean) Forward(y, x *mat.Dense) {
	n, _ := x.Dims()
	for i := 0; i < n; i++ {
		xr, yr := x.RawRowView(i), y.RawRowView(i)
		for j := range yr {
			yr[j] = 0
			for t := 0; t < l.t; t++ {
				yr[j] += xr[t*l.d+j] / float64(l.t)
			}
		}
	}
}

func (l *tokenMean) BackwardInput(dst, s, _, _ *mat.Dense, _ int) {
	r, _ := s.Dims()
	for i := 0; i < r; i++ {
		sr, dr := s.RawRowView(i), dst.RawRowView(i)
		for t := 0; t < l.t; t++ {
			for j, v := range sr {
				dr[t*l.d+j] = v / float64(l.t)
			}
		}
	}
}

// attentionNet returns a tiny single-head self-attention classifier built
// by hand from the operations an exported transformer uses:
//
//	x [3, 4] ─┬→ q ────────────────────→ matmul(q, kᵀ) → softmax → matmul(·, v) → out ─┐
//	          ├→ k → transpose ──────────────┘                         │               │
//	          ├→ v ────────────────────────────────────────────────────┘               │
//	          └→ cls (a learned token, [1, 4]) ──────────────────────── concat (axis 0) ←┘
//	concat [4, 4] ─┬→ gather tokens [0, 3, 0] ─┐
//	               └→ slice tokens 1:4:2 ──────┴→ concat (axis 0) [5, 4] → mean → head [C]
//
// q, k, v and out are token-wise linear layers; the class token is
// listed first in the parameter order.
func attentionNet(t testing.TB, loss model.Loss, seed uint64) *vivit.Model {
	t.Helper()
	const tok, d, c = 3, 4, 3
	rng := rand.New(rand.NewPCG(seed, 5))
	param := func(name string, shape ...int) *model.Param {
		p := &model.Param{Name: name, Shape: shape, Data: make([]float64, model.Numel(shape))}
		for i := range p.Data {
			p.Data[i] = rng.NormFloat64() * 0.8
		}
		return p
	}
	must := func(op model.Op, err error) model.Op {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	tl := func(name string, bias bool) (*model.TokenLinear, error) {
		var b *model.Param
		if bias {
			b = param(name+".bias", d)
		}
		return model.NewTokenLinear([]int{tok, d}, param(name+".weight", d, d), b)
	}
	q, err := tl("attn.q", true)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := tl("attn.k", false)
	v, _ := tl("attn.v", true)
	out, _ := tl("attn.out", true)
	cls, err := model.NewParamSource([]int{tok, d}, param("cls_token", 1, 1, d), []int{1, d})
	if err != nil {
		t.Fatal(err)
	}
	head := model.NewLinear(0, d, c, true)
	head.Weight.Name, head.Bias.Name = "head.weight", "head.bias"
	for _, p := range head.Params() {
		for i := range p.Data {
			p.Data[i] = rng.NormFloat64() * 0.8
		}
	}
	nodes := []model.Node{
		{Name: "q", Op: q, Inputs: []int{0}},                                                                           // tensor 1
		{Name: "k", Op: k, Inputs: []int{0}},                                                                           // 2
		{Name: "v", Op: v, Inputs: []int{0}},                                                                           // 3
		{Name: "kT", Op: must(model.NewTranspose([]int{tok, d}, []int{1, 0})), Inputs: []int{2}},                       // 4
		{Name: "scores", Op: must(model.NewMatMul([]int{tok, d}, []int{d, tok})), Inputs: []int{1, 4}},                 // 5
		{Name: "softmax", Op: must(model.NewSoftmax([]int{tok, tok}, -1)), Inputs: []int{5}},                           // 6
		{Name: "context", Op: must(model.NewMatMul([]int{tok, tok}, []int{tok, d})), Inputs: []int{6, 3}},              // 7
		{Name: "out", Op: out, Inputs: []int{7}},                                                                       // 8
		{Name: "cls", Op: cls, Inputs: []int{0}},                                                                       // 9
		{Name: "seq", Op: must(model.NewConcat([][]int{{1, d}, {tok, d}}, 0)), Inputs: []int{9, 8}},                    // 10
		{Name: "gather", Op: must(model.NewGather([]int{tok + 1, d}, 0, []int{0, 3, 0}, []int{3})), Inputs: []int{10}}, // 11
		{Name: "slice", Op: must(model.NewSlice([]int{tok + 1, d}, 0, 1, 4, 2)), Inputs: []int{10}},                    // 12
		{Name: "pick", Op: must(model.NewConcat([][]int{{3, d}, {2, d}}, 0)), Inputs: []int{11, 12}},                   // 13
		{Name: "mean", Op: &tokenMean{t: 5, d: d}, Inputs: []int{13}},                                                  // 14
		{Name: "head", Op: head, Inputs: []int{14}},                                                                    // 15
	}
	order := []*model.Param{cls.P}
	for _, nd := range nodes {
		if pl, ok := nd.Op.(model.ParamLayer); ok && nd.Op != model.Op(cls) {
			order = append(order, pl.Params()...)
		}
	}
	m, err := model.NewNetwork([]int{tok, d}, nodes, loss, order)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAttentionDenseBruteForce checks a hand-built self-attention graph
// (token-wise linear layers, a product of queries and transposed keys, a
// softmax, a product with values, a class token, concat, gather and slice)
// against a dense GGN from finite-difference Jacobians: spectrum, top
// eigenpairs, γ and λ, the first-order statistics and the diagonal, layer
// groups and a sub-batch.
func TestAttentionDenseBruteForce(t *testing.T) {
	for i, loss := range []model.Loss{
		{Kind: model.CrossEntropy, Reduction: model.Mean},
		{Kind: model.MSE, Reduction: model.Sum},
	} {
		t.Run(string(loss.Kind), func(t *testing.T) {
			m := attentionNet(t, loss, uint64(i))
			b := tinyBatch(m, 4, uint64(i))
			ref := buildDense(m, b)
			checkAgainstDense(t, m, b, ref)
			checkGroupsDense(t, "layers", m, b, ref, vivit.LayerGroups(m))
			checkGroupsDense(t, "across", m, b, ref, []vivit.Group{{Name: "x", Params: []string{"cls_token", "attn.k.weight", "head.bias"}}})
			checkSubBatchDense(t, "sub-batch", m, b, ref, 3, &vivit.Options{SubBatch: []int{2, 0}})
		})
	}
}

// TestAttentionMonteCarloUnbiased checks that the Monte-Carlo GGN of the
// attention graph is unbiased: its trace, averaged over seeds, matches the
// dense GGN's within four standard errors.
func TestAttentionMonteCarloUnbiased(t *testing.T) {
	m := attentionNet(t, model.Loss{Kind: model.CrossEntropy, Reduction: model.Mean}, 7)
	b := tinyBatch(m, 4, 7)
	ref := buildDense(m, b)
	var exact float64
	for i := 0; i < ref.ggn.SymmetricDim(); i++ {
		exact += ref.ggn.At(i, i)
	}
	seeds := 200
	if testing.Short() {
		seeds = 60
	}
	var sum, sum2 float64
	for seed := uint64(0); seed < uint64(seeds); seed++ {
		st, err := vivit.ComputeStats(m, b, &vivit.Options{MCSamples: 1, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		sum += st.GGNTrace
		sum2 += st.GGNTrace * st.GGNTrace
	}
	ns := float64(seeds)
	mean := sum / ns
	se := math.Sqrt((sum2/ns - mean*mean) / (ns - 1))
	if !(se > 0) || !(math.Abs(mean-exact) <= 4*se) {
		t.Errorf("MC trace mean %.6g ± %.3g (s.e.), dense %.6g", mean, se, exact)
	}
}
