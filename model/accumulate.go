package model

import "gonum.org/v1/gonum/mat"

// An AccumulatingLayer can add its factor backward to a destination that
// already holds other contributions: BackwardInputAdd adds Jᵀ s_r to row r
// of dst. The factor backward pass uses it when a tensor is read by
// several nodes (the queries, keys and values that Gather picks out of
// one qkv tensor) so that each reader's contribution needs no matrix of
// its own before it is summed.
type AccumulatingLayer interface {
	Layer
	BackwardInputAdd(dst, s, in, out *mat.Dense, cols int)
}

// BackwardInputAdd adds the scattered factor rows to dst (Transpose,
// Slice, Gather). dst must not alias s.
func (l *indexMap) BackwardInputAdd(dst, s, _, _ *mat.Dense, _ int) {
	r, _ := s.Dims()
	src := l.src.get()
	checkDims(s, r, len(src), l.name+" factor")
	checkDims(dst, r, Numel(l.in), l.name+" factor destination")
	runs := l.runsOf()
	tensorForRows(r, len(src), func(i int) {
		scatterAdd(dst.RawRowView(i), s.RawRowView(i), src, runs)
	})
}
