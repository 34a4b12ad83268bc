package main

import (
	"math"
	"testing"
)

// TestRelCloseRejectsNonFinite checks that relClose, the tolerance check
// of this package's tests, is false when either value is NaN or ±Inf.
func TestRelCloseRejectsNonFinite(t *testing.T) {
	if !relClose(1+1e-13, 1, 1e-12) {
		t.Fatal("relClose(1+1e-13, 1, 1e-12) is false")
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if relClose(bad, 1, 1e12) || relClose(1, bad, 1e12) || relClose(bad, bad, 1e12) {
			t.Errorf("relClose accepts %v", bad)
		}
	}
}
