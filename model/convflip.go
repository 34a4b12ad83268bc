package model

import (
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/model/im2col"
)

// flipped is the transposed convolution of a stride-1 geometry written as
// a convolution: the factor plane (OutC×OutH×OutW), zero-padded by
// D·(K−1) − P to Hp×Wp, correlated with the flipped window gives the input
// plane. Input entry (c, ih, iw) receives Σ W[o, c, i, j]·S[o, ih + P −
// i·D, …]; with i' = KH−1−i that is the padded plane at ih + i'·D, so
// output rows of the flipped convolution are products of the
// InC × OutC·KH·KW flipped weights with runs of the padded plane at the
// offsets o·Hp·Wp + i'·DH·Wp + j'·DW (fastblas.Shifted). The products have
// the inner dimension OutC·KH·KW where the direct transpose (Wᵀ S_r,
// folded) has OutC, and nothing is unfolded or packed.
type flipped struct {
	g              *im2col.Geom
	qh, qw, hp, wp int
	offs           []int32
}

// flipped returns the flipped form of the layer's geometry for blocks of
// width entries, or nil when the layer has groups or newFlipped none.
func (l *Conv2d) flipped(width int) *flipped {
	if l.groups() != 1 || !shiftedBackward {
		return nil
	}
	return newFlipped(l.Geom, width)
}

// shiftedBackward enables backwardShifted (tests switch it off to check
// the blocked products on the same geometries).
var shiftedBackward = true

// newFlipped returns the flipped form of g, or nil when there is none or
// it would not pay: strides above 1, a 1×1 window (Wᵀ S_r has nothing to
// fold), padding beyond the dilated window, or input rows narrower than
// width (the kernels' block).
func newFlipped(g *im2col.Geom, width int) *flipped {
	f := &flipped{g: g, qh: g.DH*(g.KH-1) - g.PH, qw: g.DW*(g.KW-1) - g.PW}
	if g.SH != 1 || g.SW != 1 || g.KH*g.KW == 1 || f.qh < 0 || f.qw < 0 || g.InW < width {
		return nil
	}
	f.hp, f.wp = g.OutH+2*f.qh, g.OutW+2*f.qw
	f.offs = make([]int32, g.OutC*g.KH*g.KW)
	for o := 0; o < g.OutC; o++ {
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				f.offs[(o*g.KH+i)*g.KW+j] = int32(o*f.hp*f.wp + i*g.DH*f.wp + j*g.DW)
			}
		}
	}
	return f
}

// flippedWeights returns the InC × OutC·KH·KW flipped weights of the OutC ×
// InC·KH·KW weights w: entry (c; o, i', j') is w[o; c, KH−1−i', KW−1−j'].
func flippedWeights[T float32 | float64](g *im2col.Geom, w []float64) []T {
	kk := g.KH * g.KW
	k2 := g.OutC * kk
	wf := make([]T, g.InC*k2)
	for o := 0; o < g.OutC; o++ {
		for c := 0; c < g.InC; c++ {
			src := w[(o*g.InC+c)*kk : (o*g.InC+c+1)*kk]
			dst := wf[c*k2+o*kk : c*k2+(o+1)*kk]
			for t, v := range src {
				dst[kk-1-t] = T(v)
			}
		}
	}
	return wf
}

// backwardShifted is BackwardInput (groups 1) through the flipped form f
// in precision T: each worker keeps a padded plane in T, whose border
// stays zero, copies (rounds) a factor row into its interior and computes
// the input plane in blocks of Width() adjacent entries of an input row,
// the last block of a row shifted left to end at the row's end (its
// overlap is computed twice, identically). In float32 the plane is
// computed into a float32 row and widened into dst.
func backwardShifted[T float32 | float64](l *Conv2d, f *flipped, dst, s *mat.Dense, round func(dst []T, src []float64)) {
	g := l.Geom
	r, _ := s.Dims()
	k2 := g.OutC * g.KH * g.KW
	prod := fastblas.NewShifted(g.InC, k2, flippedWeights[T](g, l.w.Data), k2, f.offs)
	w, pin := prod.Width(), g.InH*g.InW
	var z T
	_, wide := any(z).(float64)
	type buffers struct{ x, d []T }
	parallelSamples(r, func() any {
		b := &buffers{x: make([]T, g.OutC*f.hp*f.wp)}
		if !wide {
			b.d = make([]T, g.InSize())
		}
		return b
	}, func(scr any, i int) {
		b := scr.(*buffers)
		srow := s.RawRowView(i)
		for o := 0; o < g.OutC; o++ {
			for oh := 0; oh < g.OutH; oh++ {
				at := (o*f.hp+oh+f.qh)*f.wp + f.qw
				round(b.x[at:at+g.OutW], srow[(o*g.OutH+oh)*g.OutW:])
			}
		}
		d := b.d
		if wide {
			d = any(dst.RawRowView(i)).([]T)
		}
		for ih := 0; ih < g.InH; ih++ {
			for w0 := 0; w0 < g.InW; w0 += w {
				w0 := min(w0, g.InW-w)
				prod.Block(d[ih*g.InW+w0:], pin, b.x[ih*f.wp+w0:])
			}
		}
		if !wide {
			fastblas.Widen(dst.RawRowView(i), any(d).([]float32))
		}
	})
}
