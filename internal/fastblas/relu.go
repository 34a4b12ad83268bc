// Copyright ©2026 The vivit-go Authors. All rights reserved.

package fastblas

// ReLU sets dst[i] = max(x[i], 0) for i < len(dst), as Go's max (NaN
// passes through, −0 becomes +0); x must be at least as long as dst.
func ReLU(dst, x []float64) {
	x = x[:len(dst)]
	start := 0
	if n4 := len(dst) / 4; n4 > 0 && reluKernel(n4, dst, x) {
		start = 4 * n4
	}
	for i := start; i < len(dst); i++ {
		dst[i] = max(x[i], 0)
	}
}

// MulPositive sets dst[i] = s[i]·d with d = 1 if x[i] > 0, else 0, for
// i < len(dst): a factor row times ReLU's derivative, as a product (a NaN
// in s stays NaN); s and x must be at least as long as dst, and dst may
// be s.
func MulPositive(dst, s, x []float64) {
	s, x = s[:len(dst)], x[:len(dst)]
	start := 0
	if n4 := len(dst) / 4; n4 > 0 && mulPositiveKernel(n4, dst, s, x) {
		start = 4 * n4
	}
	for i := start; i < len(dst); i++ {
		var d float64
		if x[i] > 0 {
			d = 1
		}
		dst[i] = s[i] * d
	}
}

// MulPositive32 is MulPositive on float32 factor rows s and dst with the
// float64 x: dst[i] = s[i]·d in float32.
func MulPositive32(dst, s []float32, x []float64) {
	s, x = s[:len(dst)], x[:len(dst)]
	start := 0
	if n4 := len(dst) / 4; n4 > 0 && mulPositive32Kernel(n4, dst, s, x) {
		start = 4 * n4
	}
	for i := start; i < len(dst); i++ {
		var d float32
		if x[i] > 0 {
			d = 1
		}
		dst[i] = s[i] * d
	}
}

// DotSum32 returns Σ s[i]·x[i] and Σ s[i] in float64 (BatchNorm's block
// on float32 factor rows); x must be at least as long as s. The sums'
// order is the kernel's.
func DotSum32(s []float32, x []float64) (dot, sum float64) { return DotSum(s, x) }

// Scale32 sets s[i] *= a.
func Scale32(a float32, s []float32) {
	start := 0
	if n8 := len(s) / 8; n8 > 0 && scale32Kernel(n8, s, a) {
		start = 8 * n8
	}
	for i := start; i < len(s); i++ {
		s[i] *= a
	}
}

// DotSumScale returns Σ s[i]·x[i] and Σ s[i] in float64 and sets
// d[i] = a·s[i] (in T, a rounded to T first), for i < len(s), in one pass:
// BatchNorm's block and backward on one channel of a factor row. d may be
// s; x and d must be at least as long as s. The sums' order is the
// kernel's.
func DotSumScale[T float32 | float64](d, s []T, x []float64, a float64) (dot, sum float64) {
	x, d = x[:len(s)], d[:len(s)]
	start := 0
	if n8 := len(s) / 8; n8 > 0 {
		if dt, st, ok := dotSumScaleKernel(n8, d, s, x, a); ok {
			dot, sum, start = dt, st, 8*n8
		}
	}
	at := T(a)
	for i := start; i < len(s); i++ {
		v := s[i]
		dot += float64(v) * x[i]
		sum += float64(v)
		d[i] = at * v
	}
	return dot, sum
}

// DotSum returns Σ s[i]·x[i] and Σ s[i] in float64 for i < len(s), the
// same sums in the same order as DotSumScale; x must be at least as long
// as s.
func DotSum[T float32 | float64](s []T, x []float64) (dot, sum float64) {
	x = x[:len(s)]
	start := 0
	if n8 := len(s) / 8; n8 > 0 {
		var ok bool
		switch s := any(s).(type) {
		case []float32:
			dot, sum, ok = dotSum32Kernel(n8, s, x)
		case []float64:
			dot, sum, ok = dotSum64Kernel(n8, s, x)
		}
		if ok {
			start = 8 * n8
		}
	}
	for i := start; i < len(s); i++ {
		v := float64(s[i])
		dot += v * x[i]
		sum += v
	}
	return dot, sum
}
