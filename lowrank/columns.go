package lowrank

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/par"
)

// A ColumnFormer is a factor that writes a range of the columns of its
// block of V explicitly, at the cost of writing them: what the
// parameter-side GGN G = V Vᵀ is built from, chunk by chunk (see
// ColumnsTo).
type ColumnFormer interface {
	// ColumnsTo writes columns r0, …, r0+k−1 of V as the rows of dst
	// (k×Dim; dst may be a view with any stride).
	ColumnsTo(dst *mat.Dense, r0 int)
}

// ColumnsTo writes columns r0, …, r0+k−1 of f's block of V as the rows of
// dst (k×f.Dim()). Factors that implement ColumnFormer (all of this
// package's) write them directly, in O(k·Dim) work (plus, for a
// convolution, the unfolding of the samples the columns belong to); any
// other factor is asked for V e_r through MulTo with unit vectors, which
// costs what k products cost.
//
// Memory: dst only, plus for a convolution one unfolded sample (P·K
// float64s) per goroutine.
func ColumnsTo(f Factor, dst *mat.Dense, r0 int) {
	k, _ := dst.Dims()
	checkShape(dst, k, f.Dim())
	if r0 < 0 || r0+k > f.Cols() {
		panic("lowrank: column range out of bounds")
	}
	if cf, ok := f.(ColumnFormer); ok {
		cf.ColumnsTo(dst, r0)
		return
	}
	u := mat.NewDense(k, f.Cols(), nil)
	for j := 0; j < k; j++ {
		u.Set(j, r0+j, 1)
	}
	f.MulTo(dst, u)
}

// ColumnsTo implements ColumnFormer: column r is vec(S_r a_{r/c}ᵀ) for the
// weight and S_r for the bias.
func (l *Linear) ColumnsTo(dst *mat.Dense, r0 int) {
	k, _ := dst.Dims()
	_, out, in := l.dims()
	checkShape(dst, k, l.Dim())
	par.For(k, par.ProcsFor(k*l.Dim()), func(_, j int) {
		r := r0 + j
		s, row := l.S.RawRowView(r), dst.RawRowView(j)
		off := 0
		if l.Weight {
			a := l.A.RawRowView(r / l.C)
			for o, v := range s {
				floats.ScaleTo(row[o*in:(o+1)*in], v, a)
			}
			off = out * in
		}
		if l.Bias {
			copy(row[off:off+out], s)
		}
	})
}

// ColumnsTo implements ColumnFormer: rows r0… of Vᵀ, copied.
func (e *Explicit) ColumnsTo(dst *mat.Dense, r0 int) {
	k, _ := dst.Dims()
	checkShape(dst, k, e.Dim())
	dst.Copy(e.vt.Slice(r0, r0+k, 0, e.Dim()))
}

// ColumnsTo implements ColumnFormer: rows r0… of S, copied.
func (f *Source) ColumnsTo(dst *mat.Dense, r0 int) {
	k, _ := dst.Dims()
	checkShape(dst, k, f.Dim())
	dst.Copy(f.S.Slice(r0, r0+k, 0, f.Dim()))
}

// ColumnsTo implements ColumnFormer: column r is vec(S_r U_nᵀ) (out×K,
// n = r/c) for the weight, one product per column on the sample's
// unfolded input, and S_r 1 for the bias. Samples run in parallel, each
// unfolded once into its goroutine's buffer (P·K float64s).
func (f *Conv) ColumnsTo(dst *mat.Dense, r0 int) {
	f.needRows()
	k, _ := dst.Dims()
	checkShape(dst, k, f.Dim())
	if k == 0 {
		return
	}
	kk, p, out := f.G.K(), f.G.P(), f.G.OutC
	n0, n1 := r0/f.C, (r0+k-1)/f.C+1
	workers := min(par.ProcsFor(k*f.Dim()), n1-n0)
	var bufs [][]float64
	if f.Weight {
		bufs = make([][]float64, workers)
		for i := range bufs {
			bufs[i] = make([]float64, p*kk)
		}
	}
	par.For(n1-n0, workers, func(wk, i int) {
		n := n0 + i
		var ut []float64
		if f.Weight {
			ut = bufs[wk]
			f.G.Unfold(ut, kk, f.A.RawRowView(n))
		}
		for r := max(r0, n*f.C); r < min(r0+k, (n+1)*f.C); r++ {
			row := dst.RawRowView(r - r0)
			s := f.rows64().RawRowView(r)
			off := 0
			if f.Weight {
				a := blas64.General{Rows: out, Cols: p, Stride: p, Data: s}
				b := blas64.General{Rows: p, Cols: kk, Stride: kk, Data: ut}
				c := blas64.General{Rows: out, Cols: kk, Stride: kk, Data: row}
				gemm(blas.NoTrans, blas.NoTrans, 1, a, b, 0, c)
				off = out * kk
			}
			if f.Bias {
				for o := 0; o < out; o++ {
					row[off+o] = floats.Sum(s[o*p : (o+1)*p])
				}
			}
		}
	})
}
