package scratch

import (
	"math/bits"
	"testing"
)

func TestGetPut(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 10} {
		b := Get(n)
		if len(*b) != n {
			t.Fatalf("Get(%d) has length %d", n, len(*b))
		}
		for i := range *b {
			(*b)[i] = float64(i)
		}
		Put(b)
	}
	// A recycled buffer is long enough whatever it held before.
	b := Get(5000)
	if len(*b) != 5000 || cap(*b) < 5000 {
		t.Fatalf("Get(5000): len %d cap %d", len(*b), cap(*b))
	}
}

// TestClass checks the size classes on every n up to 1<<16 and around
// large powers of two: the class holds n, wastes at most 25 % (beyond 8),
// and classes are numbered contiguously in increasing size (so each is
// the smallest that holds n).
func TestClass(t *testing.T) {
	prevC, prevSize := -1, 0
	check := func(n int) {
		c, size := class(n)
		if size < n {
			t.Fatalf("class(%d) = %d, %d: too small", n, c, size)
		}
		if n > 8 && 4*size > 5*n {
			t.Fatalf("class(%d) = %d, %d: wastes more than 25 %%", n, c, size)
		}
		if c < 0 || c >= len(pools) {
			t.Fatalf("class(%d) = %d out of range", n, c)
		}
		if cs, ss := class(size); cs != c || ss != size {
			t.Fatalf("class(%d) = %d, %d but class(%d) = %d, %d", n, c, size, size, cs, ss)
		}
		if prevC >= 0 && (c < prevC || c > prevC+1 || (c == prevC) != (size == prevSize)) {
			t.Fatalf("class(%d) = %d, %d after class %d, %d: not contiguous", n, c, size, prevC, prevSize)
		}
		prevC, prevSize = c, size
	}
	for n := 1; n <= 1<<16; n++ {
		check(n)
	}
	for _, p := range []int{20, 30, 40, bits.UintSize - 2} {
		if p > bits.UintSize-2 {
			continue // beyond int on 32-bit platforms
		}
		prevC = -1
		for n := 1<<p - 3; n <= 1<<p+3; n++ {
			check(n)
		}
	}
}

// TestPutForeign pools a buffer of a size Get never hands out in the class
// below, where every request fits it.
func TestPutForeign(t *testing.T) {
	const n = 1001 // class sizes around it: 896, 1024
	b := make([]float64, n)
	b[0] = 42
	Put(&b)
	c, size := class(n)
	if size == n {
		t.Fatalf("test needs a size between classes")
	}
	got, ok := pools[c-1].Get().(*[]float64)
	if !ok {
		t.Skip("the pool dropped the buffer (garbage collection)")
	}
	if cap(*got) != n || (*got)[:1][0] != 42 {
		t.Fatalf("pooled %d floats, want the %d put", cap(*got), n)
	}
}

// TestGet32 checks the float32 pools: lengths, and that they never hand
// out a float64 buffer's class to a float32 request or the reverse.
func TestGet32(t *testing.T) {
	for _, n := range []int{0, 1, 9, 1000} {
		b := Get32(n)
		if len(*b) != n {
			t.Fatalf("Get32(%d) has length %d", n, len(*b))
		}
		Put32(b)
		Put(Get(n))
	}
	if b := Get32(1000); len(*b) != 1000 || cap(*b) < 1000 {
		t.Fatalf("Get32(1000): len %d cap %d", len(*b), cap(*b))
	}
}

// TestGetOf checks that GetOf and PutOf use the pools of their element
// type: a float32 buffer PutOf hands back is found in the float32 pool, a
// float64 one in the float64 pool.
func TestGetOf(t *testing.T) {
	const n = 1000
	b32, b64 := GetOf[float32](n), GetOf[float64](n)
	if len(*b32) != n || len(*b64) != n {
		t.Fatalf("GetOf(%d): lengths %d and %d", n, len(*b32), len(*b64))
	}
	(*b32)[0], (*b64)[0] = 32, 64
	PutOf(b32)
	PutOf(b64)
	c, _ := class(cap(*b32))
	got32, ok32 := pools32[c].Get().(*[]float32)
	got64, ok64 := pools[c].Get().(*[]float64)
	if !ok32 || !ok64 {
		t.Skip("a pool dropped its buffer (garbage collection)")
	}
	if (*got32)[:1][0] != 32 || (*got64)[:1][0] != 64 {
		t.Fatalf("pooled %v and %v, want the buffers put", (*got32)[:1], (*got64)[:1])
	}
}
