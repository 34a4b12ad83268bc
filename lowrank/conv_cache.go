package lowrank

import (
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/backend"
	"github.com/vivit-go/vivit/internal/scratch"
)

// ---------------------------------------------------------------------------
// The weight block of V, kept from the Gram matrix for MulTo

// keptV is the weight block of V in the explicit Gram route's chunks (one
// row per factor row, ch.width() columns each), kept by that route when
// it is small enough (see keepV), so that MulTo (the map-back of
// eigenvectors, which comes after the Gram matrix) multiplies it instead
// of forming it again. The chunks' buffers come from internal/scratch and
// go back there on Release. Shared by Select'ed copies.
type keptV struct {
	mu     sync.Mutex
	chunks []keptChunk
}

type keptChunk struct {
	ch  chunk
	buf *[]float64
}

// KeptVMax is the size in bytes up to which the Gram matrix's explicit
// route keeps a convolution's weight block whatever its ratio to the
// factor rows (128 MiB: 3c3d's largest block with Monte-Carlo factors of
// one column per sample at N = 128), within a quarter of the budget.
const KeptVMax = 128 << 20

// keepV reports whether the Gram route keeps the weight block it forms:
// computing in float64, within a quarter of the budget, and either at
// most twice the size of the factor rows S that the block holds anyway or
// at most KeptVMax. Forming the block again would cost ρ·P/8
// multiply-adds per byte kept (ρ the factor's density) and write the
// block out to memory and back once more.
func (f *Conv) keepV() bool {
	if f.Precision != Float64 || !f.Weight {
		return false
	}
	r := int64(f.rows())
	vb, sb := r*int64(f.G.OutC*f.G.K())*8, r*int64(f.G.OutSize())*8
	return vb <= f.Budget()/4 && (vb <= 2*sb || vb <= KeptVMax)
}

// setKeptV stores the chunks, with buffers from internal/scratch, as the
// kept weight block.
func (f *Conv) setKeptV(chunks []keptChunk) {
	f.Release()
	f.stats.kept.mu.Lock()
	f.stats.kept.chunks = chunks
	f.stats.kept.mu.Unlock()
}

// keptWeight returns the kept weight block's chunks, or nil.
func (f *Conv) keptWeight() []keptChunk {
	f.stats.kept.mu.Lock()
	defer f.stats.kept.mu.Unlock()
	return f.stats.kept.chunks
}

// Release hands the weight block that the Gram matrix kept back for reuse
// (to internal/scratch); later products form it again. It must not run
// concurrently with the factor's (or its Select'ed copies') operations.
func (f *Conv) Release() {
	f.stats.kept.mu.Lock()
	defer f.stats.kept.mu.Unlock()
	for _, c := range f.stats.kept.chunks {
		scratch.Put(c.buf)
	}
	f.stats.kept.chunks = nil
}

// mulKeptTo writes V u_j for the rows u_j of u from the kept weight
// block's chunks, and the bias part from the bias columns.
func (f *Conv) mulKeptTo(dst, u *mat.Dense, kept []keptChunk) {
	for _, c := range kept {
		f.mulChunkTo(dst, u, c.ch, *c.buf)
	}
	if f.Bias {
		nv, _ := u.Dims()
		out := dst.RawMatrix()
		backend.Gemm(blas.NoTrans, blas.NoTrans, 1, u.RawMatrix(), f.biasCols(), 0,
			blas64.General{Rows: nv, Cols: f.G.OutC, Stride: out.Stride, Data: out.Data[f.G.OutC*f.G.K():]})
	}
}
