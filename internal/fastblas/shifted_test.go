// Copyright ©2025 The vivit-go Authors. All rights reserved.

package fastblas

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestShifted checks Shifted.Block against the sum it defines, in both
// element types, for row counts around the panel height (partial panels),
// k around the kernel's unrolling, and repeated offsets.
func TestShifted(t *testing.T) {
	bothKernels(func(bool) {
		for _, w := range ShiftedWidths[float64]() {
			testShifted[float64](t, w, 1e-14)
		}
		for _, w := range ShiftedWidths[float32]() {
			testShifted[float32](t, w, 1e-5)
		}
	})
}

func testShifted[T element](t *testing.T, width int, tol float64) {
	rng := rand.New(rand.NewPCG(3, 7))
	for _, m := range []int{1, 5, 6, 7, 16, 64} {
		for _, k := range []int{1, 3, 4, 5, 9, 17, 144} {
			lda := k + 2
			a := make([]T, m*lda)
			for i := range a {
				a[i] = T(rng.NormFloat64())
			}
			offs := make([]int32, k)
			for p := range offs {
				offs[p] = int32(rng.IntN(40))
			}
			s := NewShifted(m, k, a, lda, offs, width)
			w := s.Width()
			if w != width {
				t.Fatalf("width %d, want %d", w, width)
			}
			x := make([]T, s.Span()+w-1)
			for i := range x {
				x[i] = T(rng.NormFloat64())
			}
			ldc := w + 3
			c := make([]T, m*ldc)
			for i := range c {
				c[i] = T(math.NaN())
			}
			s.Block(c, ldc, x)
			for r := 0; r < m; r++ {
				for j := 0; j < ldc; j++ {
					got := float64(c[r*ldc+j])
					if j >= w {
						if !math.IsNaN(got) {
							t.Fatalf("m=%d k=%d: c[%d,%d] = %g written outside the block", m, k, r, j, got)
						}
						continue
					}
					var want, mag float64
					for p := 0; p < k; p++ {
						v := float64(a[r*lda+p]) * float64(x[int(offs[p])+j])
						want += v
						mag += math.Abs(v)
					}
					if !(math.Abs(got-want) <= tol*mag) {
						t.Fatalf("%T m=%d k=%d: c[%d,%d] = %g, want %g", a[0], m, k, r, j, got, want)
					}
				}
			}
		}
	}
}

// TestShiftedPanics checks the argument checks of NewShifted and Block.
func TestShiftedPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	a := make([]float64, 6)
	mustPanic("short offsets", func() { NewShifted(2, 3, a, 3, []int32{0, 1}, 8) })
	mustPanic("negative offset", func() { NewShifted(2, 3, a, 3, []int32{0, -1, 2}, 8) })
	mustPanic("short a", func() { NewShifted(3, 3, a, 3, []int32{0, 1, 2}, 8) })
	mustPanic("float64 width 32", func() { NewShifted(2, 3, a, 3, []int32{0, 1, 2}, 32) })
	s := NewShifted(2, 3, a, 3, []int32{0, 1, 5}, 8)
	mustPanic("short x", func() { s.Block(make([]float64, 16), 8, make([]float64, 12)) })
	mustPanic("short c", func() { s.Block(make([]float64, 15), 8, make([]float64, 13)) })
}
