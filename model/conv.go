package model

import (
	"fmt"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/par"
	"github.com/vivit-go/vivit/internal/scratch"
	"github.com/vivit-go/vivit/lowrank"
	"github.com/vivit-go/vivit/model/im2col"
)

// Conv2d is PyTorch's nn.Conv2d with zero padding: G = Groups groups,
// weight [out, in/G, kh, kw], bias [out], per-sample input [in, H, W] and
// output [out, OutH, OutW]. Geom is the geometry of one group (see
// im2col.Geom): Geom.InC = in/G input channels, Geom.OutC = out/G output
// channels. Group g is an independent convolution of input channels
// g·in/G … (g+1)·in/G − 1 by weight rows (and output channels) g·out/G …
// (g+1)·out/G − 1; G = in = out is a depthwise convolution. With G = 1
// Geom is the whole layer's.
//
// Forward and BackwardInput cost the same multiply-adds as G separate
// convolutions of the group's shape: out·(in/G)·kh·kw·P per sample (P
// output positions), 1/G of the ungrouped convolution's.
type Conv2d struct {
	Geom         *im2col.Geom
	Groups       int
	Weight, Bias *Param // Bias is nil without bias
	w            blas64.General
}

// NewConv2d returns a Conv2d layer with groups 1 for the geometry g with
// zero parameters named "<index>.weight" and "<index>.bias".
func NewConv2d(index int, g *im2col.Geom, bias bool) *Conv2d {
	return NewGroupedConv2d(index, g, 1, bias)
}

// NewGroupedConv2d returns a Conv2d layer of groups groups of the geometry
// g each (g.InC = in/groups, g.OutC = out/groups) with zero parameters
// named "<index>.weight" and "<index>.bias". It panics if groups < 1.
func NewGroupedConv2d(index int, g *im2col.Geom, groups int, bias bool) *Conv2d {
	if groups < 1 {
		panic("model: convolution groups must be positive")
	}
	out := groups * g.OutC
	l := &Conv2d{Geom: g, Groups: groups}
	l.Weight = &Param{Name: fmt.Sprintf("%d.weight", index), Shape: []int{out, g.InC, g.KH, g.KW}, Data: make([]float64, out*g.K())}
	if bias {
		l.Bias = &Param{Name: fmt.Sprintf("%d.bias", index), Shape: []int{out}, Data: make([]float64, out)}
	}
	l.w = blas64.General{Rows: out, Cols: g.K(), Stride: g.K(), Data: l.Weight.Data}
	return l
}

func (l *Conv2d) Type() string { return "conv2d" }
func (l *Conv2d) InShape() []int {
	return []int{l.groups() * l.Geom.InC, l.Geom.InH, l.Geom.InW}
}
func (l *Conv2d) OutShape() []int {
	return []int{l.groups() * l.Geom.OutC, l.Geom.OutH, l.Geom.OutW}
}

// groups returns Groups, 1 for a zero value.
func (l *Conv2d) groups() int { return max(1, l.Groups) }
func (l *Conv2d) Params() []*Param {
	if l.Bias == nil {
		return []*Param{l.Weight}
	}
	return []*Param{l.Weight, l.Bias}
}

// Forward computes each sample's output Y_i = W U_i (out×K times the K×P
// unfolded input, per group) straight into its output row, samples in
// parallel: by forwardShifted where it applies (stride 1, no groups), else
// with one group's unfolded input (K·P floats) of scratch per worker.
func (l *Conv2d) Forward(y, x *mat.Dense) {
	g, ng := l.Geom, l.groups()
	n, _ := x.Dims()
	checkDims(x, n, ng*g.InSize(), "conv2d input")
	checkDims(y, n, ng*g.OutSize(), "conv2d output")
	if l.forwardShifted(y, x) {
		return
	}
	p, k, out := g.P(), g.K(), g.OutC
	var bufs []*[]float64
	var mu sync.Mutex
	parallelSamples(n, func() any {
		b := scratch.Get(k * p)
		mu.Lock()
		bufs = append(bufs, b)
		mu.Unlock()
		return *b
	}, func(scr any, i int) {
		u := scr.([]float64)
		xi, row := x.RawRowView(i), y.RawRowView(i)
		for gi := 0; gi < ng; gi++ {
			g.UnfoldT(u, xi[gi*g.InSize():])
			goBLAS.Dgemm(blas.NoTrans, blas.NoTrans, out, p, k, 1, l.w.Data[gi*out*k:], l.w.Stride, u, p, 0, row[gi*out*p:], p)
		}
		if l.Bias != nil {
			for o, b := range l.Bias.Data {
				for q := range row[o*p : (o+1)*p] {
					row[o*p+q] += b
				}
			}
		}
	})
	for _, b := range bufs {
		scratch.Put(b)
	}
}

// forwardShifted is Forward without groups on output rows of at least 8
// entries, and reports whether it applied. Each sample's input, zero-padded
// to Hp×Wp = (InH+2·PH)×(InW+2·PW), is split into SH·SW phase planes
// (rows ≡ a mod SH, columns ≡ b mod SW) of ⌈Hp/SH⌉×⌈Wp/SW⌉ entries; tap
// (i, j) at output (oh, ow) reads phase (i·DH mod SH, j·DW mod SW) at
// (oh + ⌊i·DH/SH⌋, ow + ⌊j·DW/SW⌋), so adjacent outputs read adjacent
// entries and the output rows are products of the weights with runs of
// the planes at fixed offsets (fastblas.Shifted), in blocks of the widest
// run of outputs (of every channel) that fits the row, without unfolding
// or packing. For stride 1 the one phase is the padded input.
func (l *Conv2d) forwardShifted(y, x *mat.Dense) bool {
	g := l.Geom
	widths := fastblas.ShiftedWidths[float64]()
	i := slices.IndexFunc(widths, func(w int) bool { return w <= g.OutW })
	if l.groups() != 1 || i < 0 || !shiftedConv {
		return false
	}
	w := widths[i]
	hp, wp := g.InH+2*g.PH, g.InW+2*g.PW
	tq, uq := (hp+g.SH-1)/g.SH, (wp+g.SW-1)/g.SW // a phase plane
	plane := tq * uq
	offs := make([]int32, g.K())
	// read[a·SW+b]: some tap reads phase (a, b); the others (three of
	// four for a 1×1 convolution of stride 2) are not filled.
	read := make([]bool, g.SH*g.SW)
	for c := 0; c < g.InC; c++ {
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				read[i*g.DH%g.SH*g.SW+j*g.DW%g.SW] = true
				ph := (c*g.SH+i*g.DH%g.SH)*g.SW + j*g.DW%g.SW
				offs[(c*g.KH+i)*g.KW+j] = int32(ph*plane + i*g.DH/g.SH*uq + j*g.DW/g.SW)
			}
		}
	}
	prod := fastblas.NewShifted(g.OutC, g.K(), l.w.Data, g.K(), offs, w)
	n, _ := x.Dims()
	p := g.P()
	parallelSamples(n, func() any { return make([]float64, g.InC*g.SH*g.SW*plane) }, func(scr any, i int) {
		xp := scr.([]float64)
		xi, row := x.RawRowView(i), y.RawRowView(i)
		for c := 0; c < g.InC; c++ {
			for ih := 0; ih < g.InH; ih++ {
				src := xi[(c*g.InH+ih)*g.InW : (c*g.InH+ih+1)*g.InW]
				r := ih + g.PH // padded row
				base := (c*g.SH+r%g.SH)*g.SW*plane + r/g.SH*uq
				if g.SW == 1 {
					if read[r%g.SH] {
						copy(xp[base+g.PW:base+g.PW+g.InW], src)
					}
					continue
				}
				// Padded column q = iw + PW goes to phase q mod SW, entry
				// q / SW: one strided run per phase (no division per entry).
				for b := 0; b < g.SW; b++ {
					if !read[r%g.SH*g.SW+b] {
						continue
					}
					iw0 := floorMod(b-g.PW, g.SW)
					dst := xp[base+b*plane+(iw0+g.PW)/g.SW:]
					for u, iw := 0, iw0; iw < g.InW; u, iw = u+1, iw+g.SW {
						dst[u] = src[iw]
					}
				}
			}
		}
		for oh := 0; oh < g.OutH; oh++ {
			for ow0 := 0; ow0 < g.OutW; ow0 += w {
				ow0 := min(ow0, g.OutW-w)
				prod.Block(row[oh*g.OutW+ow0:], p, xp[oh*uq+ow0:])
			}
		}
		if l.Bias != nil {
			for o, b := range l.Bias.Data {
				for q := range row[o*p : (o+1)*p] {
					row[o*p+q] += b
				}
			}
		}
	})
	return true
}

// BackwardReads implements BackwardReader: the input, for the factor block.
func (l *Conv2d) BackwardReads() (in, out bool) { return true, false }

// BackwardInPlace implements InPlaceLayer: a convolution whose input and
// output have the same size (a residual block's second: stride 1, as many
// channels out as in) overwrites its factor rows, each read before its
// result is written (the blocked route copies it first), which saves the
// backward pass a new N·C × features matrix where the rows are largest.
func (l *Conv2d) BackwardInPlace() bool { return l.Geom.InSize() == l.Geom.OutSize() }

// BackwardInput applies the transposed convolution: row r of dst is
// fold(Wᵀ S_r), the adjoint of the unfolding applied to the K×P product of
// the transposed weight and the factor row (out×P), group by group, by
// the route backward chooses.
func (l *Conv2d) BackwardInput(dst, s, in, out *mat.Dense, cols int) {
	l.backward(dst, s, false, false)
}

// BackwardInput32 is BackwardInput in float32 (Float32Layer): the weights
// are rounded to float32 once per call and each factor row as it is
// taken, the products are float32 and the result is widened into dst.
func (l *Conv2d) BackwardInput32(dst, s, in, out *mat.Dense, cols int) {
	l.backward(dst, s, true, false)
}

// BackwardInputAdd implements AccumulatingLayer: BackwardInput added to
// dst.
func (l *Conv2d) BackwardInputAdd(dst, s, in, out *mat.Dense, cols int) {
	l.backward(dst, s, false, true)
}

// BackwardInputAdd32 is BackwardInputAdd in float32, as BackwardInput32
// (Float32AccumulatingLayer).
func (l *Conv2d) BackwardInputAdd32(dst, s, in, out *mat.Dense, cols int) {
	l.backward(dst, s, true, true)
}

// BackwardRows32 implements Rows32Layer: the phased route in float32 on
// the rows themselves; other layers (groups, narrow input rows, factors
// sparse enough for the sparse products) widen the rows and take
// BackwardInput32's route, whose result is rounded back.
func (l *Conv2d) BackwardRows32(dst, s blas32.General, in, out *mat.Dense, cols int) {
	l.backwardRows32(dst, s, false)
}

// BackwardRows32Add implements Rows32AccumulatingLayer.
func (l *Conv2d) BackwardRows32Add(dst, s blas32.General, in, out *mat.Dense, cols int) {
	l.backwardRows32(dst, s, true)
}

func (l *Conv2d) backwardRows32(dst, s blas32.General, add bool) {
	g, ng := l.Geom, l.groups()
	r := s.Rows
	check32(s, r, ng*g.OutSize(), "conv2d factor")
	check32(dst, r, ng*g.InSize(), "conv2d factor destination")
	sr, dr := rows32Of(s), rows32Of(dst)
	if ng == 1 && !sparseBackward(estimateNonzero(sr), r, g.OutC, g.P(), 16) {
		if f := l.phased(fastblas.ShiftedWidths[float32]()...); f != nil {
			backwardPhased(l, f, dr, sr, func(d, s []float32) { copy(d, s) }, add)
			return
		}
	}
	s64 := widenRows(s)
	defer scratch.Put(&s64.data)
	d64 := newRows64(r, dst.Cols)
	defer scratch.Put(&d64.data)
	l.backward(mat.NewDense(r, dst.Cols, d64.data), mat.NewDense(r, s.Cols, s64.data), true, false)
	tensorForRows(r, dst.Cols, func(i int) {
		if add {
			for j, v := range d64.row(i) {
				dr.row(i)[j] += float32(v)
			}
			return
		}
		fastblas.Narrow(dr.row(i), d64.row(i))
	})
}

// backward is the transposed convolution of the factor rows s into dst, in
// float32 products if f32 is set, added to dst if add is set. Factors that
// are mostly zeros take backwardSparse (in float64, when it beats the dense
// product at the precision's rate). Layers without groups whose input
// phases have rows of at least 8 entries take backwardPhased: per phase, a
// convolution of the factor with the window's taps of the phase, whose
// products have out·taps, not out, as their inner dimension. Both add in
// place. Otherwise backwardBlocked computes the rows, through a scratch
// matrix when they are to be added.
func (l *Conv2d) backward(dst, s *mat.Dense, f32, add bool) {
	g, ng := l.Geom, l.groups()
	r, _ := s.Dims()
	checkDims(s, r, ng*g.OutSize(), "conv2d factor")
	checkDims(dst, r, ng*g.InSize(), "conv2d factor destination")
	lanes := 8
	if f32 {
		lanes = 16
	}
	if ng == 1 && l.backwardSparse(dst, s, lanes, add) {
		return
	}
	if f32 {
		if f := l.phased(fastblas.ShiftedWidths[float32]()...); f != nil {
			backwardPhased(l, f, rowsOf(dst), rowsOf(s), fastblas.Narrow, add)
			return
		}
	} else if f := l.phased(fastblas.ShiftedWidths[float64]()...); f != nil {
		backwardPhased(l, f, rowsOf(dst), rowsOf(s), func(d, s []float64) { copy(d, s) }, add)
		return
	}
	if !add {
		l.backwardBlocked(dst, s, f32)
		return
	}
	buf := scratch.Get(r * ng * g.InSize())
	defer scratch.Put(buf)
	t := mat.NewDense(r, ng*g.InSize(), *buf)
	l.backwardBlocked(t, s, f32)
	tensorForRows(r, ng*g.InSize(), func(i int) { floats.Add(dst.RawRowView(i), t.RawRowView(i)) })
}

// backwardBlocked writes the transposed convolution of s into dst by
// blocks of Wᵀ S_r: in float32 by backwardPhases32; in float64 in blocks
// of whole output rows (convBlockFloats entries, L2-sized) folded from
// there: row (c, i, j) of a block adds each output row's run of positions
// to the input row it was read from, a contiguous run for stride 1. Rows
// of the factor run in parallel, each on the serial kernels.
func (l *Conv2d) backwardBlocked(dst, s *mat.Dense, f32 bool) {
	g, ng := l.Geom, l.groups()
	if f32 {
		w32 := make([]float32, len(l.w.Data))
		fastblas.Narrow(w32, l.w.Data)
		backwardPhases32(g, ng, dst, s, w32)
		return
	}
	r, _ := s.Dims()
	p, k := g.P(), g.K()
	bh := max(1, min(g.OutH, convBlockFloats/(k*g.OutW))) // output rows per block
	inPlace := aliased(dst, s)
	type buffers struct{ t, s []float64 }
	parallelSamples(r, func() any {
		b := &buffers{t: make([]float64, k*bh*g.OutW)}
		if inPlace {
			b.s = make([]float64, ng*g.OutSize())
		}
		return b
	}, func(scr any, i int) {
		b := scr.(*buffers)
		t := b.t
		srow, d := s.RawRowView(i), dst.RawRowView(i)
		if inPlace {
			srow = b.s
			copy(srow, d)
		}
		clear(d)
		for gi := 0; gi < ng; gi++ {
			w, sg, dg := l.w.Data[gi*g.OutC*k:], srow[gi*g.OutSize():], d[gi*g.InSize():]
			for oh0 := 0; oh0 < g.OutH; oh0 += bh {
				oh1 := min(oh0+bh, g.OutH)
				pb := (oh1 - oh0) * g.OutW
				// T = W_gᵀ S_r[group rows, block]: K × pb.
				goBLAS.Dgemm(blas.Trans, blas.NoTrans, k, pb, g.OutC, 1, w, l.w.Stride, sg[oh0*g.OutW:], p, 0, t, pb)
				foldRowsAdd(g, dg, t, pb, oh0, oh1)
			}
		}
	})
}

// aliased reports whether a and b share their first entry: a layer's
// backward pass in place (InPlaceLayer).
func aliased(a, b *mat.Dense) bool {
	ra, rb := a.RawMatrix(), b.RawMatrix()
	return len(ra.Data) > 0 && len(rb.Data) > 0 && &ra.Data[0] == &rb.Data[0]
}

// backwardPhases32 is BackwardInput32 for ng groups of the geometry g
// with the weights w32 (ng·out×K), group by group. The
// input plane, padded by PH and PW, is split into SH·SW phases (rows
// ≡ a mod SH, columns ≡ b mod SW), each of Hq×Wq entries with
// Hq = OutH + ⌊(KH−1)·DH/SH⌋ and Wq = OutW + ⌊(KW−1)·DW/SW⌋, and each
// factor row is laid out with output rows of Wq entries (the tail zero).
// Patch index (c, i, j) reads, at output position (oh, ow), the padded
// input (oh·SH + i·DH, ow·SW + j·DW): phase (i·DH mod SH, j·DW mod SW) at
// (oh + ⌊i·DH/SH⌋, ow + ⌊j·DW/SW⌋), a fixed offset from (oh, ow). So a
// block's row (c, i, j) of Wᵀ S_r is added to its phase plane in one
// contiguous run (the zero tails add zeros) instead of one run per output
// row, which on 8×8 outputs would be 8 entries long; the product is wider
// by Wq/OutW. The input entries are then gathered from the phases (a
// contiguous widening per input row for stride 1).
func backwardPhases32(g *im2col.Geom, ng int, dst, s *mat.Dense, w32 []float32) {
	r, _ := s.Dims()
	k, out := g.K(), g.OutC
	wq := g.OutW + (g.KW-1)*g.DW/g.SW
	hq := g.OutH + (g.KH-1)*g.DH/g.SH
	bh := max(1, min(g.OutH, convBlockFloats/(k*wq))) // output rows per block
	parallelSamples(r, func() any {
		return &phaseBuffers{t: make([]float32, k*bh*wq), s: make([]float32, out*g.OutH*wq), d: make([]float32, g.InC*g.SH*g.SW*hq*wq), bh: bh}
	}, func(scr any, i int) {
		b := scr.(*phaseBuffers)
		srow, drow := s.RawRowView(i), dst.RawRowView(i)
		for gi := 0; gi < ng; gi++ {
			b.group(g, w32[gi*out*k:], srow[gi*g.OutSize():], drow[gi*g.InSize():(gi+1)*g.InSize()])
		}
	})
}

// phaseBuffers are the float32 scratch of one worker of backwardPhases32:
// blocks of Wᵀ S_r (t), the factor row in rows of Wq (s, the tails zero)
// and the phase planes (d), for blocks of bh output rows.
type phaseBuffers struct {
	t, s, d []float32
	bh      int
}

// group writes the transposed convolution of one group's factor row srow
// (out·P entries) with its weights w (out×K) into drow (InSize entries).
func (b *phaseBuffers) group(g *im2col.Geom, w []float32, srow, drow []float64) {
	k, out, p := g.K(), g.OutC, g.P()
	wq := g.OutW + (g.KW-1)*g.DW/g.SW
	hq := g.OutH + (g.KH-1)*g.DH/g.SH
	plane := hq * wq
	for o := 0; o < out; o++ {
		for oh := 0; oh < g.OutH; oh++ {
			fastblas.Narrow(b.s[(o*g.OutH+oh)*wq:(o*g.OutH+oh)*wq+g.OutW], srow[o*p+oh*g.OutW:])
		}
	}
	clear(b.d)
	for oh0 := 0; oh0 < g.OutH; oh0 += b.bh {
		oh1 := min(oh0+b.bh, g.OutH)
		nb := (oh1 - oh0) * wq
		// T = Wᵀ S_r[:, block]: K × nb.
		goBLAS.Sgemm(blas.Trans, blas.NoTrans, k, nb, out, 1, w, k, b.s[oh0*wq:], g.OutH*wq, 0, b.t, nb)
		run := nb - wq + g.OutW // the last output row's tail is not added
		for c := 0; c < g.InC; c++ {
			for ki := 0; ki < g.KH; ki++ {
				a, di := ki*g.DH%g.SH, ki*g.DH/g.SH
				for kj := 0; kj < g.KW; kj++ {
					ph, dj := (c*g.SH+a)*g.SW+kj*g.DW%g.SW, kj*g.DW/g.SW
					off := ph*plane + (oh0+di)*wq + dj
					fastblas.Add32(b.d[off:off+run], b.t[((c*g.KH+ki)*g.KW+kj)*nb:])
				}
			}
		}
	}
	for c := 0; c < g.InC; c++ {
		for ih := 0; ih < g.InH; ih++ {
			d := drow[(c*g.InH+ih)*g.InW : (c*g.InH+ih+1)*g.InW]
			rr := (ih + g.PH) / g.SH
			if rr >= hq {
				clear(d) // read by no patch index
				continue
			}
			src := b.d[((c*g.SH+(ih+g.PH)%g.SH)*g.SW)*plane+rr*wq:]
			if g.SW == 1 {
				fastblas.Widen(d, src[g.PW:])
				continue
			}
			// Column iw is entry (iw+PW)/SW of phase (iw+PW) mod SW;
			// entries past the phase rows were read by no patch index.
			pb, cc := g.PW%g.SW, g.PW/g.SW
			for iw := range d {
				if cc >= wq {
					clear(d[iw:])
					break
				}
				d[iw] = float64(src[pb*plane+cc])
				if pb++; pb == g.SW {
					pb, cc = 0, cc+1
				}
			}
		}
	}
}

// convBlockFloats bounds the block of Wᵀ S_r that BackwardInput forms
// before folding it (entries; 192 KiB, within a core's L2).
var convBlockFloats = 24 << 10

// goBLAS runs the many small products of this file (per sample, per pair
// of samples, per vector), which callers already spread over goroutines,
// on the calling goroutine: internal/fastblas's serial kernels (AVX2/FMA
// or AVX-512, 5–10× gonum's on these shapes; gonum's own code without
// them), whatever backend blas64 has been switched to, since a cgo call
// per small product would cost more than it saves.
var goBLAS fastblas.Serial

// parallelSamples runs f(scratch, i) for i = 0, …, n−1 on GOMAXPROCS
// goroutines, each with its own scratch from newScratch.
func parallelSamples(n int, newScratch func() any, f func(scratch any, i int)) {
	procs := min(runtime.GOMAXPROCS(0), n)
	scratch := make([]any, max(procs, 1))
	par.For(n, procs, func(w, i int) {
		if scratch[w] == nil {
			scratch[w] = newScratch()
		}
		f(scratch[w], i)
	})
}

// FactorRows32 implements Rows32ParamLayer: a lowrank.Conv that keeps the
// float32 rows (lowrank.NewConv32); with groups, Factor's block on the
// rows widened into a buffer of internal/scratch that the block keeps.
func (l *Conv2d) FactorRows32(s blas32.General, in *mat.Dense, cols int) lowrank.Factor {
	if l.groups() == 1 {
		check32(s, s.Rows, l.Geom.OutSize(), "conv2d factor")
		return lowrank.NewConv32(l.Geom, s.Data[:s.Rows*s.Cols], s.Rows, in, cols, true, l.Bias != nil)
	}
	w := widenRows(s)
	return l.Factor(mat.NewDense(s.Rows, s.Cols, w.data), in, cols)
}

// Factor returns lowrank.Conv for one group, lowrank.GroupedConv (one
// Conv block per group on views of s and in) for more.
func (l *Conv2d) Factor(s, in *mat.Dense, cols int) lowrank.Factor {
	if l.groups() == 1 {
		return lowrank.NewConv(l.Geom, s, in, cols, true, l.Bias != nil)
	}
	return lowrank.NewGroupedConv(l.Geom, l.groups(), s, in, cols, true, l.Bias != nil)
}
