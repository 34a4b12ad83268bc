// Copyright ©2025 The vivit-go Authors. All rights reserved.

package fastblas

// kern6x8Go is the portable reference for the assembly micro-kernel. It
// performs the same operations in the same order except that it does not
// fuse multiply-adds.
func kern6x8Go(kc int, a, b, c []float64, ldc int, alpha, beta float64) {
	var acc [mr][nr]float64
	a = a[:kc*mr]
	b = b[:kc*nr]
	for p := 0; p < kc; p++ {
		ap := a[p*mr : p*mr+mr : p*mr+mr]
		bp := b[p*nr : p*nr+nr : p*nr+nr]
		for r := 0; r < mr; r++ {
			ar := ap[r]
			row := &acc[r]
			for j := 0; j < nr; j++ {
				row[j] += ar * bp[j]
			}
		}
	}
	for r := 0; r < mr; r++ {
		cr := c[r*ldc : r*ldc+nr : r*ldc+nr]
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
