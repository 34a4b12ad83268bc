// Package pngplot writes a grid of gonum plots to a PNG file, for the
// command line and the examples.
package pngplot

import (
	"io"

	"gonum.org/v1/plot"
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
