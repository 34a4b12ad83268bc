//go:build race

package lowrank

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts that rely on recycled buffers do not hold under it.
const raceEnabled = true
