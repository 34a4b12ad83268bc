package bench

import (
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/jacobians"
	"github.com/vivit-go/vivit/lowrank"
)

func Test3C3DParams(t *testing.T) {
	m, b, err := ThreeC3D(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.NumParams(); got != 895210 {
		t.Errorf("NumParams = %d, want 895,210", got)
	}
	if got := m.Nodes[len(m.Nodes)-1].Op.OutShape(); len(got) != 1 || got[0] != 10 {
		t.Errorf("output shape %v", got)
	}
	if b.Len() != 2 {
		t.Errorf("batch of %d", b.Len())
	}
}

// Benchmark3C3D times exact and Monte-Carlo (M=1) top-10 eigenpairs of the
// 3c3d network on 32 CIFAR-sized samples, stage by stage, with the Gram
// stage's share of the total and the run as a multiple of a gradient pass.
func Benchmark3C3D(b *testing.B) {
	const n = 32
	for _, mc := range []int{0, 1} {
		b.Run(curvatureName("3c3d/N=32", mc)+"/k=10", func(b *testing.B) {
			m, batch, err := ThreeC3D(n, 1)
			if err != nil {
				b.Fatal(err)
			}
			sum := benchStages(b, m, batch, topEigenRun(mc))
			b.ReportMetric(float64(sum.Forward.Microseconds())/1000/float64(b.N), "ms-forward")
			b.ReportMetric(float64(sum.Gram)/float64(sum.Total()), "gram-share")
		})
	}
}

// conv3c3dMemory is set by -conv3c3d.memory: the reports below run only
// when asked for (they take minutes).
var conv3c3dMemory = flag.Bool("conv3c3d.memory", false, "report the 3c3d peak memory, the largest batch within 2 GiB and the conv route calibration")

// heapNow returns the bytes of heap objects (live and not yet collected).
func heapNow() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// Test3C3DMemory reports, for the 3c3d network, the peak heap of exact and
// Monte-Carlo (M=1) top-10 runs against the size of the whole factor V,
// and the largest batch whose run keeps the heap within 2 GiB. The heap is
// sampled every millisecond (PeakHeap) and counted in absolute terms
// (model, batch and all), under a 2 GiB soft memory limit so that the
// collector works to stay below it, with Options.MemoryBudget = 256 MiB
// (VIVIT_BUDGET overrides, in bytes). VIVIT_MAXN=0 skips the search for
// the largest batch. Run it with
//
//	go test ./bench -run Test3C3DMemory -v -timeout 3h -args -conv3c3d.memory
func Test3C3DMemory(t *testing.T) {
	if !*conv3c3dMemory {
		t.Skip("run with -conv3c3d.memory")
	}
	budget := int64(256 << 20)
	if s := os.Getenv("VIVIT_BUDGET"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		budget = v
	}
	const limit = 2 << 30
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(limit))
	for _, mc := range []int{0, 1} {
		run := func(n int) (peak uint64, secs float64, res *vivit.Result) {
			m, b, err := ThreeC3D(n, 1)
			if err != nil {
				t.Fatal(err)
			}
			runtime.GC()
			base := heapNow()
			t0 := time.Now()
			peak = base + PeakHeap(func() { res, err = vivit.TopEigen(m, b, 10, &vivit.Options{MCSamples: mc, MemoryBudget: budget}) })
			if err != nil {
				t.Fatal(err)
			}
			return peak, time.Since(t0).Seconds(), res
		}
		peak, secs, res := run(32)
		full := float64(res.NumParams) * float64(32*res.Columns) * 8
		full10 := float64(res.NumParams) * float64(32*max(mc, 10)) * 8
		t.Logf("mc=%d N=32: %.1f s, peak heap %.0f MiB; the whole V (%d columns per sample) would take %.0f MiB (%.1f× the peak; %.0f MiB with C=10 columns); stages %v",
			mc, secs, mb(peak), res.Columns, full/(1<<20), full/float64(peak), full10/(1<<20), res.Timing)
		// With a collector ten times as eager the peak approaches the live
		// working set.
		old := debug.SetGCPercent(10)
		peak, _, _ = run(32)
		debug.SetGCPercent(old)
		t.Logf("mc=%d N=32 with GOGC=10: peak heap %.0f MiB (%.1f× below the whole V)", mc, mb(peak), full/float64(peak))
		if os.Getenv("VIVIT_MAXN") == "0" {
			continue
		}
		// Largest N within the limit: doubling, then bisection to 1/16.
		lo, hi := 32, 0
		for n := 64; hi == 0; n *= 2 {
			peak, secs, _ := run(n)
			t.Logf("mc=%d N=%d: peak %.0f MiB, %.1f s", mc, n, mb(peak), secs)
			if peak > limit {
				hi = n
			} else {
				lo = n
			}
		}
		for hi-lo > max(8, lo/16) {
			n := (lo + hi) / 2
			peak, secs, _ := run(n)
			t.Logf("mc=%d N=%d: peak %.0f MiB, %.1f s", mc, n, mb(peak), secs)
			if peak > limit {
				hi = n
			} else {
				lo = n
			}
		}
		t.Logf("mc=%d: largest N within 2 GiB (budget %d MiB): %d; N=%d exceeds it", mc, budget>>20, lo, hi)
	}
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// Test3C3DConvRoutes reports the Gram route the cost model picks for each
// conv layer of 3c3d, its cost estimates and the measured time of both
// routes (the calibration data of the cost model; skipped unless
// -conv3c3d.memory).
func Test3C3DConvRoutes(t *testing.T) {
	if !*conv3c3dMemory {
		t.Skip("run with -conv3c3d.memory")
	}
	for _, mc := range []int{0, 1} {
		m, b, err := ThreeC3D(32, 1)
		if err != nil {
			t.Fatal(err)
		}
		acts := m.Forward(b.Inputs)
		z := acts[len(acts)-1]
		n, c := z.Dims()
		w := math.Sqrt(m.Loss.Weight(n))
		cols := m.Loss.ReducedCols(c)
		var s *mat.Dense
		if mc > 0 {
			cols = mc
			ids := make([]int, n)
			for i := range ids {
				ids[i] = i
			}
			s = mat.NewDense(n*cols, c, nil)
			m.Loss.SampleSqrtHessianTo(s, z, mc, 1, ids, w)
		} else {
			s = mat.NewDense(n*cols, c, nil)
			m.Loss.ReducedSqrtHessianTo(s, z, w)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		u := mat.NewDense(10, n*cols, nil)
		for i := range u.RawMatrix().Data {
			u.RawMatrix().Data[i] = rng.NormFloat64()
		}
		best := func(f func()) time.Duration {
			d := time.Duration(math.MaxInt64)
			for i := 0; i < 3; i++ {
				t0 := time.Now()
				f()
				d = min(d, time.Since(t0))
			}
			return d.Round(time.Millisecond)
		}
		for _, lf := range jacobians.Backprop(m, acts, s, cols) {
			f, ok := lf.Factor.(*lowrank.Conv)
			if !ok {
				continue
			}
			route, ce, ck := f.GramRouteFor(f)
			var gram, mul [3]time.Duration
			for _, r := range []lowrank.GramRoute{lowrank.RouteAuto, lowrank.RouteExplicit, lowrank.RouteKernel} {
				f.Route = r
				g := mat.NewSymDense(f.Cols(), nil)
				gram[r] = best(func() { f.AddGramTo(g) })
				dst := mat.NewDense(10, f.Dim(), nil)
				mul[r] = best(func() { f.MulTo(dst, u) })
			}
			f.Route = lowrank.RouteAuto
			t.Logf("mc=%d layer %d (P=%d K=%d out=%d, %d cols/sample, density %.3f): Gram picks %v (estimated explicit %.3g, kernel %.3g); Gram time auto %v, explicit %v, kernel %v; MulTo of 10 vectors auto %v, explicit %v, aggregated %v",
				mc, lf.Node, f.G.P(), f.G.K(), f.G.OutC, cols, f.Density(), route, ce, ck, gram[0], gram[1], gram[2], mul[0], mul[1], mul[2])
		}
	}
}
