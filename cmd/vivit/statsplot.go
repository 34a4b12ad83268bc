package main

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/vivit-go/vivit"
)

// statsPlot draws the per-layer statistics (gradient norm, GGN trace,
// gradient SNR, as bars on a log scale) and the distribution of the
// per-sample gradient norms.
func statsPlot(path string, st *vivit.Stats, mc int) error {
	var names []string
	for _, l := range st.Layers {
		names = append(names, "layer "+fmt.Sprint(l.Layer))
	}
	bars := func(title, ylabel string, value func(vivit.LayerStats) float64, col int) (*plot.Plot, error) {
		p := newPlot(title, "parameter layer", ylabel)
		var vs plotter.Values
		for _, l := range st.Layers {
			v := value(l)
			if !(v > 0) || math.IsInf(v, 0) {
				v = math.NaN() // no bar: undefined or zero on a log axis
			}
			vs = append(vs, math.Log10(v))
		}
		lo := math.Inf(1)
		for _, v := range vs {
			if !math.IsNaN(v) {
				lo = math.Min(lo, v)
			}
		}
		if math.IsInf(lo, 1) {
			lo = 0
		}
		base := math.Floor(lo) - 0.5
		for i, v := range vs {
			if math.IsNaN(v) {
				vs[i] = base
			} else {
				vs[i] = v - base
			}
		}
		b, err := plotter.NewBarChart(vs, vg.Points(28))
		if err != nil {
			return nil, err
		}
		b.Offset = 0
		b.Color = palette[col]
		b.LineStyle.Width = 0
		// The bars stand on base, not 0: they are drawn as values − base
		// and the axis is labelled in the data's units.
		p.Add(b)
		top := 0.0
		var xys plotter.XYs
		var texts []string
		for i, l := range st.Layers {
			top = math.Max(top, vs[i])
			xys = append(xys, plotter.XY{X: float64(i), Y: vs[i]})
			if v := value(l); v > 0 && !math.IsInf(v, 0) {
				texts = append(texts, fmt.Sprintf("%.3g", v))
			} else {
				texts = append(texts, "undefined")
			}
		}
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
		if err != nil {
			return nil, err
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Font.Size = vg.Points(10)
		}
		lb.Offset = vg.Point{X: vg.Points(-12), Y: vg.Points(4)}
		p.Add(lb)
		p.NominalX(names...)
		p.Y.Tick.Marker = shiftedDecades{base}
		p.Y.Min, p.Y.Max = 0, top+0.35
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
	snr, err := bars("Gradient signal-to-noise ratio per layer", "|mean gradient|² / summed variance (log scale)", func(l vivit.LayerStats) float64 { return l.SNR }, 2)
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
	}
	return savePanels(path, [][]*plot.Plot{{g, tr}, {snr, hist}})
}

// shiftedDecades labels a log10 axis whose values were shifted by −base.
type shiftedDecades struct{ base float64 }

func (s shiftedDecades) Ticks(lo, hi float64) []plot.Tick {
	ts := decadeTicks{}.Ticks(lo+s.base, hi+s.base)
	for i := range ts {
		ts[i].Value -= s.base
	}
	return ts
}
