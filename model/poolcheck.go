package model

import (
	"fmt"

	"github.com/vivit-go/vivit/model/im2col"
)

// Pool2dOutShape checks a 2-D pooling layer on per-sample input shape
// [C, H, W] as NewMaxPool2d (what "maxpool2d") or NewAvgPool2d (what
// "avgpool2d", dilation [1 1]) do, and returns its output shape
// [C, OutH, OutW], without allocating the layer's window tables. Loaders
// check a whole network this way before they allocate any of it. Errors
// start with what.
func Pool2dOutShape(what string, shape []int, kernel, stride, pad, dilation [2]int) ([]int, error) {
	w, err := checkedWindow(what, shape, kernel, stride, pad, dilation)
	if err != nil {
		return nil, err
	}
	oh, ow, err := checkPoolGeom(shape, w)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return []int{shape[0], oh, ow}, nil
}

// checkPoolGeom makes poolGeomFor's checks of a pooling window on input
// shape in ([C, H, W]) and returns the output's height and width, in time
// O(OutH·KH + OutW·KW) and without allocating.
func checkPoolGeom(in []int, w window) (oh, ow int, err error) {
	if w.p[0] > w.k[0]/2 || w.p[1] > w.k[1]/2 {
		return 0, 0, fmt.Errorf("padding %v must be at most half of kernel_size %v", w.p, w.k)
	}
	if len(in) != 3 {
		return 0, 0, fmt.Errorf("expects input of shape [C H W], but its input has shape %v", in)
	}
	if err := w.fitErr(in); err != nil {
		return 0, 0, err
	}
	oh = im2col.OutSize(in[1], w.k[0], w.s[0], w.p[0], w.d[0])
	ow = im2col.OutSize(in[2], w.k[1], w.s[1], w.p[1], w.d[1])
	if kk := min(w.k[0], in[1]) * min(w.k[1], in[2]); oh*ow > maxFeatures/kk {
		return 0, 0, fmt.Errorf("%d windows of up to %d entries are too many", oh*ow, kk)
	}
	// A window is the product of its row and column ranges: it is empty
	// when either is, and the first empty one in row-major order is at
	// (first empty row, 0) or (0, first empty column).
	r := emptyRange(in[1], oh, w.k[0], w.s[0], w.p[0], w.d[0])
	c := emptyRange(in[2], ow, w.k[1], w.s[1], w.p[1], w.d[1])
	if r >= 0 || c >= 0 {
		p := oh * ow
		if r >= 0 {
			p = r * ow
		}
		if c >= 0 {
			p = min(p, c)
		}
		return 0, 0, fmt.Errorf("padding %v and dilation %v leave the window of output position (%d, %d) without input entries",
			w.p, w.d, p/ow, p%ow)
	}
	return oh, ow, nil
}

// emptyRange returns the first of the out output positions along an axis
// of n inputs whose window (kernel k, stride s, padding p, dilation d)
// holds no input index, or -1.
func emptyRange(n, out, k, s, p, d int) int {
	for t := range out {
		empty := true
		for i := range k {
			if j := t*s - p + i*d; j >= 0 && j < n {
				empty = false
				break
			}
		}
		if empty {
			return t
		}
	}
	return -1
}
