// Package numel holds the overflow-checked element count that the file
// format readers share.
package numel

import (
	"math"
	"math/bits"
)

// Of returns the product of shape, which must be non-negative, and
// whether it and its product with size (bytes per element) fit in an int.
// A zero dimension gives 0 elements, but the product of the other
// dimensions must still fit.
func Of(shape []int, size int) (int, bool) {
	n, zero := uint64(1), false
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d == 0 {
			zero = true
			continue
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt {
			return 0, false
		}
		n = lo
	}
	if hi, lo := bits.Mul64(n, uint64(size)); hi != 0 || lo > math.MaxInt {
		return 0, false
	}
	if zero {
		return 0, true
	}
	return int(n), true
}
