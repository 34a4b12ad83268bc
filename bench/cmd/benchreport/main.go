// Command benchreport runs the performance cases of the project and prints
// one table: the time of each stage, the Gram stage's FLOP rate next to a
// plain dense product of the same size on the same backend, the whole run
// as a multiple of one gradient pass, and the peak heap. 'make bench' runs
// it; build with -tags openblas for the OpenBLAS backend.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"strings"

	"github.com/vivit-go/vivit/bench"
	"github.com/vivit-go/vivit/eigen"
)

func main() {
	reps := flag.Int("reps", 11, "repetitions per case (the median is reported)")
	filter := flag.String("run", "", "only cases whose name contains this")
	flag.Parse()
	log.SetFlags(0)
	cases, err := bench.MLPCases()
	if err != nil {
		log.Fatal(err)
	}
	conv, err := extraCases()
	if err != nil {
		log.Fatal(err)
	}
	cases = append(cases, conv...)
	var ms []bench.Measurement
	for _, c := range cases {
		if !strings.Contains(c.Name, *filter) {
			continue
		}
		fmt.Fprintf(os.Stderr, "running %s…\n", c.Name)
		m, err := bench.Measure(c, *reps)
		if err != nil {
			log.Fatalf("%s: %v", c.Name, err)
		}
		ms = append(ms, m)
	}
	fmt.Printf("backend: %s, GOMAXPROCS %d, %s/%s, eigensolver for n=1152,k=10: %s\n\n", backend, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, eigen.Auto(1152, 10).Name())
	if err := bench.WriteReport(os.Stdout, ms); err != nil {
		log.Fatal(err)
	}
}
