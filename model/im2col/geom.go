// Package im2col is the geometry of 2-D convolutions with PyTorch's
// semantics: output sizes, and the unfolding of a sample's input into the
// patch matrix a convolution multiplies (im2col) with its adjoint (col2im).
// The convolution layer (package model) and its block of the GGN factor
// (package lowrank) share it.
package im2col

import (
	"fmt"
	"sync"

	"github.com/vivit-go/vivit/internal/fastblas"
)

// Geom is the geometry of a 2-D convolution with PyTorch's semantics
// (nn.Conv2d with groups 1 and zero padding; of one group of a grouped
// convolution, whose groups are independent convolutions of this
// geometry): an input [InC, InH, InW], a weight [OutC, InC, KH, KW] and an
// output [OutC, OutH, OutW] with
//
//	Out = floor((In + 2·pad − dil·(k − 1) − 1)/stride) + 1
//
// per spatial dimension.
//
// The unfolded input of a sample is the P×K matrix Uᵀ whose row p holds the
// input patch seen by output position p (P = OutH·OutW, positions in
// row-major order) flattened like a weight row (K = InC·KH·KW, index
// (c, i, j) row-major), zero where the patch overlaps the padding. Then the
// output of the sample is W Uᵀᵀ with W the OutC×K weight matrix.
type Geom struct {
	InC, InH, InW int
	OutC          int
	KH, KW        int
	SH, SW        int // strides
	PH, PW        int // zero padding on each side
	DH, DW        int // dilations
	OutH, OutW    int

	// patch[p·K + k] is the flat input index read by output position p at
	// patch index k, or -1 in the padding; built on first use (table), so
	// that New only checks.
	once  sync.Once
	patch []int32
}

// OutSize returns PyTorch's output size of a convolution or pooling
// window along one dimension: floor((in + 2·pad − dil·(k − 1) − 1)/stride)
// + 1, which is < 1 when the dilated window does not fit into the padded
// input.
func OutSize(in, k, stride, pad, dil int) int {
	num := in + 2*pad - dil*(k-1) - 1
	if num < 0 {
		return 0
	}
	return num/stride + 1
}

// New returns the geometry of a convolution; it panics if a size
// is not positive, a padding is negative or the window does not fit (the
// architecture builder checks these first and reports them as errors).
func New(inC, inH, inW, outC, kh, kw, sh, sw, ph, pw, dh, dw int) *Geom {
	if inC < 1 || inH < 1 || inW < 1 || outC < 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || dh < 1 || dw < 1 || ph < 0 || pw < 0 {
		panic(fmt.Sprintf("im2col: invalid convolution geometry in=[%d %d %d] out=%d k=%dx%d s=%dx%d p=%dx%d d=%dx%d", inC, inH, inW, outC, kh, kw, sh, sw, ph, pw, dh, dw))
	}
	g := &Geom{InC: inC, InH: inH, InW: inW, OutC: outC, KH: kh, KW: kw, SH: sh, SW: sw, PH: ph, PW: pw, DH: dh, DW: dw}
	g.OutH = OutSize(inH, kh, sh, ph, dh)
	g.OutW = OutSize(inW, kw, sw, pw, dw)
	if g.OutH < 1 || g.OutW < 1 {
		panic("im2col: convolution window larger than the padded input")
	}
	if int64(g.P())*int64(g.K()) > 1<<31-1 || g.InC*g.InH*g.InW > 1<<31-1 {
		panic("im2col: convolution too large")
	}
	return g
}

// table returns the patch table, building it on the first call.
func (g *Geom) table() []int32 {
	g.once.Do(func() {
		k := g.K()
		g.patch = make([]int32, g.P()*k)
		for oh := 0; oh < g.OutH; oh++ {
			for ow := 0; ow < g.OutW; ow++ {
				row := g.patch[(oh*g.OutW+ow)*k : (oh*g.OutW+ow+1)*k]
				idx := 0
				for c := 0; c < g.InC; c++ {
					for i := 0; i < g.KH; i++ {
						ih := oh*g.SH - g.PH + i*g.DH
						for j := 0; j < g.KW; j++ {
							iw := ow*g.SW - g.PW + j*g.DW
							if ih < 0 || ih >= g.InH || iw < 0 || iw >= g.InW {
								row[idx] = -1
							} else {
								row[idx] = int32((c*g.InH+ih)*g.InW + iw)
							}
							idx++
						}
					}
				}
			}
		}
	})
	return g.patch
}

// K returns InC·KH·KW, the length of a patch (and of a weight row).
func (g *Geom) K() int { return g.InC * g.KH * g.KW }

// P returns OutH·OutW, the number of output positions.
func (g *Geom) P() int { return g.OutH * g.OutW }

// InSize returns InC·InH·InW, the per-sample input size.
func (g *Geom) InSize() int { return g.InC * g.InH * g.InW }

// OutSize returns OutC·OutH·OutW, the per-sample output size.
func (g *Geom) OutSize() int { return g.OutC * g.P() }

// Unfold writes the P×K unfolded input Uᵀ of the sample x (length InSize)
// into dst with row stride ld ≥ K.
func (g *Geom) Unfold(dst []float64, ld int, x []float64) {
	k := g.K()
	x = x[:g.InSize()]
	patch := g.table()
	for p := 0; p < g.P(); p++ {
		row := dst[p*ld : p*ld+k]
		for i, ix := range patch[p*k : (p+1)*k] {
			if ix >= 0 {
				row[i] = x[ix]
			} else {
				row[i] = 0
			}
		}
	}
}

// FoldAdd is the adjoint of Unfold: it adds every entry of the P×K matrix
// src (row stride ld) to the input entry it was read from, dropping the
// padding. dst has length InSize.
func (g *Geom) FoldAdd(dst []float64, src []float64, ld int) {
	k := g.K()
	dst = dst[:g.InSize()]
	patch := g.table()
	for p := 0; p < g.P(); p++ {
		row := src[p*ld : p*ld+k]
		for i, ix := range patch[p*k : (p+1)*k] {
			if ix >= 0 {
				dst[ix] += row[i]
			}
		}
	}
}

// UnfoldT writes the K×P unfolded input U of the sample x (length
// InSize) into dst: row (c, i, j) holds, for every output position, the
// input entry that weight offset reads there, zero in the padding (the
// transpose of Unfold's layout). An output row's run comes from one input
// row, a contiguous copy for stride 1.
func (g *Geom) UnfoldT(dst, x []float64) {
	unfoldT(g, dst, x, func(d, s []float64) { copy(d, s) })
}

// UnfoldT32 is UnfoldT with dst rounded to float32.
func (g *Geom) UnfoldT32(dst []float32, x []float64) {
	unfoldT(g, dst, x, fastblas.Narrow)
}

// unfoldT is UnfoldT into T, with run copying a contiguous run of an input
// row (stride 1) into dst.
func unfoldT[T float32 | float64](g *Geom, dst []T, x []float64, run func(dst []T, src []float64)) {
	ow, p := g.OutW, g.P()
	for c := 0; c < g.InC; c++ {
		plane := x[c*g.InH*g.InW : (c+1)*g.InH*g.InW]
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				row := dst[((c*g.KH+i)*g.KW+j)*p : ((c*g.KH+i)*g.KW+j+1)*p]
				off := j*g.DW - g.PW
				lo := 0
				if off < 0 {
					lo = min(ow, (-off+g.SW-1)/g.SW)
				}
				hi := min(ow-1, floorDiv(g.InW-1-off, g.SW))
				for oh := 0; oh < g.OutH; oh++ {
					d := row[oh*ow : (oh+1)*ow]
					ih := oh*g.SH - g.PH + i*g.DH
					if ih < 0 || ih >= g.InH || lo > hi {
						clear(d)
						continue
					}
					clear(d[:lo])
					clear(d[hi+1:])
					src := plane[ih*g.InW:]
					if g.SW == 1 {
						run(d[lo:hi+1], src[lo+off:hi+1+off])
					} else {
						for q := lo; q <= hi; q++ {
							d[q] = T(src[q*g.SW+off])
						}
					}
				}
			}
		}
	}
}

// floorDiv returns ⌊a/b⌋ for b > 0.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
