// Command memprobe runs the 3c3d benchmark network's top-k eigenpairs at
// one batch size under a memory budget and prints the time, the stages
// and the process's peak resident memory (VmHWM), for the tables of
// docs/performance.md ("Memory and large batches").
//
//	go run ./bench/cmd/memprobe -n 909 -k 10 -memory 2GiB
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/bench"
)

func main() {
	n := flag.Int("n", 128, "batch size")
	k := flag.Int("k", 10, "eigenpairs")
	mc := flag.Int("mc", 0, "Monte-Carlo samples (0: exact)")
	mem := flag.Int64("memory", 0, "memory budget in MiB (0: the default)")
	limit := flag.Bool("limit", true, "set the Go runtime's memory limit to the budget")
	planOnly := flag.Bool("plan", false, "print the plan only")
	flag.Parse()
	m, b, err := bench.ThreeC3D(*n, 1)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
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
