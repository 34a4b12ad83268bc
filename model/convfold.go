package model

import (
	"gonum.org/v1/gonum/floats"

	"github.com/vivit-go/vivit/model/im2col"
)

// foldRowsAdd adds the block t of the transposed unfolded product (K rows
// indexed (c, i, j) like a weight row, ld columns: output positions of the
// output rows oh0 … oh1−1, row-major) to the input entries they were read
// from, dropping the padding: the adjoint of im2col.Geom.Unfold
// restricted to those output rows. dst has length g.InSize().
//
// For each weight offset (i, j) the valid output columns form one range,
// and an output row's run over it lands on one input row with stride SW:
// a contiguous add (assembly axpy) for stride 1.
func foldRowsAdd(g *im2col.Geom, dst, t []float64, ld, oh0, oh1 int) {
	ow := g.OutW
	for c := 0; c < g.InC; c++ {
		plane := dst[c*g.InH*g.InW : (c+1)*g.InH*g.InW]
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				row := t[((c*g.KH+i)*g.KW+j)*ld:]
				// Input column iw = q·SW + off for output column q.
				off := j*g.DW - g.PW
				lo := 0
				if off < 0 {
					lo = (-off + g.SW - 1) / g.SW
				}
				hi := min(ow-1, floorDiv(g.InW-1-off, g.SW))
				if lo > hi {
					continue
				}
				n := hi - lo + 1
				for oh := oh0; oh < oh1; oh++ {
					ih := oh*g.SH - g.PH + i*g.DH
					if ih < 0 || ih >= g.InH {
						continue
					}
					src := row[(oh-oh0)*ow+lo : (oh-oh0)*ow+lo+n]
					d := plane[ih*g.InW+lo*g.SW+off:]
					if g.SW == 1 {
						if n >= 8 {
							floats.Add(d[:n], src)
						} else {
							for q, v := range src {
								d[q] += v
							}
						}
					} else {
						for q, v := range src {
							d[q*g.SW] += v
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

// unfoldT writes the K×P unfolded input U of the sample x (length
// g.InSize()) into dst: row (c, i, j) holds, for every output position,
// the input entry that weight offset reads there, zero in the padding (the
// transpose of im2col.Geom.Unfold's layout). An output row's run
// comes from one input row, a contiguous copy for stride 1.
func unfoldT(g *im2col.Geom, dst, x []float64) {
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
						copy(d[lo:hi+1], src[lo+off:hi+1+off])
					} else {
						for q := lo; q <= hi; q++ {
							d[q] = src[q*g.SW+off]
						}
					}
				}
			}
		}
	}
}
