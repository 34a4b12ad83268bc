// Command eigenruns loads a model and a batch as `vivit eigen` does and
// computes the top-k GGN eigenpairs several times in one process, for
// the warm (in-process) timings of bench/reference/compare_resnet8.py.
// It prints one JSON object: the eigenvalues of the first run, each run's
// stage times in seconds, and the process's peak resident memory (VmHWM).
//
//	go run ./bench/cmd/eigenruns -model bench/testdata/resnet8.onnx \
//	    -data bench/testdata/resnet8_batch.safetensors -k 10 -runs 4 [-mc 1] [-precision float32]
//
// With -cpuprofile it writes a CPU profile of the warm runs (all but the
// first), for go tool pprof, and with -firstprofile one of the first run
// (profiles of many processes merge: go tool pprof BINARY p1 p2 …); with
// -memprofile, a profile of the memory the first run allocates (go tool
// pprof -sample_index=alloc_space), which is what a fresh process pays
// for in page faults.
//
// Time it alone: a reader that starts alongside it (eigenruns … |
// python3 …) competes for the cores during the first run and inflated
// its time by 30–50 % on two cores; write the JSON to a file, or let the
// reader wait for the process as compare_resnet8.py does.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/vivit-go/vivit"
)

func main() {
	modelPath := flag.String("model", "", "model `file` (as vivit eigen --model)")
	dataPath := flag.String("data", "", "batch `file` (as vivit eigen --data)")
	k := flag.Int("k", 10, "number of eigenpairs")
	mc := flag.Int("mc", 0, "Monte-Carlo samples (0: exact GGN)")
	precision := flag.String("precision", "float64", "float64 or float32")
	runs := flag.Int("runs", 4, "computations in this process (the first cold, the others warm)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the warm runs to `file`")
	firstProfile := flag.String("firstprofile", "", "write a CPU profile of the first (cold) run to `file`")
	memProfile := flag.String("memprofile", "", "write a profile of the first run's allocations to `file`")
	flag.Parse()
	if *memProfile != "" {
		runtime.MemProfileRate = 4096
	}
	m, err := vivit.LoadModel(*modelPath)
	if err != nil {
		log.Fatal(err)
	}
	b, err := vivit.LoadBatch(*dataPath, m)
	if err != nil {
		log.Fatal(err)
	}
	opts := &vivit.Options{MCSamples: *mc}
	switch *precision {
	case "float64":
	case "float32":
		opts.Precision = vivit.Float32
	default:
		log.Fatalf("precision %q: want float64 or float32", *precision)
	}
	var out struct {
		Eigenvalues []float64            `json:"eigenvalues"`
		Runs        []map[string]float64 `json:"runs"`
		PeakRSSMiB  float64              `json:"peak_rss_mib"`
	}
	for r := 0; r < *runs; r++ {
		if r == 0 && *firstProfile != "" {
			f, err := os.Create(*firstProfile)
			if err != nil {
				log.Fatal(err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				log.Fatal(err)
			}
		}
		res, err := vivit.TopEigen(m, b, *k, opts)
		if err != nil {
			log.Fatal(err)
		}
		if r == 0 && *firstProfile != "" {
			pprof.StopCPUProfile()
		}
		if r == 0 {
			out.Eigenvalues = res.Blocks[0].Values
			if *memProfile != "" {
				writeMemProfile(*memProfile)
			}
			if *cpuProfile != "" {
				f, err := os.Create(*cpuProfile)
				if err != nil {
					log.Fatal(err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					log.Fatal(err)
				}
				defer pprof.StopCPUProfile()
			}
		}
		t := res.Timing
		out.Runs = append(out.Runs, map[string]float64{"forward": t.Forward.Seconds(), "backprop": t.Backprop.Seconds(),
			"gram": t.Gram.Seconds(), "eigensolve": t.Eigen.Seconds(), "map_back": t.MapBack.Seconds(), "total": t.Total().Seconds()})
	}
	out.PeakRSSMiB = vmHWM()
	js, err := json.Marshal(out)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(js))
}

// writeMemProfile writes the allocations so far to path.
func writeMemProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	runtime.MemProfileRate = 0
	runtime.GC() // the profile holds allocations up to the last collection
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		log.Fatal(err)
	}
}

// vmHWM returns the process's peak resident memory in MiB from
// /proc/self/status, or -1.
func vmHWM() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return -1
}
