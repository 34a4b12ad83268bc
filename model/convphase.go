package model

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/model/im2col"
)

// phased is the transposed convolution of a geometry written as SH·SW
// convolutions of the factor plane, one per phase (a, b) of the input: the
// input entries (a + SH·t, b + SW·u). Entry (c, ih, iw) receives
// Σ W[o, c, i, j]·S[o, oh, ow] over the taps with ih = oh·SH − PH + i·DH;
// in phase a those are the taps i with SH | a + PH − i·DH, and they read
// the output row oh = t + e_i, e_i = (a + PH − i·DH)/SH, a fixed shift of
// t (likewise j and f_j). So the phase's plane is the product of the
// InC × OutC·|taps| weights with runs of the factor plane, zero-padded to
// Hp×Wp so that every shift stays inside, at the offsets
// o·Hp·Wp + (e_i + top)·Wp + f_j + left (fastblas.Shifted): adjacent u
// read adjacent factor entries. For stride 1 there is one phase, the
// convolution of the padded factor with the flipped window.
//
// The products have the inner dimension OutC·|taps| (OutC·KH·KW for
// stride 1) where the direct transpose (Wᵀ S_r, folded) has OutC, and
// nothing is unfolded, packed or folded.
type phased struct {
	g                 *im2col.Geom
	width             int // of the products' blocks
	top, left, hp, wp int
	phases            []phase // phase (a, b) at a·SW + b
}

// phase is one input phase (a, b): its ta×ub entries (at entry at of
// the phase planes) and their product's taps and offsets, nil when no tap
// reaches the phase (its entries are zero).
type phase struct {
	a, b, ta, ub, at int
	rows, cols       []int // the taps i and j of the phase
	eh, fw           []int // their shifts e_i and f_j
	offs             []int32
}

// newPhased returns the phased form of g for blocks of width entries, or
// nil when some phase has rows narrower than width (the kernels' block).
func newPhased(g *im2col.Geom, width int) *phased {
	f := &phased{g: g, width: width}
	minE, maxE, minF, maxF := 0, 0, 0, 0
	for a := 0; a < g.SH; a++ {
		for b := 0; b < g.SW; b++ {
			ph := phase{a: a, b: b, ta: (g.InH - a + g.SH - 1) / g.SH, ub: (g.InW - b + g.SW - 1) / g.SW}
			if ph.ta < 1 || ph.ub < 1 {
				return nil // an input narrower than the stride
			}
			if len(f.phases) > 0 {
				last := f.phases[len(f.phases)-1]
				ph.at = last.at + g.InC*last.ta*last.ub
			}
			for i := 0; i < g.KH; i++ {
				if d := a + g.PH - i*g.DH; floorMod(d, g.SH) == 0 {
					ph.rows, ph.eh = append(ph.rows, i), append(ph.eh, floorDiv(d, g.SH))
				}
			}
			for j := 0; j < g.KW; j++ {
				if d := b + g.PW - j*g.DW; floorMod(d, g.SW) == 0 {
					ph.cols, ph.fw = append(ph.cols, j), append(ph.fw, floorDiv(d, g.SW))
				}
			}
			if len(ph.rows) > 0 && len(ph.cols) > 0 {
				if ph.ub < width {
					return nil
				}
				for _, e := range ph.eh {
					minE, maxE = min(minE, e), max(maxE, e+ph.ta-1)
				}
				for _, e := range ph.fw {
					minF, maxF = min(minF, e), max(maxF, e+ph.ub-1)
				}
			}
			f.phases = append(f.phases, ph)
		}
	}
	// Rows −top … hp−top−1 of the factor plane are addressable.
	f.top, f.left = -minE, -minF
	f.hp, f.wp = max(g.OutH, maxE+1)+f.top, max(g.OutW, maxF+1)+f.left
	for pi := range f.phases {
		ph := &f.phases[pi]
		if len(ph.rows) == 0 || len(ph.cols) == 0 {
			continue
		}
		for o := 0; o < g.OutC; o++ {
			for _, e := range ph.eh {
				for _, e2 := range ph.fw {
					ph.offs = append(ph.offs, int32(o*f.hp*f.wp+(e+f.top)*f.wp+e2+f.left))
				}
			}
		}
	}
	return f
}

// phaseWeights returns the phase's InC × OutC·|rows|·|cols| weights: entry
// (c; o, i, j) is w[o; c, rows[i], cols[j]].
func phaseWeights[T float32 | float64](g *im2col.Geom, ph *phase, w []float64) []T {
	k2 := g.OutC * len(ph.rows) * len(ph.cols)
	wp := make([]T, g.InC*k2)
	for c := 0; c < g.InC; c++ {
		q := c * k2
		for o := 0; o < g.OutC; o++ {
			src := w[(o*g.InC+c)*g.KH*g.KW:]
			for _, i := range ph.rows {
				for _, j := range ph.cols {
					wp[q] = T(src[i*g.KW+j])
					q++
				}
			}
		}
	}
	return wp
}

// shiftedConv enables the shifted products, forwardShifted and
// backwardPhased (tests switch it off to check the unfolded and blocked
// products on the same geometries).
var shiftedConv = true

// phased returns the phased form of the layer's geometry for the first
// of the block widths whose blocks fit, or nil when the layer has groups
// or newPhased none.
func (l *Conv2d) phased(widths ...int) *phased {
	if l.groups() != 1 || !shiftedConv {
		return nil
	}
	for _, w := range widths {
		if f := newPhased(l.Geom, w); f != nil {
			return f
		}
	}
	return nil
}

// factorRows is a factor's rows as the convolution's backward reads and
// writes them: a float64 matrix's (rowsOf) or float32 rows (rows32Of).
type factorRows[R float32 | float64] struct {
	n, cols, stride int
	data            []R
}

func (m factorRows[R]) row(i int) []R { return m.data[i*m.stride : i*m.stride+m.cols] }

func rowsOf(m *mat.Dense) factorRows[float64] {
	raw := m.RawMatrix()
	return factorRows[float64]{raw.Rows, raw.Cols, raw.Stride, raw.Data}
}

func rows32Of(m blas32.General) factorRows[float32] {
	return factorRows[float32]{m.Rows, m.Cols, m.Stride, m.Data}
}

// backwardPhased is BackwardInput (groups 1) through the phased form f in
// precision T, on factor rows held in R. Each worker keeps a padded
// factor plane in T, whose border stays zero, and copies (rounds) a factor
// row into its interior; each phase's plane is computed in blocks of
// Width() adjacent entries of a row, the last block of a row shifted left
// to end at the row's end (its overlap is computed twice, identically):
// into dst directly for stride 1 when T is R, else into T planes that
// interleave (widen) into dst. With add set the result is added to dst
// (always through the planes).
func backwardPhased[T, R float32 | float64](l *Conv2d, f *phased, dst, s factorRows[R], round func(dst []T, src []R), add bool) {
	g := l.Geom
	prods := make([]*fastblas.Shifted[T], len(f.phases))
	for pi := range f.phases {
		if ph := &f.phases[pi]; ph.offs != nil {
			k2 := len(ph.offs)
			prods[pi] = fastblas.NewShifted(g.InC, k2, phaseWeights[T](g, ph, l.w.Data), k2, ph.offs, f.width)
		}
	}
	var z T
	_, same := any(z).(R)
	direct := same && len(f.phases) == 1 && !add
	type buffers struct{ x, d []T }
	parallelSamples(s.n, func() any {
		b := &buffers{x: make([]T, g.OutC*f.hp*f.wp)}
		if !direct {
			b.d = make([]T, g.InSize()+f.phases[0].ub) // the planes, then zeros
		}
		return b
	}, func(scr any, i int) {
		b := scr.(*buffers)
		srow, drow := s.row(i), dst.row(i)
		for o := 0; o < g.OutC; o++ {
			for oh := 0; oh < g.OutH; oh++ {
				at := (o*f.hp+oh+f.top)*f.wp + f.left
				round(b.x[at:at+g.OutW], srow[(o*g.OutH+oh)*g.OutW:])
			}
		}
		for pi := range f.phases {
			ph, prod := &f.phases[pi], prods[pi]
			if prod == nil {
				continue
			}
			d, ld := b.d[ph.at:], ph.ta*ph.ub
			if direct {
				d = any(drow).([]T)
			}
			w := prod.Width()
			for t := 0; t < ph.ta; t++ {
				for u0 := 0; u0 < ph.ub; u0 += w {
					u0 := min(u0, ph.ub-w)
					prod.Block(d[t*ph.ub+u0:], ld, b.x[t*f.wp+u0:])
				}
			}
		}
		if !direct {
			interleave(f, drow, b.d, add)
		}
	})
}

// interleave writes the phase planes in d (phase p's InC × ta×ub plane at
// p.at, zeros after the last) into the input plane drow, row by row: entry
// iw of input row a + SH·t is entry (iw − b)/SW of row t of phase
// (a, iw mod SW). With add set it adds them (and skips the phases no tap
// reaches).
func interleave[T, R float32 | float64](f *phased, drow []R, d []T, add bool) {
	g := f.g
	zeros := d[g.InSize():]
	clear(zeros)
	put := phaseRow[T, R](g.SW, add)
	for c := 0; c < g.InC; c++ {
		for ih := 0; ih < g.InH; ih++ {
			a, t := ih%g.SH, ih/g.SH
			row := drow[(c*g.InH+ih)*g.InW : (c*g.InH+ih+1)*g.InW]
			for b := 0; b < g.SW; b++ {
				ph := &f.phases[a*g.SW+b]
				switch {
				case ph.offs != nil:
					put(row, b, d[ph.at+(c*ph.ta+t)*ph.ub:ph.at+(c*ph.ta+t+1)*ph.ub])
				case !add:
					put(row, b, zeros[:ph.ub])
				}
			}
		}
	}
}

// phaseRow returns the function that writes (or with add adds) a phase's
// row src into entries b, b + sw, … of an input row: a (vector) widening,
// copy or sum for stride 1, a strided loop otherwise. It is chosen once
// per call, as rows can be as short as 8 entries.
func phaseRow[T, R float32 | float64](sw int, add bool) func(row []R, b int, src []T) {
	if sw == 1 {
		var f any
		switch any(func(row []R, _ int, src []T) {}).(type) {
		case func([]float64, int, []float32):
			w := fastblas.Widen
			if add {
				w = fastblas.WidenAdd
			}
			f = func(row []float64, _ int, src []float32) { w(row, src) }
		case func([]float64, int, []float64):
			f = func(row []float64, _ int, src []float64) { copy(row, src) }
			if add {
				f = func(row []float64, _ int, src []float64) { floats.Add(row, src) }
			}
		case func([]float32, int, []float32):
			f = func(row []float32, _ int, src []float32) { copy(row, src) }
			if add {
				f = func(row []float32, _ int, src []float32) { fastblas.Add32(row, src) }
			}
		}
		if f != nil {
			return f.(func([]R, int, []T))
		}
	}
	if add {
		return func(row []R, b int, src []T) {
			for u, v := range src {
				row[b+u*sw] += R(v)
			}
		}
	}
	return func(row []R, b int, src []T) {
		for u, v := range src {
			row[b+u*sw] = R(v)
		}
	}
}

// floorMod returns a mod b in [0, b) for b > 0.
func floorMod(a, b int) int { return a - floorDiv(a, b)*b }
