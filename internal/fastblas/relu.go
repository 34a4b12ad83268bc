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
