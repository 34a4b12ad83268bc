// Copyright ©2025 The vivit-go Authors. All rights reserved.

//go:build amd64 && !purego

package fastblas

// kern6x8 computes the 6×8 product of a packed A micro-panel (kc×6, stored
// as kc groups of 6 contiguous values) and a packed B micro-panel (kc×8,
// stored as kc groups of 8 contiguous values) and stores
//
//	C[r*ldc+j] = alpha*Σ_p a[p*6+r]*b[p*8+j] + beta*C[r*ldc+j],  r<6, j<8,
//
// where C is not read when beta == 0. kc must be ≥ 1.
//
//go:noescape
func kern6x8(kc int, a, b, c *float64, ldc int, alpha, beta float64)

// kern6x16 is kern6x8 for float32: a 6×16 block from a packed A panel
// (kc groups of 6) and a packed B panel (kc groups of 16).
//
//go:noescape
func kern6x16(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

//go:noescape
func xgetbv() (eax, edx uint32)

// haveAsm reports whether the AVX2/FMA micro-kernel can be used.
var haveAsm = detectAVX2FMA()

func detectAVX2FMA() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		fmaBit     = 1 << 12
		osxsaveBit = 1 << 27
		avxBit     = 1 << 28
	)
	if ecx1&fmaBit == 0 || ecx1&osxsaveBit == 0 || ecx1&avxBit == 0 {
		return false
	}
	// The OS must save/restore the XMM and YMM state.
	if xcr0, _ := xgetbv(); xcr0&6 != 6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	const avx2Bit = 1 << 5
	return ebx7&avx2Bit != 0
}

// microKernel dispatches to the assembly kernel, or to the pure-Go kernel
// when haveAsm is false (only in tests on amd64).
func microKernel(kc int, a, b, c []float64, ldc int, alpha, beta float64) {
	// The bounds are guaranteed by the callers; these checks are cheap
	// insurance that the assembly never touches memory outside the slices.
	_ = a[kc*mr-1]
	_ = b[kc*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	if haveAsm {
		kern6x8(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
		return
	}
	kern6x8Go(kc, a, b, c, ldc, alpha, beta)
}

// microKernel32 is microKernel for float32.
func microKernel32(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[kc*mr-1]
	_ = b[kc*nr32-1]
	_ = c[(mr-1)*ldc+nr32-1]
	if haveAsm {
		kern6x16(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
		return
	}
	kern6x16Go(kc, a, b, c, ldc, alpha, beta)
}

//go:noescape
func packA6N(dst, src *float64, lda, n4 int)

//go:noescape
func packB8T(dst, src *float64, ldb, n4 int)

// packTransposeFast packs the first 4·⌊kk/4⌋ columns p of the rows
// src[base+r*ld : base+r*ld+kk], r < rows (rows is mr or nr), into
// dst[p*rows+r] and returns how many columns it handled.
func packTransposeFast(dst, src []float64, base, ld, kk, rows int) int {
	n4 := kk / 4
	if !haveAsm || n4 == 0 {
		return 0
	}
	_ = dst[rows*4*n4-1]
	_ = src[base+(rows-1)*ld+4*n4-1]
	if rows == mr {
		packA6N(&dst[0], &src[base], ld, n4)
	} else {
		packB8T(&dst[0], &src[base], ld, n4)
	}
	return 4 * n4
}

//go:noescape
func dot2x6(n4 int, a0, a1 *float64, b *[6]*float64, acc *[48]float64)

//go:noescape
func dot2x6Mixed(n4 int, a0, a1 *float64, b *[6]*float32, acc *[48]float64)

// dotKernelMixed is dotKernel for float32 B rows (see dot2x6Mixed).
func dotKernelMixed(n4 int, a0, a1 []float64, b *[6][]float32, acc *[48]float64) {
	l := 4*n4 - 1
	_, _ = a0[l], a1[l]
	var bp [6]*float32
	for r := range b {
		_ = b[r][l]
		bp[r] = &b[r][0]
	}
	if haveAsm {
		dot2x6Mixed(n4, &a0[0], &a1[0], &bp, acc)
		return
	}
	dot2x6Go(n4, a0, a1, b, acc)
}

//go:noescape
func axpy2x16(k int, a0, a1, b *float64, ldb int, acc *[32]float64)

// dotKernel adds to acc the lane-wise partial sums of the dot products of
// the rows a0, a1 with the six rows b over their first 4·n4 ≥ 4 elements
// (see dot2x6).
func dotKernel(n4 int, a0, a1 []float64, b *[6][]float64, acc *[48]float64) {
	l := 4*n4 - 1
	_, _ = a0[l], a1[l]
	var bp [6]*float64
	for r := range b {
		_ = b[r][l]
		bp[r] = &b[r][0]
	}
	if haveAsm {
		dot2x6(n4, &a0[0], &a1[0], &bp, acc)
		return
	}
	dot2x6Go(n4, a0, a1, b, acc)
}

// axpyKernel sets acc[i*16+j] = Σ_{p<k} a_i[p]·b[p*ldb+j] for k ≥ 1 (see
// axpy2x16).
func axpyKernel(k int, a0, a1, b []float64, ldb int, acc *[32]float64) {
	_, _, _ = a0[k-1], a1[k-1], b[(k-1)*ldb+15]
	if haveAsm {
		axpy2x16(k, &a0[0], &a1[0], &b[0], ldb, acc)
		return
	}
	axpy2x16Go(k, a0, a1, b, ldb, acc)
}

//go:noescape
func axpy2x16Mixed(k int, a0, a1 *float64, b *float32, ldb int, acc *[32]float64)

// axpyKernelMixed is axpyKernel for a float32 B.
func axpyKernelMixed(k int, a0, a1 []float64, b []float32, ldb int, acc *[32]float64) {
	_, _, _ = a0[k-1], a1[k-1], b[(k-1)*ldb+15]
	if haveAsm {
		axpy2x16Mixed(k, &a0[0], &a1[0], &b[0], ldb, acc)
		return
	}
	axpy2x16Go(k, a0, a1, b, ldb, acc)
}

//go:noescape
func addMul4(n4 int, dst, x, y *float64)

// AddMul sets dst[i] += x[i]·y[i] for i < len(dst); x and y must be at
// least as long as dst.
func AddMul(dst, x, y []float64) {
	n := len(dst)
	if n == 0 {
		return
	}
	x, y = x[:n], y[:n]
	start := 0
	if n4 := n / 4; haveAsm && n4 > 0 {
		addMul4(n4, &dst[0], &x[0], &y[0])
		start = 4 * n4
	}
	for i := start; i < n; i++ {
		dst[i] += x[i] * y[i]
	}
}

//go:noescape
func addMulMixed4(n4 int, dst, x *float64, y *float32)

// AddMulMixed sets dst[i] += x[i]·float64(y[i]) for i < len(dst): AddMul
// with a float32 factor (a tile of a float32 product folded into a float64
// sum). x and y must be at least as long as dst.
func AddMulMixed(dst, x []float64, y []float32) {
	n := len(dst)
	if n == 0 {
		return
	}
	x, y = x[:n], y[:n]
	start := 0
	if n4 := n / 4; haveAsm && n4 > 0 {
		addMulMixed4(n4, &dst[0], &x[0], &y[0])
		start = 4 * n4
	}
	for i := start; i < n; i++ {
		dst[i] += x[i] * float64(y[i])
	}
}

//go:noescape
func narrow4(n4 int, dst *float32, src *float64)

// Narrow sets dst[i] = float32(src[i]) for i < len(dst) (rounding to
// nearest); src must be at least as long as dst.
func Narrow(dst []float32, src []float64) {
	n := len(dst)
	if n == 0 {
		return
	}
	src = src[:n]
	start := 0
	if n4 := n / 4; haveAsm && n4 > 0 {
		narrow4(n4, &dst[0], &src[0])
		start = 4 * n4
	}
	for i := start; i < n; i++ {
		dst[i] = float32(src[i])
	}
}

//go:noescape
func add8x32(n8 int, dst, src *float32)

// Add32 sets dst[i] += src[i] for i < len(dst); src must be at least as
// long as dst.
func Add32(dst, src []float32) {
	n := len(dst)
	if n == 0 {
		return
	}
	src = src[:n]
	start := 0
	if n8 := n / 8; haveAsm && n8 > 0 {
		add8x32(n8, &dst[0], &src[0])
		start = 8 * n8
	}
	for i := start; i < n; i++ {
		dst[i] += src[i]
	}
}

//go:noescape
func widen4(n4 int, dst *float64, src *float32)

// Widen sets dst[i] = float64(src[i]) for i < len(dst); src must be at
// least as long as dst.
func Widen(dst []float64, src []float32) { widen(dst, src, false) }

//go:noescape
func widenAdd4(n4 int, dst *float64, src *float32)

// WidenAdd adds float64(src[i]) to dst[i] for i < len(dst); src must be
// at least as long as dst.
func WidenAdd(dst []float64, src []float32) { widen(dst, src, true) }

// widen is Widen, or WidenAdd with add set.
func widen(dst []float64, src []float32, add bool) {
	n := len(dst)
	if n == 0 {
		return
	}
	src = src[:n]
	start := 0
	if n4 := n / 4; haveAsm && n4 > 0 {
		if add {
			widenAdd4(n4, &dst[0], &src[0])
		} else {
			widen4(n4, &dst[0], &src[0])
		}
		start = 4 * n4
	}
	for i := start; i < n; i++ {
		if add {
			dst[i] += float64(src[i])
		} else {
			dst[i] = float64(src[i])
		}
	}
}

//go:noescape
func combRows(n16, k int, a, b *float64, ldb int, c *float64)

// CombRows sets c[j] = Σ_{p<len(a)} a[p]·b[p·ldb+j] for j < len(c): a
// short linear combination of rows of b (a few dozen at most: a
// sample's factor columns), in one call without per-column overhead.
func CombRows(c, a, b []float64, ldb int) {
	n, k := len(c), len(a)
	if n == 0 {
		return
	}
	if k == 0 {
		clear(c)
		return
	}
	_ = b[(k-1)*ldb+n-1]
	start := 0
	if n16 := n / 16; haveAsm && n16 > 0 {
		combRows(n16, k, &a[0], &b[0], ldb, &c[0])
		start = 16 * n16
	}
	combRowsGo(c[start:], a, b[start:], ldb)
}

//go:noescape
func maxAbs16(n16 int, x *float64, init float64) float64

// maxAbs returns the largest of init and |v[i]|, ignoring NaNs.
func maxAbs(v []float64, init float64) float64 {
	start := 0
	if n16 := len(v) / 16; haveAsm && n16 > 0 {
		init = maxAbs16(n16, &v[0], init)
		start = 16 * n16
	}
	return maxAbsGo(v[start:], init)
}

//go:noescape
func combRowsIdx(n, k int, a *float64, idx *int32, b *float64, ldb int, c *float64)

// CombRowsIdx sets c[j] = Σ_p a[p]·b[idx[p]·ldb+j] for j < len(c): a
// linear combination of the rows idx of b, as in the product of a sparse
// row (values a at columns idx) and a dense matrix. It panics if a row is
// outside b.
func CombRowsIdx(c, a []float64, idx []int32, b []float64, ldb int) {
	n, k := len(c), len(a)
	idx = idx[:k]
	if n == 0 {
		return
	}
	if k == 0 {
		clear(c)
		return
	}
	checkRows(idx, len(b), ldb, n)
	if haveAsm {
		combRowsIdx(n, k, &a[0], &idx[0], &b[0], ldb, &c[0])
		return
	}
	combRowsIdxGo(c, a, idx, b, ldb)
}

//go:noescape
func packA6N32(dst, src *float32, lda, n4 int)

//go:noescape
func packB16T32(dst, src *float32, ldb, n4 int)

//go:noescape
func packAT6x32(dst, src *float32, lda, kk int)

// packCopyFast32 packs a full A panel of mr columns from a transposed A
// (packCopying32's first case) and reports whether it could.
func packCopyFast32(dst, src []float32, ld, off, kk int) bool {
	if !haveAsm || kk == 0 {
		return false
	}
	_ = dst[mr*kk-1]
	_ = src[off+(kk-1)*ld+mr-1]
	packAT6x32(&dst[0], &src[off], ld, kk)
	return true
}

// packTransposeFast32 is packTransposeFast in float32, for rows mr or
// nr32.
func packTransposeFast32(dst, src []float32, base, ld, kk, rows int) int {
	n4 := kk / 4
	if !haveAsm || n4 == 0 {
		return 0
	}
	_ = dst[rows*4*n4-1]
	_ = src[base+(rows-1)*ld+4*n4-1]
	if rows == mr {
		packA6N32(&dst[0], &src[base], ld, n4)
	} else {
		packB16T32(&dst[0], &src[base], ld, n4)
	}
	return 4 * n4
}

// kernShifted6x8 is the micro-kernel of Shifted in float64: c[r*ldc+j] =
// Σ_{p<kc} a[p*6+r]·x[offs[p]+j], r < 6, j < 8, overwriting c.
//
//go:noescape
func kernShifted6x8(kc int, a, x *float64, offs *int32, c *float64, ldc int)

// kernShifted6x16 is kernShifted6x8 in float32 (j < 16).
//
//go:noescape
func kernShifted6x16(kc int, a, x *float32, offs *int32, c *float32, ldc int)

// kernShifted6x8s is kernShifted6x16 on 8 columns.
//
//go:noescape
func kernShifted6x8s(kc int, a, x *float32, offs *int32, c *float32, ldc int)

// kern6x16z is kern6x8 on two adjacent packed B panels (AVX-512): the
// 6×16 block, each entry computed with kern6x8's operations.
//
//go:noescape
func kern6x16z(kc int, a, b, c *float64, ldc int, alpha, beta float64)

// kern6x32z is kern6x16 on two adjacent packed B panels (AVX-512).
//
//go:noescape
func kern6x32z(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// haveAVX512 reports whether the AVX-512 kernels can be used: AVX512F,
// and the OS saves the opmask and ZMM state. On CPUs with full-width
// 512-bit units they double the multiply-add rate of the AVX2 kernels.
var haveAVX512 = haveAsm && detectAVX512()

func detectAVX512() bool {
	_, ebx7, _, _ := cpuid(7, 0)
	const avx512fBit = 1 << 16
	if ebx7&avx512fBit == 0 {
		return false
	}
	xcr0, _ := xgetbv()
	return xcr0&0xe6 == 0xe6 // SSE, AVX, opmask, ZMM upper halves, ZMM16–31
}

// pairKernels returns the kernels of two adjacent B panels, float64 and
// float32, when the AVX-512 kernels can be used, else nil.
func pairKernels() (func(kc int, a, b, c []float64, ldc int, alpha, beta float64), func(kc int, a, b, c []float32, ldc int, alpha, beta float32)) {
	if !haveAVX512 {
		return nil, nil
	}
	return microKernelPair, microKernelPair32
}

// microKernelPair is microKernel on the two adjacent panels at b.
func microKernelPair(kc int, a, b, c []float64, ldc int, alpha, beta float64) {
	_ = a[kc*mr-1]
	_ = b[2*kc*nr-1]
	_ = c[(mr-1)*ldc+2*nr-1]
	kern6x16z(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// microKernelPair32 is microKernel32 on the two adjacent panels at b.
func microKernelPair32(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[kc*mr-1]
	_ = b[2*kc*nr32-1]
	_ = c[(mr-1)*ldc+2*nr32-1]
	kern6x32z(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// kernShifted6x16z is kernShifted6x8 on 16 columns (AVX-512).
//
//go:noescape
func kernShifted6x16z(kc int, a, x *float64, offs *int32, c *float64, ldc int)

// kernShifted6x32z is kernShifted6x16 on 32 columns (AVX-512).
//
//go:noescape
func kernShifted6x32z(kc int, a, x *float32, offs *int32, c *float32, ldc int)

// kernShifted12x8z is the shifted product of two A panels (12 rows, one
// 512-bit register each) on 8 float64 columns (AVX-512).
//
//go:noescape
func kernShifted12x8z(kc int, a0, a1, x *float64, offs *int32, c *float64, ldc int)

// kernShifted12x16z is kernShifted12x8z on 16 float32 columns.
//
//go:noescape
func kernShifted12x16z(kc int, a0, a1, x *float32, offs *int32, c *float32, ldc int)

// kernShifted12x8s is the shifted product of two A panels on 8 float32
// columns (AVX2, one register a row).
//
//go:noescape
func kernShifted12x8s(kc int, a0, a1, x *float32, offs *int32, c *float32, ldc int)

// shiftedKernel6 runs a 6×w tile of one A panel on the assembly kernels,
// or reports false when there is none for T and w.
func shiftedKernel6[T element](k, w int, a, x []T, offs []int32, c []T, ldc int) bool {
	if !haveAsm {
		return false
	}
	switch a := any(a).(type) {
	case []float64:
		x, c := any(x).([]float64), any(c).([]float64)
		switch {
		case w == 16 && haveAVX512:
			kernShifted6x16z(k, &a[0], &x[0], &offs[0], &c[0], ldc)
		case w == 8:
			kernShifted6x8(k, &a[0], &x[0], &offs[0], &c[0], ldc)
		default:
			return false
		}
	case []float32:
		x, c := any(x).([]float32), any(c).([]float32)
		switch {
		case w == 32 && haveAVX512:
			kernShifted6x32z(k, &a[0], &x[0], &offs[0], &c[0], ldc)
		case w == 16:
			kernShifted6x16(k, &a[0], &x[0], &offs[0], &c[0], ldc)
		case w == 8:
			kernShifted6x8s(k, &a[0], &x[0], &offs[0], &c[0], ldc)
		default:
			return false
		}
	}
	return true
}

// shiftedKernel12 runs a 12×w tile of two A panels on the one-register
// kernels, or reports false when there is none for T and w.
func shiftedKernel12[T element](k, w int, a0, a1, x []T, offs []int32, c []T, ldc int) bool {
	if !haveAsm {
		return false
	}
	switch a0 := any(a0).(type) {
	case []float64:
		if w != 8 || !haveAVX512 {
			return false
		}
		x, c, a1 := any(x).([]float64), any(c).([]float64), any(a1).([]float64)
		kernShifted12x8z(k, &a0[0], &a1[0], &x[0], &offs[0], &c[0], ldc)
	case []float32:
		x, c, a1 := any(x).([]float32), any(c).([]float32), any(a1).([]float32)
		switch {
		case w == 16 && haveAVX512:
			kernShifted12x16z(k, &a0[0], &a1[0], &x[0], &offs[0], &c[0], ldc)
		case w == 8:
			kernShifted12x8s(k, &a0[0], &a1[0], &x[0], &offs[0], &c[0], ldc)
		default:
			return false
		}
	}
	return true
}

//go:noescape
func relu4(n4 int, dst, x *float64)

//go:noescape
func mulPositive4(n4 int, dst, s, x *float64)

//go:noescape
func mulPositive32x4(n4 int, dst, s *float32, x *float64)

// mulPositive32Kernel runs mulPositive32x4 on the first 4·n4 entries, or
// reports false.
func mulPositive32Kernel(n4 int, dst, s []float32, x []float64) bool {
	if !haveAsm {
		return false
	}
	_, _, _ = dst[4*n4-1], s[4*n4-1], x[4*n4-1]
	mulPositive32x4(n4, &dst[0], &s[0], &x[0])
	return true
}

//go:noescape
func dotSum32x8(n8 int, s *float32, x *float64) (dot, sum float64)

//go:noescape
func scale32x8(n8 int, s *float32, a float32)

// dotSum32Kernel returns dotSum32x8 of the first 8·n8 entries, or
// reports false.
func dotSum32Kernel(n8 int, s []float32, x []float64) (dot, sum float64, ok bool) {
	if !haveAsm {
		return 0, 0, false
	}
	_, _ = s[8*n8-1], x[8*n8-1]
	dot, sum = dotSum32x8(n8, &s[0], &x[0])
	return dot, sum, true
}

// scale32Kernel runs scale32x8 on the first 8·n8 entries, or reports
// false.
func scale32Kernel(n8 int, s []float32, a float32) bool {
	if !haveAsm {
		return false
	}
	_ = s[8*n8-1]
	scale32x8(n8, &s[0], a)
	return true
}

// reluKernel runs relu4 on the first 4·n4 entries, or reports false.
func reluKernel(n4 int, dst, x []float64) bool {
	if !haveAsm {
		return false
	}
	_, _ = dst[4*n4-1], x[4*n4-1]
	relu4(n4, &dst[0], &x[0])
	return true
}

// mulPositiveKernel runs mulPositive4 on the first 4·n4 entries, or
// reports false.
func mulPositiveKernel(n4 int, dst, s, x []float64) bool {
	if !haveAsm {
		return false
	}
	_, _, _ = dst[4*n4-1], s[4*n4-1], x[4*n4-1]
	mulPositive4(n4, &dst[0], &s[0], &x[0])
	return true
}

//go:noescape
func axpy12x16z(k int, a *float64, b *float64, ldb int, acc *[192]float64)

//go:noescape
func axpy12x16zMixed(k int, a *float64, b *float32, ldb int, acc *[192]float64)

// axpy12Kernel adds Σ_{p<k} a[p*12+i]·b[p*ldb+j] to acc[i*16+j] for k ≥ 1
// on the AVX-512 kernels (see axpy12x16z); callers check haveAVX512.
func axpy12Kernel[T element](k int, a []float64, b []T, ldb int, acc *[192]float64) {
	_, _ = a[12*k-1], b[(k-1)*ldb+15]
	switch b := any(b).(type) {
	case []float64:
		axpy12x16z(k, &a[0], &b[0], ldb, acc)
	case []float32:
		axpy12x16zMixed(k, &a[0], &b[0], ldb, acc)
	}
}

//go:noescape
func dotSumScale64x8(n8 int, s, x, d *float64, a float64) (dot, sum float64)

//go:noescape
func dotSumScale32x8(n8 int, s *float32, x *float64, d *float32, a float32) (dot, sum float64)

// dotSumScaleKernel runs dotSumScale64x8 or dotSumScale32x8 on the first
// 8·n8 entries, or reports false.
func dotSumScaleKernel[T float32 | float64](n8 int, d, s []T, x []float64, a float64) (dot, sum float64, ok bool) {
	if !haveAsm {
		return 0, 0, false
	}
	_, _, _ = s[8*n8-1], d[8*n8-1], x[8*n8-1]
	switch s := any(s).(type) {
	case []float64:
		dot, sum = dotSumScale64x8(n8, &s[0], &x[0], &any(d).([]float64)[0], a)
	case []float32:
		dot, sum = dotSumScale32x8(n8, &s[0], &x[0], &any(d).([]float32)[0], float32(a))
	}
	return dot, sum, true
}

//go:noescape
func dotSum64x8(n8 int, s, x *float64) (dot, sum float64)

// dotSum64Kernel returns dotSum64x8 of the first 8·n8 entries, or
// reports false.
func dotSum64Kernel(n8 int, s, x []float64) (dot, sum float64, ok bool) {
	if !haveAsm {
		return 0, 0, false
	}
	_, _ = s[8*n8-1], x[8*n8-1]
	dot, sum = dotSum64x8(n8, &s[0], &x[0])
	return dot, sum, true
}

//go:noescape
func countNonzero64x8(n8 int, x *float64) int

//go:noescape
func countNonzero32x16(n16 int, x *float32) int

// countNonzeroFast counts the nonzero entries of the longest prefix of x
// that the assembly takes (whole runs of eight float64 or sixteen float32)
// and returns the count and the prefix's length; 0, 0 without it.
func countNonzeroFast[T float32 | float64](x []T) (count, done int) {
	if !haveAsm {
		return 0, 0
	}
	switch x := any(x).(type) {
	case []float64:
		if n8 := len(x) / 8; n8 > 0 {
			return countNonzero64x8(n8, &x[0]), 8 * n8
		}
	case []float32:
		if n16 := len(x) / 16; n16 > 0 {
			return countNonzero32x16(n16, &x[0]), 16 * n16
		}
	}
	return 0, 0
}

//go:noescape
func kern8x16z(kc int, a, b, c *float64, ldc int, alpha, beta float64)

//go:noescape
func kern8x32z(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// gramKernels returns the pair kernels of Gram products (A·Aᵀ) whose A
// panel is eight rows of a packed B panel (kern8x16z, kern8x32z), or nil
// without AVX-512.
func gramKernels() (func(kc int, a, b, c []float64, ldc int, alpha, beta float64), func(kc int, a, b, c []float32, ldc int, alpha, beta float32)) {
	if !haveAVX512 {
		return nil, nil
	}
	return gramKernelPair, gramKernelPair32
}

// gramKernelPair is kern8x16z: a holds kc steps of 8 values (one B panel),
// b two B panels.
func gramKernelPair(kc int, a, b, c []float64, ldc int, alpha, beta float64) {
	_ = a[kc*gramRows-1]
	_ = b[2*kc*nr-1]
	_ = c[(gramRows-1)*ldc+2*nr-1]
	kern8x16z(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// gramKernelPair32 is kern8x32z: a's kc steps are 16 values apart (rows
// 0–7 or 8–15 of one B panel), b two B panels.
func gramKernelPair32(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[(kc-1)*nr32+gramRows-1]
	_ = b[2*kc*nr32-1]
	_ = c[(gramRows-1)*ldc+2*nr32-1]
	kern8x32z(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}
