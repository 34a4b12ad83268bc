// Command benchreport runs the performance cases of the project and prints
// one table: the time of each stage, the Gram stage's FLOP rate next to a
// plain dense product of the same size on the same backend, the whole run
// as a multiple of one gradient pass, and the peak heap. 'make bench' runs
// it; build with -tags openblas for the OpenBLAS backend.
//
// With -both ('make bench-both') it builds itself without and with the
// openblas tag and runs the two builds side by side: every case on each
// build in turn, -rounds times, each run a separate process of -reps
// repetitions, and prints one table of the totals (median and range over
// the rounds) and their ratio OpenBLAS/pure Go. -bins compares prebuilt
// binaries of this command instead (say, before and after a change).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/vivit-go/vivit/bench"
	"github.com/vivit-go/vivit/eigen"
)

func main() {
	reps := flag.Int("reps", 11, "repetitions per case (the median is reported)")
	filter := flag.String("run", "", "only cases whose name contains this")
	exact := flag.String("case", "", "only the cases of exactly these names, separated by '|'")
	asJSON := flag.Bool("json", false, "print the measurements as JSON")
	both := flag.Bool("both", false, "build the pure-Go and OpenBLAS versions of this command and run them side by side")
	bins := flag.String("bins", "", "with -both: compare these binaries of this command instead, label=path,label=path")
	rounds := flag.Int("rounds", 5, "with -both: runs of every case on each build")
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
	var selected []bench.Case
	for _, c := range cases {
		if strings.Contains(c.Name, *filter) && (*exact == "" || slices.Contains(strings.Split(*exact, "|"), c.Name)) {
			selected = append(selected, c)
		}
	}
	if len(selected) == 0 {
		log.Fatal("no case selected")
	}
	if *both {
		var bs []build
		if *bins != "" {
			bs, err = parseBuilds(*bins)
		} else {
			dir, derr := os.MkdirTemp("", "benchreport")
			if derr != nil {
				log.Fatal(derr)
			}
			defer os.RemoveAll(dir)
			bs, err = buildBoth(dir)
		}
		if err != nil {
			log.Fatal(err)
		}
		var names []string
		for _, c := range selected {
			names = append(names, c.Name)
		}
		fmt.Printf("side by side, GOMAXPROCS %d, %s/%s: %d rounds of %d repetitions per case and build (the total of a round is the median of its repetitions)\n\n", runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, *rounds, *reps)
		if err := sideBySide(os.Stdout, bs, names, *rounds, *reps); err != nil {
			log.Fatal(err)
		}
		return
	}
	var ms []bench.Measurement
	for _, c := range selected {
		fmt.Fprintf(os.Stderr, "running %s…\n", c.Name)
		m, err := bench.Measure(c, *reps)
		if err != nil {
			log.Fatalf("%s: %v", c.Name, err)
		}
		ms = append(ms, m)
	}
	if *asJSON {
		if err := json.NewEncoder(os.Stdout).Encode(ms); err != nil {
			log.Fatal(err)
		}
		return
	}
	fmt.Printf("backend: %s, GOMAXPROCS %d, %s/%s, eigensolver for n=1152,k=10: %s\n\n", backend, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, eigen.Auto(1152, 10).Name())
	if err := bench.WriteReport(os.Stdout, ms); err != nil {
		log.Fatal(err)
	}
}
