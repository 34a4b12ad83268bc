package lowrank

import (
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/backend"
)

// Explicit is a block of V held explicitly, as its transpose Vᵀ
// (Cols × Dim, row-major): row r is column r of the block. It suits the
// layers whose parameters are few next to their activations, such as the
// per-channel scale and shift of a normalisation or a learned bias, whose
// columns are sums over positions of the backpropagated factor. Memory is
// Cols·Dim float64s; every product is one BLAS call on that matrix.
//
// The columns of Vᵀ are grouped by tensor, in the layer's state_dict
// order, so that Select can keep some of them.
type Explicit struct {
	vt    *mat.Dense // Cols × Dim
	sizes []int      // sizes of the tensors covered, in order
	ids   []int      // position of each covered tensor among the layer's
}

// NewExplicit returns the block whose transpose is vt ((n·c) × Dim), with
// the columns of vt grouped into the layer's tensors of the given sizes
// (state_dict order). It references vt.
func NewExplicit(vt *mat.Dense, sizes []int) *Explicit {
	_, d := vt.Dims()
	sum := 0
	ids := make([]int, len(sizes))
	for i, s := range sizes {
		if s < 1 {
			panic("lowrank: tensor size is not positive")
		}
		sum += s
		ids[i] = i
	}
	if sum != d {
		panic("lowrank: tensor sizes do not add up to the columns of Vᵀ")
	}
	return &Explicit{vt: vt, sizes: slices.Clone(sizes), ids: ids}
}

// Vt returns Vᵀ (Cols × Dim), not a copy.
func (e *Explicit) Vt() *mat.Dense { return e.vt }

func (e *Explicit) Dim() int  { _, d := e.vt.Dims(); return d }
func (e *Explicit) Cols() int { r, _ := e.vt.Dims(); return r }

// Select keeps the tensors with keep[id] true, where id is a tensor's
// position in the layer's state_dict order (whatever earlier Select calls
// left). Kept tensors that are adjacent in Vᵀ are a view; otherwise the
// kept columns are copied.
func (e *Explicit) Select(keep []bool) Factor {
	var ids, sizes, starts []int
	off := 0
	for i, id := range e.ids {
		if id < len(keep) && keep[id] {
			ids = append(ids, id)
			sizes = append(sizes, e.sizes[i])
			starts = append(starts, off)
		}
		off += e.sizes[i]
	}
	if len(ids) == 0 {
		return nil
	}
	r, _ := e.vt.Dims()
	d := 0
	contiguous := true
	for i, s := range sizes {
		if starts[i] != starts[0]+d {
			contiguous = false
		}
		d += s
	}
	var vt *mat.Dense
	if contiguous {
		vt = e.vt.Slice(0, r, starts[0], starts[0]+d).(*mat.Dense)
	} else {
		vt = mat.NewDense(r, d, nil)
		for i := 0; i < r; i++ {
			src, dst := e.vt.RawRowView(i), vt.RawRowView(i)
			at := 0
			for j, s := range sizes {
				copy(dst[at:at+s], src[starts[j]:starts[j]+s])
				at += s
			}
		}
	}
	return &Explicit{vt: vt, sizes: sizes, ids: ids}
}

// raw returns Vᵀ as a blas64.General.
func (e *Explicit) raw() blas64.General { return e.vt.RawMatrix() }

func (e *Explicit) MulTo(dst, u *mat.Dense) {
	k, _ := u.Dims()
	checkShape(u, k, e.Cols())
	checkShape(dst, k, e.Dim())
	// (V u_j)ᵀ = u_jᵀ Vᵀ: dst = u · Vᵀ.
	backend.Gemm(blas.NoTrans, blas.NoTrans, 1, u.RawMatrix(), e.raw(), 0, dst.RawMatrix())
}

func (e *Explicit) TransMulTo(dst, v *mat.Dense) {
	k, _ := v.Dims()
	checkShape(v, k, e.Dim())
	checkShape(dst, k, e.Cols())
	// (Vᵀ v_j)ᵀ = v_jᵀ V: dst = v · (Vᵀ)ᵀ.
	backend.Gemm(blas.NoTrans, blas.Trans, 1, v.RawMatrix(), e.raw(), 0, dst.RawMatrix())
}

func (e *Explicit) AddGramTo(dst *mat.SymDense) {
	r := e.Cols()
	if dst.SymmetricDim() != r {
		panic("lowrank: Gram destination has wrong size")
	}
	g := symRaw(dst)
	addProduct(blas64.General{Rows: r, Cols: r, Stride: g.Stride, Data: g.Data}, e.raw(), e.raw(), true)
}

func (e *Explicit) AddCrossTo(dst *mat.Dense, y Factor) {
	o, ok := y.(*Explicit)
	if !ok || !slices.Equal(o.ids, e.ids) || !slices.Equal(o.sizes, e.sizes) {
		panic("lowrank: cross product of factors of different layers")
	}
	checkShape(dst, e.Cols(), o.Cols())
	addProduct(dst.RawMatrix(), e.raw(), o.raw(), false)
}

func (e *Explicit) AddDiagTo(dst []float64) {
	if len(dst) != e.Dim() {
		panic("lowrank: diagonal destination has wrong length")
	}
	r := e.Cols()
	for i := 0; i < r; i++ {
		for j, v := range e.vt.RawRowView(i) {
			dst[j] += v * v
		}
	}
}
