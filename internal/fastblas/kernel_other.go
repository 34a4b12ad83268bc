// Copyright ©2025 The vivit-go Authors. All rights reserved.

//go:build !amd64 || purego

package fastblas

// haveAsm is false on architectures without an assembly micro-kernel; the
// Implementation then delegates everything to gonum.
var haveAsm = false

func microKernel(kc int, a, b, c []float64, ldc int, alpha, beta float64) {
	kern6x8Go(kc, a, b, c, ldc, alpha, beta)
}

func packTransposeFast(dst, src []float64, base, ld, kk, rows int) int { return 0 }
