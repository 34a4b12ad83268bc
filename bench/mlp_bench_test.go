package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/vivit-go/vivit"
)

// mlpCases are the MLPs of the performance targets (issue 2 and 4).
var mlpCases = []struct {
	name  string
	sizes []int
	n     int
}{
	{"mlp-64-128x3-10/N=128", []int{64, 128, 128, 128, 10}, 128},
	{"mlp-784-512-512-10/N=128", []int{784, 512, 512, 10}, 128},
}

// gradientTime returns the mean time of one forward+backward gradient pass.
func gradientTime(b *testing.B, m *vivit.Model, batch *vivit.Batch) time.Duration {
	const reps = 20
	t0 := time.Now()
	for i := 0; i < reps; i++ {
		if _, _, err := vivit.Gradient(m, batch); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(t0) / reps
}

func reportStages(b *testing.B, sum vivit.Timing, grad time.Duration) {
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / n }
	b.ReportMetric(ms(sum.Backprop), "ms-backprop")
	b.ReportMetric(ms(sum.Gram), "ms-gram")
	b.ReportMetric(ms(sum.Eigen), "ms-eigen")
	b.ReportMetric(ms(sum.MapBack), "ms-mapback")
	b.ReportMetric(ms(sum.Directional), "ms-directional")
	b.ReportMetric(float64(sum.Total())/n/float64(grad), "x-grad")
}

func addTiming(a *vivit.Timing, t vivit.Timing) {
	a.Forward += t.Forward
	a.Backprop += t.Backprop
	a.Gram += t.Gram
	a.Eigen += t.Eigen
	a.MapBack += t.MapBack
	a.Directional += t.Directional
}

func BenchmarkGradient(b *testing.B) {
	for _, c := range mlpCases {
		b.Run(c.name, func(b *testing.B) {
			m, batch, err := MLP(c.sizes, "relu", c.n, 1)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := vivit.Gradient(m, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchStages runs one engine call per iteration on m and batch, reports
// its stage times and its multiple of a gradient pass, and returns the
// summed stage times.
func benchStages(b *testing.B, m *vivit.Model, batch *vivit.Batch, run func(*vivit.Model, *vivit.Batch) (vivit.Timing, error)) vivit.Timing {
	grad := gradientTime(b, m, batch)
	var sum vivit.Timing
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t, err := run(m, batch)
		if err != nil {
			b.Fatal(err)
		}
		addTiming(&sum, t)
	}
	reportStages(b, sum, grad)
	return sum
}

// benchMLP is benchStages on a fresh ReLU MLP with the given layer sizes
// and a random batch of n samples.
func benchMLP(b *testing.B, sizes []int, n int, run func(*vivit.Model, *vivit.Batch) (vivit.Timing, error)) {
	m, batch, err := MLP(sizes, "relu", n, 1)
	if err != nil {
		b.Fatal(err)
	}
	benchStages(b, m, batch, run)
}

// curvatureName names a case by its curvature: base/exact, or base/mc=M
// with M Monte-Carlo samples.
func curvatureName(base string, mc int) string {
	if mc > 0 {
		return fmt.Sprintf("%s/mc=%d", base, mc)
	}
	return base + "/exact"
}

// topEigenRun is the engine call of the top-10 benchmarks, with mc
// Monte-Carlo samples (0: exact).
func topEigenRun(mc int) func(*vivit.Model, *vivit.Batch) (vivit.Timing, error) {
	return func(m *vivit.Model, batch *vivit.Batch) (vivit.Timing, error) {
		res, err := vivit.TopEigen(m, batch, 10, &vivit.Options{MCSamples: mc})
		if err != nil {
			return vivit.Timing{}, err
		}
		return res.Timing, nil
	}
}

func BenchmarkTopEigen(b *testing.B) {
	for _, c := range mlpCases {
		for _, mc := range []int{0, 1} {
			b.Run(curvatureName(c.name, mc)+"/k=10", func(b *testing.B) {
				benchMLP(b, c.sizes, c.n, topEigenRun(mc))
			})
		}
	}
}

func BenchmarkDirectional(b *testing.B) {
	for _, c := range mlpCases {
		b.Run(c.name+"/exact/k=10", func(b *testing.B) {
			benchMLP(b, c.sizes, c.n, func(m *vivit.Model, batch *vivit.Batch) (vivit.Timing, error) {
				res, err := vivit.Directional(m, batch, 10, nil)
				if err != nil {
					return vivit.Timing{}, err
				}
				return res.Timing, nil
			})
		})
	}
}

// BenchmarkStats reports ComputeStats (exact and MC diagonal GGN) as a
// multiple of one gradient pass (issue 8's cost targets: about C+2 and 3).
func BenchmarkStats(b *testing.B) {
	for _, c := range mlpCases {
		for _, mc := range []int{0, 1} {
			b.Run(curvatureName(c.name, mc), func(b *testing.B) {
				benchMLP(b, c.sizes, c.n, func(m *vivit.Model, batch *vivit.Batch) (vivit.Timing, error) {
					st, err := vivit.ComputeStats(m, batch, &vivit.Options{MCSamples: mc})
					if err != nil {
						return vivit.Timing{}, err
					}
					return st.Timing, nil
				})
			})
		}
	}
}
