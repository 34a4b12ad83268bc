package main

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/vivit-go/vivit/internal/pngplot"
)

var runColors = map[string]color.Color{
	"sgd":        color.RGBA{R: 31, G: 119, B: 180, A: 255},
	"sgd+newton": color.RGBA{R: 214, G: 39, B: 40, A: 255},
}

// plotRecords draws a 2×2 figure: loss, test accuracy, λ₁ and the gradient
// SNR of the leading direction, against the step, for both runs.
func plotRecords(path string, recs []Record, cfg Config) error {
	type panel struct {
		title, ylabel string
		value         func(Record) float64
		log           bool
	}
	panels := []panel{
		{"Mini-batch loss", "cross-entropy (nats)", func(r Record) float64 { return r.Loss }, false},
		{"Test accuracy", "accuracy (%)", func(r Record) float64 { return 100 * r.TestAcc }, false},
		{"Top GGN eigenvalue λ₁", "λ₁ (loss units)", func(r Record) float64 { return first(r.Eigen) }, true},
		{"SNR(γ) along e₁", "mean²/variance of γ_n1", func(r Record) float64 { return first(r.GradSNR) }, true},
	}
	plots := make([][]*plot.Plot, 2)
	for i := range plots {
		plots[i] = make([]*plot.Plot, 2)
	}
	for pi, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.X.Label.Text = "step"
		p.Y.Label.Text = pn.ylabel
		if pn.log {
			p.Y.Scale = plot.LogScale{}
			p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		}
		p.Add(plotter.NewGrid())
		for _, run := range []string{"sgd", "sgd+newton"} {
			var xy plotter.XYs
			for _, r := range recs {
				if v := pn.value(r); r.Run == run && (!pn.log || v > 0) {
					xy = append(xy, plotter.XY{X: float64(r.Step), Y: v})
				}
			}
			if len(xy) == 0 {
				continue
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return err
			}
			l.Color = runColors[run]
			l.Width = vg.Points(1.5)
			p.Add(l)
			p.Legend.Add(run, l)
		}
		p.Legend.Top = pi != 1
		plots[pi/2][pi%2] = p
	}
	img := vgimg.New(vg.Points(900), vg.Points(650))
	t := draw.Tiles{Rows: 2, Cols: 2, PadX: vg.Points(12), PadY: vg.Points(12), PadTop: vg.Points(8), PadBottom: vg.Points(8), PadLeft: vg.Points(8), PadRight: vg.Points(8)}
	return pngplot.SaveGrid(path, img, plots, t)
}
