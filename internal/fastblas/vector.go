// Copyright ©2026 The vivit-go Authors. All rights reserved.

package fastblas

import "math"

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
