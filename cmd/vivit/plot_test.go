package main

import (
	"math"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// TestPlaceLabels checks that labels of points with equal or close
// coordinates (bench rows with equal times) come out disjoint, clear of
// the points and inside the data area.
func TestPlaceLabels(t *testing.T) {
	for _, tc := range []struct {
		name string
		xy   [][2]float64
	}{
		{"coincident", [][2]float64{{1, 0.5}, {1, 0.5}, {1, 0.5}, {1, 0.5}}},
		{"close", [][2]float64{{1, 0.5}, {1.01, 0.51}, {0.99, 0.49}, {1.02, 0.5}, {1, 0.52}}},
		{"right edge", [][2]float64{{2, 0.5}, {2, 0.5}, {2, 0.48}}},
		{"corners", [][2]float64{{0, 0}, {2, 1}, {0, 1}, {2, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPlot("t", "x", "y")
			p.X.Min, p.X.Max = 0, 2
			p.Y.Min, p.Y.Max = 0, 1
			area := vg.Rectangle{Max: vg.Point{X: 400, Y: 300}}
			var labels []pointLabel
			var obstacles []vg.Rectangle
			const r = 5
			for _, xy := range tc.xy {
				sty := p.Legend.TextStyle
				sty.Font.Size = vg.Points(9)
				labels = append(labels, pointLabel{X: xy[0], Y: xy[1], Text: "mc=1/layer", Style: sty})
				c := canvasPoint(p, area, xy[0], xy[1])
				obstacles = append(obstacles, vg.Rectangle{Min: c.Sub(vg.Point{X: r, Y: r}), Max: c.Add(vg.Point{X: r, Y: r})})
			}
			offsets := placeLabels(p, area, labels, append([]vg.Rectangle(nil), obstacles...), r+1)
			boxes := labelBoxes(p, area, labels, offsets)
			for i, b := range boxes {
				if !(b.Min.X >= area.Min.X && b.Min.Y >= area.Min.Y && b.Max.X <= area.Max.X && b.Max.Y <= area.Max.Y) {
					t.Errorf("label %d at %v leaves the data area %v", i, b, area)
				}
				if o := overlap(b, obstacles); o > 0 {
					t.Errorf("label %d covers %.1f pt² of the points", i, o)
				}
				for j := range i {
					if o := overlap(b, boxes[j:j+1]); o > 0 {
						t.Errorf("labels %d and %d overlap by %.1f pt²", j, i, o)
					}
				}
			}
		})
	}
}

// labelBoxes returns the canvas rectangle each label is drawn in, as
// plotter.Labels draws it: text anchored at point + offset.
func labelBoxes(p *plot.Plot, area vg.Rectangle, labels []pointLabel, offsets []vg.Point) []vg.Rectangle {
	out := make([]vg.Rectangle, len(labels))
	for i, l := range labels {
		at := canvasPoint(p, area, l.X, l.Y).Add(offsets[i])
		out[i] = l.Style.Rectangle(l.Text).Add(at)
	}
	return out
}

func TestTextColorReadable(t *testing.T) {
	for _, c := range palette {
		r, g, b, _ := textColor(c).RGBA()
		lum := (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xffff
		if !(lum <= 0.5+1e-9) || math.IsNaN(lum) {
			t.Errorf("text colour of %v has luminance %.2f, want ≤ 0.5", c, lum)
		}
	}
}
