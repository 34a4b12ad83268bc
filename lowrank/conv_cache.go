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

// keptV is the weight block of V (one row per factor row, out·K columns,
// the layout of a chunk that holds the whole weight), kept by the explicit
// Gram route when it formed the block in one chunk (see keepV), so that
// MulTo (the map-back of eigenvectors, which comes after the Gram matrix)
// multiplies it instead of forming it again. Its buffer comes from
// internal/scratch and goes back there on Release. Shared by Select'ed
// copies.
type keptV struct {
	mu sync.Mutex
	v  *[]float64
}

// KeptVMax is the size in bytes up to which the Gram matrix's explicit
// route keeps a convolution's weight block whatever its ratio to the
// factor rows (32 MiB: 3c3d's largest block with Monte-Carlo factors of
// one column per sample at N = 32).
const KeptVMax = 32 << 20

// keepV reports whether the Gram route keeps the weight block it formed
// in one chunk: computing in float64, within a quarter of the budget, and
// either at most twice the size of the factor rows S that the block holds
// anyway or at most KeptVMax. Forming the block again would cost
// ρ·P/8 multiply-adds per byte kept (ρ the factor's density): a lot for
// early layers with many output positions, little for late ones, whose
// blocks are also the largest (K ≫ P).
func (f *Conv) keepV(width int) bool {
	if f.Precision != Float64 {
		return false
	}
	r := int64(f.rows())
	vb, sb := r*int64(width)*8, r*int64(f.G.OutSize())*8
	return vb <= f.Budget()/4 && (vb <= 2*sb || vb <= KeptVMax)
}

// setKeptV stores v, from internal/scratch, as the kept weight block.
func (f *Conv) setKeptV(v *[]float64) {
	f.stats.kept.mu.Lock()
	if old := f.stats.kept.v; old != nil {
		scratch.Put(old)
	}
	f.stats.kept.v = v
	f.stats.kept.mu.Unlock()
}

// keptWeight returns the kept weight block, or nil.
func (f *Conv) keptWeight() []float64 {
	f.stats.kept.mu.Lock()
	defer f.stats.kept.mu.Unlock()
	if f.stats.kept.v == nil {
		return nil
	}
	return *f.stats.kept.v
}

// Release hands the weight block that the Gram matrix kept back for reuse
// (to internal/scratch); later products form it again. It must not run
// concurrently with the factor's (or its Select'ed copies') operations.
func (f *Conv) Release() {
	f.stats.kept.mu.Lock()
	defer f.stats.kept.mu.Unlock()
	if f.stats.kept.v != nil {
		scratch.Put(f.stats.kept.v)
		f.stats.kept.v = nil
	}
}

// mulKeptTo writes V u_j for the rows u_j of u from the kept weight block
// v: one product u·V for the weight and one with the bias columns.
func (f *Conv) mulKeptTo(dst, u *mat.Dense, v []float64) {
	r, w := f.rows(), f.G.OutC*f.G.K()
	nv, _ := u.Dims()
	out := dst.RawMatrix()
	backend.Gemm(blas.NoTrans, blas.NoTrans, 1, u.RawMatrix(),
		blas64.General{Rows: r, Cols: w, Stride: w, Data: v}, 0,
		blas64.General{Rows: nv, Cols: w, Stride: out.Stride, Data: out.Data})
	if f.Bias {
		backend.Gemm(blas.NoTrans, blas.NoTrans, 1, u.RawMatrix(), f.biasCols(), 0,
			blas64.General{Rows: nv, Cols: f.G.OutC, Stride: out.Stride, Data: out.Data[w:]})
	}
}
