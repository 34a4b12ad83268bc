package lowrank

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/backend"
)

// Source is the block of V for a tensor that a layer outputs unchanged for
// every sample (a learned class token or embedding broadcast over the
// batch). The output's Jacobian with respect to the tensor is the
// identity, so column r of the block is the factor row S_r itself: the
// block is Sᵀ. It keeps only S ((n·c)×D, referenced, not copied) and
// needs no scratch memory beyond the destinations.
type Source struct {
	S *mat.Dense // (n·c)×D factor rows at the layer's output
}

// NewSource returns the block Sᵀ for the factor rows s.
func NewSource(s *mat.Dense) *Source { return &Source{S: s} }

func (f *Source) Dim() int  { _, d := f.S.Dims(); return d }
func (f *Source) Cols() int { r, _ := f.S.Dims(); return r }

// MulTo writes u_j S into row j of dst.
func (f *Source) MulTo(dst, u *mat.Dense) {
	k, _ := u.Dims()
	checkShape(u, k, f.Cols())
	checkShape(dst, k, f.Dim())
	backend.Mul(dst, u, f.S)
}

// TransMulTo writes S v_j into row j of dst.
func (f *Source) TransMulTo(dst, v *mat.Dense) {
	k, _ := v.Dims()
	checkShape(v, k, f.Dim())
	checkShape(dst, k, f.Cols())
	backend.Mul(dst, v, f.S.T())
}

// AddGramTo adds S Sᵀ to the upper triangle of dst.
func (f *Source) AddGramTo(dst *mat.SymDense) {
	if dst.SymmetricDim() != f.Cols() {
		panic("lowrank: Gram destination has wrong size")
	}
	addOuterUpper(symRaw(dst), f.S.RawMatrix())
}

// AddCrossTo adds S_x S_yᵀ to dst; y must be a Source of the same tensor.
func (f *Source) AddCrossTo(dst *mat.Dense, y Factor) {
	o, ok := y.(*Source)
	if !ok || o.Dim() != f.Dim() {
		panic("lowrank: cross product of factors of different layers")
	}
	checkShape(dst, f.Cols(), o.Cols())
	backend.Gemm(blas.NoTrans, blas.Trans, 1, f.S.RawMatrix(), o.S.RawMatrix(), 1, dst.RawMatrix())
}

// AddDiagTo adds the column sums of S ⊙ S to dst.
func (f *Source) AddDiagTo(dst []float64) {
	if len(dst) != f.Dim() {
		panic("lowrank: diagonal destination has wrong length")
	}
	for r := 0; r < f.Cols(); r++ {
		for j, v := range f.S.RawRowView(r) {
			dst[j] += v * v
		}
	}
}

// Select returns f if its one tensor is kept, else nil.
func (f *Source) Select(keep []bool) Factor {
	if len(keep) > 0 && keep[0] {
		return f
	}
	return nil
}
