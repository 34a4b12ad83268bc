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

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/bench"
)

const benchSummary = `Exact versus approximate curvature. Runs the batch under a grid of
approximations — exact; Monte-Carlo with M samples; sub-batches of N/2, N/4,
N/8; MC on a sub-batch; per-layer blocks — and reports, against the exact
mini-batch GGN, the mean relative error of the top-k eigenvalues, the overlap
of the top-k eigenspaces ‖P̃P‖²_F/k, the wall time and the peak heap.
Random rows are averaged over seeds (± one standard deviation). With any
of --mc, --subbatch, --groups or --precision, bench compares that one
approximation (the knobs as the other commands read them) with the exact
GGN instead of the grid.

With --dataset, the data file is a data set: bench draws random
mini-batches of each size of --batch-sizes from it (--seeds of each size),
runs the same approximations on them and compares each with the GGN of the
whole data set's loss (the ViViT paper's mini-batch study).`

const benchExamples = `  vivit bench
  vivit bench --model model.safetensors --data batch.safetensors --k 10 --seeds 5 --format json
  vivit bench --mc-samples 1,4,16 --subbatches 2,4 --plot bench.png
  vivit bench --mc 2 --precision float32 --k 5
  vivit bench --dataset --batch-sizes 16,32,64 --plot dataset.png
  vivit bench --dataset --model model.safetensors --data digits.safetensors --batch-sizes 32,64,128,256 --batch-size 256 --memory 512MiB
`

type benchJSON struct {
	K     int         `json:"k"`
	Loss  float64     `json:"loss"`
	Seeds int         `json:"seeds"`
	Rows  []bench.Row `json:"rows"`
}

func runBench(args []string, stdout, stderr io.Writer) error {
	c := newCommon("bench", benchSummary, benchExamples, stdout, stderr, withKnobs)
	c.hide("seed") // the seeds are 0 … --seeds−1
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
	dataset := c.fs.Bool("dataset", false, "compare mini-batches drawn from the data file with the GGN of the whole data set, instead of approximations with the exact GGN of the batch")
	c.add("dataset", "")
	sizes := c.fs.String("batch-sizes", "", "with --dataset, the mini-batch sizes `N1,N2,…` compared (default: those of 32, 64, 128, 256 below the data set's size)")
	c.add("batch-sizes", "")
	ds := addDataSetFlags(c)
	c.fs.Lookup("batch-size").Usage = "with --dataset, compute the data set's GGN (the reference) in batches of `B` samples, as 'vivit eigen --batch-size' does (docs/scaling.md); 0 = one batch"
	c.fs.Lookup("method").Usage = "with --dataset and --batch-size, how to compute the data set's GGN `METHOD`: auto, batch, parameters or lanczos, as for 'vivit eigen'"
	plotPath := c.fs.String("plot", "", "draw eigenvalue error and overlap against time into `FILE.png`; with --dataset, against the mini-batch size")
	c.add("plot", groupOutput)
	c.fs.Lookup("no-timing").Usage = "leave times and memory out of the output (for reproducible output)"
	c.fs.Lookup("seeds").Usage = "`S` seeds for each random approximation; with --dataset, the random mini-batches of each size (one seed each)"
	if err := c.parse(args); err != nil {
		return err
	}
	defer c.progress.done()
	if err := c.needBatch(); err != nil {
		return err
	}
	if !*dataset {
		for _, f := range []string{"batch-sizes", "batch-size", "method"} {
			if c.set(f) {
				return usagef("--%s needs --dataset", f)
			}
		}
	} else if c.set("subbatch") {
		return usagef("--subbatch names samples of one batch; with --dataset, --subbatches D1,D2,… gives sub-batches of each mini-batch")
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
	if c.set("seed") {
		return usagef("--seed does not apply to bench (it averages over the seeds 0 … --seeds−1)")
	}
	m, b, opts, err := c.loadWithOptions()
	if err != nil {
		return err
	}
	chosen := c.set("mc") || c.set("subbatch") || c.set("groups") || c.set("precision")
	if chosen && (c.set("mc-samples") || c.set("subbatches") || c.set("no-layer")) {
		return usagef("--mc, --subbatch, --groups and --precision choose one approximation; --mc-samples, --subbatches and --no-layer shape the grid: give one or the other")
	}
	// grid returns the approximations of a batch of n samples.
	grid := func(n int, samples []int) []bench.Approx {
		g := []bench.Approx{{Groups: "full"}}
		if chosen {
			return append(g, bench.Approx{MCSamples: c.mc, Samples: samples, Groups: c.groupsBy, Precision: opts.Precision})
		}
		for _, mc := range mList {
			g = append(g, bench.Approx{MCSamples: mc, Groups: "full"})
		}
		for _, d := range dList {
			if n/d >= 1 && d > 1 {
				g = append(g, bench.Approx{SubBatch: n / d, Groups: "full"})
			}
		}
		if len(mList) > 0 && len(dList) > 0 && n/dList[len(dList)/2] >= 1 {
			g = append(g, bench.Approx{MCSamples: mList[0], SubBatch: n / dList[len(dList)/2], Groups: "full"})
		}
		if !*noLayer {
			g = append(g, bench.Approx{Groups: "layer"})
			if len(mList) > 0 {
				g = append(g, bench.Approx{MCSamples: mList[0], Groups: "layer"})
			}
		}
		return g
	}
	if *dataset {
		return c.benchDataSet(m, b, opts, ds, grid, *k, *seeds, *sizes, *plotPath)
	}
	n := b.Len()
	rows, err := bench.Compare(m, b, bench.Settings{K: *k, Seeds: *seeds, Grid: grid(n, opts.SubBatch), Context: runContext,
		Progress: func(i, total int, a bench.Approx) { c.progress.stage(a.Name(), i, total) }})
	if err != nil {
		return err
	}
	loss, _, err := vivit.Gradient(m, b)
	if err != nil {
		return err
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
			if c.noTiming {
				// Leave the times and memory out rather than write zeros.
				return enc.Encode(benchJSONNoTiming{K: *k, Loss: loss, Seeds: *seeds, Rows: withoutTiming(rows)})
			}
			return enc.Encode(benchJSON{K: *k, Loss: loss, Seeds: *seeds, Rows: rows})
		case "csv":
			cw := csv.NewWriter(w)
			head := []string{"approximation", "mc_samples", "subbatch", "groups", "seeds", "seconds", "seconds_std", "peak_mib", "eigenvalue_rel_error", "eigenvalue_rel_error_std", "overlap", "overlap_std"}
			if c.noTiming {
				head = append(head[:5:5], head[8:]...)
			}
			cw.Write(head)
			for _, r := range rows {
				rec := []string{r.Approximation, strconv.Itoa(r.MCSamples), strconv.Itoa(r.SubBatch), r.Groups, strconv.Itoa(r.Seeds),
					csvFloat(r.Seconds), csvFloat(r.SecondsStd), csvFloat(r.PeakMiB), csvFloat(r.EigRelError), csvFloat(r.EigRelErrorStd), csvFloat(r.Overlap), csvFloat(r.OverlapStd)}
				if c.noTiming {
					rec = append(rec[:5:5], rec[8:]...)
				}
				cw.Write(rec)
			}
			cw.Flush()
			return cw.Error()
		}
		fmt.Fprintf(w, "Exact versus approximate GGN: top-%d eigenpairs, %d parameters, batch of %d, loss %.6g, %d seeds per random row\n\n", *k, m.NumParams(), n, loss, *seeds)
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

// benchJSONNoTiming is benchJSON with --no-timing: rows without times and
// memory.
type benchJSONNoTiming struct {
	K     int              `json:"k"`
	Loss  float64          `json:"loss"`
	Seeds int              `json:"seeds"`
	Rows  []benchRowNoTime `json:"rows"`
}

// benchRowNoTime is a bench.Row without its timing and memory fields.
type benchRowNoTime struct {
	Approximation  string  `json:"approximation"`
	MCSamples      int     `json:"mc_samples"`
	SubBatch       int     `json:"subbatch"`
	Groups         string  `json:"groups"`
	Seeds          int     `json:"seeds"`
	EigRelError    float64 `json:"eigenvalue_rel_error"`
	EigRelErrorStd float64 `json:"eigenvalue_rel_error_std"`
	Overlap        float64 `json:"overlap"`
	OverlapStd     float64 `json:"overlap_std"`
}

func withoutTiming(rows []bench.Row) []benchRowNoTime {
	out := make([]benchRowNoTime, len(rows))
	for i, r := range rows {
		out[i] = benchRowNoTime{r.Approximation, r.MCSamples, r.SubBatch, r.Groups, r.Seeds, r.EigRelError, r.EigRelErrorStd, r.Overlap, r.OverlapStd}
	}
	return out
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
	// Times on a log axis: the data are log10(ms), labelled by decadeTicks
	// (gonum's LogTicks labels only whole decades, often one).
	for _, p := range []*plot.Plot{left, right} {
		p.X.Tick.Marker = decadeTicks{}
	}
	xlo, xhi := math.Inf(1), math.Inf(-1)
	ylo, yhi := 0.0, 0.0
	for _, r := range rows {
		x := math.Log10(math.Max(1000*r.Seconds, 1e-3))
		xlo, xhi = math.Min(xlo, x), math.Max(xhi, x)
		yhi = math.Max(yhi, r.EigRelError+r.EigRelErrorStd)
	}
	if xhi-xlo < 0.3 {
		xlo, xhi = xlo-0.15, xhi+0.15
	}
	panels := []*plot.Plot{left, right}
	labels := make([][]pointLabel, 2)
	obstacles := make([][]vg.Rectangle, 2)
	type bar struct{ x, y, e float64 }
	bars := make([][]bar, 2)
	const radius = 4
	for i, r := range rows {
		ms := math.Log10(math.Max(1000*r.Seconds, 1e-3))
		col := palette[i%len(palette)]
		for j, pv := range []struct{ y, e float64 }{{r.EigRelError, r.EigRelErrorStd}, {r.Overlap, r.OverlapStd}} {
			p := panels[j]
			pts := plotter.XYs{{X: ms, Y: pv.y}}
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return err
			}
			sc.GlyphStyle.Color = col
			sc.GlyphStyle.Radius = vg.Points(radius)
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			if r.Groups == "layer" {
				sc.GlyphStyle.Shape = draw.TriangleGlyph{}
			}
			p.Add(sc)
			if pv.e > 0 {
				eb, err := plotter.NewYErrorBars(errPoints{{X: ms, Y: pv.y, Err: pv.e}})
				if err == nil {
					eb.LineStyle.Color = col
					p.Add(eb)
					bars[j] = append(bars[j], bar{ms, pv.y, pv.e})
				}
			}
			// Name each point beside it: clearer than a legend of ten entries.
			sty := p.Legend.TextStyle
			sty.Font.Size = vg.Points(9)
			sty.Color = textColor(col)
			labels[j] = append(labels[j], pointLabel{X: ms, Y: pv.y, Text: r.Approximation, Style: sty})
		}
	}
	// Room on the right for the points' names, and around the extremes.
	for _, p := range panels {
		headroom(&p.X, xlo, xhi, 0.05, 0.2)
	}
	headroom(&left.Y, ylo, yhi, 0.05, 0.08)
	// Labels go where they cover no point, error bar or other label.
	areas := dataAreas([][]*plot.Plot{panels})[0]
	for j, p := range panels {
		at := func(x, y float64) vg.Point { return canvasPoint(p, areas[j], x, y) }
		r := vg.Points(radius + 1)
		for _, l := range labels[j] {
			c := at(l.X, l.Y)
			obstacles[j] = append(obstacles[j], vg.Rectangle{Min: c.Sub(vg.Point{X: r, Y: r}), Max: c.Add(vg.Point{X: r, Y: r})})
		}
		for _, b := range bars[j] {
			lo, hi := at(b.x, b.y-b.e), at(b.x, b.y+b.e)
			obstacles[j] = append(obstacles[j], vg.Rectangle{Min: vg.Point{X: lo.X - vg.Points(3), Y: lo.Y}, Max: vg.Point{X: hi.X + vg.Points(3), Y: hi.Y}})
		}
		offsets := placeLabels(p, areas[j], labels[j], obstacles[j], vg.Points(radius+2))
		for i, l := range labels[j] {
			lb, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: l.X, Y: l.Y}}, Labels: []string{l.Text}})
			if err != nil {
				return err
			}
			lb.TextStyle[0] = l.Style
			lb.Offset = offsets[i]
			p.Add(lb)
		}
	}
	return savePanels(path, [][]*plot.Plot{{left, right}})
}

// errPoints are points with symmetric y errors for plotter.NewYErrorBars.
type errPoints []struct{ X, Y, Err float64 }

func (e errPoints) Len() int                         { return len(e) }
func (e errPoints) XY(i int) (float64, float64)      { return e[i].X, e[i].Y }
func (e errPoints) YError(i int) (low, high float64) { return e[i].Err, e[i].Err }
