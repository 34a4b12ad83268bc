package onnx

import (
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/batch"
	"github.com/vivit-go/vivit/jacobians"
	"github.com/vivit-go/vivit/model"
)

// readUnfused reads a file with the fusion pass switched off.
func readUnfused(t *testing.T, path string) *Model {
	t.Helper()
	noFusion = true
	defer func() { noFusion = false }()
	m, err := ReadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// gramOf returns the Gram matrix VᵀV of the exact GGN factor of net on the
// batch and the parameter names in order.
func gramOf(net *model.Network, b *model.Batch) (*mat.SymDense, []string) {
	acts := net.Forward(b.Inputs)
	z := acts[len(acts)-1]
	n, _ := z.Dims()
	cols := net.Loss.ReducedCols(net.NumOutputs())
	s := mat.NewDense(n*cols, net.NumOutputs(), nil)
	net.Loss.ReducedSqrtHessianTo(s, z, math.Sqrt(net.Loss.Weight(n)))
	g := mat.NewSymDense(n*cols, nil)
	var names []string
	for _, f := range jacobians.Backprop(net, acts, s, cols) {
		f.Factor.AddGramTo(g)
		names = append(names, f.Names()...)
	}
	return g, names
}

// TestFusion checks, on the ViT fixture and the bench ViT, that the fused
// token-wise linear layers with bias and the fused GELU give the unfused
// graph's logits and Gram matrix VᵀV (hence GGN eigenvalues) to 1e-14
// relative, with the same parameters in the same order, and that the
// fusion happened.
func TestFusion(t *testing.T) {
	for _, c := range []struct {
		dir, model, batch string
		linears, gelus    int
	}{
		{"vit_digits", "../testdata/fixtures/vit_digits/model.onnx", "../testdata/fixtures/vit_digits/batch.safetensors", 4, 1},
		{"bench vit", "../bench/testdata/vit.onnx", "../bench/testdata/vit_batch.safetensors", 8, 2},
	} {
		t.Run(c.dir, func(t *testing.T) {
			if testing.Short() && c.linears > 4 {
				t.Skip("the bench ViT takes seconds")
			}
			fused, err := ReadFile(c.model, nil)
			if err != nil {
				t.Fatal(err)
			}
			plain := readUnfused(t, c.model)
			count := func(net *model.Network) (biased, gelu, biasAdd, erf int) {
				for _, nd := range net.Nodes {
					switch op := nd.Op.(type) {
					case *model.TokenLinear:
						if op.Bias != nil {
							biased++
						}
					case *model.BiasAdd:
						biasAdd++
					}
					switch nd.Op.Type() {
					case "gelu":
						gelu++
					case "erf":
						erf++
					}
				}
				return
			}
			bf, gf, baf, ef := count(fused.Net)
			bp, gp, bap, ep := count(plain.Net)
			if bf != c.linears || gf != c.gelus || ef != 0 || baf != bap-c.linears {
				t.Errorf("fused: %d biased token linears, %d gelu, %d erf, %d bias adds; want %d, %d, 0, %d", bf, gf, ef, baf, c.linears, c.gelus, bap-c.linears)
			}
			if bp != 0 || gp != 0 || ep != c.gelus {
				t.Errorf("unfused: %d biased token linears, %d gelu, %d erf", bp, gp, ep)
			}
			if got, want := len(plain.Net.Nodes)-len(fused.Net.Nodes), c.linears+4*c.gelus; got != want {
				t.Errorf("fusion removed %d nodes, want %d", got, want)
			}
			var fn, pn []string
			for _, p := range fused.Net.Params() {
				fn = append(fn, p.Name)
			}
			for _, p := range plain.Net.Params() {
				pn = append(pn, p.Name)
			}
			if !slices.Equal(fn, pn) {
				t.Fatalf("parameter order %v, unfused %v", fn, pn)
			}
			b, err := batch.Load(c.batch, fused.Net)
			if err != nil {
				t.Fatal(err)
			}
			rel := func(a, b mat.Matrix) float64 {
				var d mat.Dense
				d.Sub(a, b)
				return mat.Norm(&d, math.Inf(1)) / mat.Norm(b, math.Inf(1))
			}
			zf := fused.Net.Forward(b.Inputs)
			zp := plain.Net.Forward(b.Inputs)
			if e := rel(zf[len(zf)-1], zp[len(zp)-1]); !(e <= 1e-14) {
				t.Errorf("logits differ by %.3g relative", e)
			}
			gf2, nf := gramOf(fused.Net, b)
			gp2, np := gramOf(plain.Net, b)
			if !slices.Equal(nf, np) || !slices.Equal(nf, fn) {
				t.Errorf("factor blocks cover %v, unfused %v", nf, np)
			}
			if e := rel(gf2, gp2); !(e <= 1e-14) {
				t.Errorf("Gram matrices differ by %.3g relative", e)
			}
			t.Logf("%d nodes instead of %d", len(fused.Net.Nodes), len(plain.Net.Nodes))
		})
	}
}

// TestFusionGuards checks that the patterns are left alone when an
// intermediate result has another reader or a constant differs.
func TestFusionGuards(t *testing.T) {
	x := func() *model.Param { return &model.Param{Name: "w", Shape: []int{3, 2}, Data: make([]float64, 6)} }
	tl, _ := model.NewTokenLinear([]int{4, 2}, x(), nil)
	ba, _ := model.NewBiasAdd([]int{4, 3}, &model.Param{Name: "b", Shape: []int{3}, Data: make([]float64, 3)})
	add := model.NewAdd([]int{4, 3}, 2)
	c := &converter{m: &Model{}}
	// The product is also read by the residual add: no fusion.
	nodes := []model.Node{{Name: "mm", Op: tl, Inputs: []int{0}}, {Name: "add", Op: ba, Inputs: []int{1}}, {Name: "res", Op: add, Inputs: []int{1, 2}}}
	if got := c.fuse(slices.Clone(nodes)); len(got) != 3 {
		t.Errorf("product with two readers fused: %d nodes", len(got))
	}
	nodes[2].Inputs = []int{2, 2}
	if got := c.fuse(slices.Clone(nodes)); len(got) != 2 || got[0].Op.(*model.TokenLinear).Bias == nil || !slices.Equal(got[1].Inputs, []int{1, 1}) {
		t.Errorf("product with one reader not fused: %d nodes", len(got))
	}
	// GELU with a constant 1.5 instead of 1 in the Add: no fusion.
	s := []int{4, 3}
	chain := func(one float64) []model.Node {
		div, erf, a1 := model.NewAffine(s, 1/math.Sqrt2, 0), model.NewErf(s), model.NewAffine(s, 1, one)
		mul, _ := model.NewBinary("mul", s, s)
		half := model.NewAffine(s, 0.5, 0)
		c.affine = affineOf{div: {1 / math.Sqrt2, 0}, a1: {1, one}, half: {0.5, 0}}
		return []model.Node{{Op: div, Inputs: []int{0}}, {Op: erf, Inputs: []int{1}}, {Op: a1, Inputs: []int{2}}, {Op: mul, Inputs: []int{0, 3}}, {Op: half, Inputs: []int{4}}}
	}
	if got := c.fuse(chain(1.5)); len(got) != 5 {
		t.Errorf("GELU with Add(1.5) fused: %d nodes", len(got))
	}
	if got := c.fuse(chain(1)); len(got) != 1 || got[0].Op.Type() != "gelu" || !slices.Equal(got[0].Inputs, []int{0}) {
		t.Errorf("GELU pattern not fused: %d nodes", len(got))
	}
}
