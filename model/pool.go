package model

import (
	"math"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// poolGeom is the window geometry of a 2-D pooling layer on [C, H, W]
// inputs with PyTorch's semantics (ceil_mode false): output size
// floor((H + 2·pad − dil·(k − 1) − 1)/stride) + 1 per dimension.
type poolGeom struct {
	C, H, W    int
	KH, KW     int
	SH, SW     int
	PH, PW     int
	DH, DW     int
	OutH, OutW int
	// win[off[p]:off[p+1]] are the spatial indices ih·W + iw of the input
	// entries in the window of output position p, in PyTorch's scan order
	// (rows, then columns); entries in the padding are left out. Built on
	// first use (windows).
	once     sync.Once
	win, off []int32
}

func newPoolGeom(c, h, w int, k, s, p, d [2]int) *poolGeom {
	g := &poolGeom{C: c, H: h, W: w, KH: k[0], KW: k[1], SH: s[0], SW: s[1], PH: p[0], PW: p[1], DH: d[0], DW: d[1]}
	g.OutH = (h+2*g.PH-g.DH*(g.KH-1)-1)/g.SH + 1
	g.OutW = (w+2*g.PW-g.DW*(g.KW-1)-1)/g.SW + 1
	return g
}

// windows returns the window tables win and off, building them on the
// first call.
func (g *poolGeom) windows() (win, off []int32) {
	g.once.Do(func() {
		g.off = make([]int32, 0, g.OutH*g.OutW+1)
		g.off = append(g.off, 0)
		for oh := 0; oh < g.OutH; oh++ {
			for ow := 0; ow < g.OutW; ow++ {
				for i := 0; i < g.KH; i++ {
					ih := oh*g.SH - g.PH + i*g.DH
					if ih < 0 || ih >= g.H {
						continue
					}
					for j := 0; j < g.KW; j++ {
						iw := ow*g.SW - g.PW + j*g.DW
						if iw < 0 || iw >= g.W {
							continue
						}
						g.win = append(g.win, int32(ih*g.W+iw))
					}
				}
				g.off = append(g.off, int32(len(g.win)))
			}
		}
	})
	return g.win, g.off
}

func (g *poolGeom) p() int { return g.OutH * g.OutW }

// emptyWindow returns the first output position whose window holds no
// input entry, or -1.
func (g *poolGeom) emptyWindow() int {
	_, off := g.windows()
	for p := 0; p < g.p(); p++ {
		if off[p] == off[p+1] {
			return p
		}
	}
	return -1
}

func (g *poolGeom) inShape() []int  { return []int{g.C, g.H, g.W} }
func (g *poolGeom) outShape() []int { return []int{g.C, g.OutH, g.OutW} }

// MaxPool2d is PyTorch's nn.MaxPool2d with ceil_mode false. Padding acts as
// −∞. Within a window the first maximum in scan order is selected (a strict
// comparison, as PyTorch's CPU kernel), and the input-Jacobian transpose
// routes each output entry's factor to it.
type MaxPool2d struct{ g *poolGeom }

func (l *MaxPool2d) Type() string    { return "maxpool2d" }
func (l *MaxPool2d) InShape() []int  { return l.g.inShape() }
func (l *MaxPool2d) OutShape() []int { return l.g.outShape() }

// argmax writes, for every output entry (c, p) of the sample x, the flat
// input index of its window's first maximum into idx.
func (l *MaxPool2d) argmax(idx []int32, x []float64) {
	g := l.g
	hw := g.H * g.W
	np := g.p()
	wins, off := g.windows()
	for c := 0; c < g.C; c++ {
		xc := x[c*hw : (c+1)*hw]
		for p := 0; p < np; p++ {
			win := wins[off[p]:off[p+1]]
			best := win[0]
			bv := xc[best]
			for _, ix := range win[1:] {
				if v := xc[ix]; v > bv || math.IsNaN(v) { // as PyTorch: NaN wins
					best, bv = ix, v
				}
			}
			idx[c*np+p] = int32(c*hw) + best
		}
	}
}

func (l *MaxPool2d) Forward(y, x *mat.Dense) {
	n, _ := x.Dims()
	in, out := Numel(l.InShape()), Numel(l.OutShape())
	checkDims(x, n, in, "maxpool2d input")
	checkDims(y, n, out, "maxpool2d output")
	parallelSamples(n, func() any { return make([]int32, out) }, func(scratch any, i int) {
		idx := scratch.([]int32)
		xr, yr := x.RawRowView(i), y.RawRowView(i)
		l.argmax(idx, xr)
		for j, ix := range idx {
			yr[j] = xr[ix]
		}
	})
}

func (l *MaxPool2d) BackwardInput(dst, s, in, _ *mat.Dense, cols int) {
	r, _ := s.Dims()
	ni, no := Numel(l.InShape()), Numel(l.OutShape())
	checkDims(s, r, no, "maxpool2d factor")
	checkDims(dst, r, ni, "maxpool2d factor destination")
	n, _ := in.Dims()
	if n*cols != r {
		panic("model: factor rows do not match samples × cols")
	}
	parallelSamples(n, func() any { return make([]int32, no) }, func(scratch any, i int) {
		idx := scratch.([]int32)
		l.argmax(idx, in.RawRowView(i))
		for c := 0; c < cols; c++ {
			sr, dr := s.RawRowView(i*cols+c), dst.RawRowView(i*cols+c)
			for j := range dr {
				dr[j] = 0
			}
			for j, ix := range idx {
				dr[ix] += sr[j]
			}
		}
	})
}

// AvgPool2d is PyTorch's nn.AvgPool2d with ceil_mode false: the mean over
// the window, dividing by kh·kw when count_include_pad is true (padding
// counts as zeros) and by the number of input entries in the window
// otherwise.
type AvgPool2d struct {
	g               *poolGeom
	countIncludePad bool
	divOnce         sync.Once
	div             []float64 // divisor per output position, built on first use
}

func newAvgPool2d(g *poolGeom, countIncludePad bool) *AvgPool2d {
	return &AvgPool2d{g: g, countIncludePad: countIncludePad}
}

// divisors returns the divisor of each output position.
func (l *AvgPool2d) divisors() []float64 {
	l.divOnce.Do(func() {
		g := l.g
		_, off := g.windows()
		l.div = make([]float64, g.p())
		for p := range l.div {
			if l.countIncludePad {
				l.div[p] = float64(g.KH * g.KW)
			} else {
				l.div[p] = float64(off[p+1] - off[p])
			}
		}
	})
	return l.div
}

func (l *AvgPool2d) Type() string    { return "avgpool2d" }
func (l *AvgPool2d) InShape() []int  { return l.g.inShape() }
func (l *AvgPool2d) OutShape() []int { return l.g.outShape() }

func (l *AvgPool2d) Forward(y, x *mat.Dense) {
	g := l.g
	n, _ := x.Dims()
	checkDims(x, n, Numel(l.InShape()), "avgpool2d input")
	checkDims(y, n, Numel(l.OutShape()), "avgpool2d output")
	hw, np := g.H*g.W, g.p()
	win, off := g.windows()
	div := l.divisors()
	for i := 0; i < n; i++ {
		xr, yr := x.RawRowView(i), y.RawRowView(i)
		for c := 0; c < g.C; c++ {
			xc := xr[c*hw : (c+1)*hw]
			for p := 0; p < np; p++ {
				var sum float64
				for _, ix := range win[off[p]:off[p+1]] {
					sum += xc[ix]
				}
				yr[c*np+p] = sum / div[p]
			}
		}
	}
}

func (l *AvgPool2d) BackwardInput(dst, s, _, _ *mat.Dense, _ int) {
	g := l.g
	r, _ := s.Dims()
	checkDims(s, r, Numel(l.OutShape()), "avgpool2d factor")
	checkDims(dst, r, Numel(l.InShape()), "avgpool2d factor destination")
	hw, np := g.H*g.W, g.p()
	win, off := g.windows()
	div := l.divisors()
	for i := 0; i < r; i++ {
		sr, dr := s.RawRowView(i), dst.RawRowView(i)
		for j := range dr {
			dr[j] = 0
		}
		for c := 0; c < g.C; c++ {
			dc := dr[c*hw : (c+1)*hw]
			for p := 0; p < np; p++ {
				v := sr[c*np+p] / div[p]
				for _, ix := range win[off[p]:off[p+1]] {
					dc[ix] += v
				}
			}
		}
	}
}
