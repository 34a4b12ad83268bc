package vivit_test

import (
	"fmt"
	"math/bits"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
)

// convArchs are tiny convolutional networks that together use every
// convolutional layer, pooling kind and activation, with strides 1–3,
// paddings 0–2, dilation and odd sizes.
var convArchs = []struct{ name, input, layers string }{
	{"conv-s2p1/leaky/maxpool-overlap", `[2,7,5]`,
		`{"type":"conv2d","in_channels":2,"out_channels":3,"kernel_size":3,"stride":2,"padding":1},{"type":"leaky_relu","negative_slope":0.1},
		 {"type":"maxpool2d","kernel_size":2,"stride":1},{"type":"flatten"},{"type":"linear","in":18,"out":3}`},
	{"conv-dil2/elu/avgpool-nopad/conv/softplus/dropout", `[2,7,5]`,
		`{"type":"conv2d","in_channels":2,"out_channels":2,"kernel_size":[2,3],"dilation":2,"padding":[1,2],"bias":false},{"type":"elu"},
		 {"type":"avgpool2d","kernel_size":3,"stride":2,"padding":1,"count_include_pad":false},
		 {"type":"conv2d","in_channels":2,"out_channels":3,"kernel_size":2},{"type":"softplus","beta":2,"threshold":1},
		 {"type":"flatten"},{"type":"dropout","p":0.2},{"type":"linear","in":18,"out":3}`},
	{"conv/maxpool-pad-dil/sigmoid", `[1,9,7]`,
		`{"type":"conv2d","in_channels":1,"out_channels":4,"kernel_size":3},
		 {"type":"maxpool2d","kernel_size":3,"stride":2,"padding":1,"dilation":2},{"type":"sigmoid"},
		 {"type":"flatten"},{"type":"linear","in":24,"out":3}`},
	{"conv-s3p2/relu/avgpool-pad/tanh/linear-linear", `[2,8,8]`,
		`{"type":"conv2d","in_channels":2,"out_channels":3,"kernel_size":3,"stride":3,"padding":2},{"type":"relu"},
		 {"type":"avgpool2d","kernel_size":2,"padding":1},{"type":"flatten"},{"type":"linear","in":27,"out":4},{"type":"tanh"},{"type":"linear","in":4,"out":3}`},
	// grouped convolutions: depthwise, then 2 groups strided and dilated
	{"depthwise-p1/relu/groups2-s2-dil/tanh", `[4,7,6]`,
		`{"type":"conv2d","in_channels":4,"out_channels":4,"kernel_size":3,"padding":1,"groups":4},{"type":"relu"},
		 {"type":"conv2d","in_channels":4,"out_channels":6,"kernel_size":[2,3],"stride":2,"dilation":[1,2],"padding":1,"groups":2,"bias":false},{"type":"tanh"},
		 {"type":"flatten"},{"type":"linear","in":48,"out":3}`},
}

// groupedConvArch is the index of convArchs' grouped-convolution network.
const groupedConvArch = 4

func convNet(t testing.TB, i int, loss string, seed uint64) *vivit.Model {
	a := convArchs[i]
	return tinyNet(t, fmt.Sprintf(`{"input_shape":%s,"layers":[%s],"loss":%s}`, a.input, a.layers, loss), seed)
}

// TestConvDenseBruteForce checks the spectrum, top eigenpairs, γ, λ,
// gradient and diagonal GGN of tiny conv nets against a dense GGN built
// from finite-difference Jacobians, for both losses and both reductions
// (with -short, one loss per network, every loss still covered).
func TestConvDenseBruteForce(t *testing.T) {
	for ai, a := range convArchs {
		for li, l := range tinyLosses {
			if testing.Short() && li != ai%len(tinyLosses) {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s", a.name, l), func(t *testing.T) {
				seed := uint64(200 + 10*ai + li)
				m := convNet(t, ai, l, seed)
				b := tinyBatch(m, 4, seed)
				checkAgainstDense(t, m, b, buildDense(m, b))
			})
		}
	}
}

// TestConvSubBatchDense checks a conv net's sub-batch GGN (renormalised to
// the sub-batch) and the directional derivatives of samples outside it
// (cross products of factors with different inputs) against dense brute
// force.
func TestConvSubBatchDense(t *testing.T) {
	for li, l := range tinyLosses {
		arch := 1
		if li%2 == 1 {
			arch = groupedConvArch
		}
		m := convNet(t, arch, l, uint64(300+li))
		b := tinyBatch(m, 5, uint64(300+li))
		ref := buildDense(m, b)
		sub := []int{3, 0}
		checkSubBatchDense(t, l, m, b, ref, 3, &vivit.Options{SubBatch: sub, ScratchBudget: 2048})
	}
}

// TestConvMemoryBudget checks that a tiny scratch budget (every conv
// operation then works on one sample and a few columns of V at a time)
// changes nothing but rounding, with exact and Monte-Carlo factors,
// per-layer groups and directional derivatives.
func TestConvMemoryBudget(t *testing.T) {
	for _, arch := range []int{3, groupedConvArch} {
		t.Run(convArchs[arch].name, func(t *testing.T) { testConvMemoryBudget(t, arch) })
	}
}

func testConvMemoryBudget(t *testing.T, arch int) {
	m := convNet(t, arch, tinyLosses[0], 7)
	b := tinyBatch(m, 6, 7)
	for _, base := range []vivit.Options{{}, {MCSamples: 2, Seed: 3}, {Groups: vivit.LayerGroups(m)}} {
		ref, err := vivit.Directional(m, b, 4, &base)
		if err != nil {
			t.Fatal(err)
		}
		refStats, err := vivit.ComputeStats(m, b, &base)
		if err != nil {
			t.Fatal(err)
		}
		for _, budget := range []int64{1, 3000} {
			o := base
			o.ScratchBudget = budget
			got, err := vivit.Directional(m, b, 4, &o)
			if err != nil {
				t.Fatal(err)
			}
			for bi := range ref.Blocks {
				rb, gb := ref.Blocks[bi], got.Blocks[bi]
				if e := maxRelErr(gb.Values, rb.Values); !(e <= 1e-12) {
					t.Errorf("budget %d, block %d: eigenvalues differ by %.3g", budget, bi, e)
				}
				for _, pair := range [][2]*mat.Dense{{gb.Vectors, rb.Vectors}, {gb.Gamma, rb.Gamma}, {gb.Lambda, rb.Lambda}} {
					if e := maxRelErr(pair[0].RawMatrix().Data, pair[1].RawMatrix().Data); !(e <= 1e-9) {
						t.Errorf("budget %d, block %d: vectors, γ or λ differ by %.3g", budget, bi, e)
					}
				}
			}
			st, err := vivit.ComputeStats(m, b, &o)
			if err != nil {
				t.Fatal(err)
			}
			if e := maxRelErr(st.DiagGGN, refStats.DiagGGN); !(e <= 1e-12) {
				t.Errorf("budget %d: diagonal GGN differs by %.3g", budget, e)
			}
		}
	}
	if _, err := vivit.TopEigen(m, b, 1, &vivit.Options{MemoryBudget: -1}); err == nil || !contains(err.Error(), "MemoryBudget must be ≥ 0") {
		t.Errorf("negative budget: %v", err)
	}
	// A 32-bit process refuses budgets beyond its address space; a 64-bit
	// one plans within any.
	_, err := vivit.TopEigen(m, b, 1, &vivit.Options{MemoryBudget: 3 << 30})
	if bits.UintSize == 32 {
		if err == nil || !contains(err.Error(), "MemoryBudget (--memory) 3 GiB is more than a 32-bit process can address (at most 2 GiB)") {
			t.Errorf("3 GiB budget on a 32-bit platform: %v", err)
		}
	} else if err != nil {
		t.Errorf("3 GiB budget: %v", err)
	}
}
