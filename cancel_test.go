package vivit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/bench"
	"github.com/vivit-go/vivit/eigen"
)

// TestCancelAtEachStage cancels a run as each stage starts: every entry
// point returns an error wrapping context.Canceled, whichever stage it was
// in, and a run whose context is never done is unchanged.
func TestCancelAtEachStage(t *testing.T) {
	m, b, err := bench.MLP([]int{12, 16, 16, 5}, "tanh", 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]func(o *vivit.Options) error{
		"Directional": func(o *vivit.Options) error { _, err := vivit.Directional(m, b, 3, o); return err },
		"TopEigen float32": func(o *vivit.Options) error {
			o.Precision = vivit.Float32
			_, err := vivit.TopEigen(m, b, 3, o)
			return err
		},
		"TopEigen lanczos": func(o *vivit.Options) error {
			o.Solver = eigen.Lanczos{} // through eigen.TopKContext
			_, err := vivit.TopEigen(m, b, 3, o)
			return err
		},
		"Spectrum":     func(o *vivit.Options) error { _, err := vivit.Spectrum(m, b, o); return err },
		"ComputeStats": func(o *vivit.Options) error { _, err := vivit.ComputeStats(m, b, o); return err },
		"Newton": func(o *vivit.Options) error {
			_, err := vivit.Newton(m, b, 3, vivit.Damping{Kind: vivit.Constant, Delta: 1e-3}, o)
			return err
		},
	}
	for name, run := range runs {
		// The stages this entry point goes through.
		var stages []string
		if err := run(&vivit.Options{Progress: func(s string, _, _ int) { stages = append(stages, s) }}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(stages) == 0 {
			t.Fatalf("%s reported no stage", name)
		}
		for i, stage := range stages {
			ctx, cancel := context.WithCancel(context.Background())
			seen := 0
			err := run(&vivit.Options{Context: ctx, Progress: func(string, int, int) {
				if seen == i {
					cancel()
				}
				seen++
			}})
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s cancelled at stage %d (%s): error %v, want one wrapping context.Canceled", name, i, stage, err)
			}
			if seen > i+1 {
				t.Errorf("%s cancelled at stage %d (%s) went on to %d more stages", name, i, stage, seen-i-1)
			}
		}
	}
}

// TestDeadlineStopsLongRun gives a run of about a second (ResNet-8, N =
// 32, exact top 10 with directional derivatives) deadlines at a tenth, 35 %
// and 60 % of the length of a warm run, so that each falls mid-run on any
// machine (a run that still ends before its deadline, on a machine whose
// load dropped, is measured again against its own length): it returns an
// error wrapping
// context.DeadlineExceeded, having used under one CPU-second after the
// deadline (half a second of wall time on two idle cores; CPU time, unlike
// wall time, does not grow when other processes load the machine) and
// under two seconds of wall time.
func TestDeadlineStopsLongRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ResNet-8 for a few seconds")
	}
	m, b, err := bench.ResNet8(32, 1)
	if err != nil {
		t.Fatal(err)
	}
	const lateCPU, lateWall = time.Second, 2 * time.Second
	// The length of a warm run (the first of a process touches fresh
	// pages and takes longer).
	var whole time.Duration
	for range 2 {
		t0 := time.Now()
		if _, err := vivit.Directional(m, b, 10, nil); err != nil {
			t.Fatal(err)
		}
		whole = time.Since(t0)
	}
	type sample struct {
		cpu time.Duration
		ok  bool
	}
	for _, frac := range []float64{0.1, 0.35, 0.6} {
		var (
			d, took    time.Duration
			err        error
			stage      string
			end        time.Duration
			atDeadline sample
		)
		// On a shared machine a run can be much faster than the one
		// measured: a run that ends before its deadline says nothing
		// about cancelling, so it is measured again with the deadline at
		// the same fraction of its own length (a few times at most).
		for try := 0; try < 4; try++ {
			d = time.Duration(frac * float64(whole))
			ctx, cancel := context.WithTimeout(context.Background(), d)
			stage = ""
			at := make(chan sample, 1)
			timer := time.AfterFunc(d, func() { c, ok := cpuTime(); at <- sample{c, ok} })
			t0 := time.Now()
			_, err = vivit.Directional(m, b, 10, &vivit.Options{Context: ctx, Progress: func(s string, _, _ int) { stage = s }})
			took = time.Since(t0)
			end, _ = cpuTime()
			atDeadline = sample{}
			if !timer.Stop() {
				atDeadline = <-at // it fired: its sample is on its way
			}
			cancel()
			if err != nil || took >= d {
				break
			}
			t.Logf("deadline %v: the run ended %v before it; measuring again", d, d-took)
			whole = took
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("deadline %v: error %v after %v, want one wrapping context.DeadlineExceeded", d, err, took)
		}
		if !(took-d < lateWall) {
			t.Errorf("deadline %v: returned %v after it (in stage %s), want under %v", d, took-d, stage, lateWall)
		}
		cpu := end - atDeadline.cpu
		if atDeadline.ok && !(cpu < lateCPU) {
			t.Errorf("deadline %v: used %v of CPU after it (in stage %s), want under %v", d, cpu, stage, lateCPU)
		}
		t.Logf("deadline %v: returned %v after it (%v of CPU), in stage %s", d, took-d, cpu, stage)
	}
}

// TestCancelDataSet: the data-set entry points stop between batches, for
// every method, with an error wrapping context.Canceled.
func TestCancelDataSet(t *testing.T) {
	m, b, err := bench.MLP([]int{12, 16, 5}, "tanh", 24, 2)
	if err != nil {
		t.Fatal(err)
	}
	ds := vivit.NewBatchDataSet(b)
	for _, method := range []vivit.DataSetMethod{vivit.MethodBatch, vivit.MethodParameters, vivit.MethodLanczos} {
		// Cancel at the second progress report (the second batch, or the
		// second stage of the one-batch method).
		ctx, cancel := context.WithCancel(context.Background())
		reports := 0
		o := &vivit.DataSetOptions{BatchSize: 8, Method: method}
		o.Context = ctx
		o.Progress = func(string, int, int) {
			if reports++; reports == 2 {
				cancel()
			}
		}
		_, err := vivit.DataSetTopEigen(m, ds, 3, o)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%v: error %v, want one wrapping context.Canceled", method, err)
		}
		if reports > 3 {
			t.Errorf("%v: %d more progress reports after the cancellation", method, reports-2)
		}
	}
}
