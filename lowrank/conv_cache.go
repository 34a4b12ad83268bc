package lowrank

import (
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/backend"
	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/scratch"
)

// ---------------------------------------------------------------------------
// The weight block of V, kept from the Gram matrix for MulTo

// keptV is the weight block of V in the explicit Gram route's chunks (one
// row per factor row), kept by that route when it is small enough (see
// keepV), so that MulTo (the map-back of eigenvectors, which comes after
// the Gram matrix) multiplies it instead of forming it again: in float64
// (chunks, ch.width() columns each, buffers from internal/scratch that go
// back there on Release), or in float32 as the float32 route formed it
// (v32). Shared by Select'ed copies.
type keptV struct {
	mu     sync.Mutex
	chunks []keptChunk
	v32    []keptChunk32
}

type keptChunk struct {
	ch  chunk
	buf *[]float64
}

// keptChunk32 is a chunk of the weight block in float32: all output
// channels, patch indices [k0, k1), one row per factor row.
type keptChunk32 struct {
	k0, k1 int
	buf    *[]float32 // from internal/scratch; its first rows·out·(k1−k0) entries
}

// KeptVMax is the size in bytes up to which the Gram matrix's explicit
// route keeps a convolution's float64 weight block whatever its ratio to
// the factor rows (128 MiB: 3c3d's largest block with Monte-Carlo factors
// of one column per sample at N = 128), within a quarter of the budget.
const KeptVMax = 128 << 20

// keepV reports whether the Gram route keeps the weight block it forms,
// width columns of elem-byte entries (8 or 4), within a quarter of the
// budget. A float64 block is kept when it is also at most twice the size
// of the factor rows S that the block holds anyway, or at most KeptVMax:
// forming it again would cost ρ·P/8 multiply-adds per byte kept (ρ the
// factor's density) and write the block out to memory and back once more.
// A float32 block is kept whenever it fits: it takes half the bytes, and
// MulTo without it would form the block again, or aggregate the factor
// rows, in products as large as the Gram route's (neither skips zeros in
// float32), against k·R·out·K multiply-adds from the kept block.
func (f *Conv) keepV(width, elem int) bool {
	if !f.Weight {
		return false
	}
	r := int64(f.rows())
	vb, sb := r*int64(width)*int64(elem), r*int64(f.G.OutSize())*8
	if vb > f.Budget()/4 {
		return false
	}
	return elem == 4 || vb <= 2*sb || vb <= KeptVMax
}

// setKeptV stores the chunks, with buffers from internal/scratch, as the
// kept weight block.
func (f *Conv) setKeptV(chunks []keptChunk) {
	f.Release()
	f.stats.kept.mu.Lock()
	f.stats.kept.chunks = chunks
	f.stats.kept.mu.Unlock()
}

// setKeptV32 stores the float32 chunks, with buffers from
// internal/scratch, as the kept weight block.
func (f *Conv) setKeptV32(v []keptChunk32) {
	f.Release()
	f.stats.kept.mu.Lock()
	f.stats.kept.v32 = v
	f.stats.kept.mu.Unlock()
}

// keptWeight returns the kept weight block's float64 or float32 chunks, or
// nil twice.
func (f *Conv) keptWeight() ([]keptChunk, []keptChunk32) {
	f.stats.kept.mu.Lock()
	defer f.stats.kept.mu.Unlock()
	return f.stats.kept.chunks, f.stats.kept.v32
}

// Release hands the weight block that the Gram matrix kept back for reuse
// (to internal/scratch); later products form it again. It
// must not run concurrently with the factor's (or its Select'ed copies')
// operations.
func (f *Conv) Release() {
	f.stats.kept.mu.Lock()
	defer f.stats.kept.mu.Unlock()
	for _, c := range f.stats.kept.chunks {
		scratch.Put(c.buf)
	}
	for _, c := range f.stats.kept.v32 {
		scratch.Put32(c.buf)
	}
	f.stats.kept.chunks = nil
	f.stats.kept.v32 = nil
}

// DropRows implements RowsDropper: once the Gram matrix's route has kept
// the weight block (or the block has no weight), it sums the bias columns
// and lets go of S and A. With a forced Route MulTo would not read the
// kept block, so the rows stay.
func (f *Conv) DropRows() bool {
	if f.dropped() {
		return true
	}
	if f.Route != RouteAuto {
		return false
	}
	if v, v32 := f.keptWeight(); f.Weight && v == nil && v32 == nil {
		return false
	}
	if f.Bias {
		f.biasCols()
	}
	f.S, f.s32, f.tok, f.A = nil, nil, nil, nil
	f.stats.wide = nil
	return true
}

// HeldWords returns the float64s' worth of factor rows the block holds
// beyond the inputs it references: S, or half as many for float32 rows
// (and S too once they have been widened).
func (f *Conv) HeldWords() int64 {
	var w int64
	if f.S != nil {
		r, c := f.S.Dims()
		w += int64(r) * int64(c)
	}
	w += int64(len(f.s32)+1) / 2
	if f.tok != nil {
		w += int64(f.rows()) * int64(f.G.OutSize())
	}
	if f.stats.wide != nil {
		w += int64(f.rows()) * int64(f.G.OutSize())
	}
	return w
}

// dropped reports whether DropRows let go of the factor rows.
func (f *Conv) dropped() bool { return f.S == nil && f.s32 == nil && f.tok == nil }

// needRows panics if DropRows let go of the factor rows (programmer
// misuse: only MulTo is left).
func (f *Conv) needRows() {
	if f.dropped() {
		panic("lowrank: operation on a convolution factor after DropRows")
	}
}

// mulKeptTo writes V u_j for the rows u_j of u from the kept weight
// block's chunks (float64 kept, or float32 v32: per chunk one product of u
// with the float32 block, widened exactly as it is read and summed in
// float64, fastblas.GemmNNMixed), and the bias part from the bias
// columns.
func (f *Conv) mulKeptTo(dst, u *mat.Dense, kept []keptChunk, v32 []keptChunk32) {
	nv, _ := u.Dims()
	raw := dst.RawMatrix()
	if !f.Weight {
		kept, v32 = nil, nil // a bias block Selected from a dropped one
	}
	for _, c := range kept {
		f.mulChunkTo(dst, u, c.ch, *c.buf)
	}
	r, ur := f.rows(), u.RawMatrix()
	for _, c := range v32 {
		ch := chunk{o0: 0, o1: f.G.OutC, k0: c.k0, k1: c.k1}
		f.writeChunk(dst, ch, func(t []float64, ldt int) {
			fastblas.GemmNNMixed(nv, ch.width(), r, 1, ur.Data, ur.Stride, *c.buf, ch.width(), 0, t, ldt)
		})
	}
	if f.Bias {
		off := 0
		if f.Weight {
			off = f.G.OutC * f.G.K()
		}
		backend.Gemm(blas.NoTrans, blas.NoTrans, 1, u.RawMatrix(), f.biasCols(), 0,
			blas64.General{Rows: nv, Cols: f.G.OutC, Stride: raw.Stride, Data: raw.Data[off:]})
	}
}
