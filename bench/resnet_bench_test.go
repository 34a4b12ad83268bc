package bench

import (
	"flag"
	"fmt"
	"math"
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

// TestResNet8Float32 checks Options.Precision = Float32 on ResNet8 at
// N = 16 (the float32 backward pass through the convolutions, the
// float32 Gram matrix and map-back) against float64: eigenvalues within
// 1e-6·λ₁, unit eigenvectors within 1e-5·λ₁ over their gap to the
// neighbouring eigenvalues, and not bitwise those of float64.
func TestResNet8Float32(t *testing.T) {
	if testing.Short() {
		t.Skip("two full runs on the benchmark network")
	}
	m, batch, err := ResNet8(16, 1)
	if err != nil {
		t.Fatal(err)
	}
	const k = 10
	r64, err := vivit.TopEigen(m, batch, k+1, nil)
	if err != nil {
		t.Fatal(err)
	}
	r32, err := vivit.TopEigen(m, batch, k, &vivit.Options{Precision: vivit.Float32})
	if err != nil {
		t.Fatal(err)
	}
	b64, b32 := r64.Blocks[0], r32.Blocks[0]
	lam := b64.Values
	var worstVal float64
	for j := 0; j < k; j++ {
		worstVal = math.Max(worstVal, math.Abs(b32.Values[j]-lam[j])/lam[0])
	}
	if !(worstVal <= 1e-6) || worstVal == 0 {
		t.Errorf("eigenvalues: max error %.3g·λ₁, want float32 rounding (and not 0)", worstVal)
	}
	for j := 0; j < k; j++ {
		gap := lam[j] - lam[j+1]
		if j > 0 {
			gap = math.Min(gap, lam[j-1]-lam[j])
		}
		v32, v64 := b32.Vector(j), b64.Vector(j)
		var dm, dp float64
		for i := range v64 {
			dm += (v32[i] - v64[i]) * (v32[i] - v64[i])
			dp += (v32[i] + v64[i]) * (v32[i] + v64[i])
		}
		e := math.Sqrt(math.Min(dm, dp))
		if bound := 1e-5 * lam[0] / gap; !(e <= bound) {
			t.Errorf("eigenvector %d: error %.3g > %.3g (gap %.3g·λ₁)", j, e, bound, gap/lam[0])
		}
		t.Logf("eigenvector %d: error %.2g, gap %.2g·λ₁", j, e, gap/lam[0])
	}
	t.Logf("eigenvalues: max error %.2g·λ₁", worstVal)
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
	for run := 0; run < 2; run++ {
		opts := &vivit.Options{MCSamples: *resnet8Cold}
		stages := []string{}
		var cpus []time.Duration
		var faults []int64
		opts.Progress = func(stage string, _, _ int) {
			c, f := processUsage()
			stages, cpus, faults = append(stages, stage), append(cpus, c), append(faults, f)
		}
		res, err := vivit.TopEigen(m, batch, 10, opts)
		if err != nil {
			t.Fatal(err)
		}
		c, f := processUsage()
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
