// Copyright ©2025 The vivit-go Authors. All rights reserved.

//go:build !amd64 || purego

package fastblas

// haveAsm is false on architectures without an assembly micro-kernel; the
// Implementation then delegates everything to gonum.
var haveAsm = false

func microKernel(kc int, a, b, c []float64, ldc int, alpha, beta float64) {
	kern6x8Go(kc, a, b, c, ldc, alpha, beta)
}

func microKernel32(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	kern6x16Go(kc, a, b, c, ldc, alpha, beta)
}

func packTransposeFast(dst, src []float64, base, ld, kk, rows int) int { return 0 }

func dotKernel(n4 int, a0, a1 []float64, b *[6][]float64, acc *[48]float64) {
	dot2x6Go(n4, a0, a1, b, acc)
}

func dotKernelMixed(n4 int, a0, a1 []float64, b *[6][]float32, acc *[48]float64) {
	dot2x6Go(n4, a0, a1, b, acc)
}

func axpyKernel(k int, a0, a1, b []float64, ldb int, acc *[32]float64) {
	axpy2x16Go(k, a0, a1, b, ldb, acc)
}

func axpyKernelMixed(k int, a0, a1 []float64, b []float32, ldb int, acc *[32]float64) {
	axpy2x16Go(k, a0, a1, b, ldb, acc)
}

// AddMul sets dst[i] += x[i]·y[i] for i < len(dst); x and y must be at
// least as long as dst.
func AddMul(dst, x, y []float64) {
	x, y = x[:len(dst)], y[:len(dst)]
	for i := range dst {
		dst[i] += x[i] * y[i]
	}
}

// AddMulMixed sets dst[i] += x[i]·float64(y[i]) for i < len(dst).
func AddMulMixed(dst, x []float64, y []float32) {
	x, y = x[:len(dst)], y[:len(dst)]
	for i := range dst {
		dst[i] += x[i] * float64(y[i])
	}
}

// Narrow sets dst[i] = float32(src[i]) for i < len(dst).
func Narrow(dst []float32, src []float64) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] = float32(src[i])
	}
}

// Add32 sets dst[i] += src[i] for i < len(dst).
func Add32(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}

// Widen sets dst[i] = float64(src[i]) for i < len(dst).
func Widen(dst []float64, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = float64(v)
	}
}

// WidenAdd adds float64(src[i]) to dst[i] for i < len(dst).
func WidenAdd(dst []float64, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += float64(v)
	}
}

// CombRows sets c[j] = Σ_{p<len(a)} a[p]·b[p·ldb+j] for j < len(c).
func CombRows(c, a, b []float64, ldb int) {
	if len(c) == 0 {
		return
	}
	if len(a) > 0 {
		_ = b[(len(a)-1)*ldb+len(c)-1]
	}
	combRowsGo(c, a, b, ldb)
}

// maxAbs returns the largest of init and |v[i]|, ignoring NaNs.
func maxAbs(v []float64, init float64) float64 { return maxAbsGo(v, init) }

// CombRowsIdx sets c[j] = Σ_p a[p]·b[idx[p]·ldb+j] for j < len(c).
func CombRowsIdx(c, a []float64, idx []int32, b []float64, ldb int) {
	if len(c) == 0 {
		return
	}
	idx = idx[:len(a)]
	checkRows(idx, len(b), ldb, len(c))
	combRowsIdxGo(c, a, idx, b, ldb)
}

func packTransposeFast32(dst, src []float32, base, ld, kk, rows int) int { return 0 }

func packCopyFast32(dst, src []float32, ld, off, kk int) bool { return false }

// haveAVX512 is false without the assembly kernels.
var haveAVX512 = false

func pairKernels() (func(kc int, a, b, c []float64, ldc int, alpha, beta float64), func(kc int, a, b, c []float32, ldc int, alpha, beta float32)) {
	return nil, nil
}

func shiftedKernel6[T element](k, w int, a, x []T, offs []int32, c []T, ldc int) bool { return false }

func shiftedKernel12[T element](k, w int, a0, a1, x []T, offs []int32, c []T, ldc int) bool {
	return false
}

func reluKernel(n4 int, dst, x []float64) bool { return false }

func mulPositiveKernel(n4 int, dst, s, x []float64) bool { return false }

func mulPositive32Kernel(n4 int, dst, s []float32, x []float64) bool { return false }

func dotSum32Kernel(n8 int, s []float32, x []float64) (dot, sum float64, ok bool) {
	return 0, 0, false
}

func scale32Kernel(n8 int, s []float32, a float32) bool { return false }

// axpy12Kernel is never called without the AVX-512 kernels (haveAVX512).
func axpy12Kernel[T element](k int, a []float64, b []T, ldb int, acc *[192]float64) {
	panic("fastblas: axpy12Kernel without AVX-512")
}

func dotSumScaleKernel[T float32 | float64](n8 int, d, s []T, x []float64, a float64) (dot, sum float64, ok bool) {
	return 0, 0, false
}

func dotSum64Kernel(n8 int, s, x []float64) (dot, sum float64, ok bool) { return 0, 0, false }

func countNonzeroFast[T float32 | float64](x []T) (count, done int) { return 0, 0 }

func gramKernels() (func(kc int, a, b, c []float64, ldc int, alpha, beta float64), func(kc int, a, b, c []float32, ldc int, alpha, beta float32)) {
	return nil, nil
}
