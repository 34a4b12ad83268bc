package lowrank

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/par"
	"github.com/vivit-go/vivit/model/im2col"
)

// SepConv is the block of V of a convolution (one group) whose factor
// rows are separable: row r, of sample n, is S_r[o, p] = s_r[o]·m_n[o, p].
// That is the factor of the last convolutions of a network that ends in
// global average pooling and a linear layer with only layers of diagonal
// Jacobian (BatchNorm, activations) and residual sums in between: s_r is
// the factor at the pooled features, m_n the pooling's 1/P times those
// Jacobians' diagonals, which depend on the sample only.
//
// Column r of V is then s_r[o]·M_n[o, :] for each output channel o, with
// M_n = m_n U_nᵀ (out×K, U_n the unfolded input) and, for the bias,
// Σ_p m_n[o, p]: every product costs, per sample, what one column of a
// dense factor costs, instead of c of them. Forming the M_n costs
// N·out·P·K multiply-adds; the Gram matrix then costs N²·out·(K + c²)/2
// (the explicit route of Conv: R²·out·K/2 and forming V, R·out·P·K, with
// R = N·c), MulTo and TransMulTo k·N·out·K. It holds the M_n, N·out·(K+1)
// float64s, and the s_r; no factor rows, maps or inputs. A Gram matrix or
// cross product takes at most 16 MiB more (crossChannelFloats).
type SepConv struct {
	G            *im2col.Geom
	Weight, Bias bool // which tensors the block covers
	c, n         int
	s            *mat.Dense // R×out channel weights
	// mm holds the M_n as rows of out·(K+1): channel o's K weight entries,
	// then its bias entry.
	mm *mat.Dense
}

// NewSepConv returns the block for the separable factor rows s_r[o]·m_n[o, p]
// (s R×out with R = N·c, m N×(out·P)) and layer inputs a (N×(in·H·W)). It
// forms the M_n; s, m and a are not referenced afterwards.
func NewSepConv(g *im2col.Geom, s, m, a *mat.Dense, c int, weight, bias bool) *SepConv {
	r, sc := s.Dims()
	n, mc := m.Dims()
	an, ac := a.Dims()
	if n*c != r || an != n {
		panic("lowrank: factor rows do not match samples × columns")
	}
	out, p, k := g.OutC, g.P(), g.K()
	if sc != out || mc != out*p || ac != g.InSize() {
		panic("lowrank: separable factor or inputs do not match the convolution")
	}
	f := &SepConv{G: g, Weight: weight, Bias: bias, c: c, n: n,
		s: mat.DenseCopyOf(s), mm: mat.NewDense(n, out*(k+1), nil)}
	type work struct{ ut []float64 }
	scr := make([]work, kernelWorkers(n))
	par.For(n, len(scr), func(w, i int) {
		if scr[w].ut == nil {
			scr[w].ut = make([]float64, k*p)
		}
		ut := scr[w].ut
		g.UnfoldT(ut, a.RawRowView(i))
		mi, row := m.RawRowView(i), f.mm.RawRowView(i)
		gemm(blas.NoTrans, blas.Trans, 1,
			blas64.General{Rows: out, Cols: p, Stride: p, Data: mi},
			blas64.General{Rows: k, Cols: p, Stride: p, Data: ut}, 0,
			blas64.General{Rows: out, Cols: k, Stride: k + 1, Data: row})
		for o := 0; o < out; o++ {
			row[o*(k+1)+k] = floats.Sum(mi[o*p : (o+1)*p])
		}
	})
	return f
}

func (f *SepConv) Cols() int { return f.n * f.c }

func (f *SepConv) Dim() int { return convDim(f.G, f.Weight, f.Bias) }

// span returns the entries [k0, k1) of each channel's K+1 that the block
// covers.
func (f *SepConv) span() (k0, k1 int) {
	k := f.G.K()
	k0, k1 = 0, k+1
	if !f.Weight {
		k0 = k
	}
	if !f.Bias {
		k1 = k
	}
	return k0, k1
}

// channel returns channel o's M entries of the covered span, one row per
// sample.
func (f *SepConv) channel(o int) blas64.General {
	k0, k1 := f.span()
	raw := f.mm.RawMatrix()
	off := o*(f.G.K()+1) + k0
	return blas64.General{Rows: f.n, Cols: k1 - k0, Stride: raw.Stride, Data: raw.Data[off:]}
}

// put writes channel o's span values vals (scaled by a) into row, a
// vector in V's row layout: the weight entries (o, ·) are a run of K, the
// bias entry follows all weights.
func (f *SepConv) put(row []float64, o int, a float64, vals []float64) {
	k := f.G.K()
	off := 0
	if f.Weight {
		floats.ScaleTo(row[o*k:(o+1)*k], a, vals[:k])
		vals, off = vals[k:], f.G.OutC*k
	}
	if f.Bias {
		row[off+o] = a * vals[0]
	}
}

// get reads channel o's span values out of row (put's layout) into vals.
func (f *SepConv) get(vals []float64, row []float64, o int) {
	k := f.G.K()
	off := 0
	if f.Weight {
		copy(vals[:k], row[o*k:(o+1)*k])
		vals, off = vals[k:], f.G.OutC*k
	}
	if f.Bias {
		vals[0] = row[off+o]
	}
}

// innerProducts returns, for the output channels o in [o0, o1), the
// N_x×N_y matrix ⟨M^x_n[o, :], M^y_m[o, :]⟩ over the covered span, as
// o1−o0 blocks of N_x·N_y entries.
func innerProducts(x, y *SepConv, o0, o1 int) []float64 {
	nx, ny := x.n, y.n
	q := make([]float64, (o1-o0)*nx*ny)
	par.For(o1-o0, kernelWorkers(o1-o0), func(_, j int) {
		gemm(blas.NoTrans, blas.Trans, 1, x.channel(o0+j), y.channel(o0+j), 0,
			blas64.General{Rows: nx, Cols: ny, Stride: ny, Data: q[j*nx*ny:]})
	})
	return q
}

// crossChannelFloats bounds the channel products addCross holds at once:
// 2 Mi float64s (16 MiB), a channel's N_x×N_y matrix at least. (A
// variable for the tests.)
var crossChannelFloats = 2 << 20

// addCross adds entry ((n, c), (m, d)) = Σ_o s^x_{nc}[o]·s^y_{md}[o]·Q_o[n, m]
// of XᵀY to dst, for the pairs with m ≥ n only when upper is set. The
// channels are taken in groups whose Q_o fit crossChannelFloats.
func addCross(dst blas64.General, x, y *SepConv, upper bool) {
	out, nx, ny := x.G.OutC, x.n, y.n
	group := max(1, min(out, crossChannelFloats/(nx*ny)))
	type work struct{ t, blk []float64 }
	scr := make([]work, kernelWorkers(nx))
	for o0 := 0; o0 < out; o0 += group {
		o1 := min(out, o0+group)
		oc := o1 - o0
		q := innerProducts(x, y, o0, o1)
		par.For(nx, len(scr), func(w, n int) {
			if scr[w].t == nil {
				scr[w].t, scr[w].blk = make([]float64, x.c*group), make([]float64, x.c*y.c)
			}
			t, blk := scr[w].t, scr[w].blk
			m0 := 0
			if upper {
				m0 = n
			}
			for m := m0; m < ny; m++ {
				// t = S^x_n's channels [o0, o1) scaled by Q_·[n, m].
				for c := 0; c < x.c; c++ {
					sr := x.s.RawRowView(n*x.c + c)[o0:o1]
					for j, v := range sr {
						t[c*oc+j] = v * q[(j*nx+n)*ny+m]
					}
				}
				gemm(blas.NoTrans, blas.Trans, 1,
					blas64.General{Rows: x.c, Cols: oc, Stride: oc, Data: t},
					blas64.General{Rows: y.c, Cols: oc, Stride: out, Data: y.s.RawMatrix().Data[m*y.c*out+o0:]}, 0,
					blas64.General{Rows: x.c, Cols: y.c, Stride: y.c, Data: blk})
				for c := 0; c < x.c; c++ {
					row := dst.Data[(n*x.c+c)*dst.Stride:]
					for d := 0; d < y.c; d++ {
						if upper && m == n && d < c {
							continue
						}
						row[m*y.c+d] += blk[c*y.c+d]
					}
				}
			}
		})
	}
}

func (f *SepConv) AddGramTo(dst *mat.SymDense) {
	r := f.Cols()
	if dst.SymmetricDim() != r {
		panic("lowrank: Gram destination has wrong size")
	}
	g := symRaw(dst)
	addCross(blas64.General{Rows: r, Cols: r, Stride: g.Stride, Data: g.Data}, f, f, true)
}

// AddCrossTo adds VᵀY to dst for y a SepConv or Conv of the same layer
// and tensors (crossSep).
func (f *SepConv) AddCrossTo(dst *mat.Dense, y Factor) {
	switch o := y.(type) {
	case *Conv:
		f.mustMatch(o.G, o.Weight, o.Bias)
		crossSep(dst, o, f, true)
	case *SepConv:
		f.mustMatch(o.G, o.Weight, o.Bias)
		checkShape(dst, f.Cols(), o.Cols())
		addCross(dst.RawMatrix(), f, o, false)
	default:
		panic("lowrank: cross product of factors of different layers")
	}
}

// mustMatch panics unless a block of geometry g covering weight and bias
// is of the same layer and tensors as f.
func (f *SepConv) mustMatch(g *im2col.Geom, weight, bias bool) {
	if weight != f.Weight || bias != f.Bias || !sameGeom(f.G, g) {
		panic("lowrank: cross product of factors of different layers")
	}
}

// crossSep adds the cross product of a Conv block x and a SepConv block
// y of one layer to dst: XᵀY, or YᵀX with trans set. It forms the columns
// of X (ColumnsTo), at most crossColumns at a time, and multiplies them by
// Yᵀ (TransMulTo): the Conv is the factor with few columns in the
// products that mix them (per-sample gradients against the curvature).
func crossSep(dst *mat.Dense, x *Conv, y *SepConv, trans bool) {
	if trans {
		checkShape(dst, y.Cols(), x.Cols())
	} else {
		checkShape(dst, x.Cols(), y.Cols())
	}
	rx, d := x.Cols(), x.Dim()
	const crossColumns = 64
	cols := mat.NewDense(min(crossColumns, rx), d, nil)
	prod := mat.NewDense(min(crossColumns, rx), y.Cols(), nil)
	for r0 := 0; r0 < rx; r0 += crossColumns {
		k := min(crossColumns, rx-r0)
		xc := cols.Slice(0, k, 0, d).(*mat.Dense)
		p := prod.Slice(0, k, 0, y.Cols()).(*mat.Dense)
		x.ColumnsTo(xc, r0)
		y.TransMulTo(p, xc) // row j: (X e_{r0+j})ᵀ Y
		for j := 0; j < k; j++ {
			row := p.RawRowView(j)
			if !trans {
				floats.Add(dst.RawRowView(r0+j), row)
				continue
			}
			for i, v := range row {
				dst.Set(i, r0+j, dst.At(i, r0+j)+v)
			}
		}
	}
}

// ColumnsTo implements ColumnFormer: column r0+j of V as row j of dst.
func (f *SepConv) ColumnsTo(dst *mat.Dense, r0 int) {
	k, _ := dst.Dims()
	checkShape(dst, k, f.Dim())
	if r0 < 0 || r0+k > f.Cols() {
		panic("lowrank: column range out of bounds")
	}
	k0, k1 := f.span()
	out := f.G.OutC
	par.For(k, kernelWorkers(k), func(_, j int) {
		r := r0 + j
		sr, mm, row := f.s.RawRowView(r), f.mm.RawRowView(r/f.c), dst.RawRowView(j)
		for o := 0; o < out; o++ {
			f.put(row, o, sr[o], mm[o*(f.G.K()+1)+k0:o*(f.G.K()+1)+k1])
		}
	})
}

// MulTo writes V u_j into row j of dst: channel o of it is
// Σ_n t_jn[o]·M_n[o, :] with t_jn[o] = Σ_c u_j[nc]·s_{nc}[o].
func (f *SepConv) MulTo(dst, u *mat.Dense) {
	k, uc := u.Dims()
	if uc != f.Cols() {
		panic("lowrank: vector length does not match the factor's columns")
	}
	checkShape(dst, k, f.Dim())
	out, n := f.G.OutC, f.n
	// t: channel-major, k×N per channel.
	t := make([]float64, out*k*n)
	for j := 0; j < k; j++ {
		uj := u.RawRowView(j)
		for i := 0; i < n; i++ {
			for c := 0; c < f.c; c++ {
				v := uj[i*f.c+c]
				if v == 0 {
					continue
				}
				for o, s := range f.s.RawRowView(i*f.c + c) {
					t[(o*k+j)*n+i] += v * s
				}
			}
		}
	}
	k0, k1 := f.span()
	w := k1 - k0
	type work struct{ p []float64 }
	scr := make([]work, kernelWorkers(out))
	par.For(out, len(scr), func(wk, o int) {
		if scr[wk].p == nil {
			scr[wk].p = make([]float64, k*w)
		}
		p := scr[wk].p
		gemm(blas.NoTrans, blas.NoTrans, 1,
			blas64.General{Rows: k, Cols: n, Stride: n, Data: t[o*k*n:]}, f.channel(o), 0,
			blas64.General{Rows: k, Cols: w, Stride: w, Data: p})
		for j := 0; j < k; j++ {
			f.put(dst.RawRowView(j), o, 1, p[j*w:(j+1)*w])
		}
	})
}

// TransMulTo writes Vᵀ v_j into row j of dst: entry (n, c) is
// Σ_o s_{nc}[o]·⟨M_n[o, :], v_j[o, :]⟩.
func (f *SepConv) TransMulTo(dst, v *mat.Dense) {
	k, vc := v.Dims()
	if vc != f.Dim() {
		panic("lowrank: vector length does not match the factor's dimension")
	}
	checkShape(dst, k, f.Cols())
	out, n := f.G.OutC, f.n
	k0, k1 := f.span()
	w := k1 - k0
	// inner[o][i][j] = ⟨M_i[o, :], v_j[o, :]⟩
	inner := make([]float64, out*n*k)
	type work struct{ vo []float64 }
	scr := make([]work, kernelWorkers(out))
	par.For(out, len(scr), func(wk, o int) {
		if scr[wk].vo == nil {
			scr[wk].vo = make([]float64, k*w)
		}
		vo := scr[wk].vo
		for j := 0; j < k; j++ {
			f.get(vo[j*w:(j+1)*w], v.RawRowView(j), o)
		}
		gemm(blas.NoTrans, blas.Trans, 1, f.channel(o),
			blas64.General{Rows: k, Cols: w, Stride: w, Data: vo}, 0,
			blas64.General{Rows: n, Cols: k, Stride: k, Data: inner[o*n*k:]})
	})
	for j := 0; j < k; j++ {
		row := dst.RawRowView(j)
		for i := 0; i < n; i++ {
			for c := 0; c < f.c; c++ {
				var sum float64
				for o, s := range f.s.RawRowView(i*f.c + c) {
					sum += s * inner[(o*n+i)*k+j]
				}
				row[i*f.c+c] = sum
			}
		}
	}
}

// AddDiagTo adds diag(V Vᵀ) to dst: entry (o, e) is
// Σ_n (Σ_c s_{nc}[o]²)·M_n[o, e]².
func (f *SepConv) AddDiagTo(dst []float64) {
	if len(dst) != f.Dim() {
		panic("lowrank: diagonal destination has wrong length")
	}
	out, n := f.G.OutC, f.n
	sq := make([]float64, n*out) // Σ_c s_{nc}[o]²
	for i := 0; i < n; i++ {
		for c := 0; c < f.c; c++ {
			for o, s := range f.s.RawRowView(i*f.c + c) {
				sq[i*out+o] += s * s
			}
		}
	}
	k0, k1 := f.span()
	sums, add := make([]float64, k1-k0), make([]float64, f.Dim())
	for o := 0; o < out; o++ {
		ch := f.channel(o)
		clear(sums)
		for i := 0; i < n; i++ {
			for e, v := range ch.Data[i*ch.Stride : i*ch.Stride+k1-k0] {
				sums[e] += sq[i*out+o] * v * v
			}
		}
		f.put(add, o, 1, sums)
	}
	floats.Add(dst, add)
}

func (f *SepConv) Select(keep []bool) Factor {
	w, b, ok := selected(f.Weight, f.Bias, keep)
	if !ok {
		return nil
	}
	g := *f
	g.Weight, g.Bias = w, b
	return &g
}

// DropRows implements RowsDropper: the block references no factor rows
// or inputs, so it reports true and keeps working in full.
func (f *SepConv) DropRows() bool { return true }
