package numel

import (
	"math"
	"testing"
)

func TestElements(t *testing.T) {
	for _, tc := range []struct {
		shape []int
		size  int
		n     int
		ok    bool
	}{
		{nil, 8, 1, true},
		{[]int{3, 4}, 8, 12, true},
		{[]int{0, 5}, 4, 0, true},
		{[]int{-1}, 8, 0, false},
		{[]int{1 << 16, 1 << 16, 1 << 16, 1 << 16}, 1, 0, false},
		{[]int{math.MaxInt, 0, math.MaxInt}, 1, 0, false},
		{[]int{math.MaxInt / 2, 2}, 1, math.MaxInt - 1, true},
		{[]int{math.MaxInt/2 + 1, 2}, 1, 0, false},
		{[]int{math.MaxInt / 4}, 8, 0, false},
		{[]int{math.MaxInt / 8}, 8, math.MaxInt / 8, true},
	} {
		n, ok := Of(tc.shape, tc.size)
		if n != tc.n || ok != tc.ok {
			t.Errorf("Of(%v, %d) = %d, %v; want %d, %v", tc.shape, tc.size, n, ok, tc.n, tc.ok)
		}
	}
}
