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
