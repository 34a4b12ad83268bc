package scratch

import "testing"

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
