// Package scratch recycles float64 buffers between calls.
//
// Touching fresh memory costs a page fault per 4 KiB page, which on the
// virtual machines the project measures on takes as long as a good part of
// the products that use the memory (a new 1152×1152 matrix: about 10 ms).
// Temporaries of the hot path therefore come from pools. Buffers are
// handed out with undefined contents; the pools may drop them at any
// garbage collection.
//
// There is one pool per size class, four classes per power of two, and a
// buffer is allocated at its class's size (at most 25 % above the request):
// with a single pool, a small request could take the one large buffer of a
// call and the next large request would fault in fresh memory again.
package scratch

import (
	"math/bits"
	"sync"
)

// classes per power of two: sizes 5/8, 6/8, 7/8 and 8/8 of it.
const perOctave = 4

// pools and pools32 hold *[]float64 and *[]float32 by size class.
var pools, pools32 [8 + 60*perOctave]sync.Pool

// class returns the size class of a request for n > 0 float64s and the
// class's buffer size: the smallest size of the form m·2^e with m in
// {5, 6, 7, 8} (or any size up to 8) that holds n. Classes are numbered in
// increasing order of size from 0.
func class(n int) (c, size int) {
	if n <= 8 {
		return n - 1, n
	}
	b := bits.Len(uint(n - 1)) // 2^(b-1) < n ≤ 2^b, b ≥ 4
	step := 1 << (b - 3)
	m := (n + step - 1) / step // 5…8
	return 8 + perOctave*(b-4) + m - 5, m * step
}

// Get returns a buffer of n float64s whose contents are undefined. Give it
// back with Put once it is no longer referenced.
func Get(n int) *[]float64 { return get[float64](&pools, n) }

// Put hands b back for reuse; neither b nor its contents may be used
// afterwards. Buffers that Get did not hand out are pooled in the largest
// class they hold.
func Put(b *[]float64) { put(&pools, b) }

// Get32 and Put32 are Get and Put for float32 buffers.
func Get32(n int) *[]float32 { return get[float32](&pools32, n) }

// Put32 hands back a buffer from Get32.
func Put32(b *[]float32) { put(&pools32, b) }

// GetOf and PutOf are Get and Put, or Get32 and Put32, by the element
// type, for code generic over the precision.
func GetOf[T float32 | float64](n int) *[]T { return get[T](poolsOf[T](), n) }

// PutOf hands back a buffer from GetOf.
func PutOf[T float32 | float64](b *[]T) { put(poolsOf[T](), b) }

// poolsOf returns the pools of T's buffers.
func poolsOf[T float32 | float64]() *[len(pools)]sync.Pool {
	var z T
	if _, ok := any(z).(float32); ok {
		return &pools32
	}
	return &pools
}

func get[T float32 | float64](ps *[len(pools)]sync.Pool, n int) *[]T {
	if n <= 0 {
		return new([]T)
	}
	c, size := class(n)
	if b, ok := ps[c].Get().(*[]T); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]T, n, size)
	return &b
}

func put[T float32 | float64](ps *[len(pools)]sync.Pool, b *[]T) {
	n := cap(*b)
	if n == 0 {
		return
	}
	c, size := class(n)
	if size != n {
		c-- // size > n: the class below holds requests up to less than n
	}
	if c < 0 {
		return
	}
	ps[c].Put(b)
}
