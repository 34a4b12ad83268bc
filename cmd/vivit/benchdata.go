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
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/bench"
	"github.com/vivit-go/vivit/internal/pngplot"
)

// benchDataSetJSON is the JSON form of 'vivit bench --dataset'.
type benchDataSetJSON struct {
	K           int                `json:"k"`
	NumParams   int                `json:"num_params"`
	DataSetSize int                `json:"data_set_size"`
	Loss        float64            `json:"loss"`
	Trace       float64            `json:"trace"`
	Reference   benchReferenceJSON `json:"reference"`
	Batches     int                `json:"batches"` // random mini-batches per size
	Rows        []bench.DataSetRow `json:"rows"`
}

// benchReferenceJSON describes the data set's GGN that bench compares with.
type benchReferenceJSON struct {
	Method      string    `json:"method"`
	BatchSize   int       `json:"batch_size"`
	Batches     int       `json:"batches"`
	Passes      int       `json:"passes"`
	Eigenvalues []float64 `json:"eigenvalues"`
	Residuals   []float64 `json:"residuals,omitempty"`
}

// benchDataSet is 'vivit bench --dataset': mini-batches of each size drawn
// from the data set b, under the approximations grid(N) returns, compared
// with the data set's GGN (bench.CompareDataSet).
func (c *common) benchDataSet(m *vivit.Model, b *vivit.Batch, opts *vivit.Options, ds *dataSetFlags,
	grid func(n int, samples []int) []bench.Approx, k, seeds int, sizes, plotPath string) error {
	n := b.Len()
	bs, err := intList("batch-sizes", sizes)
	if err != nil {
		return err
	}
	if bs == nil {
		for _, s := range []int{32, 64, 128, 256} {
			if s < n {
				bs = append(bs, s)
			}
		}
		if bs == nil {
			return usagef("--dataset: the data set has %d samples, fewer than the smallest default mini-batch (32): give --batch-sizes", n)
		}
	}
	for _, s := range bs {
		if s > n {
			return usagef("--batch-sizes: %d is more than the data set's %d samples", s, n)
		}
	}
	if err := ds.apply(opts); err != nil {
		return err
	}
	// The reference is the exact GGN of the whole network, in float64.
	ref := vivit.DataSetOptions{
		Options:   vivit.Options{MemoryBudget: opts.MemoryBudget, Progress: c.progress.stage, Context: runContext},
		BatchSize: ds.batchSize,
	}
	ref.Method, _ = vivit.ParseDataSetMethod(ds.method)
	rows, res, err := bench.CompareDataSet(m, b, bench.DataSetSettings{
		K: k, Batches: seeds, BatchSizes: bs, Reference: ref, Context: runContext,
		Grid: func(n int) []bench.Approx { return grid(n, nil) },
		Progress: func(i, total, size int) {
			c.progress.stage(fmt.Sprintf("mini-batches of %d (%d of %d sizes)", size, i+1, total), 0, 1)
		},
	})
	if err != nil {
		return err
	}
	c.note("reference: " + dataSetNote(res))
	refVals := res.Blocks[0].Values
	var trace float64
	for _, t := range res.Trace {
		trace += t
	}
	if plotPath != "" {
		if err := benchDataSetPlot(plotPath, rows, k, m.NumParams(), n, seeds); err != nil {
			return err
		}
	}
	return c.writeResult(func(w io.Writer) error {
		switch c.format {
		case "json":
			out := benchDataSetJSON{K: k, NumParams: m.NumParams(), DataSetSize: n, Loss: res.Loss, Trace: trace, Batches: seeds, Rows: rows,
				Reference: benchReferenceJSON{Method: res.Method, BatchSize: res.BatchSize, Batches: res.Batches, Passes: res.Passes, Eigenvalues: nonNil(refVals)}}
			if len(res.Residuals) > 0 {
				out.Reference.Residuals = res.Residuals[0]
			}
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		case "csv":
			cw := csv.NewWriter(w)
			cw.Write([]string{"batch_size", "approximation", "mc_samples", "subbatch", "groups", "batches", "eigenvalue_rel_error", "eigenvalue_rel_error_std", "overlap", "overlap_std"})
			for _, r := range rows {
				cw.Write([]string{strconv.Itoa(r.BatchSize), r.Approximation, strconv.Itoa(r.MCSamples), strconv.Itoa(r.SubBatch), r.Groups, strconv.Itoa(r.Batches),
					csvFloat(r.EigRelError), csvFloat(r.EigRelErrorStd), csvFloat(r.Overlap), csvFloat(r.OverlapStd)})
			}
			cw.Flush()
			return cw.Error()
		}
		fmt.Fprintf(w, "Mini-batch versus data-set GGN: top-%d eigenpairs, %d parameters, data set of %d samples, loss %.6g, tr(G) %.6g\n",
			k, m.NumParams(), n, res.Loss, trace)
		fmt.Fprintf(w, "(reference: the exact GGN of the data set by method %s; %d random mini-batch%s of each size)\n\n", res.Method, seeds, pluralES(seeds))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "batch size\tapproximation\tsamples\tblocks\teigenvalue error\toverlap\t")
		for _, r := range rows {
			pm := func(v, s float64) string {
				if r.Batches == 1 {
					return fmt.Sprintf("%.3f", v)
				}
				return fmt.Sprintf("%.3f ± %.3f", v, s)
			}
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t\n", r.BatchSize, r.Approximation, r.SubBatch, r.Groups,
				pm(r.EigRelError, r.EigRelErrorStd), pm(r.Overlap, r.OverlapStd))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err := fmt.Fprint(w, `
eigenvalue error: mean over the top k of |λ̃_k − λ_k|/λ_k against the data
set's eigenvalues λ_k (per k: --format json); overlap: ‖P̃P‖²_F/k of the
top-k eigenspaces (1 = same subspace, 0 = orthogonal); mean ± standard
deviation over the random mini-batches; samples: those whose curvature the
approximation uses.
`)
		return err
	})
}

// benchDataSetPlot draws the eigenspace overlap and the eigenvalue error
// against the mini-batch size, one curve per approximation (sub-batches by
// their fraction N/D of the mini-batch), with ± one standard deviation
// over the mini-batches as error bars; the key sits below the panels.
func benchDataSetPlot(path string, rows []bench.DataSetRow, k, d, n, batches int) error {
	xlabel := "mini-batch size N (log scale)"
	left := newPlot(fmt.Sprintf("Top-%d eigenspace overlap with the data set's GGN", k), xlabel, "overlap (1 = same subspace, 0 = orthogonal)")
	right := newPlot(fmt.Sprintf("Top-%d eigenvalue error (D = %d, data set of %d)", k, d, n), xlabel, "mean relative error of λ_1…λ_k (log scale)")
	right.Y.Tick.Marker = decadeTicks{}
	// One curve per approximation, in the order of first appearance.
	var names []string
	curves := map[string][]bench.DataSetRow{}
	var sizes []float64
	for _, r := range rows {
		name := curveName(r)
		if _, ok := curves[name]; !ok {
			names = append(names, name)
		}
		curves[name] = append(curves[name], r)
		if len(sizes) == 0 || sizes[len(sizes)-1] != float64(r.BatchSize) {
			sizes = append(sizes, float64(r.BatchSize))
		}
	}
	for _, p := range []*plot.Plot{left, right} {
		p.X.Tick.Marker = valueTicks(sizes)
	}
	xlo, xhi := math.Inf(1), math.Inf(-1)
	for _, s := range sizes {
		xlo, xhi = math.Min(xlo, math.Log10(s)), math.Max(xhi, math.Log10(s))
	}
	span := math.Max(xhi-xlo, 0.3)
	// Curves are dodged sideways a little so that their error bars do not
	// hide one another.
	dodge := 0.007 * span
	ylo, yhi := math.Inf(1), math.Inf(-1) // log10 of the errors, bars included
	olo := 1.0
	shapes := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PyramidGlyph{},
		draw.RingGlyph{}, draw.BoxGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}}
	var legends []plot.Legend
	const legendCols = 4
	perCol := (len(names) + legendCols - 1) / legendCols
	for i, name := range names {
		col := palette[i%len(palette)]
		shift := (float64(i) - float64(len(names)-1)/2) * dodge
		var ov, er plotter.XYs
		var ovBars, erBars errRange
		for _, r := range curves[name] {
			x := math.Log10(float64(r.BatchSize)) + shift
			ov = append(ov, plotter.XY{X: x, Y: r.Overlap})
			ovBars = append(ovBars, errBar{x, r.Overlap, r.OverlapStd, r.OverlapStd})
			olo = math.Min(olo, r.Overlap-r.OverlapStd)
			if r.EigRelError > 0 {
				// ± one standard deviation on the log axis, the lower end
				// at most a decade below the mean.
				y := math.Log10(r.EigRelError)
				lo := math.Log10(math.Max(r.EigRelError-r.EigRelErrorStd, r.EigRelError/10))
				hi := math.Log10(r.EigRelError + r.EigRelErrorStd)
				er = append(er, plotter.XY{X: x, Y: y})
				erBars = append(erBars, errBar{x, y, y - lo, hi - y})
				ylo, yhi = math.Min(ylo, lo), math.Max(yhi, hi)
			}
		}
		var key []plot.Thumbnailer
		for _, pc := range []struct {
			p    *plot.Plot
			pts  plotter.XYs
			bars errRange
		}{{left, ov, ovBars}, {right, er, erBars}} {
			if len(pc.pts) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(pc.pts)
			if err != nil {
				return err
			}
			line.Color = col
			line.Width = vg.Points(1.6)
			if i >= len(palette) {
				line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			}
			points.Color = col
			points.Radius = vg.Points(3.5)
			points.Shape = shapes[i%len(shapes)]
			pc.p.Add(line, points)
			if batches > 1 {
				bar, err := plotter.NewYErrorBars(pc.bars)
				if err != nil {
					return err
				}
				bar.LineStyle.Color = col
				bar.LineStyle.Width = vg.Points(1)
				pc.p.Add(bar)
			}
			if key == nil {
				key = []plot.Thumbnailer{line, points}
			}
		}
		if i%perCol == 0 {
			l := plot.NewLegend()
			l.Top, l.Left = true, true
			l.TextStyle.Font.Size = vg.Points(11)
			l.ThumbnailWidth = vg.Points(28)
			l.Padding = vg.Points(3)
			legends = append(legends, l)
		}
		legends[len(legends)-1].Add(name, key...)
	}
	for _, p := range []*plot.Plot{left, right} {
		p.X.Min, p.X.Max = xlo-0.08*span, xhi+0.08*span
	}
	headroom(&left.Y, math.Max(olo, 0), 1, 0.05, 0.05)
	left.Y.Tick.Marker = linearTicks{}
	if math.IsInf(ylo, 0) {
		ylo, yhi = -1, 0
	}
	headroom(&right.Y, ylo, yhi, 0.05, 0.05)
	w, h := plotSize(1)
	strip := vg.Length(perCol)*vg.Points(15) + vg.Points(6)
	img := vgimg.NewWith(vgimg.UseWH(vg.Length(w)/plotDPI*vg.Inch, vg.Length(h)/plotDPI*vg.Inch), vgimg.UseDPI(plotDPI))
	t := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 6,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 12, PadRight: vg.Millimeter * 4}
	return pngplot.SaveGridLegend(path, img, [][]*plot.Plot{{left, right}}, t, legends, strip)
}

// curveName is the label of a row's curve: its approximation, with a
// sub-batch named by its fraction N/D of the mini-batch.
func curveName(r bench.DataSetRow) string {
	name := r.Approximation
	if r.SubBatch > 0 && r.SubBatch < r.BatchSize {
		frac := fmt.Sprintf("sub=N/%d", int(math.Round(float64(r.BatchSize)/float64(r.SubBatch))))
		name = strings.Replace(name, fmt.Sprintf("sub=%d", r.SubBatch), frac, 1)
	}
	return name
}

// valueTicks labels an axis that holds log10 of the data with ticks at
// the given values.
type valueTicks []float64

func (v valueTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for _, x := range v {
		if l := math.Log10(x); l >= lo && l <= hi {
			ts = append(ts, plot.Tick{Value: l, Label: strconv.FormatFloat(x, 'g', -1, 64)})
		}
	}
	return ts
}

// linearTicks labels a linear axis every 0.1, 0.2 or 0.5 times a power of
// ten, whichever gives 5 to 12 labels, with a minor tick between labels.
type linearTicks struct{}

func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return nil
	}
	p := math.Pow(10, math.Floor(math.Log10(hi-lo)))
	step := p
	for _, f := range []float64{0.1, 0.2, 0.5, 1} {
		if (hi-lo)/(f*p) <= 12 {
			step = f * p
			break
		}
	}
	var ts []plot.Tick
	for i := math.Ceil(lo / step * 2); i/2*step <= hi; i++ {
		v := i / 2 * step
		t := plot.Tick{Value: v}
		if int(i)%2 == 0 {
			t.Label = strconv.FormatFloat(v, 'g', 4, 64)
		}
		ts = append(ts, t)
	}
	return ts
}

// errBar is a point with error bars low below and high above it.
type errBar struct{ X, Y, Low, High float64 }

// errRange are points with asymmetric y errors for plotter.NewYErrorBars.
type errRange []errBar

func (e errRange) Len() int                         { return len(e) }
func (e errRange) XY(i int) (float64, float64)      { return e[i].X, e[i].Y }
func (e errRange) YError(i int) (low, high float64) { return e[i].Low, e[i].High }
