package main

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/vivit-go/vivit"
)

// statsPlot draws the per-layer statistics (gradient norm, GGN trace,
// gradient SNR: one point per layer on a log scale, labelled with its
// value — bars would start at an arbitrary level of a log axis) and the
// distribution of the per-sample gradient norms.
func statsPlot(path string, st *vivit.Stats, mc int) error {
	var names []string
	for _, l := range st.Layers {
		names = append(names, blockName(l.Layer))
	}
	bars := func(title, ylabel string, value func(vivit.LayerStats) float64, col int) (*plot.Plot, error) {
		p := newPlot(title, "layer (module)", ylabel)
		var xys plotter.XYs
		var texts []string
		lo, hi := math.Inf(1), math.Inf(-1)
		for i, l := range st.Layers {
			v := value(l)
			if !(v > 0) || math.IsInf(v, 0) {
				continue // undefined, or zero on a log axis: no point
			}
			xys = append(xys, plotter.XY{X: float64(i), Y: math.Log10(v)})
			texts = append(texts, fmt.Sprintf("%.3g", v))
			lo, hi = math.Min(lo, math.Log10(v)), math.Max(hi, math.Log10(v))
		}
		if len(xys) > 0 {
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle.Color = palette[col]
			sc.GlyphStyle.Radius = vg.Points(4)
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			p.Add(sc)
			lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
			if err != nil {
				return nil, err
			}
			for i := range lb.TextStyle {
				lb.TextStyle[i].Font.Size = vg.Points(9)
			}
			lb.Offset = vg.Point{X: vg.Points(-9), Y: vg.Points(7)}
			p.Add(lb)
		} else {
			lo, hi = -1, 1
		}
		// At least one decade shown, labels and glyphs inside the frame.
		if hi-lo < 1 {
			mid := (hi + lo) / 2
			lo, hi = mid-0.5, mid+0.5
		}
		headroom(&p.Y, lo, hi, 0.08, 0.15)
		p.NominalX(names...)
		p.X.Min, p.X.Max = -0.6, float64(len(names))-0.4
		p.X.Tick.Label.Rotation = math.Pi / 5
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YTop
		p.Y.Tick.Marker = decadeTicks{}
		return p, nil
	}
	g, err := bars("Gradient norm per layer", "norm of the layer's gradient (log scale)", func(l vivit.LayerStats) float64 { return l.GradNorm }, 0)
	if err != nil {
		return err
	}
	label := "exact GGN"
	if mc > 0 {
		label = fmt.Sprintf("Monte-Carlo GGN, M = %d", mc)
	}
	tr, err := bars("GGN trace per layer ("+label+")", "trace of the layer's GGN block (log scale)", func(l vivit.LayerStats) float64 { return l.GGNTrace }, 1)
	if err != nil {
		return err
	}
	snr, err := bars("Gradient signal-to-noise ratio per layer", "gradient SNR ‖ḡ‖²/Σ variance (log scale)", func(l vivit.LayerStats) float64 { return l.SNR }, 2)
	if err != nil {
		return err
	}
	hist := newPlot(fmt.Sprintf("Per-sample gradient norms (N = %d)", len(st.PerSampleGradNorms)), "norm of the per-sample gradient of ℓ_n (log scale)", "samples")
	var vs plotter.Values
	for _, v := range st.PerSampleGradNorms {
		if v > 0 {
			vs = append(vs, math.Log10(v))
		}
	}
	if len(vs) > 0 {
		h, err := plotter.NewHist(vs, max(5, min(30, len(vs)/3)))
		if err != nil {
			return err
		}
		h.FillColor = palette[3]
		hist.Add(h)
		hist.X.Tick.Marker = decadeTicks{}
		headroom(&hist.Y, 0, hist.Y.Max, 0, 0.1) // the tallest bar below the frame
	}
	return savePanels(path, [][]*plot.Plot{{g, tr}, {snr, hist}})
}
