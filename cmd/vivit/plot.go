package main

import (
	"fmt"
	"image/color"
	"math"
	"math/rand/v2"
	"strconv"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/internal/pngplot"
)

// Plot geometry: two panels of panelW × panelH pixels per row, at plotDPI.
const (
	plotDPI = 100
	panelW  = 650
	panelH  = 480
)

// plotSize returns the pixel size of a figure with the given number of
// rows (the spectrum has one, the directional plot one per group).
func plotSize(rows int) (w, h int) { return 2 * panelW, rows * panelH }

// palette is the Okabe–Ito colour-blind-safe palette.
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{213, 94, 0, 255},    // vermillion
	color.RGBA{0, 158, 115, 255},   // bluish green
	color.RGBA{204, 121, 167, 255}, // reddish purple
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{86, 180, 233, 255},  // sky blue
	color.RGBA{240, 228, 66, 255},  // yellow
	color.RGBA{0, 0, 0, 255},       // black
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.X.Label.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.TextStyle.Font.Size = vg.Points(11)
	p.X.Tick.Label.Font.Size = vg.Points(10)
	p.Y.Tick.Label.Font.Size = vg.Points(10)
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Add(plotter.NewGrid())
	return p
}

// decadeTicks labels an axis that holds log10 of the data: a labelled
// tick at every power of ten (every other one beyond 12 decades) and minor
// ticks at 2…9 times it; over less than 2.5 decades the 2× and 5× ticks
// are labelled too, over less than 1.2 decades every one, so that an axis
// always carries several labels. (gonum's LogScale misplaces long axis
// labels.)
type decadeTicks struct{}

func (decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	a, b := int(math.Floor(lo)), int(math.Ceil(hi))
	step := max(1, (b-a+11)/12)
	var ts []plot.Tick
	for d := a; d <= b; d++ {
		if d%step == 0 {
			ts = append(ts, plot.Tick{Value: float64(d), Label: decadeLabel(d)})
		} else {
			ts = append(ts, plot.Tick{Value: float64(d)})
		}
		if step == 1 {
			for m := 2; m <= 9; m++ {
				if v := float64(d) + math.Log10(float64(m)); v <= hi && v >= lo {
					t := plot.Tick{Value: v}
					if hi-lo < 1.2 || (hi-lo < 2.5 && (m == 2 || m == 5)) {
						t.Label = strconv.FormatFloat(float64(m)*math.Pow(10, float64(d)), 'g', 3, 64)
					}
					ts = append(ts, t)
				}
			}
		}
	}
	return ts
}

// headroom widens a linear axis range [lo, hi] of data by below and above
// (fractions of its span), so that the legend (drawn at the top) and the
// glyphs at the extremes sit inside the frame, off the data.
func headroom(ax *plot.Axis, lo, hi, below, above float64) {
	span := hi - lo
	if !(span > 0) {
		span = math.Max(math.Abs(hi), 1)
	}
	ax.Min, ax.Max = lo-below*span, hi+above*span
}

func decadeLabel(d int) string {
	if d >= -2 && d <= 2 {
		return strconv.FormatFloat(math.Pow(10, float64(d)), 'g', -1, 64) // 0.01 … 100
	}
	return fmt.Sprintf("1e%d", d)
}

// savePanels draws a grid of plots (rows × 2) into a PNG file.
func savePanels(path string, plots [][]*plot.Plot) error {
	img, t := panelLayout(len(plots))
	return pngplot.SaveGrid(path, img, plots, t)
}

// panelLayout returns the canvas and tiling of a figure of rows × 2 panels.
func panelLayout(rows int) (*vgimg.Canvas, draw.Tiles) {
	w, h := plotSize(rows)
	img := vgimg.NewWith(vgimg.UseWH(vg.Length(w)/plotDPI*vg.Inch, vg.Length(h)/plotDPI*vg.Inch), vgimg.UseDPI(plotDPI))
	t := draw.Tiles{Rows: rows, Cols: 2, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 6,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	return img, t
}

// dataAreas returns the data area of each panel of a figure on the canvas,
// as savePanels will draw it: once the axis ranges are final, they tell
// where a point lands, so that labels can be placed.
func dataAreas(plots [][]*plot.Plot) [][]vg.Rectangle {
	img, t := panelLayout(len(plots))
	canvases := plot.Align(plots, t, draw.New(img))
	areas := make([][]vg.Rectangle, len(plots))
	for i := range plots {
		for j, p := range plots[i] {
			areas[i] = append(areas[i], p.DataCanvas(canvases[i][j]).Rectangle)
		}
	}
	return areas
}

// canvasPoint returns where the data point (x, y) lands in a panel whose
// data area is area.
func canvasPoint(p *plot.Plot, area vg.Rectangle, x, y float64) vg.Point {
	return vg.Point{
		X: area.Min.X + vg.Length(p.X.Norm(x))*area.Size().X,
		Y: area.Min.Y + vg.Length(p.Y.Norm(y))*area.Size().Y,
	}
}

// pointLabel is the name of a point to be written beside it.
type pointLabel struct {
	X, Y  float64 // data coordinates
	Text  string
	Style text.Style
}

// placeLabels returns the offset from its point of each label such that
// the labels overlap neither one another nor the obstacles (the points'
// glyphs and error bars, in canvas coordinates) and stay inside area: the
// first of a fixed list of positions around the point (right, left,
// above, below, then further out) that is free, or the least covered one.
// Labels are placed in the order given.
func placeLabels(p *plot.Plot, area vg.Rectangle, labels []pointLabel, obstacles []vg.Rectangle, gap vg.Length) []vg.Point {
	offsets := make([]vg.Point, len(labels))
	for i, l := range labels {
		at := canvasPoint(p, area, l.X, l.Y)
		box := l.Style.Rectangle(l.Text)
		w, h := box.Size().X, box.Size().Y
		// Candidate lower-left corners of the text box, relative to the point.
		var cands []vg.Point
		for _, dy := range []vg.Length{0, 1, -1, 2, -2, 3, -3} {
			y := -h/2 + dy*h
			cands = append(cands, vg.Point{X: gap, Y: y}, vg.Point{X: -gap - w, Y: y})
			if dy == 0 {
				cands = append(cands, vg.Point{X: -w / 2, Y: gap}, vg.Point{X: -w / 2, Y: -gap - h})
			}
		}
		best, bestCost := cands[0], vg.Length(math.Inf(1))
		for _, c := range cands {
			r := vg.Rectangle{Min: at.Add(c), Max: at.Add(c).Add(vg.Point{X: w, Y: h})}
			cost := overlap(r, obstacles)
			// Outside the data area counts as fully covered.
			cost += w*h - overlap(r, []vg.Rectangle{area})
			if cost < bestCost {
				best, bestCost = c, cost
			}
			if cost == 0 {
				break
			}
		}
		r := vg.Rectangle{Min: at.Add(best), Max: at.Add(best).Add(vg.Point{X: w, Y: h})}
		obstacles = append(obstacles, r)
		// The text is drawn with its box's lower-left corner at point + offset - box.Min.
		offsets[i] = best.Sub(box.Min)
	}
	return offsets
}

// overlap returns the total area of r covered by the rectangles (counted
// once per rectangle).
func overlap(r vg.Rectangle, rs []vg.Rectangle) vg.Length {
	var sum vg.Length
	for _, o := range rs {
		w := min(r.Max.X, o.Max.X) - max(r.Min.X, o.Min.X)
		h := min(r.Max.Y, o.Max.Y) - max(r.Min.Y, o.Min.Y)
		if w > 0 && h > 0 {
			sum += w * h
		}
	}
	return sum
}

func groupLabel(name string) string {
	if name == "" {
		return "whole network"
	}
	return "layer " + name
}

func curvatureLabel(mc int) string {
	if mc > 0 {
		return fmt.Sprintf("Monte-Carlo GGN, M = %d", mc)
	}
	return "exact GGN"
}

// spectrumPlot draws the nonzero spectrum of each block: the eigenvalues
// against their rank on a log scale, and a histogram of log10 λ.
func spectrumPlot(path string, res *vivit.SpectrumResult, mc int) error {
	left := newPlot(fmt.Sprintf("GGN eigenvalues (%s, D = %d, N = %d)", curvatureLabel(mc), res.NumParams, res.CurvatureSamples),
		"rank i of the eigenvalue (1 = largest)", "eigenvalue λ_i (log scale)")
	left.Y.Tick.Marker = decadeTicks{}
	right := newPlot("Histogram of the nonzero spectrum", "eigenvalue λ (log scale)", "density (fraction of eigenvalues per decade)")
	right.X.Tick.Marker = decadeTicks{}
	left.Legend.Top = true
	right.Legend.Top = true
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, blk := range res.Blocks {
		if n := len(blk.Values); n > 0 {
			hi = math.Max(hi, math.Log10(blk.Values[0]))
			lo = math.Min(lo, math.Log10(blk.Values[n-1]))
		}
	}
	if math.IsInf(lo, 0) {
		return fmt.Errorf("--plot: the GGN is zero: nothing to draw")
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-0.5, hi+0.5
	}
	const bins = 40
	width := (hi - lo) / bins
	for bi, blk := range res.Blocks {
		if len(blk.Values) == 0 {
			continue
		}
		col := palette[bi%len(palette)]
		xy := make(plotter.XYs, len(blk.Values))
		for i, v := range blk.Values {
			xy[i] = plotter.XY{X: float64(i + 1), Y: math.Log10(v)}
		}
		line, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		line.Color = col
		line.Width = vg.Points(1.8)
		left.Add(line)
		label := fmt.Sprintf("%s: rank %d, trace %.3g", groupLabel(blk.Name), len(blk.Values), blk.Trace)
		left.Legend.Add(label, line)

		// Histogram of log10 λ on common bins, normalised to unit area.
		counts := make([]float64, bins)
		for _, v := range blk.Values {
			k := int((math.Log10(v) - lo) / width)
			counts[min(max(k, 0), bins-1)]++
		}
		step := make(plotter.XYs, 0, 2*bins+2)
		step = append(step, plotter.XY{X: lo, Y: 0})
		for k, n := range counts {
			d := n / (float64(len(blk.Values)) * width)
			step = append(step, plotter.XY{X: lo + float64(k)*width, Y: d}, plotter.XY{X: lo + float64(k+1)*width, Y: d})
		}
		step = append(step, plotter.XY{X: hi, Y: 0})
		outline, err := plotter.NewLine(step)
		if err != nil {
			return err
		}
		outline.Color = col
		outline.Width = vg.Points(1.5)
		if len(res.Blocks) == 1 {
			r, g, b, _ := col.RGBA()
			outline.FillColor = color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 90}
		}
		right.Add(outline)
		right.Legend.Add(groupLabel(blk.Name), outline)
	}
	// Room above the curves and bars for the legends, and around the
	// extreme eigenvalues so that no point sits on the frame.
	headroom(&left.Y, lo, hi, 0.04, 0.18)
	left.X.Min = 0
	headroom(&right.Y, 0, right.Y.Max, 0, 0.25)
	return savePanels(path, [][]*plot.Plot{{left, right}})
}

// directionalPlot draws, for each block, the distributions over the
// samples of γ_nk and λ_nk for every direction k: box plots with the
// samples jittered on top and the batch mean.
func directionalPlot(path string, res *vivit.Result, mc int) error {
	var rows [][]*plot.Plot
	for _, blk := range res.Blocks {
		if len(blk.Values) == 0 || blk.Gamma == nil {
			continue
		}
		n, _ := blk.Gamma.Dims()
		where := ""
		if len(res.Blocks) > 1 {
			where = ", " + groupLabel(blk.Name)
		}
		xlabel := "direction k (eigenvector e_k of the k-th largest eigenvalue)"
		g := newPlot(fmt.Sprintf("Slopes γ_nk = e_kᵀ grad ℓ_n of %d samples (%s%s)", n, curvatureLabel(mc), where),
			xlabel, "γ_nk: slope of the loss ℓ_n along e_k")
		l := newPlot(fmt.Sprintf("Curvatures λ_nk = e_kᵀ G_n e_k of %d samples (%s%s)", n, curvatureLabel(mc), where),
			xlabel, "λ_nk: curvature of ℓ_n along e_k (log scale)")
		l.Y.Tick.Marker = decadeTicks{}
		if _, err := distributionPanel(g, blk.Gamma, false); err != nil {
			return err
		}
		dropped, err := distributionPanel(l, blk.Lambda, true)
		if err != nil {
			return err
		}
		if dropped > 0 {
			l.Title.Text += fmt.Sprintf(", %d zeros not shown", dropped)
		}
		rows = append(rows, []*plot.Plot{g, l})
	}
	if len(rows) == 0 {
		return fmt.Errorf("--plot: no direction to draw (the GGN is zero)")
	}
	return savePanels(path, rows)
}

// distributionPanel adds to p, for each column j of d (N×k), a box plot of
// the column at x = j, its values as jittered points and its mean. With
// logY, the panel shows log10 of the values (for decadeTicks); values ≤ 0
// are left out and counted.
func distributionPanel(p *plot.Plot, d *mat.Dense, logY bool) (dropped int, err error) {
	positive := logY
	tr := func(v float64) float64 { return v }
	if logY {
		tr = math.Log10
	}
	n, k := d.Dims()
	rng := rand.New(rand.NewPCG(1, 2)) // fixed jitter: the same data gives the same picture
	var pts, means plotter.XYs
	for j := 0; j < k; j++ {
		var vals plotter.Values
		var sum float64
		for i := 0; i < n; i++ {
			v := d.At(i, j)
			sum += v
			if positive && !(v > 0) {
				dropped++
				continue
			}
			vals = append(vals, tr(v))
			pts = append(pts, plotter.XY{X: float64(j) + 0.3*(rng.Float64()-0.5), Y: tr(v)})
		}
		if len(vals) > 0 {
			box, err := plotter.NewBoxPlot(vg.Points(22), float64(j), vals)
			if err != nil {
				return 0, err
			}
			box.BoxStyle.Width = vg.Points(1.2)
			box.MedianStyle.Width = vg.Points(2)
			box.GlyphStyle.Radius = 0 // the outliers are among the points
			p.Add(box)
		}
		if mean := sum / float64(n); !positive || mean > 0 {
			means = append(means, plotter.XY{X: float64(j), Y: tr(mean)})
		}
	}
	if !positive {
		zero := plotter.NewFunction(func(float64) float64 { return 0 })
		zero.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		zero.Color = color.Gray{Y: 120}
		p.Add(zero)
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return 0, err
	}
	sc.GlyphStyle.Color = color.NRGBA{0, 114, 178, 110}
	sc.GlyphStyle.Radius = vg.Points(1.6)
	sc.GlyphStyle.Shape = draw.CircleGlyph{}
	mk, err := plotter.NewScatter(means)
	if err != nil {
		return 0, err
	}
	mk.GlyphStyle.Color = color.RGBA{213, 94, 0, 255}
	mk.GlyphStyle.Radius = vg.Points(4.5)
	mk.GlyphStyle.Shape = draw.PyramidGlyph{}
	p.Add(sc, mk)
	// Leave room at the top for the legend.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, q := range append(append(plotter.XYs{}, pts...), means...) {
		lo, hi = math.Min(lo, q.Y), math.Max(hi, q.Y)
	}
	if hi > lo {
		p.Y.Min, p.Y.Max = lo-0.03*(hi-lo), hi+0.3*(hi-lo)
	}
	names := make([]string, k)
	for j := range names {
		names[j] = strconv.Itoa(j + 1)
	}
	p.NominalX(names...)
	boxKey, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 0}})
	if err != nil {
		return 0, err
	}
	boxKey.Width = vg.Points(1.2)
	p.Legend.Add("one point per sample n", sc)
	p.Legend.Add("mean over the batch", mk)
	p.Legend.Add("box: quartiles, median; whiskers: 1.5 IQR", boxKey)
	p.Legend.Top = true
	return dropped, nil
}

// textColor returns c darkened where it is too light to read as text on
// white (the palette's yellow and orange).
func textColor(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	lum := (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xffff
	if lum < 0.5 {
		return c
	}
	f := 0.5 / lum
	return color.RGBA{uint8(float64(r>>8) * f), uint8(float64(g>>8) * f), uint8(float64(b>>8) * f), 255}
}
