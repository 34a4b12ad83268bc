// Package scratch recycles float64 buffers between calls.
//
// Touching fresh memory costs a page fault per 4 KiB page, which on the
// virtual machines the project measures on takes as long as a good part of
// the products that use the memory (a new 1152×1152 matrix: about 10 ms).
// Temporaries of the hot path therefore come from one sync.Pool. Buffers
// are handed out with undefined contents; the pool may drop them at any
// garbage collection.
package scratch

import "sync"

var pool sync.Pool // of *[]float64

// Get returns a buffer of n float64s whose contents are undefined. Give it
// back with Put once it is no longer referenced.
func Get(n int) *[]float64 {
	if b, ok := pool.Get().(*[]float64); ok && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]float64, n)
	return &b
}

// Put hands b back for reuse; neither b nor its contents may be used
// afterwards.
func Put(b *[]float64) { pool.Put(b) }
