package main

import (
	"slices"
	"testing"
)

func TestParseIndices(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want []int
	}{
		{"3", 10, []int{3}},
		{"0-3,7", 10, []int{0, 1, 2, 3, 7}},
		{" 8 - 9 , 2", 10, nil}, // spaces inside a range are not an index
		{"5-5", 10, []int{5}},
		{"9,0-2", 10, []int{9, 0, 1, 2}},
		{"0-9", 10, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"0-10", 10, nil},
		{"", 10, nil},
		{"1,", 10, nil},
		{"1-", 10, nil},
		{"1-2-3", 10, nil},
	} {
		got, err := parseIndices(tc.in, tc.n)
		if tc.want == nil {
			if err == nil {
				t.Errorf("parseIndices(%q, %d) = %v, want an error", tc.in, tc.n, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseIndices(%q, %d) = %v, %v; want %v", tc.in, tc.n, got, err, tc.want)
		}
	}
}
