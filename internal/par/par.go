// Package par runs loops of independent tasks on the machine's cores.
//
// For runs f(worker, i) for i = 0, …, n−1. The calling goroutine always
// takes part, so For never waits for a helper to become free, and nested or
// concurrent calls are safe (they just get fewer helpers). Helpers are
// long-lived goroutines, one per extra P. After a loop they keep checking
// for the next one for a short while (Spin) before they park: on virtual
// machines, waking a parked core costs about 150 µs, which is as long as a
// Lanczos step's product with the Gram matrix (measured: 0.39 ms per
// product with 300 µs of serial work between products, 0.23 ms back to
// back). Spinning helpers yield their P at every turn, so other goroutines
// still run. Only as many helpers spin as the machine has other cores
// (runtime.NumCPU − 1); the rest park at once: with GOMAXPROCS above the
// core count, helpers spinning on the threads of the extra Ps took CPU time
// from the next loop's work (ResNet-8 at GOMAXPROCS 8 on two cores: 1.6×
// the time at 2, 1.2× with only the first helper spinning).
//
// Tasks must be independent; each i is run exactly once, on one worker.
// Worker ids are in [0, procs) and unique among the goroutines running one
// loop, so callers can index per-worker scratch by them. Which worker runs
// which task is not deterministic; results must not depend on it.
package par

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Spin is how long an idle helper keeps looking for the next loop before it
// parks.
const Spin = time.Millisecond

type loop struct {
	f         func(worker, i int)
	n         int64
	procs     int
	next      atomic.Int64
	remaining atomic.Int64
	done      chan struct{}
}

// run takes tasks until there are none left.
func (l *loop) run(worker int) {
	for {
		i := l.next.Add(1) - 1
		if i >= l.n {
			return
		}
		l.f(worker, int(i))
		if l.remaining.Add(-1) == 0 {
			close(l.done)
		}
	}
}

type helper struct {
	id   int
	spin time.Duration // how long it looks for the next loop before it parks: Spin, or 0 past the cores
	wake chan struct{}
}

var (
	current atomic.Pointer[loop] // the loop helpers should join
	mu      sync.Mutex           // guards helpers
	helpers []*helper
)

// ensureHelpers starts helpers up to count.
func ensureHelpers(count int) []*helper {
	mu.Lock()
	defer mu.Unlock()
	for len(helpers) < count {
		h := &helper{id: len(helpers) + 1, wake: make(chan struct{}, 1)}
		if h.id < runtime.NumCPU() {
			h.spin = Spin
		}
		helpers = append(helpers, h)
		go h.serve()
	}
	return helpers[:count]
}

func (h *helper) serve() {
	var last *loop
	for {
		l := current.Load()
		if l == nil || l == last {
			// Nothing new: spin a little, then park until woken.
			deadline := time.Now().Add(h.spin)
			for {
				runtime.Gosched()
				if l = current.Load(); l != nil && l != last {
					break
				}
				if time.Now().After(deadline) {
					<-h.wake
					l = current.Load()
					break
				}
			}
			if l == nil || l == last {
				continue
			}
		}
		last = l
		if h.id < l.procs {
			l.run(h.id)
		}
	}
}

// ProcsFor returns the goroutines a loop of work cheap units (entries
// streamed, multiply-adds) is worth: GOMAXPROCS, or 1 below 2^15 units,
// where waking the helpers costs more than they save.
func ProcsFor(work int) int {
	if work < 1<<15 {
		return 1
	}
	return runtime.GOMAXPROCS(0)
}

// For runs f(worker, i) for every i in [0, n) on up to procs goroutines,
// the caller's included (worker 0), and returns when all have finished.
// procs ≤ 1 or n ≤ 1 runs everything on the caller.
func For(n, procs int, f func(worker, i int)) {
	procs = min(procs, n)
	if procs <= 1 {
		for i := 0; i < n; i++ {
			f(0, i)
		}
		return
	}
	l := &loop{f: f, n: int64(n), procs: procs, done: make(chan struct{})}
	l.remaining.Store(int64(n))
	current.Store(l)
	for _, h := range ensureHelpers(procs - 1) {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
	l.run(0)
	<-l.done
	current.CompareAndSwap(l, nil)
}

// Procs returns GOMAXPROCS, the default number of goroutines of a loop.
func Procs() int { return runtime.GOMAXPROCS(0) }
