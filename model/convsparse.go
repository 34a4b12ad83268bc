package model

import (
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
)

// backwardSparse is BackwardInput for factors that are mostly zeros, as
// they are after max pooling and ReLU (3c3d: 11–16 % nonzero): for each
// factor row S_r and output position q, row q of the transposed product
// (Wᵀ S_r)ᵀ is the combination of the weight rows that column q of S_r
// selects (fastblas.CombRowsIdx), and the P×K result is folded into the
// input (im2col.Geom.FoldAdd). It reports false, doing nothing, when the
// factor is too dense for that to beat the dense product of lanes
// multiply-adds a cycle (sparseBackward). With add set it adds to dst.
func (l *Conv2d) backwardSparse(dst, s *mat.Dense, lanes int, add bool) bool {
	g := l.Geom
	r, _ := s.Dims()
	p, k, out := g.P(), g.K(), g.OutC
	if !sparseBackward(estimateNonzero(rowsOf(s)), r, out, p, lanes) {
		return false
	}
	type scratch struct {
		start []int // of each position's entries, then where the next goes
		idx   []int32
		val   []float64
		t     []float64 // P×K
	}
	parallelSamples(r, func() any {
		return &scratch{start: make([]int, p+1), idx: make([]int32, out*p), val: make([]float64, out*p), t: make([]float64, p*k)}
	}, func(scr any, i int) {
		sc := scr.(*scratch)
		srow, d := s.RawRowView(i), dst.RawRowView(i)
		// S_r by columns: the channels and values of each position's
		// nonzeros, channels ascending.
		start := sc.start
		clear(start)
		for o := 0; o < out; o++ {
			for q, v := range srow[o*p : (o+1)*p] {
				start[q+1] += int(b2i32(v != 0))
			}
		}
		for q := 0; q < p; q++ {
			start[q+1] += start[q]
		}
		for o := 0; o < out; o++ {
			for q, v := range srow[o*p : (o+1)*p] {
				if v != 0 {
					sc.idx[start[q]], sc.val[start[q]] = int32(o), v
					start[q]++
				}
			}
		}
		// start[q] is now where position q's entries end.
		lo := 0
		for q := 0; q < p; q++ {
			hi := start[q]
			fastblas.CombRowsIdx(sc.t[q*k:(q+1)*k], sc.val[lo:hi], sc.idx[lo:hi], l.w.Data, l.w.Stride)
			lo = hi
		}
		if !add {
			clear(d)
		}
		g.FoldAdd(d, sc.t, k)
	})
	return true
}

// sparseBackward reports whether backwardSparse beats the dense product
// for nnz nonzeros in r factor rows of out×P: per row, the dense product
// costs out·P·K multiply-adds at the peak (lanes a cycle: 8 in float64, 16
// in float32); the sparse one ρ·out·P·K at about a third of float64's
// peak, and folding P·K entries one at a time at about 1.5 cycles each.
func sparseBackward(nnz, r, out, p, lanes int) bool {
	perRow := float64(nnz) / float64(max(r, 1)) // ρ·out·P
	return perRow*3/8+1.5*float64(p) < float64(out*p)/float64(lanes)
}

// estimateNonzero returns the nonzero entries of s, counted on at most 8
// evenly spaced rows (all rows of smaller factors) and scaled to all rows:
// the sparse products are a cost decision, and counting every entry would
// be a pass over the factor on every layer.
func estimateNonzero[R float32 | float64](s factorRows[R]) int {
	r := s.n
	m := min(r, 8)
	counts := make([]int, m)
	parallelSamples(m, func() any { return nil }, func(_ any, j int) {
		counts[j] = fastblas.CountNonzero(s.row(j * r / m))
	})
	total := 0
	for _, n := range counts {
		total += n
	}
	return total * r / max(m, 1)
}
