//go:build openblas

package gram

// OpenBLAS threads each product itself: fewer, taller tiles, one at a time.
const (
	blockRows     = 384
	parallelTiles = false
)
