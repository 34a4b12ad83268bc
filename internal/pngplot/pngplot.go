// Package pngplot writes a grid of gonum plots to a PNG file, for the
// command line and the examples.
package pngplot

import (
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/vivit-go/vivit/internal/atomicfile"
)

// SaveGrid aligns plots (rows × columns, as t says) on img and writes it to
// path as PNG.
func SaveGrid(path string, img *vgimg.Canvas, plots [][]*plot.Plot, t draw.Tiles) error {
	canvases := plot.Align(plots, t, draw.New(img))
	for i := range plots {
		for j := range plots[i] {
			plots[i][j].Draw(canvases[i][j])
		}
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w)
		return err
	})
}

// SaveGridLegend is SaveGrid with a strip of height strip along the bottom
// of img, below the plots, holding the legends side by side in equal
// columns: for figures whose keys would cover the data inside a panel.
func SaveGridLegend(path string, img *vgimg.Canvas, plots [][]*plot.Plot, t draw.Tiles, legends []plot.Legend, strip vg.Length) error {
	c := draw.New(img)
	top := draw.Crop(c, 0, 0, strip, 0)
	canvases := plot.Align(plots, t, top)
	for i := range plots {
		for j := range plots[i] {
			plots[i][j].Draw(canvases[i][j])
		}
	}
	if n := len(legends); n > 0 {
		h := c.Max.Y - c.Min.Y
		w := (c.Max.X - c.Min.X - t.PadLeft - t.PadRight) / vg.Length(n)
		for i := range legends {
			x0 := t.PadLeft + vg.Length(i)*w
			col := draw.Crop(c, x0, -(c.Max.X - c.Min.X - x0 - w), t.PadBottom, -(h - strip))
			legends[i].Draw(col)
		}
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w)
		return err
	})
}
