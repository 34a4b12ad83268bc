// Copyright ©2026 The vivit-go Authors. All rights reserved.

package fastblas

import (
	"math"
	"math/rand/v2"
	"testing"
)

// argMaxAbsRef is the definition: the first index of largest |v_i|,
// NaNs ignored, -1 if there is none.
func argMaxAbsRef(v []float64) int {
	best, bestAbs := -1, -1.0
	for i, x := range v {
		if a := math.Abs(x); a > bestAbs {
			best, bestAbs = i, a
		}
	}
	return best
}

func TestArgMaxAbs(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, c := range []struct {
		v    []float64
		want int
	}{
		{nil, -1},
		{[]float64{nan}, -1},
		{[]float64{nan, nan, nan}, -1},
		{[]float64{0}, 0},
		{[]float64{math.Copysign(0, -1), 0}, 0},
		{[]float64{1, -2, 2}, 1},
		{[]float64{nan, -3, 3, nan}, 1},
		{[]float64{1, -inf, inf}, 1},
	} {
		bothKernels(func(asm bool) {
			if got := ArgMaxAbs(c.v); got != c.want {
				t.Errorf("asm=%v ArgMaxAbs(%v) = %d, want %d", asm, c.v, got, c.want)
			}
		})
	}

	// Random vectors around the 16-element and 512-element steps, with the
	// maximum planted twice (first copy wins) and NaNs sprinkled in.
	rnd := rand.New(rand.NewPCG(45, 46))
	for _, n := range []int{1, 15, 16, 17, 33, 511, 512, 513, 1024, 1500, 4099} {
		for trial := 0; trial < 8; trial++ {
			v := make([]float64, n)
			for i := range v {
				v[i] = rnd.NormFloat64()
			}
			if trial%2 == 1 {
				i, j := rnd.IntN(n), rnd.IntN(n)
				v[i], v[j] = 10, -10
			}
			if trial >= 4 {
				for range 3 {
					v[rnd.IntN(n)] = nan
				}
			}
			want := argMaxAbsRef(v)
			bothKernels(func(asm bool) {
				if got := ArgMaxAbs(v); got != want {
					t.Fatalf("asm=%v n=%d trial %d: ArgMaxAbs = %d, want %d", asm, n, trial, got, want)
				}
			})
		}
	}
}

func BenchmarkArgMaxAbs(b *testing.B) {
	rnd := rand.New(rand.NewPCG(47, 48))
	v := make([]float64, 1<<16)
	for i := range v {
		v[i] = rnd.NormFloat64()
	}
	b.SetBytes(int64(8 * len(v)))
	for range b.N {
		ArgMaxAbs(v)
	}
}
