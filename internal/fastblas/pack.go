// Copyright ©2025 The vivit-go Authors. All rights reserved.

package fastblas

// Packing routines. A panels hold, for each p of the slab, mr consecutive
// values op(A)[i+r][p0+p]; B panels hold nr consecutive values
// op(B)[p0+p][j+c]. Rows/columns beyond the matrix are zero-filled.

// packColsN6 packs an A panel from a row-major (not transposed) A: rows
// i..i+rows-1 of a, columns p0..p0+kk-1.
func packColsN6(dst, a []float64, lda, p0, kk, i, rows int) {
	dst = dst[:kk*mr]
	if rows == mr {
		base := i*lda + p0
		done := packTransposeFast(dst, a, base, lda, kk, mr)
		r0 := a[base : base+kk]
		r1 := a[base+lda : base+lda+kk][:len(r0)]
		r2 := a[base+2*lda : base+2*lda+kk][:len(r0)]
		r3 := a[base+3*lda : base+3*lda+kk][:len(r0)]
		r4 := a[base+4*lda : base+4*lda+kk][:len(r0)]
		r5 := a[base+5*lda : base+5*lda+kk][:len(r0)]
		for p := done; p < len(r0); p++ {
			d := dst[p*mr : p*mr+mr : p*mr+mr]
			d[0] = r0[p]
			d[1] = r1[p]
			d[2] = r2[p]
			d[3] = r3[p]
			d[4] = r4[p]
			d[5] = r5[p]
		}
		return
	}
	clear(dst)
	for r := 0; r < rows; r++ {
		row := a[(i+r)*lda+p0 : (i+r)*lda+p0+kk]
		for p, v := range row {
			dst[p*mr+r] = v
		}
	}
}

// packRowsT packs an A panel from a transposed A (stored k×m): the panel
// rows are contiguous in memory.
func packRowsT(dst, a []float64, lda, p0, kk, i, rows int) {
	dst = dst[:kk*mr]
	if rows == mr {
		for p := 0; p < kk; p++ {
			off := (p0+p)*lda + i
			s := a[off : off+mr : off+mr]
			d := dst[p*mr : p*mr+mr : p*mr+mr]
			d[0] = s[0]
			d[1] = s[1]
			d[2] = s[2]
			d[3] = s[3]
			d[4] = s[4]
			d[5] = s[5]
		}
		return
	}
	clear(dst)
	for p := 0; p < kk; p++ {
		off := (p0+p)*lda + i
		copy(dst[p*mr:p*mr+rows], a[off:off+rows])
	}
}

// packRows8 packs a B panel from a row-major (not transposed) B (stored
// k×n): columns j..j+cols-1, rows p0..p0+kk-1.
func packRows8(dst, b []float64, ldb, p0, kk, j, cols int) {
	dst = dst[:kk*nr]
	if cols == nr {
		for p := 0; p < kk; p++ {
			off := (p0+p)*ldb + j
			s := b[off : off+nr : off+nr]
			d := dst[p*nr : p*nr+nr : p*nr+nr]
			d[0] = s[0]
			d[1] = s[1]
			d[2] = s[2]
			d[3] = s[3]
			d[4] = s[4]
			d[5] = s[5]
			d[6] = s[6]
			d[7] = s[7]
		}
		return
	}
	clear(dst)
	for p := 0; p < kk; p++ {
		off := (p0+p)*ldb + j
		copy(dst[p*nr:p*nr+cols], b[off:off+cols])
	}
}

// packColsN8 packs a B panel from a transposed B (stored n×k): the panel
// columns are rows j..j+cols-1 of b.
func packColsN8(dst, b []float64, ldb, p0, kk, j, cols int) {
	dst = dst[:kk*nr]
	if cols == nr {
		base := j*ldb + p0
		done := packTransposeFast(dst, b, base, ldb, kk, nr)
		r0 := b[base : base+kk]
		r1 := b[base+ldb : base+ldb+kk][:len(r0)]
		r2 := b[base+2*ldb : base+2*ldb+kk][:len(r0)]
		r3 := b[base+3*ldb : base+3*ldb+kk][:len(r0)]
		r4 := b[base+4*ldb : base+4*ldb+kk][:len(r0)]
		r5 := b[base+5*ldb : base+5*ldb+kk][:len(r0)]
		r6 := b[base+6*ldb : base+6*ldb+kk][:len(r0)]
		r7 := b[base+7*ldb : base+7*ldb+kk][:len(r0)]
		for p := done; p < len(r0); p++ {
			d := dst[p*nr : p*nr+nr : p*nr+nr]
			d[0] = r0[p]
			d[1] = r1[p]
			d[2] = r2[p]
			d[3] = r3[p]
			d[4] = r4[p]
			d[5] = r5[p]
			d[6] = r6[p]
			d[7] = r7[p]
		}
		return
	}
	clear(dst)
	for c := 0; c < cols; c++ {
		row := b[(j+c)*ldb+p0 : (j+c)*ldb+p0+kk]
		for p, v := range row {
			dst[p*nr+c] = v
		}
	}
}

// Generic packers, for element types without unrolled or assembly ones.
// The panel width w (mr for A, nr for B) is len(dst)/kk; lines beyond n
// are zero-filled.

// packTransposing packs lines i..i+n-1 of src (rows of a row-major A, or
// of a transposed B): dst[p*w+r] = src[(i+r)*ld+p0+p].
func packTransposing[T element](dst, src []T, ld, p0, kk, i, n int) {
	w := len(dst) / kk
	if n < w {
		clear(dst)
	}
	for r := 0; r < n; r++ {
		line := src[(i+r)*ld+p0 : (i+r)*ld+p0+kk]
		for p, v := range line {
			dst[p*w+r] = v
		}
	}
}

// packTransposing32 is packTransposing in float32, with full panels (mr
// rows of A, nr32 rows of a transposed B) transposed 4×4 by assembly where
// available.
func packTransposing32(dst, src []float32, ld, p0, kk, i, n int) {
	w := len(dst) / kk
	if n < w {
		packTransposing(dst, src, ld, p0, kk, i, n)
		return
	}
	base := i*ld + p0
	done := packTransposeFast32(dst, src, base, ld, kk, w)
	for r := 0; r < n; r++ {
		line := src[base+r*ld+done : base+r*ld+kk]
		for p, v := range line {
			dst[(done+p)*w+r] = v
		}
	}
}

// packCopying32 is packCopying in float32, with full panels (mr columns
// of a transposed A, nr32 of a row-major B) moved as fixed-size arrays, or
// in assembly (A) where available.
func packCopying32(dst, src []float32, ld, p0, kk, i, n int) {
	w := len(dst) / kk
	switch {
	case n == mr && w == mr:
		if packCopyFast32(dst, src, ld, p0*ld+i, kk) {
			return
		}
		for p := 0; p < kk; p++ {
			off := (p0+p)*ld + i
			*(*[mr]float32)(dst[p*mr:]) = [mr]float32(src[off:])
		}
	case n == nr32 && w == nr32:
		for p := 0; p < kk; p++ {
			off := (p0+p)*ld + i
			*(*[nr32]float32)(dst[p*nr32:]) = [nr32]float32(src[off:])
		}
	default:
		packCopying(dst, src, ld, p0, kk, i, n)
	}
}

// packCopying packs columns i..i+n-1 of rows p0..p0+kk-1 of src (a
// transposed A, or a row-major B): dst[p*w+r] = src[(p0+p)*ld+i+r].
func packCopying[T element](dst, src []T, ld, p0, kk, i, n int) {
	w := len(dst) / kk
	if n < w {
		clear(dst)
	}
	for p := 0; p < kk; p++ {
		off := (p0+p)*ld + i
		copy(dst[p*w:p*w+n], src[off:off+n])
	}
}
