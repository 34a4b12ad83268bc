package model

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
)

// BackwardSeparable implements SeparableBackwardLayer for a convolution of
// one group and stride 1 (one phase, backwardPhased): per sample, the
// transposed convolution of each output channel's map alone, T_n^o =
// Σ_taps W[o, ·, tap] shifted m_n[o, ·] (in × P_in, a product of inner
// dimension KH·KW), then row r = Σ_o s_r[o]·T_n^o, one product of the
// sample's c rows of s with the T_n^o. That is out·in·KH·KW·P + c·out·in·P
// multiply-adds per sample against c·out·in·KH·KW·P for the rows
// themselves (ResNet-8's last convolution: 4.5× fewer). dst (float64 or
// float32 rows, see SeparableBackwardLayer) is overwritten.
func (l *Conv2d) BackwardSeparable(dst any, s, m *mat.Dense, cols int) bool {
	f := l.phased(fastblas.ShiftedWidths[float64]()...)
	if f == nil || len(f.phases) != 1 {
		return false
	}
	switch d := dst.(type) {
	case *mat.Dense:
		backwardSeparable(l, f, rowsOf(d), s, m, cols)
	case blas32.General:
		check32(d, d.Rows, l.Geom.InSize(), "conv2d factor destination")
		backwardSeparable(l, f, rows32Of(d), s, m, cols)
	default:
		panic("model: separable backward into an unknown factor type")
	}
	return true
}

func backwardSeparable[R float32 | float64](l *Conv2d, f *phased, dst factorRows[R], s, m *mat.Dense, cols int) {
	g := l.Geom
	ph := &f.phases[0]
	out, in, taps := g.OutC, g.InC, len(ph.rows)*len(ph.cols)
	k2 := out * taps
	wp := phaseWeights[float64](g, ph, l.w.Data)
	prods := make([]*fastblas.Shifted[float64], out)
	for o := range prods {
		prods[o] = fastblas.NewShifted(in, taps, wp[o*taps:], k2, ph.offs[o*taps:(o+1)*taps], f.width)
	}
	pin := g.InSize() / in // = ta·ub, stride 1
	n, _ := m.Dims()
	if r, sc := s.Dims(); r != n*cols || sc != out || dst.n != r || dst.cols != g.InSize() {
		panic("model: separable factor does not match the convolution")
	}
	type buffers struct{ x, t, rows []float64 }
	parallelSamples(n, func() any {
		// x: the padded maps (border zero); t: the T_n^o, out × in·P_in;
		// rows: the sample's rows before they are stored in R.
		return &buffers{x: make([]float64, out*f.hp*f.wp), t: make([]float64, out*g.InSize()), rows: make([]float64, cols*g.InSize())}
	}, func(scr any, i int) {
		b := scr.(*buffers)
		mi := m.RawRowView(i)
		for o := 0; o < out; o++ {
			for oh := 0; oh < g.OutH; oh++ {
				at := (o*f.hp+oh+f.top)*f.wp + f.left
				copy(b.x[at:at+g.OutW], mi[(o*g.OutH+oh)*g.OutW:])
			}
		}
		for o, prod := range prods {
			d := b.t[o*g.InSize():]
			w := prod.Width()
			for t := 0; t < ph.ta; t++ {
				for u0 := 0; u0 < ph.ub; u0 += w {
					u0 := min(u0, ph.ub-w)
					prod.Block(d[t*ph.ub+u0:], pin, b.x[t*f.wp+u0:])
				}
			}
		}
		sr := s.RawMatrix()
		goBLAS.Dgemm(blas.NoTrans, blas.NoTrans, cols, g.InSize(), out, 1,
			sr.Data[i*cols*sr.Stride:], sr.Stride, b.t, g.InSize(), 0, b.rows, g.InSize())
		for c := 0; c < cols; c++ {
			row, src := dst.row(i*cols+c), b.rows[c*g.InSize():(c+1)*g.InSize()]
			for j, v := range src {
				row[j] = R(v)
			}
		}
	})
}
