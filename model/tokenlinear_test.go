package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/lowrank"
)

func randParam(rng *rand.Rand, name string, shape ...int) *Param {
	p := &Param{Name: name, Shape: shape, Data: make([]float64, Numel(shape))}
	for i := range p.Data {
		p.Data[i] = rng.NormFloat64()
	}
	return p
}

// TestTokenLinear checks the forward against its definition, the backward
// against finite differences (contiguous and strided storage), and the
// factor's type: a Linear for T = 1, a Conv otherwise.
func TestTokenLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 1))
	for _, tc := range []struct {
		shape []int
		out   int
		bias  bool
	}{
		{[]int{4}, 3, true},
		{[]int{1, 4}, 3, false},
		{[]int{3, 4}, 5, true},
		{[]int{2, 3, 2}, 4, false},
		{[]int{2, 1, 3, 5}, 2, true},
	} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			in := tc.shape[len(tc.shape)-1]
			w := randParam(rng, "w", tc.out, in)
			var b *Param
			if tc.bias {
				b = randParam(rng, "b", tc.out)
			}
			l, err := NewTokenLinear(tc.shape, w, b)
			if err != nil {
				t.Fatal(err)
			}
			tokens := Numel(tc.shape) / in
			x := randMat(rng, 3, Numel(tc.shape))
			y := forwardOp(l, []*mat.Dense{x})
			for i := 0; i < 3; i++ {
				for tok := 0; tok < tokens; tok++ {
					for o := 0; o < tc.out; o++ {
						var want float64
						if b != nil {
							want = b.Data[o]
						}
						for j := 0; j < in; j++ {
							want += w.Data[o*in+j] * x.At(i, tok*in+j)
						}
						if g := y.At(i, tok*tc.out+o); !(math.Abs(g-want) <= 1e-12*(1+math.Abs(want))) {
							t.Fatalf("y[%d][%d,%d] = %g, want %g", i, tok, o, g, want)
						}
					}
				}
			}
			checkBackwardFD(t, l, [][]int{tc.shape}, rng)

			// Strided inputs and factor rows take the per-sample path.
			wide := randMat(rng, 3, Numel(tc.shape)+2)
			xs := wide.Slice(0, 3, 1, Numel(tc.shape)+1).(*mat.Dense)
			if !mat.Equal(forwardOp(l, []*mat.Dense{xs}), forwardOp(l, []*mat.Dense{mat.DenseCopyOf(xs)})) {
				t.Error("forward on strided input differs")
			}
			s := randMat(rng, 6, Numel(l.OutShape())+1).Slice(0, 6, 1, Numel(l.OutShape())+1).(*mat.Dense)
			d1 := backwardOp(l, []*mat.Dense{xs}, nil, s, 2)[0]
			d2 := backwardOp(l, []*mat.Dense{xs}, nil, mat.DenseCopyOf(s), 2)[0]
			if !mat.EqualApprox(d1, d2, 1e-13) {
				t.Error("backward on strided factor rows differs")
			}

			f := l.Factor(mat.DenseCopyOf(s), mat.DenseCopyOf(xs), 2)
			switch f.(type) {
			case *lowrank.Linear:
				if tokens != 1 {
					t.Errorf("T = %d: factor is a Linear", tokens)
				}
			case *lowrank.Conv:
				if tokens == 1 {
					t.Error("T = 1: factor is a Conv")
				}
			default:
				t.Errorf("factor is %T", f)
			}
			if want := len(w.Data) + tc.out*btoiTest(tc.bias); f.Dim() != want {
				t.Errorf("factor Dim %d, want %d", f.Dim(), want)
			}
		})
	}
}

func btoiTest(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestTokenLinearErrors checks that mismatched shapes are refused.
func TestTokenLinearErrors(t *testing.T) {
	w := &Param{Name: "w", Shape: []int{3, 4}, Data: make([]float64, 12)}
	for _, tc := range []struct {
		shape []int
		w, b  *Param
	}{
		{[]int{}, w, nil},
		{[]int{3, 5}, w, nil},
		{[]int{0, 4}, w, nil},
		{[]int{2, 4}, nil, nil},
		{[]int{2, 4}, &Param{Name: "w", Shape: []int{3, 4}, Data: make([]float64, 11)}, nil},
		{[]int{2, 4}, &Param{Name: "w", Shape: []int{12}, Data: make([]float64, 12)}, nil},
		{[]int{2, 4}, w, &Param{Name: "b", Shape: []int{4}, Data: make([]float64, 4)}},
		{[]int{2, 4}, w, &Param{Name: "b", Shape: []int{3}, Data: make([]float64, 2)}},
	} {
		if _, err := NewTokenLinear(tc.shape, tc.w, tc.b); err == nil {
			t.Errorf("NewTokenLinear(%v, %v, %v) accepted", tc.shape, tc.w, tc.b)
		}
	}
}
