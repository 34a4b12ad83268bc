package model

import (
	"fmt"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/par"
	"github.com/vivit-go/vivit/internal/scratch"
	"github.com/vivit-go/vivit/lowrank"
	"github.com/vivit-go/vivit/model/im2col"
)

// Conv2d is PyTorch's nn.Conv2d with groups 1 and zero padding: weight
// [out, in, kh, kw], bias [out], per-sample input [in, H, W] and output
// [out, OutH, OutW] (see im2col.Geom for the geometry).
type Conv2d struct {
	Geom         *im2col.Geom
	Weight, Bias *Param // Bias is nil without bias
	w            blas64.General
}

// NewConv2d returns a Conv2d layer for the geometry g with zero
// parameters named "<index>.weight" and "<index>.bias".
func NewConv2d(index int, g *im2col.Geom, bias bool) *Conv2d {
	l := &Conv2d{Geom: g}
	l.Weight = &Param{Name: fmt.Sprintf("%d.weight", index), Shape: []int{g.OutC, g.InC, g.KH, g.KW}, Data: make([]float64, g.OutC*g.K())}
	if bias {
		l.Bias = &Param{Name: fmt.Sprintf("%d.bias", index), Shape: []int{g.OutC}, Data: make([]float64, g.OutC)}
	}
	l.w = blas64.General{Rows: g.OutC, Cols: g.K(), Stride: g.K(), Data: l.Weight.Data}
	return l
}

func (l *Conv2d) Type() string    { return "conv2d" }
func (l *Conv2d) InShape() []int  { return []int{l.Geom.InC, l.Geom.InH, l.Geom.InW} }
func (l *Conv2d) OutShape() []int { return []int{l.Geom.OutC, l.Geom.OutH, l.Geom.OutW} }
func (l *Conv2d) Params() []*Param {
	if l.Bias == nil {
		return []*Param{l.Weight}
	}
	return []*Param{l.Weight, l.Bias}
}

// Forward computes each sample's output Y_i = W U_i (out×K times the K×P
// unfolded input) straight into its output row, samples in parallel, each
// with one unfolded input (K·P floats) of scratch per worker.
func (l *Conv2d) Forward(y, x *mat.Dense) {
	g := l.Geom
	n, _ := x.Dims()
	checkDims(x, n, g.InSize(), "conv2d input")
	checkDims(y, n, g.OutSize(), "conv2d output")
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
		unfoldT(g, u, x.RawRowView(i))
		row := y.RawRowView(i)
		goBLAS.Dgemm(blas.NoTrans, blas.NoTrans, out, p, k, 1, l.w.Data, l.w.Stride, u, p, 0, row, p)
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

// BackwardInput applies the transposed convolution: row r of dst is
// fold(Wᵀ S_r), the adjoint of the unfolding applied to the K×P product of
// the transposed weight and the factor row (out×P).
//
// The product is formed in blocks of whole output rows (convBlockFloats
// entries, L2-sized) and folded from there: row (c, i, j) of a block adds
// each output row's run of positions to the input row it was read from, a
// contiguous run for stride 1. Rows of the factor run in parallel, each on
// the serial kernels.
func (l *Conv2d) BackwardInput(dst, s, in, out *mat.Dense, cols int) {
	g := l.Geom
	r, _ := s.Dims()
	checkDims(s, r, g.OutSize(), "conv2d factor")
	checkDims(dst, r, g.InSize(), "conv2d factor destination")
	p, k := g.P(), g.K()
	bh := max(1, min(g.OutH, convBlockFloats/(k*g.OutW))) // output rows per block
	parallelSamples(r, func() any { return make([]float64, k*bh*g.OutW) }, func(scr any, i int) {
		t := scr.([]float64)
		srow, d := s.RawRowView(i), dst.RawRowView(i)
		clear(d)
		for oh0 := 0; oh0 < g.OutH; oh0 += bh {
			oh1 := min(oh0+bh, g.OutH)
			pb := (oh1 - oh0) * g.OutW
			// T = Wᵀ S_r[:, block]: K × pb.
			goBLAS.Dgemm(blas.Trans, blas.NoTrans, k, pb, g.OutC, 1, l.w.Data, l.w.Stride, srow[oh0*g.OutW:], p, 0, t, pb)
			foldRowsAdd(g, d, t, pb, oh0, oh1)
		}
	})
}

// BackwardInput32 is BackwardInput in float32 (Float32Layer): the weights
// are rounded to float32 once per call and each factor row as it is
// taken, the blocks of Wᵀ S_r are float32 products (6×16 kernel) folded
// into float32 planes (backwardPhases32), which are widened into dst.
func (l *Conv2d) BackwardInput32(dst, s, in, out *mat.Dense, cols int) {
	g := l.Geom
	r, _ := s.Dims()
	checkDims(s, r, g.OutSize(), "conv2d factor")
	checkDims(dst, r, g.InSize(), "conv2d factor destination")
	w32 := make([]float32, len(l.w.Data))
	fastblas.Narrow(w32, l.w.Data)
	backwardPhases32(g, dst, s, w32)
}

// backwardPhases32 is BackwardInput32 with the weights w32 (out×K). The
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
func backwardPhases32(g *im2col.Geom, dst, s *mat.Dense, w32 []float32) {
	r, _ := s.Dims()
	k, out, p := g.K(), g.OutC, g.P()
	wq := g.OutW + (g.KW-1)*g.DW/g.SW
	hq := g.OutH + (g.KH-1)*g.DH/g.SH
	plane, phases := hq*wq, g.SH*g.SW
	bh := max(1, min(g.OutH, convBlockFloats/(k*wq))) // output rows per block
	type buffers struct{ t, s, d []float32 }
	parallelSamples(r, func() any {
		return &buffers{make([]float32, k*bh*wq), make([]float32, out*g.OutH*wq), make([]float32, g.InC*phases*plane)}
	}, func(scr any, i int) {
		b := scr.(*buffers)
		srow := s.RawRowView(i)
		for o := 0; o < out; o++ {
			for oh := 0; oh < g.OutH; oh++ {
				fastblas.Narrow(b.s[(o*g.OutH+oh)*wq:(o*g.OutH+oh)*wq+g.OutW], srow[o*p+oh*g.OutW:])
			}
		}
		clear(b.d)
		for oh0 := 0; oh0 < g.OutH; oh0 += bh {
			oh1 := min(oh0+bh, g.OutH)
			nb := (oh1 - oh0) * wq
			// T = Wᵀ S_r[:, block]: K × nb.
			goBLAS.Sgemm(blas.Trans, blas.NoTrans, k, nb, out, 1, w32, k, b.s[oh0*wq:], g.OutH*wq, 0, b.t, nb)
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
		drow := dst.RawRowView(i)
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
	})
}

// convBlockFloats bounds the block of Wᵀ S_r that BackwardInput forms
// before folding it (entries; 192 KiB, within a core's L2).
var convBlockFloats = 24 << 10

// goBLAS runs the many small products of this file (per sample, per pair
// of samples, per vector), which callers already spread over goroutines,
// on the calling goroutine: internal/fastblas's serial kernels (AVX2/FMA,
// 5–10× gonum's on these shapes; gonum's own code without them), whatever
// backend blas64 has been switched to, since a cgo call per small product
// would cost more than it saves.
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

func (l *Conv2d) Factor(s, in *mat.Dense, cols int) lowrank.Factor {
	return lowrank.NewConv(l.Geom, s, in, cols, true, l.Bias != nil)
}
