package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vivit-go/vivit/bench"
)

// build is one benchreport binary of the side-by-side comparison.
type build struct {
	label string
	path  string
}

// buildBoth compiles this command twice into dir, without and with the
// openblas tag, with the go command of $GO (default "go").
func buildBoth(dir string) ([]build, error) {
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	bs := []build{{"pure Go", filepath.Join(dir, "benchreport-purego")}, {"OpenBLAS", filepath.Join(dir, "benchreport-openblas")}}
	for i, tags := range []string{"", "openblas"} {
		args := []string{"build", "-o", bs[i].path}
		if tags != "" {
			args = append(args, "-tags", tags)
		}
		cmd := exec.Command(goCmd, append(args, "github.com/vivit-go/vivit/bench/cmd/benchreport")...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("building the %s benchreport: %w", bs[i].label, err)
		}
	}
	return bs, nil
}

// parseBuilds parses -bins: "label=path,label=path".
func parseBuilds(s string) ([]build, error) {
	var bs []build
	for _, f := range strings.Split(s, ",") {
		label, path, ok := strings.Cut(f, "=")
		if !ok || label == "" || path == "" {
			return nil, fmt.Errorf("-bins: %q is not label=path", f)
		}
		bs = append(bs, build{label, path})
	}
	if len(bs) < 2 {
		return nil, fmt.Errorf("-bins: want at least two binaries, got %d", len(bs))
	}
	return bs, nil
}

// runOne runs binary b on the case named name (exact match) with reps
// repetitions and returns its measurement.
func runOne(b build, name string, reps int) (bench.Measurement, error) {
	var out bytes.Buffer
	cmd := exec.Command(b.path, "-case", name, "-reps", fmt.Sprint(reps), "-json")
	cmd.Stdout, cmd.Stderr = &out, io.Discard
	if err := cmd.Run(); err != nil {
		return bench.Measurement{}, fmt.Errorf("%s on %q: %w", b.label, name, err)
	}
	var ms []bench.Measurement
	if err := json.Unmarshal(out.Bytes(), &ms); err != nil || len(ms) != 1 {
		return bench.Measurement{}, fmt.Errorf("%s on %q: unexpected output %q", b.label, name, out.String())
	}
	return ms[0], nil
}

// sideBySide runs every case on every build, rounds times, alternating
// the builds' order from case to case and round to round (so that a
// change in the machine's load falls on both), and prints per case and
// build the median total with its range over rounds, the medians of the
// Gram and eigen stages, the ratio of each build's total to the first's,
// taken round by round (median and range), and the ratio of the two
// builds' fastest rounds, the least disturbed by other load on the
// machine.
//
// The table so far is also printed to standard error after every round.
func sideBySide(w io.Writer, bs []build, names []string, rounds, reps int) error {
	res := make([][][]bench.Measurement, len(names)) // [case][build][round]
	for i := range res {
		res[i] = make([][]bench.Measurement, len(bs))
	}
	turn := 0
	for r := 0; r < rounds; r++ {
		for i, name := range names {
			fmt.Fprintf(os.Stderr, "round %d/%d: %s…\n", r+1, rounds, name)
			for j := range bs {
				k := (j + turn) % len(bs)
				m, err := runOne(bs[k], name, reps)
				if err != nil {
					return err
				}
				res[i][k] = append(res[i][k], m)
			}
			turn++
		}
		if r+1 < rounds {
			if err := writeSideBySide(os.Stderr, bs, names, res); err != nil {
				return err
			}
		}
	}
	return writeSideBySide(w, bs, names, res)
}

// writeSideBySide prints the table of sideBySide from res[case][build][round].
func writeSideBySide(w io.Writer, bs []build, names []string, res [][][]bench.Measurement) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "case\t")
	for j, b := range bs {
		fmt.Fprintf(tw, "%s total\tGram\teigen\t", b.label)
		if j > 0 {
			fmt.Fprintf(tw, "%s/%s\tfastest/fastest\t", b.label, bs[0].label)
		}
	}
	fmt.Fprintln(tw)
	for i, name := range names {
		fmt.Fprintf(tw, "%s\t", name)
		for j := range bs {
			ms := res[i][j]
			tot := durations(ms, func(m bench.Measurement) time.Duration { return m.Total })
			fmt.Fprintf(tw, "%s [%s–%s]\t%s\t%s\t", msec(median(tot)), msec(tot[0]), msec(tot[len(tot)-1]),
				msec(median(durations(ms, func(m bench.Measurement) time.Duration { return m.Stages.Gram }))),
				msec(median(durations(ms, func(m bench.Measurement) time.Duration { return m.Stages.Eigen }))))
			if j > 0 {
				var ratios []float64
				for r := range ms {
					ratios = append(ratios, float64(ms[r].Total)/float64(res[i][0][r].Total))
				}
				sort.Float64s(ratios)
				first := durations(res[i][0], func(m bench.Measurement) time.Duration { return m.Total })
				fmt.Fprintf(tw, "%.2f [%.2f–%.2f]\t%.2f\t", ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1], float64(tot[0])/float64(first[0]))
			}
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// durations returns f of every measurement, sorted.
func durations(ms []bench.Measurement, f func(bench.Measurement) time.Duration) []time.Duration {
	var ds []time.Duration
	for _, m := range ms {
		ds = append(ds, f(m))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds
}

// median returns the middle of sorted durations (the upper one of an even
// count).
func median(ds []time.Duration) time.Duration { return ds[len(ds)/2] }

func msec(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	if d >= time.Second {
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}
