package model

import (
	"fmt"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/mat"
)

// MatMul is the batched matrix product of two activations with numpy's
// matmul semantics on the per-sample shapes (ONNX MatMul without the
// batch axis): a [..., m, k] · b [..., k, n] → [..., m, n], the leading
// axes broadcast against each other. A 1-D operand is a row (a) or column
// (b) vector whose axis is dropped from the output. It is the product of
// queries and keys, and of attention weights and values, in
// self-attention.
//
// Its factor backward goes into both operands: per factor row (sample
// r/c) and output matrix, dA = dY·Bᵀ and dB = Aᵀ·dY, summed over the
// output matrices that share an operand matrix by broadcasting. Factor
// rows run in parallel, each product on the serial BLAS kernels; there is
// no scratch memory.
type MatMul struct {
	A, B    []int // per-sample operand shapes
	out     []int
	m, k, n int
	// aIdx[j] and bIdx[j] are the matrices of a and b that output matrix j
	// multiplies; sharedA (sharedB) is set if some matrix of a (b) is used
	// by more than one output matrix.
	aIdx, bIdx       []int
	sharedA, sharedB bool
}

// NewMatMul returns the product of operands of per-sample shapes a and b.
// It checks that the inner sizes agree and the leading axes broadcast.
func NewMatMul(a, b []int) (*MatMul, error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, fmt.Errorf("matmul: operand shapes %s and %s: both need at least one axis", FormatShape(a), FormatShape(b))
	}
	for _, s := range [][]int{a, b} {
		if err := tensorShapeErr("matmul", s); err != nil {
			return nil, err
		}
	}
	a2, b2 := slices.Clone(a), slices.Clone(b)
	if len(a) == 1 {
		a2 = []int{1, a[0]}
	}
	if len(b) == 1 {
		b2 = []int{b[0], 1}
	}
	l := &MatMul{A: slices.Clone(a), B: slices.Clone(b), m: a2[len(a2)-2], k: a2[len(a2)-1], n: b2[len(b2)-1]}
	if b2[len(b2)-2] != l.k {
		return nil, fmt.Errorf("matmul: operand shapes %s and %s: inner sizes %d and %d differ", FormatShape(a), FormatShape(b), l.k, b2[len(b2)-2])
	}
	ab, bb := a2[:len(a2)-2], b2[:len(b2)-2]
	r := max(len(ab), len(bb))
	batch := make([]int, r)
	for i := range batch {
		da, db := 1, 1
		if j := i - (r - len(ab)); j >= 0 {
			da = ab[j]
		}
		if j := i - (r - len(bb)); j >= 0 {
			db = bb[j]
		}
		switch {
		case da == db || db == 1:
			batch[i] = da
		case da == 1:
			batch[i] = db
		default:
			return nil, fmt.Errorf("matmul: operand shapes %s and %s: leading axes do not broadcast", FormatShape(a), FormatShape(b))
		}
	}
	l.out = slices.Clone(batch)
	if len(a) > 1 {
		l.out = append(l.out, l.m)
	}
	if len(b) > 1 {
		l.out = append(l.out, l.n)
	}
	if err := tensorShapeErr("matmul", l.out); err != nil {
		return nil, err
	}
	l.aIdx, l.sharedA = matmulBroadcast(batch, ab)
	l.bIdx, l.sharedB = matmulBroadcast(batch, bb)
	return l, nil
}

// matmulBroadcast returns, for every index of the batch shape (row-major),
// the index of the matrix of an operand with leading axes ob (right-
// aligned, sizes 1 broadcast), and whether some operand matrix is used
// more than once.
func matmulBroadcast(batch, ob []int) ([]int, bool) {
	total := Numel(batch)
	idx := make([]int, total)
	shared := Numel(ob) < total
	off := len(batch) - len(ob)
	for j := range idx {
		rem, mi, stride := j, 0, 1
		for ax := len(batch) - 1; ax >= 0; ax-- {
			v := rem % batch[ax]
			rem /= batch[ax]
			if o := ax - off; o >= 0 {
				if ob[o] > 1 {
					mi += v * stride
				}
				stride *= ob[o]
			}
		}
		idx[j] = mi
	}
	return idx, shared
}

func (l *MatMul) Type() string      { return "matmul" }
func (l *MatMul) OutShape() []int   { return l.out }
func (l *MatMul) InShapes() [][]int { return [][]int{l.A, l.B} }

// ForwardJoin multiplies the matrices of every sample.
func (l *MatMul) ForwardJoin(y *mat.Dense, xs []*mat.Dense) {
	if len(xs) != 2 {
		panic("model: matmul has two inputs")
	}
	rows, _ := y.Dims()
	m, k, n := l.m, l.k, l.n
	checkDims(xs[0], rows, Numel(l.A), "matmul input a")
	checkDims(xs[1], rows, Numel(l.B), "matmul input b")
	checkDims(y, rows, Numel(l.out), "matmul output")
	tensorForRows(rows, len(l.aIdx)*m*n*k, func(i int) {
		a, b, yr := xs[0].RawRowView(i), xs[1].RawRowView(i), y.RawRowView(i)
		for j, ai := range l.aIdx {
			goBLAS.Dgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a[ai*m*k:], k, b[l.bIdx[j]*k*n:], n, 0, yr[j*m*n:], n)
		}
	})
}

// BackwardReads implements BackwardReader: the inputs.
func (l *MatMul) BackwardReads() (in, out bool) { return true, false }

// BackwardJoin writes dA = dY·Bᵀ and dB = Aᵀ·dY for every factor row.
func (l *MatMul) BackwardJoin(dst []*mat.Dense, s *mat.Dense, xs []*mat.Dense, _ *mat.Dense, cols int) {
	if len(dst) != 2 || len(xs) != 2 {
		panic("model: matmul has two inputs")
	}
	r, _ := s.Dims()
	m, k, n := l.m, l.k, l.n
	checkDims(s, r, Numel(l.out), "matmul factor")
	checkDims(xs[0], r/cols, Numel(l.A), "matmul input a")
	checkDims(xs[1], r/cols, Numel(l.B), "matmul input b")
	da, db := dst[0], dst[1]
	if da != nil {
		checkDims(da, r, Numel(l.A), "matmul factor destination a")
	}
	if db != nil {
		checkDims(db, r, Numel(l.B), "matmul factor destination b")
	}
	work := 0
	for _, d := range dst {
		if d != nil {
			work += len(l.aIdx) * m * n * k
		}
	}
	tensorForRows(r, work, func(i int) {
		sr := s.RawRowView(i)
		a, b := xs[0].RawRowView(i/cols), xs[1].RawRowView(i/cols)
		if da != nil {
			dr := da.RawRowView(i)
			beta := 0.0
			if l.sharedA {
				clear(dr)
				beta = 1
			}
			for j, ai := range l.aIdx {
				goBLAS.Dgemm(blas.NoTrans, blas.Trans, m, k, n, 1, sr[j*m*n:], n, b[l.bIdx[j]*k*n:], n, beta, dr[ai*m*k:], k)
			}
		}
		if db != nil {
			dr := db.RawRowView(i)
			beta := 0.0
			if l.sharedB {
				clear(dr)
				beta = 1
			}
			for j, bi := range l.bIdx {
				goBLAS.Dgemm(blas.Trans, blas.NoTrans, k, n, m, 1, a[l.aIdx[j]*m*k:], k, sr[j*m*n:], n, beta, dr[bi*k*n:], n)
			}
		}
	})
}
