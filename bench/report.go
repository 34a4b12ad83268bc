package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"text/tabwriter"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/internal/backend"
	"github.com/vivit-go/vivit/model"
)

// Case is one benchmark network and batch.
type Case struct {
	Name  string
	Model *vivit.Model
	Batch *vivit.Batch
	K     int
	Opts  vivit.Options
	// Directional runs vivit.Directional instead of TopEigen.
	Directional bool
}

// MLPCases returns the MLP cases of the performance targets, exact (in
// float64 and with Options.Precision float32, top-k and directional) and
// Monte-Carlo (M=1), N=128, k=10.
func MLPCases() ([]Case, error) {
	var cs []Case
	for _, c := range []struct {
		name  string
		sizes []int
	}{{"mlp-64-128x3-10", []int{64, 128, 128, 128, 10}}, {"mlp-784-512-512-10", []int{784, 512, 512, 10}}} {
		m, b, err := MLP(c.sizes, "relu", 128, 1)
		if err != nil {
			return nil, err
		}
		cs = append(cs,
			Case{Name: c.name + " N=128 exact top-10", Model: m, Batch: b, K: 10},
			Case{Name: c.name + " N=128 exact top-10, float32", Model: m, Batch: b, K: 10, Opts: vivit.Options{Precision: vivit.Float32}},
			Case{Name: c.name + " N=128 mc=1 top-10", Model: m, Batch: b, K: 10, Opts: vivit.Options{MCSamples: 1}},
			Case{Name: c.name + " N=128 exact directional", Model: m, Batch: b, K: 10, Directional: true},
			Case{Name: c.name + " N=128 exact directional, float32", Model: m, Batch: b, K: 10, Directional: true, Opts: vivit.Options{Precision: vivit.Float32}},
			Case{Name: c.name + " N=128 exact directional, no vectors", Model: m, Batch: b, K: 10, Directional: true, Opts: vivit.Options{SkipVectors: true}})
	}
	return cs, nil
}

// ConvCases returns the cases of the 3c3d-like network (ThreeC3D), exact
// (float64 and float32) and Monte-Carlo (M=1) top-10 for each batch size
// in ns.
func ConvCases(ns ...int) ([]Case, error) {
	var cs []Case
	for _, n := range ns {
		m, b, err := ThreeC3D(n, 1)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("3c3d N=%d", n)
		cs = append(cs,
			Case{Name: name + " exact top-10", Model: m, Batch: b, K: 10},
			Case{Name: name + " exact top-10, float32", Model: m, Batch: b, K: 10, Opts: vivit.Options{Precision: vivit.Float32}},
			Case{Name: name + " mc=1 top-10", Model: m, Batch: b, K: 10, Opts: vivit.Options{MCSamples: 1}})
	}
	return cs, nil
}

// Measurement is the outcome of one case.
type Measurement struct {
	Case      string
	Total     time.Duration // median over repetitions
	Stages    vivit.Timing  // of the median run
	Gradient  time.Duration // one forward+backward gradient pass
	GramFlops float64       // floating-point operations of the Gram stage
	GramRate  float64       // GFlop/s of the Gram stage
	DenseRate float64       // GFlop/s of a plain Dgemm of the Gram's size
	PeakMiB   float64
}

// Measure runs a case reps times and returns the median run.
func Measure(c Case, reps int) (Measurement, error) {
	if reps < 1 {
		reps = 1
	}
	opts := c.Opts
	run := func() (vivit.Timing, error) {
		var res *vivit.Result
		var err error
		if c.Directional {
			res, err = vivit.Directional(c.Model, c.Batch, c.K, &opts)
		} else {
			res, err = vivit.TopEigen(c.Model, c.Batch, c.K, &opts)
		}
		if err != nil {
			return vivit.Timing{}, err
		}
		return res.Timing, nil
	}
	if _, err := run(); err != nil { // warm up
		return Measurement{}, err
	}
	// Timed runs first, then one under PeakHeap: its sampling goroutine
	// wakes every millisecond and would slow the timed ones.
	var runs []vivit.Timing
	for i := 0; i < reps; i++ {
		t, err := run()
		if err != nil {
			return Measurement{}, err
		}
		runs = append(runs, t)
	}
	var err error
	peak := PeakHeap(func() { _, err = run() })
	if err != nil {
		return Measurement{}, err
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Total() < runs[j].Total() })
	med := runs[len(runs)/2]
	m := Measurement{Case: c.Name, Total: med.Total(), Stages: med, PeakMiB: float64(peak) / (1 << 20)}
	var grads []time.Duration
	for i := 0; i < max(reps, 5); i++ {
		t0 := time.Now()
		if _, _, err := vivit.Gradient(c.Model, c.Batch); err != nil {
			return Measurement{}, err
		}
		grads = append(grads, time.Since(t0))
	}
	sort.Slice(grads, func(i, j int) bool { return grads[i] < grads[j] })
	m.Gradient = grads[len(grads)/2]
	cols := factorCols(c)
	m.GramFlops = gramFlops(c.Model, cols)
	m.GramRate = m.GramFlops / med.Gram.Seconds() / 1e9
	m.DenseRate = denseRate(cols, min(gramInner(c.Model), 4096))
	return m, nil
}

// factorCols returns the columns of V: samples × factor columns per sample.
func factorCols(c Case) int {
	n := c.Batch.Len()
	if c.Opts.SubBatch != nil {
		n = len(c.Opts.SubBatch)
	}
	if c.Opts.MCSamples > 0 {
		return n * c.Opts.MCSamples
	}
	return n * c.Model.Loss.ReducedCols(c.Model.NumOutputs())
}

// gramInner returns, summed over the layers, the inner dimension of the
// Gram stage's products: out for a linear layer (its Gram is S Sᵀ folded
// with the input Gram), the parameter count for a convolution (whose Gram
// is counted as the product VᵀV of its explicit factor; forming V, or the
// kernel route's work, comes on top).
func gramInner(m *vivit.Model) int {
	s := 0
	for _, nd := range m.Nodes {
		switch l := nd.Op.(type) {
		case *model.Linear:
			s += l.Out
		case *model.Conv2d:
			for _, p := range l.Params() {
				s += len(p.Data)
			}
		}
	}
	return s
}

// gramFlops counts the Gram stage's work: the upper triangle of the
// products behind gramInner ((nc)(nc+1)/2 dot products), two flops per
// multiply-add.
func gramFlops(m *vivit.Model, cols int) float64 {
	return float64(cols) * float64(cols+1) * float64(gramInner(m))
}

// denseRate measures the GFlop/s of a plain general product S Sᵀ with S of
// size cols × inner, the same work the Gram stage does in one piece (inner
// is capped by the caller for convolutions: the rate no longer changes).
func denseRate(cols, inner int) float64 {
	rng := rand.New(rand.NewPCG(9, 9))
	s := mat.NewDense(cols, inner, nil)
	for i := range s.RawMatrix().Data {
		s.RawMatrix().Data[i] = rng.NormFloat64()
	}
	// On the engine's BLAS (internal/backend), which the Gram stage uses
	// too: gonum's registry holds its own pure-Go Dgemm unless a program
	// calls vivit.UseBLAS.
	p := mat.NewDense(cols, cols, nil)
	backend.Gemm(blas.NoTrans, blas.Trans, 1, s.RawMatrix(), s.RawMatrix(), 0, p.RawMatrix())
	// The median of several runs, the same statistic as the Gram stage's.
	var ts []time.Duration
	for i := 0; i < 7; i++ {
		t0 := time.Now()
		backend.Gemm(blas.NoTrans, blas.Trans, 1, s.RawMatrix(), s.RawMatrix(), 0, p.RawMatrix())
		ts = append(ts, time.Since(t0))
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return 2 * float64(cols) * float64(cols) * float64(inner) / ts[len(ts)/2].Seconds() / 1e9
}

// WriteReport prints the measurements as a compact table.
func WriteReport(w io.Writer, ms []Measurement) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\ttotal\tforward\tbackprop\tGram\teigen\tmap-back\tdirectional\tGram GF/s\tdense GF/s\tGram/dense\tx gradient\tpeak MiB\t")
	ms2 := func(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.1f\t%.0f%%\t%.1f\t%.0f\t\n", m.Case, ms2(m.Total),
			ms2(m.Stages.Forward), ms2(m.Stages.Backprop), ms2(m.Stages.Gram), ms2(m.Stages.Eigen), ms2(m.Stages.MapBack), ms2(m.Stages.Directional),
			m.GramRate, m.DenseRate, 100*m.GramRate/m.DenseRate, float64(m.Total)/float64(m.Gradient), m.PeakMiB)
	}
	return tw.Flush()
}
