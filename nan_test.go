package vivit_test

import (
	"math"
	"testing"
)

// TestMaxRelErrRejectsNonFinite checks that the tolerance check every
// fixture comparison uses, !(maxRelErr(got, want) <= tol), fails when got
// or want holds NaN or ±Inf, or when want is all zero.
func TestMaxRelErrRejectsNonFinite(t *testing.T) {
	want := []float64{3, -1, 2}
	if e := maxRelErr([]float64{3, -1, 2}, want); !(e <= 1e-12) {
		t.Fatalf("equal slices: error %v", e)
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		for i := range want {
			got := []float64{3, -1, 2}
			got[i] = bad
			if e := maxRelErr(got, want); e <= 1e12 {
				t.Errorf("got[%d] = %v: error %v passes a tolerance", i, bad, e)
			}
			w := []float64{3, -1, 2}
			w[i] = bad
			if e := maxRelErr([]float64{3, -1, 2}, w); e <= 1e12 {
				t.Errorf("want[%d] = %v: error %v passes a tolerance", i, bad, e)
			}
		}
	}
	if e := maxRelErr([]float64{1e-300}, []float64{0}); e <= 1e12 {
		t.Errorf("zero reference: error %v passes a tolerance", e)
	}
	if e := maxRelErr([]float64{1}, []float64{1, 2}); e <= 1e12 {
		t.Errorf("length mismatch: error %v passes a tolerance", e)
	}
}
