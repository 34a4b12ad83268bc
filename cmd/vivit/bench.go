package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/vivit-go/vivit/bench"
)

const benchSummary = `Exact versus approximate curvature. Runs the batch under a grid of
approximations — exact; Monte-Carlo with M samples; sub-batches of N/2, N/4,
N/8; MC on a sub-batch; per-layer blocks — and reports, against the exact
mini-batch GGN, the mean relative error of the top-k eigenvalues, the overlap
of the top-k eigenspaces ‖P̃P‖²_F/k, the wall time and the peak heap.
Random rows are averaged over seeds (± one standard deviation).`

const benchExamples = `  vivit bench
  vivit bench --model model.safetensors --data batch.safetensors --k 10 --seeds 5 --format json
  vivit bench --mc-samples 1,4,16 --subbatches 2,4 --plot bench.png
`

type benchJSON struct {
	K     int         `json:"k"`
	Seeds int         `json:"seeds"`
	Rows  []bench.Row `json:"rows"`
}

func runBench(args []string, stdout, stderr io.Writer) error {
	c := newCommon("bench", benchSummary, benchExamples, stdout, stderr, withoutKnobs)
	k := c.fs.Int("k", 10, "number `K` of leading eigenpairs compared")
	c.add("k", "")
	seeds := c.fs.Int("seeds", 5, "`S` seeds for each random approximation")
	c.add("seeds", "")
	mcs := c.fs.String("mc-samples", "1,2,5", "Monte-Carlo sample counts `M1,M2,…` to try")
	c.add("mc-samples", "")
	subs := c.fs.String("subbatches", "2,4,8", "sub-batch sizes as divisors `D1,D2,…` of N (N/D samples each)")
	c.add("subbatches", "")
	noLayer := c.fs.Bool("no-layer", false, "leave out the per-layer (block-diagonal) rows")
	c.add("no-layer", "")
	plotPath := c.fs.String("plot", "", "draw eigenvalue error and overlap against time into `FILE.png`")
	c.add("plot", groupOutput)
	c.fs.BoolVar(&c.noTiming, "no-timing", false, "leave times and memory out of the output (for reproducible output)")
	c.add("no-timing", groupOutput)
	if err := c.parse(args); err != nil {
		return err
	}
	defer c.progress.done()
	if err := c.needBatch(); err != nil {
		return err
	}
	if *k < 1 || *seeds < 1 {
		return usagef("--k and --seeds must be at least 1")
	}
	mList, err := intList("mc-samples", *mcs)
	if err != nil {
		return err
	}
	dList, err := intList("subbatches", *subs)
	if err != nil {
		return err
	}
	if err := checkExt("plot", *plotPath, ".png"); err != nil {
		return err
	}
	m, b, err := c.load()
	if err != nil {
		return err
	}
	n := b.Len()
	grid := []bench.Approx{{Groups: "full"}}
	for _, mc := range mList {
		grid = append(grid, bench.Approx{MCSamples: mc, Groups: "full"})
	}
	for _, d := range dList {
		if n/d >= 1 && d > 1 {
			grid = append(grid, bench.Approx{SubBatch: n / d, Groups: "full"})
		}
	}
	if len(mList) > 0 && len(dList) > 0 && n/dList[len(dList)/2] >= 1 {
		grid = append(grid, bench.Approx{MCSamples: mList[0], SubBatch: n / dList[len(dList)/2], Groups: "full"})
	}
	if !*noLayer {
		grid = append(grid, bench.Approx{Groups: "layer"})
		if len(mList) > 0 {
			grid = append(grid, bench.Approx{MCSamples: mList[0], Groups: "layer"})
		}
	}
	rows, err := bench.Compare(m, b, bench.Settings{K: *k, Seeds: *seeds, Grid: grid, Context: runContext,
		Progress: func(i, total int, a bench.Approx) { c.progress.stage(a.Name(), i, total) }})
	if err != nil {
		return err
	}
	if c.noTiming {
		for i := range rows {
			rows[i].Seconds, rows[i].SecondsStd, rows[i].PeakMiB = 0, 0, 0
			rows[i].GramSeconds, rows[i].EigenSeconds, rows[i].BackpropSeconds = 0, 0, 0
		}
	}
	if *plotPath != "" {
		if err := benchPlot(*plotPath, rows, *k, m.NumParams(), n); err != nil {
			return err
		}
	}
	return c.writeResult(func(w io.Writer) error {
		switch c.format {
		case "json":
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(benchJSON{K: *k, Seeds: *seeds, Rows: rows})
		case "csv":
			cw := csv.NewWriter(w)
			cw.Write([]string{"approximation", "mc_samples", "subbatch", "groups", "seeds", "seconds", "seconds_std", "peak_mib", "eigenvalue_rel_error", "eigenvalue_rel_error_std", "overlap", "overlap_std"})
			for _, r := range rows {
				cw.Write([]string{r.Approximation, strconv.Itoa(r.MCSamples), strconv.Itoa(r.SubBatch), r.Groups, strconv.Itoa(r.Seeds),
					csvFloat(r.Seconds), csvFloat(r.SecondsStd), csvFloat(r.PeakMiB), csvFloat(r.EigRelError), csvFloat(r.EigRelErrorStd), csvFloat(r.Overlap), csvFloat(r.OverlapStd)})
			}
			cw.Flush()
			return cw.Error()
		}
		fmt.Fprintf(w, "Exact versus approximate GGN: top-%d eigenpairs, %d parameters, batch of %d, %d seeds per random row\n\n", *k, m.NumParams(), n, *seeds)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "approximation\tsamples\tblocks\teigenvalue error\toverlap\ttime\tpeak heap\t")
		for _, r := range rows {
			pm := func(v, s float64, f string) string {
				if r.Seeds == 1 {
					return fmt.Sprintf(f, v)
				}
				return fmt.Sprintf(f+" ± "+f, v, s)
			}
			tm, mem := "-", "-"
			if !c.noTiming {
				tm, mem = fmt.Sprintf("%.1fms", 1000*r.Seconds), fmt.Sprintf("%.1f MiB", r.PeakMiB)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", r.Approximation, r.SubBatch, r.Groups,
				pm(r.EigRelError, r.EigRelErrorStd, "%.3f"), pm(r.Overlap, r.OverlapStd, "%.3f"), tm, mem)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err := fmt.Fprint(w, `
eigenvalue error: mean over the top k of |λ̃_k − λ_k|/λ_k; overlap: ‖P̃P‖²_F/k
of the top-k eigenspaces (1 = same subspace, 0 = orthogonal); peak heap: Go
heap above the starting point, sampled every millisecond.
`)
		return err
	})
}

// intList parses a comma-separated list of positive integers ("" is empty).
func intList(flagName, s string) ([]int, error) {
	var out []int
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, usagef("--%s: %q is not a positive integer", flagName, f)
		}
		out = append(out, v)
	}
	return out, nil
}

// benchPlot draws eigenvalue error and overlap against wall time, one
// labelled point per approximation.
func benchPlot(path string, rows []bench.Row, k, d, n int) error {
	left := newPlot(fmt.Sprintf("Top-%d eigenvalue error (D = %d, N = %d)", k, d, n), "wall time (ms)", "mean relative error of λ_1…λ_k")
	right := newPlot(fmt.Sprintf("Top-%d eigenspace overlap with the exact GGN", k), "wall time (ms)", "overlap (1 = same subspace, 0 = orthogonal)")
	right.Y.Min, right.Y.Max = 0, 1.05
	for _, p := range []*plot.Plot{left, right} {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	for i, r := range rows {
		ms := math.Max(1000*r.Seconds, 1e-3)
		col := palette[i%len(palette)]
		for _, pv := range []struct {
			p    *plot.Plot
			y, e float64
		}{{left, r.EigRelError, r.EigRelErrorStd}, {right, r.Overlap, r.OverlapStd}} {
			pts := plotter.XYs{{X: ms, Y: pv.y}}
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return err
			}
			sc.GlyphStyle.Color = col
			sc.GlyphStyle.Radius = vg.Points(4)
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			if r.Groups == "layer" {
				sc.GlyphStyle.Shape = draw.TriangleGlyph{}
			}
			pv.p.Add(sc)
			// Name each point beside it: clearer than a legend of ten entries.
			lb, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: []string{r.Approximation}})
			if err != nil {
				return err
			}
			for i := range lb.TextStyle {
				lb.TextStyle[i].Font.Size = vg.Points(9)
				lb.TextStyle[i].Color = col
			}
			lb.Offset = vg.Point{X: vg.Points(6), Y: vg.Points(2)}
			pv.p.Add(lb)
			if pv.e > 0 {
				bar, err := plotter.NewYErrorBars(errPoints{{X: ms, Y: pv.y, Err: pv.e}})
				if err == nil {
					bar.LineStyle.Color = col
					pv.p.Add(bar)
				}
			}
		}
	}
	return savePanels(path, [][]*plot.Plot{{left, right}})
}

// errPoints are points with symmetric y errors for plotter.NewYErrorBars.
type errPoints []struct{ X, Y, Err float64 }

func (e errPoints) Len() int                         { return len(e) }
func (e errPoints) XY(i int) (float64, float64)      { return e[i].X, e[i].Y }
func (e errPoints) YError(i int) (low, high float64) { return e[i].Err, e[i].Err }
