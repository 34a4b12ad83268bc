package par

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFor checks that every task runs exactly once, on a worker id below
// procs, for loop sizes and worker counts around the edge cases, including
// loops run back to back after the helpers have parked.
func TestFor(t *testing.T) {
	for _, procs := range []int{0, 1, 2, 3, 8} {
		for _, n := range []int{0, 1, 2, 7, 100, 1000} {
			counts := make([]atomic.Int32, n)
			var bad atomic.Int32
			For(n, procs, func(w, i int) {
				if w < 0 || w >= max(procs, 1) {
					bad.Add(1)
				}
				counts[i].Add(1)
			})
			if bad.Load() != 0 {
				t.Fatalf("procs=%d n=%d: worker id out of range", procs, n)
			}
			for i := range counts {
				if c := counts[i].Load(); c != 1 {
					t.Fatalf("procs=%d n=%d: task %d ran %d times", procs, n, i, c)
				}
			}
		}
	}
	time.Sleep(2 * Spin) // the helpers park
	var sum atomic.Int64
	For(100, 4, func(_, i int) { sum.Add(int64(i)) })
	if sum.Load() != 4950 {
		t.Fatalf("after parking: sum %d, want 4950", sum.Load())
	}
}

// TestForConcurrentAndNested runs loops from many goroutines at once, and
// loops inside loops: each must still run all its tasks, and worker ids
// must be unique among the goroutines of one loop.
func TestForConcurrentAndNested(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				var total atomic.Int64
				busy := make([]atomic.Int32, 4)
				For(40, 4, func(w, i int) {
					if busy[w].Add(1) != 1 {
						t.Error("two goroutines share a worker id")
					}
					var inner atomic.Int64
					For(10, 2, func(_, j int) { inner.Add(int64(j)) })
					total.Add(inner.Load())
					busy[w].Add(-1)
				})
				if total.Load() != 40*45 {
					t.Errorf("total %d, want %d", total.Load(), 40*45)
				}
			}
		}()
	}
	wg.Wait()
}

// TestHelpersSpinOnIdleCores checks that only the helpers that can have a
// core of their own (ids below runtime.NumCPU) spin after a loop, however
// many helpers GOMAXPROCS asks for, and that a loop run by more helpers
// than cores still runs every task once.
func TestHelpersSpinOnIdleCores(t *testing.T) {
	count := runtime.NumCPU() + 3
	var ran atomic.Int64
	For(4*count, count+1, func(_, _ int) { ran.Add(1) })
	if got := ran.Load(); got != int64(4*count) {
		t.Fatalf("ran %d tasks, want %d", got, 4*count)
	}
	hs := ensureHelpers(count)
	for _, h := range hs {
		want := time.Duration(0)
		if h.id < runtime.NumCPU() {
			want = Spin
		}
		if h.spin != want {
			t.Errorf("helper %d (NumCPU %d): spins %v, want %v", h.id, runtime.NumCPU(), h.spin, want)
		}
	}
}
