// Copyright ©2026 The vivit-go Authors. All rights reserved.

package fastblas

import (
	"math"

	"github.com/vivit-go/vivit/internal/par"
)

// WidenRows widens the rows × cols float32 entries of src (rows lds
// apart) into dst (rows ldd apart), rows on up to GOMAXPROCS goroutines
// (one below 2^15 entries): factor matrices are tens of megabytes.
func WidenRows(rows, cols int, dst []float64, ldd int, src []float32, lds int) {
	par.For(rows, par.ProcsFor(rows*cols), func(_, i int) {
		Widen(dst[i*ldd:i*ldd+cols], src[i*lds:i*lds+cols])
	})
}

// NarrowRows is WidenRows rounding float64 rows to float32.
func NarrowRows(rows, cols int, dst []float32, ldd int, src []float64, lds int) {
	par.For(rows, par.ProcsFor(rows*cols), func(_, i int) {
		Narrow(dst[i*ldd:i*ldd+cols], src[i*lds:i*lds+cols])
	})
}

// maxAbsGo is the portable maxAbs.
func maxAbsGo(v []float64, init float64) float64 {
	for _, x := range v {
		if a := math.Abs(x); a > init {
			init = a
		}
	}
	return init
}

// ArgMaxAbs returns the index of the entry of v of largest magnitude, the
// first one on ties, ignoring NaNs; -1 if v is empty or all NaN. It scans
// v once at memory speed (chunk maxima) and then one chunk again.
func ArgMaxAbs(v []float64) int {
	const chunk = 512
	best, bestAbs := -1, -1.0
	for c := 0; c < len(v); c += chunk {
		if m := maxAbs(v[c:min(c+chunk, len(v))], -1); m > bestAbs {
			best, bestAbs = c, m
		}
	}
	if best < 0 {
		return -1
	}
	for i, x := range v[best:] {
		if math.Abs(x) == bestAbs {
			return best + i
		}
	}
	panic("fastblas: ArgMaxAbs lost its maximum")
}

// checkRows panics unless every row idx[p] of a matrix with leading
// dimension ldb stored in lenB values has n columns inside it.
func checkRows(idx []int32, lenB, ldb, n int) {
	for _, i := range idx {
		if i < 0 || int(i)*ldb+n > lenB {
			panic("fastblas: CombRowsIdx: row index out of range")
		}
	}
}

// combRowsIdxGo is the portable CombRowsIdx (without the checks).
func combRowsIdxGo(c, a []float64, idx []int32, b []float64, ldb int) {
	clear(c)
	for p, i := range idx {
		v := a[p]
		row := b[int(i)*ldb : int(i)*ldb+len(c)]
		for j, x := range row {
			c[j] += v * x
		}
	}
}

// CountNonzero returns the number of nonzero entries of x (NaN counts),
// without a branch per entry: about half the entries of a factor behind a
// ReLU are zero, in no predictable pattern.
func CountNonzero[T float32 | float64](x []T) int {
	fast, done := countNonzeroFast(x)
	n := uint64(fast)
	switch x := any(x[done:]).(type) {
	case []float64:
		for _, v := range x {
			b := math.Float64bits(v) << 1 // ±0 → 0
			n += (b | -b) >> 63
		}
	case []float32:
		for _, v := range x {
			b := math.Float32bits(v) << 1
			n += uint64((b | -b) >> 31)
		}
	}
	return int(n)
}
