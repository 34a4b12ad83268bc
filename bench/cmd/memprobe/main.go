// Command memprobe runs the 3c3d benchmark network's top-k eigenpairs at
// one batch size under a memory budget and prints the time, the stages
// and the process's peak resident memory (VmHWM), for the tables of
// docs/performance.md ("Memory and large batches").
//
//	go run ./bench/cmd/memprobe -n 909 -k 10 -memory 2048
//
// With -write DIR it writes the network (DIR/3c3d.safetensors, the
// architecture in its metadata) and the batch (DIR/batch-N.safetensors)
// instead, for measuring the CLI as a user runs it:
//
//	go run ./bench/cmd/memprobe -n 512 -write /tmp/3c3d
//	/usr/bin/time -v vivit eigen --model /tmp/3c3d/3c3d.safetensors \
//	    --data /tmp/3c3d/batch-512.safetensors --k 10 --memory 2GiB
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/bench"
	"github.com/vivit-go/vivit/checkpoint"
	"github.com/vivit-go/vivit/safetensors"
)

func main() {
	n := flag.Int("n", 128, "batch size")
	k := flag.Int("k", 10, "eigenpairs")
	mc := flag.Int("mc", 0, "Monte-Carlo samples (0: exact)")
	mem := flag.Int64("memory", 0, "memory budget in MiB (0: the default)")
	limit := flag.Bool("limit", true, "set the Go runtime's memory limit to the budget")
	planOnly := flag.Bool("plan", false, "print the plan only")
	write := flag.String("write", "", "write the network and the batch to this `directory` and exit")
	flag.Parse()
	m, b, err := bench.ThreeC3D(*n, 1)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *write != "" {
		if err := writeCase(*write, m, b); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	o := &vivit.Options{MCSamples: *mc, Seed: 1, MemoryBudget: *mem << 20}
	pl, err := vivit.PlanTopEigen(m, b, *k, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("plan: %v %+v\n", pl, pl.Stages)
	if *planOnly {
		return
	}
	if *limit && *mem > 0 {
		debug.SetMemoryLimit(*mem << 20)
	}
	t0 := time.Now()
	res, err := vivit.TopEigen(m, b, *k, o)
	el := time.Since(t0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("n=%d mc=%d k=%d memory=%dMiB time=%.2fs peakRSS=%s λ1=%.15g λk=%.15g\n", *n, *mc, *k, *mem, el.Seconds(), hwm(), res.Blocks[0].Values[0], res.Blocks[0].Values[len(res.Blocks[0].Values)-1])
	fmt.Printf("  %+v\n", res.Timing)
	for _, v := range res.Blocks[0].Values {
		fmt.Printf("%.17g\n", v)
	}
}

// writeCase writes the network to dir/3c3d.safetensors, with its
// architecture (and the mean cross-entropy loss) in the metadata, and the
// batch to dir/batch-N.safetensors ("inputs" [N 3 32 32], "targets" [N]).
func writeCase(dir string, m *vivit.Model, b *vivit.Batch) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	arch, err := json.Marshal(map[string]any{"input_shape": []int{3, 32, 32}, "layers": bench.ThreeC3DLayers(),
		"loss": map[string]string{"type": "cross_entropy", "reduction": "mean"}})
	if err != nil {
		return err
	}
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		ts = append(ts, safetensors.Tensor{Name: p.Name, Shape: p.Shape, F64: p.Data})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "3c3d.safetensors"), ts, map[string]string{checkpoint.ArchitectureKey: string(arch)}); err != nil {
		return err
	}
	n := b.Len()
	y := make([]int64, n)
	for i, c := range b.Targets.Classes {
		y[i] = int64(c)
	}
	return safetensors.WriteFile(filepath.Join(dir, fmt.Sprintf("batch-%d.safetensors", n)), []safetensors.Tensor{
		{Name: "inputs", Shape: []int{n, 3, 32, 32}, F64: b.Inputs.RawMatrix().Data},
		{Name: "targets", Shape: []int{n}, I64: y},
	}, nil)
}

// hwm returns the VmHWM line of /proc/self/status, or "?".
func hwm() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "?"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(s.Text(), "VmHWM:"))
		}
	}
	return "?"
}
