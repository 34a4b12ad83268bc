package lowrank

import (
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/backend"
	"github.com/vivit-go/vivit/internal/fastblas"
)

// ---------------------------------------------------------------------------
// The weight block of V, kept from the Gram matrix for MulTo

// keptV is the weight block of V (one row per factor row, out·K columns,
// the layout of a chunk that holds the whole weight), kept by the explicit
// Gram route when it formed the block in one chunk (see keepV), so that
// MulTo (the map-back of eigenvectors, which comes after the Gram matrix)
// multiplies it instead of forming it again: in float64, or in float32 as
// the float32 route formed it (addGramExplicit32), in the chunks it
// formed. Shared by Select'ed copies.
type keptV struct {
	mu  sync.Mutex
	v   []float64
	v32 []keptChunk32
}

// keptChunk32 is a chunk of the weight block in float32: all output
// channels, patch indices [k0, k1), one row per factor row.
type keptChunk32 struct {
	k0, k1 int
	v      []float32
}

// keptVMax is the size up to which a weight block is kept whatever its
// ratio to the factor rows (16 MiB; Monte-Carlo factors of a few columns
// per sample).
const keptVMax = 16 << 20

// keepV reports whether the Gram route keeps the weight block it formed,
// width columns of elem-byte entries (8 or 4), within a quarter of the
// budget. A float64 block is kept when it is also at most twice the size
// of the factor rows S that the block holds anyway, or at most keptVMax:
// forming it again would cost ρ·P/8 multiply-adds per byte kept (ρ the
// factor's density), a lot for early layers with many output positions,
// little for late ones, whose blocks are also the largest (K ≫ P). A
// float32 block is kept whenever it fits: it takes half the bytes, and
// MulTo without it would form the block again, or aggregate the factor
// rows, in products as large as the Gram route's (neither skips zeros in
// float32), against k·R·out·K multiply-adds from the kept block.
func (f *Conv) keepV(width, elem int) bool {
	r := int64(f.rows())
	vb, sb := r*int64(width)*int64(elem), r*int64(f.G.OutSize())*8
	if vb > f.Budget()/4 {
		return false
	}
	return elem == 4 || vb <= 2*sb || vb <= keptVMax
}

// setKeptV stores v as the kept weight block.
func (f *Conv) setKeptV(v []float64) {
	f.stats.kept.mu.Lock()
	f.stats.kept.v = v
	f.stats.kept.mu.Unlock()
}

// setKeptV32 stores the chunks v as the kept weight block in float32.
func (f *Conv) setKeptV32(v []keptChunk32) {
	f.stats.kept.mu.Lock()
	f.stats.kept.v32 = v
	f.stats.kept.mu.Unlock()
}

// keptWeight returns the kept weight block in float64 or in float32
// chunks, or nil twice.
func (f *Conv) keptWeight() ([]float64, []keptChunk32) {
	f.stats.kept.mu.Lock()
	defer f.stats.kept.mu.Unlock()
	return f.stats.kept.v, f.stats.kept.v32
}

// mulKeptTo writes V u_j for the rows u_j of u from the kept weight block
// v or its float32 chunks v32: one product u·V for the weight (per chunk
// in float32 for v32, on u rounded to float32) and one with the bias
// columns.
func (f *Conv) mulKeptTo(dst, u *mat.Dense, v []float64, v32 []keptChunk32) {
	r, out, k := f.rows(), f.G.OutC, f.G.K()
	w := out * k
	nv, _ := u.Dims()
	raw := dst.RawMatrix()
	if v32 != nil {
		u32 := make([]float32, nv*r)
		for j := 0; j < nv; j++ {
			fastblas.Narrow(u32[j*r:(j+1)*r], u.RawRowView(j))
		}
		t32 := make([]float32, nv*out*(v32[0].k1-v32[0].k0))
		var impl fastblas.Implementation
		for _, ch := range v32 {
			kc := ch.k1 - ch.k0
			cw := out * kc
			impl.Sgemm(blas.NoTrans, blas.NoTrans, nv, cw, r, 1, u32, r, ch.v, cw, 0, t32, cw)
			for j := 0; j < nv; j++ {
				row := dst.RawRowView(j)
				for o := 0; o < out; o++ {
					fastblas.Widen(row[o*k+ch.k0:o*k+ch.k1], t32[j*cw+o*kc:])
				}
			}
		}
	} else {
		backend.Gemm(blas.NoTrans, blas.NoTrans, 1, u.RawMatrix(),
			blas64.General{Rows: r, Cols: w, Stride: w, Data: v}, 0,
			blas64.General{Rows: nv, Cols: w, Stride: raw.Stride, Data: raw.Data})
	}
	if f.Bias {
		backend.Gemm(blas.NoTrans, blas.NoTrans, 1, u.RawMatrix(), f.biasCols(), 0,
			blas64.General{Rows: nv, Cols: out, Stride: raw.Stride, Data: raw.Data[w:]})
	}
}
