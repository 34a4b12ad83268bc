// Copyright ©2025 The vivit-go Authors. All rights reserved.

package fastblas

// Kernels names the micro-kernels the products run on this CPU:
// "AVX-512", "AVX2/FMA" or, without the assembly kernels (other CPUs and
// architectures, the purego tag), "portable Go".
func Kernels() string {
	switch {
	case haveAVX512:
		return "AVX-512"
	case haveAsm:
		return "AVX2/FMA"
	}
	return "portable Go"
}

// kern6x8Go is the portable reference for the float64 assembly
// micro-kernel, kern6x16Go for the float32 one. They perform the same
// operations in the same order except that they do not fuse multiply-adds.
func kern6x8Go(kc int, a, b, c []float64, ldc int, alpha, beta float64) {
	kernGo(kc, nr, a, b, c, ldc, alpha, beta)
}

func kern6x16Go(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	kernGo(kc, nr32, a, b, c, ldc, alpha, beta)
}

// kernGo is the mr×w micro-kernel for B panels of width w ≤ nr32.
func kernGo[T element](kc, w int, a, b, c []T, ldc int, alpha, beta T) {
	var acc [mr][nr32]T
	a = a[:kc*mr]
	b = b[:kc*w]
	for p := 0; p < kc; p++ {
		ap := a[p*mr : p*mr+mr : p*mr+mr]
		bp := b[p*w : p*w+w : p*w+w]
		for r := 0; r < mr; r++ {
			ar := ap[r]
			row := acc[r][:w]
			for j, v := range bp {
				row[j] += ar * v
			}
		}
	}
	for r := 0; r < mr; r++ {
		cr := c[r*ldc : r*ldc+w : r*ldc+w]
		if beta == 0 {
			for j := range cr {
				cr[j] = alpha * acc[r][j]
			}
		} else {
			for j := range cr {
				cr[j] = alpha*acc[r][j] + beta*cr[j]
			}
		}
	}
}

// dot2x6Go is the portable reference for dot2x6: it adds the same
// lane-wise partial sums, without fused multiply-adds.
func dot2x6Go[T element](n4 int, a0, a1 []float64, b *[6][]T, acc *[48]float64) {
	a := [2][]float64{a0, a1}
	for r := range 6 {
		for i := range 2 {
			s := acc[(r*2+i)*4 : (r*2+i)*4+4]
			for p := 0; p < 4*n4; p++ {
				s[p%4] += a[i][p] * float64(b[r][p])
			}
		}
	}
}

// axpy2x16Go is the portable reference for axpy2x16.
func axpy2x16Go[T element](k int, a0, a1 []float64, b []T, ldb int, acc *[32]float64) {
	*acc = [32]float64{}
	for p := 0; p < k; p++ {
		row := b[p*ldb : p*ldb+16]
		for j, v := range row {
			acc[j] += a0[p] * float64(v)
			acc[16+j] += a1[p] * float64(v)
		}
	}
}

// combRowsGo is the portable CombRows.
func combRowsGo(c, a, b []float64, ldb int) {
	clear(c)
	for p, ap := range a {
		row := b[p*ldb : p*ldb+len(c)]
		for j, v := range row {
			c[j] += ap * v
		}
	}
}
