package lowrank

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// keptColumns returns the columns of vt of the kept tensors (by position
// in sizes), transposed: the explicit block V.
func keptColumns(vt *mat.Dense, sizes []int, keep []bool) *mat.Dense {
	r, _ := vt.Dims()
	var cols []int
	off := 0
	for i, s := range sizes {
		if keep[i] {
			for j := 0; j < s; j++ {
				cols = append(cols, off+j)
			}
		}
		off += s
	}
	v := mat.NewDense(len(cols), r, nil)
	for a, c := range cols {
		for i := 0; i < r; i++ {
			v.Set(a, i, vt.At(i, c))
		}
	}
	return v
}

// TestExplicit runs the conformance suite on explicit blocks and on every
// selection of their tensors, contiguous or not, and on a selection of a
// selection.
func TestExplicit(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	sizes := []int{3, 2, 4}
	for _, cols := range []int{1, 7} {
		vt := randDense(rng, cols, 9)
		yt := randDense(rng, 5, 9)
		for mask := 1; mask < 8; mask++ {
			keep := []bool{mask&1 != 0, mask&2 != 0, mask&4 != 0}
			t.Run(fmt.Sprintf("cols=%d/keep=%v", cols, keep), func(t *testing.T) {
				f := NewExplicit(vt, sizes).Select(keep)
				y := NewExplicit(yt, sizes).Select(keep)
				testFactor(t, f, keptColumns(vt, sizes, keep), y, keptColumns(yt, sizes, keep), rng)
			})
		}
		f := NewExplicit(vt, sizes)
		testFactor(t, f, keptColumns(vt, sizes, []bool{true, true, true}), NewExplicit(yt, sizes), keptColumns(yt, sizes, []bool{true, true, true}), rng)
		// Select indexes the layer's tensors, also after an earlier Select.
		two := f.Select([]bool{true, false, true}).Select([]bool{false, true, true})
		testFactor(t, two, keptColumns(vt, sizes, []bool{false, false, true}), nil, nil, rng)
		if f.Select([]bool{false, true, false}).Select([]bool{true, false, true}) != nil {
			t.Error("a selection of no kept tensor should be nil")
		}
	}
}

// TestExplicitCrossMismatch checks that a cross product of blocks of
// different tensors panics.
func TestExplicitCrossMismatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	a := NewExplicit(randDense(rng, 3, 5), []int{2, 3})
	b := NewExplicit(randDense(rng, 3, 5), []int{3, 2})
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	a.AddCrossTo(mat.NewDense(3, 3, nil), b)
}
