package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/model/im2col"
)

// narrowed returns m rounded to float32, and m set to those values.
func narrowed(m *mat.Dense) blas32.General {
	r, c := m.Dims()
	d := make([]float32, r*c)
	for i := range r {
		for j := range c {
			d[i*c+j] = float32(m.At(i, j))
			m.Set(i, j, float64(d[i*c+j]))
		}
	}
	return blas32.General{Rows: r, Cols: c, Stride: c, Data: d}
}

// within reports whether the float32 rows got match want to tol relative
// to want's largest entry (and are finite).
func within(got blas32.General, want *mat.Dense, tol float64) (float64, bool) {
	scale := mat.Norm(want, math.Inf(1))
	worst := 0.0
	for i, v := range got.Data[:got.Rows*got.Cols] {
		e := math.Abs(float64(v) - want.At(i/got.Cols, i%got.Cols))
		if !(e <= tol*scale) {
			return e, false
		}
		worst = max(worst, e)
	}
	return worst, true
}

// TestRows32Layers checks the float32-row backward of each Rows32Layer
// against its float64 BackwardInput on the same (float32-representable)
// rows: convolutions on every route (phased, grouped, sparse, narrow
// rows), written and added; BatchNorm, ReLU and a smooth activation in
// place; and BatchNorm's block from float32 rows, with and without the
// in-place scaling.
func TestRows32Layers(t *testing.T) {
	rng := rand.New(rand.NewPCG(32, 1))
	const n, cols = 3, 2
	r := n * cols
	type layerCase struct {
		name   string
		l      Rows32Layer
		sparse bool
	}
	var cases []layerCase
	geoms := append([]*im2col.Geom{
		im2col.New(8, 6, 6, 64, 3, 3, 1, 1, 1, 1, 1, 1),
		im2col.New(2, 7, 9, 2, 3, 3, 2, 2, 0, 0, 1, 1),
		im2col.New(16, 8, 8, 32, 1, 1, 2, 2, 0, 0, 1, 1),
	}, shiftedGeoms...)
	for gi, g := range geoms {
		l := NewConv2d(0, g, false)
		for i := range l.Weight.Data {
			l.Weight.Data[i] = rng.NormFloat64()
		}
		cases = append(cases, layerCase{fmt.Sprintf("conv%d", gi), l, gi == 0})
	}
	gc := NewGroupedConv2d(0, im2col.New(2, 8, 8, 3, 3, 3, 1, 1, 1, 1, 1, 1), 2, true)
	for i := range gc.Weight.Data {
		gc.Weight.Data[i] = rng.NormFloat64()
	}
	cases = append(cases, layerCase{"grouped", gc, false})
	shape := []int{4, 5, 6}
	bn, err := NewBatchNorm(shape, &Param{Name: "w", Shape: []int{4}, Data: []float64{0.5, -2, 1.5, 3}},
		&Param{Name: "b", Shape: []int{4}, Data: []float64{1, 2, 3, 4}}, []float64{0.1, -0.2, 0.3, 0}, []float64{1, 2, 0.5, 4}, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, layerCase{"batchnorm", bn, false}, layerCase{"relu", NewReLU(shape), false}, layerCase{"tanh", NewTanh(shape), false})
	gap, err := NewGlobalAvgPool(shape)
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, layerCase{"global_avg_pool", gap.(Rows32Layer), false})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.l
			in := randMat(rng, n, Numel(l.InShape()))
			out := forward(l, in)
			s := randMat(rng, r, Numel(l.OutShape()))
			for i, v := range s.RawMatrix().Data {
				if v < -0.5 || tc.sparse && rng.Float64() < 0.9 {
					s.RawMatrix().Data[i] = 0
				}
			}
			s32 := narrowed(s)
			want := mat.NewDense(r, Numel(l.InShape()), nil)
			l.BackwardInput(want, s, in, out, cols)
			d32 := blas32.General{Rows: r, Cols: Numel(l.InShape()), Stride: Numel(l.InShape()), Data: make([]float32, r*Numel(l.InShape()))}
			l.BackwardRows32(d32, s32, in, out, cols)
			if e, ok := within(d32, want, 1e-5); !ok {
				t.Errorf("BackwardRows32: error %.3g", e)
			}
			if ip, ok := l.(InPlaceLayer); ok && ip.BackwardInPlace() {
				c := blas32.General{Rows: r, Cols: s32.Cols, Stride: s32.Stride, Data: append([]float32(nil), s32.Data...)}
				l.BackwardRows32(c, c, in, out, cols)
				for i := range c.Data {
					if c.Data[i] != d32.Data[i] {
						t.Fatalf("in place: entry %d is %g, not %g", i, c.Data[i], d32.Data[i])
					}
				}
			}
			if al, ok := l.(Rows32AccumulatingLayer); ok {
				base := randMat(rng, r, Numel(l.InShape()))
				b32 := narrowed(base)
				al.BackwardRows32Add(b32, s32, in, out, cols)
				want.Add(want, base)
				if e, ok := within(b32, want, 1e-5); !ok {
					t.Errorf("BackwardRows32Add: error %.3g", e)
				}
			}
			if fl, ok := l.(Rows32FactorInPlaceLayer); ok {
				wantF := fl.Factor(s, in, cols)
				gotF := fl.(Rows32ParamLayer).FactorRows32(s32, in, cols)
				c := blas32.General{Rows: r, Cols: s32.Cols, Stride: s32.Stride, Data: append([]float32(nil), s32.Data...)}
				inPlace := fl.FactorBackwardInPlaceRows32(c, in, out, cols)
				u := randMat(rng, 2, r)
				mw, mg, mi := mat.NewDense(2, wantF.Dim(), nil), mat.NewDense(2, wantF.Dim(), nil), mat.NewDense(2, wantF.Dim(), nil)
				wantF.MulTo(mw, u)
				gotF.MulTo(mg, u)
				inPlace.MulTo(mi, u)
				if e := mat.Norm(mat.DenseCopyOf(mw), math.Inf(1)); !mat.EqualApprox(mw, mg, 1e-12*e) || !mat.Equal(mg, mi) {
					t.Errorf("FactorRows32 or FactorBackwardInPlaceRows32 differs from Factor")
				}
				for i := range c.Data {
					if c.Data[i] != d32.Data[i] {
						t.Fatalf("FactorBackwardInPlaceRows32: entry %d is %g, not %g", i, c.Data[i], d32.Data[i])
					}
				}
				if lt, ok := l.(Rows32FactorBackwardToLayer); ok {
					keep := append([]float32(nil), s32.Data...)
					to := blas32.General{Rows: r, Cols: s32.Cols, Stride: s32.Stride, Data: make([]float32, len(s32.Data))}
					toF := lt.FactorBackwardToRows32(to, s32, in, out, cols)
					mt := mat.NewDense(2, wantF.Dim(), nil)
					toF.MulTo(mt, u)
					if !mat.Equal(mt, mg) {
						t.Errorf("FactorBackwardToRows32: block differs from FactorRows32's")
					}
					for i := range to.Data {
						if to.Data[i] != d32.Data[i] || s32.Data[i] != keep[i] {
							t.Fatalf("FactorBackwardToRows32: entry %d is %g, not %g, or s changed", i, to.Data[i], d32.Data[i])
						}
					}
				}
			}
		})
	}
}
