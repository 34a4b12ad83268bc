// Copyright ©2025 The vivit-go Authors. All rights reserved.

package fastblas

import (
	"fmt"
	"slices"
)

// A Shifted is a product A·B whose B is read in place from a vector x at
// fixed offsets: row p of B is the run x[Offs[p] : Offs[p]+w]. A
// convolution is one (B the unfolded input, Offs the flat input index of
// each patch entry at the first output position of a run), so Block
// computes w adjacent outputs of every channel without unfolding or
// packing the input (the indirect convolution of Dukhan, 2019).
//
// Blocks are w = 8 or 16 wide in float64 and 8, 16 or 32 in float32 (the
// micro-kernels' tiles; 16 and 32 only with AVX-512, see ShiftedWidths). A
// is packed once, in panels of 6 rows; each Block sums over p in order
// with fused multiply-adds, so a column of C depends neither on where its
// block starts nor on the width.
type Shifted[T element] struct {
	m, k, w int
	a       []T     // ⌈m/6⌉ panels of k groups of 6, the rows past m zero
	offs    []int32 // length k
	span    int     // max(offs) + 1
}

// NewShifted returns the product of the m×k row-major matrix a (row
// stride lda) with B rows at the offsets offs (length k, non-negative), in
// blocks of width columns, one of ShiftedWidths. It panics on inconsistent
// arguments.
func NewShifted[T element](m, k int, a []T, lda int, offs []int32, width int) *Shifted[T] {
	if m < 1 || k < 1 || lda < k || len(a) < (m-1)*lda+k || len(offs) != k || !slices.Contains(ShiftedWidths[T](), width) {
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

// ShiftedWidths returns the block widths of a Shifted in T, widest first:
// 16 (with AVX-512) and 8 in float64; 32 (with AVX-512), 16 and 8 in
// float32.
func ShiftedWidths[T element]() []int {
	var z T
	wide := haveAsm && haveAVX512
	switch {
	case any(z) == any(float64(0)) && wide:
		return []int{16, 8}
	case any(z) == any(float64(0)):
		return []int{8}
	case wide:
		return []int{32, 16, 8}
	}
	return []int{16, 8}
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
	var tile [mr * maxShifted]T
	for r0 := 0; r0 < s.m; r0 += mr {
		panel := s.a[r0*s.k : (r0+mr)*s.k]
		// Two whole panels at once where a kernel keeps one register a
		// row (the narrow blocks): twelve accumulators instead of six.
		if r0+2*mr <= s.m && shiftedKernel12(s.k, w, panel, s.a[(r0+mr)*s.k:(r0+2*mr)*s.k], x, s.offs, c[r0*ldc:], ldc) {
			r0 += mr
			continue
		}
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

// maxShifted is the widest block of any type.
const maxShifted = 32

// shiftedKernel computes a 6×w tile on the assembly kernels, or by
// shiftedGo.
func shiftedKernel[T element](k, w int, a, x []T, offs []int32, c []T, ldc int) {
	if !shiftedKernel6(k, w, a, x, offs, c, ldc) {
		shiftedGo(k, w, a, x, offs, c, ldc)
	}
}

// shiftedGo is the portable reference of the shifted kernels: the same
// operations in the same order, without fused multiply-adds.
func shiftedGo[T element](k, w int, a, x []T, offs []int32, c []T, ldc int) {
	var acc [mr][maxShifted]T
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
