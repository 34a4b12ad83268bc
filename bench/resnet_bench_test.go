package bench

import (
	"flag"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/vivit-go/vivit"
)

// BenchmarkResNet8 times exact and Monte-Carlo (M=1) top-10 eigenpairs of
// the CIFAR-style ResNet-8 with BatchNorm on 32 samples (the speed target
// of the graph issue), stage by stage, plus the peak heap of one run
// (PeakHeap, after the timed runs). The runs are warm (gradient passes
// come first); TestResNet8Cold measures the first run of a process.
func BenchmarkResNet8(b *testing.B) {
	for _, mc := range []int{0, 1} {
		b.Run(curvatureName("resnet8/N=32", mc)+"/k=10", func(b *testing.B) {
			m, batch, err := ResNet8(32, 1)
			if err != nil {
				b.Fatal(err)
			}
			run := topEigenRun(mc)
			sum := benchStages(b, m, batch, run)
			b.ReportMetric(float64(sum.Forward.Microseconds())/1000/float64(b.N), "ms-forward")
			b.ReportMetric(float64(sum.Gram)/float64(sum.Total()), "gram-share")
			b.StopTimer()
			peak := PeakHeap(func() {
				if _, err := vivit.TopEigen(m, batch, 10, &vivit.Options{MCSamples: mc}); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
		})
	}
}

func TestResNet8Cases(t *testing.T) {
	cs, err := ResNet8Cases()
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 || cs[0].Model.NumParams() != 78042 || cs[0].Batch.Len() != 32 {
		t.Fatalf("cases %d, parameters %d", len(cs), cs[0].Model.NumParams())
	}
}

var resnet8Cold = flag.Int("resnet8.cold", -1, "TestResNet8Cold: Monte-Carlo samples of the measured runs (0: exact)")

// TestResNet8Cold reports the first and second top-10 run of ResNet8 in
// this process, each stage's wall time, process CPU time and page faults
// (the first run faults in every buffer). Run it alone, so that nothing
// else warmed the process up:
//
//	go test ./bench -run TestResNet8Cold -v -args -resnet8.cold 0   # exact
//	go test ./bench -run TestResNet8Cold -v -args -resnet8.cold 1   # MC, M=1
func TestResNet8Cold(t *testing.T) {
	if *resnet8Cold < 0 {
		t.Skip("run with -resnet8.cold M")
	}
	m, batch, err := ResNet8(32, 1)
	if err != nil {
		t.Fatal(err)
	}
	usage := func() (cpu time.Duration, faults int64) {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Minflt
	}
	for run := 0; run < 2; run++ {
		opts := &vivit.Options{MCSamples: *resnet8Cold}
		stages := []string{}
		var cpus []time.Duration
		var faults []int64
		opts.Progress = func(stage string, _, _ int) {
			c, f := usage()
			stages, cpus, faults = append(stages, stage), append(cpus, c), append(faults, f)
		}
		res, err := vivit.TopEigen(m, batch, 10, opts)
		if err != nil {
			t.Fatal(err)
		}
		c, f := usage()
		cpus, faults = append(cpus, c), append(faults, f)
		line := ""
		for i, st := range stages {
			line += fmt.Sprintf(" %s cpu %v faults %d MiB;", st, (cpus[i+1] - cpus[i]).Round(time.Millisecond), (faults[i+1]-faults[i])*4096>>20)
		}
		tm := res.Timing
		t.Logf("run %d (mc=%d): total %v (forward %v, backprop %v, Gram %v, eigen %v, map-back %v);%s",
			run, *resnet8Cold, tm.Total().Round(time.Millisecond), tm.Forward.Round(time.Millisecond), tm.Backprop.Round(time.Millisecond),
			tm.Gram.Round(time.Millisecond), tm.Eigen.Round(time.Millisecond), tm.MapBack.Round(time.Millisecond), line)
	}
}
