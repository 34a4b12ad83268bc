package bench

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

const heapMetric = "/memory/classes/heap/objects:bytes"

// PeakHeap runs f and returns the peak heap occupied by objects while it
// ran, above what was live before it started. The heap is sampled every
// millisecond (runtime/metrics, no stop-the-world), so short spikes can be
// missed; the figure is a lower bound on the true peak, accurate for
// allocations that live longer than a millisecond. Two collections
// first empty the sync.Pools (internal/scratch), whose buffers f would
// otherwise reuse without the heap growing.
func PeakHeap(f func()) (peak uint64) {
	runtime.GC()
	runtime.GC()
	sample := []metrics.Sample{{Name: heapMetric}}
	read := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	base := read()
	var mu sync.Mutex
	max := base
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				v := read()
				mu.Lock()
				if v > max {
					max = v
				}
				mu.Unlock()
			}
		}
	}()
	f()
	v := read()
	close(done)
	wg.Wait()
	if v > max {
		max = v
	}
	if max < base {
		return 0
	}
	return max - base
}
