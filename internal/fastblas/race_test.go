//go:build race

package fastblas

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts that rely on pooled buffers do not hold under it.
const raceEnabled = true
