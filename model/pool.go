package model

import (
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
	// colFirst[ow] is the first input column of output column ow's window
	// and colCount[ow] the number of its columns inside the input;
	// rowFirst and rowCount likewise for the rows of output row oh. Built
	// on first use (spans).
	spanOnce                               sync.Once
	colFirst, colCount, rowFirst, rowCount []int
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

// spans builds the first row and column of every output row's and
// column's window inside the input and their counts, on the first call.
func (g *poolGeom) spans() {
	g.spanOnce.Do(func() {
		g.rowFirst, g.rowCount = windowSpans(g.OutH, g.KH, g.SH, g.PH, g.DH, g.H)
		g.colFirst, g.colCount = windowSpans(g.OutW, g.KW, g.SW, g.PW, g.DW, g.W)
	})
}

// windowSpans returns, along one dimension of in entries, the first entry
// inside the input of each of the out windows (size k, stride st, padding
// pad, dilation dil) and how many of its entries are inside.
func windowSpans(out, k, st, pad, dil, in int) (first, count []int) {
	first, count = make([]int, out), make([]int, out)
	for o := 0; o < out; o++ {
		for i := k - 1; i >= 0; i-- {
			if x := o*st - pad + i*dil; x >= 0 && x < in {
				first[o] = x
				count[o]++
			}
		}
	}
	return first, count
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

// maxPoolScratch is a worker's scratch for argmax: the indices of the
// output entries' maxima and, per input row and output column, the
// maximum over the window's columns (value and index).
type maxPoolScratch struct {
	idx []int32
	hv  []float64
	hi  []int32
}

func (l *MaxPool2d) newScratch() any {
	g := l.g
	g.spans()
	return &maxPoolScratch{
		idx: make([]int32, g.C*g.p()),
		hv:  make([]float64, g.H*g.OutW),
		hi:  make([]int32, g.H*g.OutW),
	}
}

// argmax writes, for every output entry (c, p) of the sample x, the flat
// input index of its window's first maximum into sc.idx; the last NaN
// wins, as in PyTorch's kernel (a strict comparison that a NaN always
// passes).
//
// A window is scanned row by row, so its choice is that of its rows'
// choices scanned in row order by the same rule. Each input row's choice
// over the columns of every output column's window is computed once (the
// windows of neighbouring output rows share input rows). The loops run
// over output columns, whose iterations are independent, and choose
// without data-dependent branches (take): scanning window by window with
// a branch mispredicts on random data about twice per window.
func (l *MaxPool2d) argmax(sc *maxPoolScratch, x []float64) {
	g := l.g
	hw, np, ow := g.H*g.W, g.p(), g.OutW
	for c := 0; c < g.C; c++ {
		xc := x[c*hw : (c+1)*hw]
		for ih := 0; ih < g.H; ih++ {
			rv, ri := sc.hv[ih*ow:(ih+1)*ow], sc.hi[ih*ow:(ih+1)*ow]
			base := int32(ih * g.W)
			xr := xc[ih*g.W : (ih+1)*g.W]
			for q := range ri {
				// The window's columns inside the input, from the first.
				iw, n := g.colFirst[q], g.colCount[q]
				v, i := xr[iw], base+int32(iw)
				for range n - 1 {
					iw += g.DW
					v, i = take(v, i, xr[iw], base+int32(iw))
				}
				rv[q], ri[q] = v, i
			}
		}
		out := sc.idx[c*np : (c+1)*np]
		for oh := 0; oh < g.OutH; oh++ {
			o := out[oh*ow : (oh+1)*ow]
			// The window's rows inside the input, from the first.
			r0, n, step := g.rowFirst[oh]*ow, g.rowCount[oh], g.DH*ow
			for q := range o {
				r := r0 + q
				v, i := sc.hv[r], sc.hi[r]
				for range n - 1 {
					r += step
					v, i = take(v, i, sc.hv[r], sc.hi[r])
				}
				o[q] = i + int32(c*hw)
			}
		}
	}
}

// take is one step of the scan of argmax: the running choice (value bv,
// index bi, starting from the first entry) against the entry v at index
// i. The entry is taken if it is greater or NaN (taking the running
// choice again changes nothing). bv is then max(bv, v), which compares
// with every later entry as the chosen entry does (it differs from it only
// in the sign of a zero, or is a NaN when the chosen entry is one).
func take(bv float64, bi int32, v float64, i int32) (float64, int32) {
	m := -(b2i32(v > bv) | b2i32(v != v))
	return max(bv, v), bi ^ ((bi ^ i) & m)
}

// b2i32 is 1 for true and 0 for false; the compiler makes it a flag set,
// not a branch.
func b2i32(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func (l *MaxPool2d) Forward(y, x *mat.Dense) {
	n, _ := x.Dims()
	in, out := Numel(l.InShape()), Numel(l.OutShape())
	checkDims(x, n, in, "maxpool2d input")
	checkDims(y, n, out, "maxpool2d output")
	parallelSamples(n, l.newScratch, func(scratch any, i int) {
		l.maxValues(scratch.(*maxPoolScratch), y.RawRowView(i), x.RawRowView(i))
	})
}

// maxValues writes the value of every output entry (c, p) of the sample x
// into y: the entry argmax chooses, found as argmax scans (row by row,
// branch-free over output columns) but keeping only the running maximum,
// max(v, w), which is a NaN if the window holds one. Only a window whose
// maximum is zero is scanned again, for the sign of its first zero.
func (l *MaxPool2d) maxValues(sc *maxPoolScratch, y, x []float64) {
	g := l.g
	hw, np, ow := g.H*g.W, g.p(), g.OutW
	for c := 0; c < g.C; c++ {
		xc := x[c*hw : (c+1)*hw]
		for ih := 0; ih < g.H; ih++ {
			rv := sc.hv[ih*ow : (ih+1)*ow]
			xr := xc[ih*g.W : (ih+1)*g.W]
			for q := range rv {
				iw, n := g.colFirst[q], g.colCount[q]
				v := xr[iw]
				for range n - 1 {
					iw += g.DW
					v = max(v, xr[iw])
				}
				rv[q] = v
			}
		}
		yc := y[c*np : (c+1)*np]
		for oh := 0; oh < g.OutH; oh++ {
			o := yc[oh*ow : (oh+1)*ow]
			r0, n, step := g.rowFirst[oh]*ow, g.rowCount[oh], g.DH*ow
			for q := range o {
				r := r0 + q
				v := sc.hv[r]
				for range n - 1 {
					r += step
					v = max(v, sc.hv[r])
				}
				if v == 0 {
					v = g.firstZero(xc, oh*ow+q)
				}
				o[q] = v
			}
		}
	}
}

// firstZero returns the first zero, +0 or −0, in the window of output
// position p of the channel xc, which holds one.
func (g *poolGeom) firstZero(xc []float64, p int) float64 {
	win, off := g.windows()
	for _, ix := range win[off[p]:off[p+1]] {
		if xc[ix] == 0 {
			return xc[ix]
		}
	}
	panic("model: max pooling window without its zero maximum")
}

// BackwardReads implements BackwardReader: the input, for the maxima.
func (l *MaxPool2d) BackwardReads() (in, out bool) { return true, false }

func (l *MaxPool2d) BackwardInput(dst, s, in, _ *mat.Dense, cols int) {
	r, _ := s.Dims()
	ni, no := Numel(l.InShape()), Numel(l.OutShape())
	checkDims(s, r, no, "maxpool2d factor")
	checkDims(dst, r, ni, "maxpool2d factor destination")
	n, _ := in.Dims()
	if n*cols != r {
		panic("model: factor rows do not match samples × cols")
	}
	parallelSamples(n, l.newScratch, func(scratch any, i int) {
		sc := scratch.(*maxPoolScratch)
		l.argmax(sc, in.RawRowView(i))
		for c := 0; c < cols; c++ {
			sr, dr := s.RawRowView(i*cols+c), dst.RawRowView(i*cols+c)
			for j := range dr {
				dr[j] = 0
			}
			for j, ix := range sc.idx {
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

// BackwardReads implements BackwardReader: neither.
func (l *AvgPool2d) BackwardReads() (in, out bool) { return false, false }

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
