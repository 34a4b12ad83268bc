package lowrank

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/model/im2col"
)

// groupCase is a grouped convolution: convCase's geometry with inC and
// outC the whole layer's channels, in groups groups.
type groupCase struct {
	convCase
	groups int
}

var groupCases = []groupCase{
	// depthwise, padded
	{convCase{inC: 3, h: 6, w: 5, outC: 3, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, n: 3, c: 2, weight: true, bias: true, ny: 2, cy: 1}, 3},
	// depthwise with a channel multiplier, strided, dilated, sparse rows
	{convCase{inC: 2, h: 7, w: 6, outC: 4, kh: 2, kw: 3, sh: 2, sw: 1, ph: 1, pw: 2, dh: 2, dw: 1, n: 4, c: 3, weight: true, bias: true, ny: 4, cy: 1, crossSharesInput: true, sparse: true}, 2},
	// 1 < groups < in, non-contiguous factor rows, no bias
	{convCase{inC: 4, h: 5, w: 5, outC: 6, kh: 3, kw: 2, sh: 1, sw: 2, ph: 0, pw: 1, dh: 1, dw: 2, n: 2, c: 4, weight: true, bias: false, ny: 3, cy: 2, nonContiguousS: true}, 2},
	// bias only
	{convCase{inC: 4, h: 4, w: 4, outC: 4, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, n: 3, c: 1, weight: false, bias: true, ny: 2, cy: 3}, 4},
	// one group: the ungrouped convolution through GroupedConv
	{convCase{inC: 2, h: 5, w: 4, outC: 3, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, n: 2, c: 2, weight: true, bias: true, ny: 2, cy: 2}, 1},
}

// geom returns one group's geometry.
func (tc groupCase) geom() *im2col.Geom {
	return im2col.New(tc.inC/tc.groups, tc.h, tc.w, tc.outC/tc.groups, tc.kh, tc.kw, tc.sh, tc.sw, tc.ph, tc.pw, tc.dh, tc.dw)
}

func (tc groupCase) factors(rng *rand.Rand) (x, y *GroupedConv, a, ay *mat.Dense) {
	g := tc.geom()
	in, out := tc.groups*g.InSize(), tc.groups*g.OutSize()
	a = randDense(rng, tc.n, in)
	ay = randDense(rng, tc.ny, in)
	if tc.crossSharesInput {
		ay = a
	}
	x = NewGroupedConv(g, tc.groups, randFactorRows(rng, tc.n*tc.c, out, tc.sparse, tc.nonContiguousS), a, tc.c, tc.weight, tc.bias)
	y = NewGroupedConv(g, tc.groups, randFactorRows(rng, tc.ny*tc.cy, out, tc.sparse, false), ay, tc.cy, tc.weight, tc.bias)
	return x, y, a, ay
}

// explicitGrouped forms the block of V of a grouped convolution straight
// from the definition: column r holds, for weight entry (o, c, i, j),
// Σ_q S_r[o, q] x[c0 + c at the position weight offset (i, j) reads at
// output position q], c0 = the first input channel of o's group, and then
// the bias entries Σ_q S_r[o, q].
func explicitGrouped(tc groupCase, s, a *mat.Dense) *mat.Dense {
	g := tc.geom()
	k, p := g.K(), g.P()
	outG := g.OutC
	d := 0
	if tc.weight {
		d += tc.outC * k
	}
	if tc.bias {
		d += tc.outC
	}
	r, _ := s.Dims()
	v := mat.NewDense(d, r, nil)
	for col := 0; col < r; col++ {
		x := a.RawRowView(col / tc.c)
		sr := s.RawRowView(col)
		row := 0
		if tc.weight {
			for o := 0; o < tc.outC; o++ {
				xg := x[o/outG*g.InSize():] // the input channels of o's group
				for kk := 0; kk < k; kk++ {
					var sum float64
					for q := 0; q < p; q++ {
						sum += sr[o*p+q] * refUnfold(g, xg, kk, q)
					}
					v.Set(row, col, sum)
					row++
				}
			}
		}
		if tc.bias {
			for o := 0; o < tc.outC; o++ {
				var sum float64
				for q := 0; q < p; q++ {
					sum += sr[o*p+q]
				}
				v.Set(row, col, sum)
				row++
			}
		}
	}
	return v
}

// TestGroupedConv checks every method of GroupedConv (products, Gram,
// cross products, diagonal, centred diagonal, columns) against the block
// formed from the definition, on each route of the groups' Conv blocks
// and with budgets that chunk them.
func TestGroupedConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for ci, tc := range groupCases {
		x, y, a, ay := tc.factors(rng)
		ty := tc
		ty.c = tc.cy
		vx, vy := explicitGrouped(tc, x.S, a), explicitGrouped(ty, y.S, ay)
		for _, route := range []GramRoute{RouteAuto, RouteExplicit, RouteKernel} {
			for _, budget := range []int64{0, 1, 3000} {
				t.Run(fmt.Sprintf("case%d/%v/budget=%d", ci, route, budget), func(t *testing.T) {
					for i := range x.convs {
						x.convs[i].Route, y.convs[i].Route = route, route
					}
					x.SetBudget(budget)
					y.SetBudget(budget)
					testFactor(t, x, vx, y, vy, rng)
					want := centredRef(vx)
					got := make([]float64, x.Dim())
					x.AddCentredDiagTo(got)
					for i := range want {
						if !(math.Abs(got[i]-want[i]) <= 1e-12*(1+want[i])) {
							t.Fatalf("AddCentredDiagTo[%d] = %v, want %v", i, got[i], want[i])
						}
					}
				})
			}
		}
	}
}

// TestGroupedConvSelect checks Select against the rows of the explicit
// block, and that a cross product with another layer's factor panics.
func TestGroupedConvSelect(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	tc := groupCases[1]
	x, y, a, ay := tc.factors(rng)
	ty := tc
	ty.c = tc.cy
	vx, vy := explicitGrouped(tc, x.S, a), explicitGrouped(ty, y.S, ay)
	wd := tc.outC * tc.geom().K()
	for _, keep := range [][]bool{{true, false}, {false, true}, {true, true}} {
		r0, r1 := 0, wd+tc.outC
		if !keep[0] {
			r0 = wd
		}
		if !keep[1] {
			r1 = wd
		}
		t.Run(fmt.Sprint(keep), func(t *testing.T) {
			_, cx := vx.Dims()
			_, cy := vy.Dims()
			testFactor(t, x.Select(keep), vx.Slice(r0, r1, 0, cx).(*mat.Dense), y.Select(keep), vy.Slice(r0, r1, 0, cy).(*mat.Dense), rng)
		})
	}
	if x.Select([]bool{false, false}) != nil {
		t.Error("Select of nothing is not nil")
	}
	for name, other := range map[string]Factor{
		"weight only": y.Select([]bool{true, false}),
		"conv":        NewConv(tc.geom(), randDense(rng, 2, tc.geom().OutSize()), randDense(rng, 2, tc.geom().InSize()), 1, true, true),
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("cross product with %s did not panic", name)
				}
			}()
			x.AddCrossTo(mat.NewDense(x.Cols(), other.Cols(), nil), other)
		}()
	}
}

// TestGroupedConvFloat32 checks the Gram matrix of a GroupedConv with
// Precision float32: the groups' blocks on views of S have no float32
// product (Conv's needs a sample's rows contiguous) and compute in
// float64; with one group, the block is on S itself and rounds to float32.
func TestGroupedConvFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	for ci, tc := range groupCases {
		if !tc.weight {
			continue
		}
		x, _, a, _ := tc.factors(rng)
		v := explicitGrouped(tc, x.S, a)
		var want mat.Dense
		want.Mul(v.T(), v)
		scale := mat.Norm(&want, math.Inf(1))
		x.SetPrecision(Float32)
		f32 := tc.groups == 1 && !tc.nonContiguousS
		for _, c := range x.convs {
			c.Route = RouteExplicit
			if _, _, _, ok := c.explicitPlan32(); ok != f32 {
				t.Fatalf("case %d: float32 plan %v, want %v", ci, ok, f32)
			}
		}
		g := mat.NewSymDense(x.Cols(), nil)
		x.AddGramTo(g)
		e := maxAbsDiff(g, &want)
		if f32 && (!(e <= 2e-6*scale) || e < 1e-12*scale) {
			t.Errorf("case %d: error %.3g (scale %.3g), want float32 rounding", ci, e, scale)
		}
		if !f32 && !(e <= 1e-12*scale) {
			t.Errorf("case %d: error %.3g (scale %.3g), want float64 accuracy", ci, e, scale)
		}
	}
}
