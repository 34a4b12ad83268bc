//go:build !openblas

package gram

// Pure-Go gonum Dgemm runs near its peak on 64-row tiles, and the tiles
// themselves are spread over the cores.
const (
	blockRows     = 64
	parallelTiles = true
)
