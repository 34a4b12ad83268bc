// Copyright ©2025 The vivit-go Authors. All rights reserved.

package fastblas

import "fmt"

// A Shifted is a product A·B whose B is read in place from a vector x at
// fixed offsets: row p of B is the run x[Offs[p] : Offs[p]+w]. A
// convolution is one (B the unfolded input, Offs the flat input index of
// each patch entry at the first output position of a run), so Block
// computes w adjacent outputs of every channel without unfolding or
// packing the input (the indirect convolution of Dukhan, 2019).
//
// Blocks are w = 8 wide in float64 and 16 or 8 in float32 (the
// micro-kernels' tiles). A is packed once, in panels of 6 rows; each Block
// sums over p in order with fused multiply-adds, so a column of C does not
// depend on where its block starts.
type Shifted[T element] struct {
	m, k, w int
	a       []T     // ⌈m/6⌉ panels of k groups of 6, the rows past m zero
	offs    []int32 // length k
	span    int     // max(offs) + 1
}

// NewShifted returns the product of the m×k row-major matrix a (row
// stride lda) with B rows at the offsets offs (length k, non-negative), in
// blocks of width columns: 8, or 16 in float32 (ShiftedWidth). It panics
// on inconsistent arguments.
func NewShifted[T element](m, k int, a []T, lda int, offs []int32, width int) *Shifted[T] {
	if m < 1 || k < 1 || lda < k || len(a) < (m-1)*lda+k || len(offs) != k || width != nr && width != ShiftedWidth[T]() {
		panic(fmt.Sprintf("fastblas: bad shifted product m=%d k=%d lda=%d len(a)=%d len(offs)=%d width=%d", m, k, lda, len(a), len(offs), width))
	}
	s := &Shifted[T]{m: m, k: k, w: width, a: make([]T, roundUp(m, mr)*k), offs: offs}
	for r := 0; r < m; r++ {
		panel := s.a[r/mr*mr*k:]
		for p, v := range a[r*lda : r*lda+k] {
			panel[p*mr+r%mr] = v
		}
	}
	for _, o := range offs {
		if o < 0 {
			panic("fastblas: negative shifted offset")
		}
		s.span = max(s.span, int(o)+1)
	}
	return s
}

// ShiftedWidth returns the widest block of a Shifted in T: 8 in float64,
// 16 in float32.
func ShiftedWidth[T element]() int {
	var z T
	if any(z) == any(float32(0)) {
		return nr32
	}
	return nr
}

// Width returns the block width.
func (s *Shifted[T]) Width() int { return s.w }

// Span returns max(offs)+1: x in Block needs Span()+Width()−1 entries.
func (s *Shifted[T]) Span() int { return s.span }

// Block writes c[r·ldc + j] = Σ_p A[r, p]·x[offs[p] + j] for r < m and
// j < Width(), overwriting c. It panics if x or c is too short.
func (s *Shifted[T]) Block(c []T, ldc int, x []T) {
	w := s.w
	_ = x[s.span+w-2]
	_ = c[(s.m-1)*ldc+w-1]
	var tile [mr * nr32]T
	for r0 := 0; r0 < s.m; r0 += mr {
		panel := s.a[r0*s.k : (r0+mr)*s.k]
		if r0+mr <= s.m {
			shiftedKernel(s.k, w, panel, x, s.offs, c[r0*ldc:], ldc)
			continue
		}
		shiftedKernel(s.k, w, panel, x, s.offs, tile[:], w)
		for r := r0; r < s.m; r++ {
			copy(c[r*ldc:r*ldc+w], tile[(r-r0)*w:])
		}
	}
}

// shiftedKernel dispatches a 6×w tile to the assembly kernels, or to
// shiftedGo.
func shiftedKernel[T element](k, w int, a, x []T, offs []int32, c []T, ldc int) {
	if haveAsm {
		switch a := any(a).(type) {
		case []float64:
			kernShifted6x8(k, &a[0], &any(x).([]float64)[0], &offs[0], &any(c).([]float64)[0], ldc)
			return
		case []float32:
			if w == nr32 {
				kernShifted6x16(k, &a[0], &any(x).([]float32)[0], &offs[0], &any(c).([]float32)[0], ldc)
			} else {
				kernShifted6x8s(k, &a[0], &any(x).([]float32)[0], &offs[0], &any(c).([]float32)[0], ldc)
			}
			return
		}
	}
	shiftedGo(k, w, a, x, offs, c, ldc)
}

// shiftedGo is the portable reference of the shifted kernels: the same
// operations in the same order, without fused multiply-adds.
func shiftedGo[T element](k, w int, a, x []T, offs []int32, c []T, ldc int) {
	var acc [mr][nr32]T
	for p := 0; p < k; p++ {
		b := x[offs[p] : int(offs[p])+w]
		for r := 0; r < mr; r++ {
			ar := a[p*mr+r]
			row := acc[r][:w]
			for j, v := range b {
				row[j] += ar * v
			}
		}
	}
	for r := 0; r < mr; r++ {
		copy(c[r*ldc:r*ldc+w], acc[r][:w])
	}
}
