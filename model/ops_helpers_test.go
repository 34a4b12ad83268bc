package model

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// Finite-difference checks shared by the tests of the graph operations.

const fdStep = 1e-6

// nanDense returns an r×c matrix of NaNs: a destination that must be
// overwritten.
func nanDense(r, c int) *mat.Dense {
	m := mat.NewDense(r, c, nil)
	for i := range m.RawMatrix().Data {
		m.RawMatrix().Data[i] = math.NaN()
	}
	return m
}

// fdRow returns the central difference of ⟨s_r, f(x_i)⟩ with respect to
// entry j of x_i, for every factor row r of sample i (cols rows), where f
// maps one sample's input row to its output row.
func fdRow(f func(x *mat.Dense) *mat.Dense, x *mat.Dense, i, j int, s *mat.Dense, cols int) []float64 {
	_, fin := x.Dims()
	xp := mat.DenseCopyOf(x.Slice(i, i+1, 0, fin))
	xm := mat.DenseCopyOf(x.Slice(i, i+1, 0, fin))
	xp.Set(0, j, x.At(i, j)+fdStep)
	xm.Set(0, j, x.At(i, j)-fdStep)
	yp, ym := f(xp), f(xm)
	_, fout := yp.Dims()
	d := make([]float64, cols)
	for c := range d {
		r := i*cols + c
		for k := 0; k < fout; k++ {
			d[c] += s.At(r, k) * (yp.At(0, k) - ym.At(0, k))
		}
		d[c] /= 2 * fdStep
	}
	return d
}

// checkClose reports whether got matches want to tol relative to the
// largest entry of want, failing on NaN.
func checkClose(t *testing.T, what string, got, want *mat.Dense, tol float64) {
	t.Helper()
	var worst, scale float64
	r, c := want.Dims()
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			e := math.Abs(got.At(i, j) - want.At(i, j))
			if math.IsNaN(e) {
				worst = math.NaN()
			} else if !math.IsNaN(worst) {
				worst = math.Max(worst, e)
			}
			scale = math.Max(scale, math.Abs(want.At(i, j)))
		}
	}
	if !(worst <= tol*(1+scale)) {
		t.Errorf("%s: max error %.3g (scale %.3g)", what, worst, scale)
	}
}

// checkLayerFD checks l.BackwardInput against finite differences of
// l.Forward at x with a random stacked factor of cols rows per sample, and
// the in-place form where the layer allows it.
func checkLayerFD(t *testing.T, l Layer, x *mat.Dense, s *mat.Dense, cols int) {
	t.Helper()
	n, fin := x.Dims()
	fout := Numel(l.OutShape())
	if fin != Numel(l.InShape()) {
		t.Fatalf("input width %d, layer takes %v", fin, l.InShape())
	}
	y := forward(l, x)
	got := nanDense(n*cols, fin)
	l.BackwardInput(got, s, x, y, cols)
	want := mat.NewDense(n*cols, fin, nil)
	f := func(x *mat.Dense) *mat.Dense { return forward(l, x) }
	for i := 0; i < n; i++ {
		for j := 0; j < fin; j++ {
			for c, v := range fdRow(f, x, i, j, s, cols) {
				want.Set(i*cols+c, j, v)
			}
		}
	}
	checkClose(t, l.Type()+" BackwardInput", got, want, 1e-7)
	if ip, ok := l.(InPlaceLayer); ok && ip.BackwardInPlace() {
		if fin != fout {
			t.Fatalf("%s: in place with input width %d and output width %d", l.Type(), fin, fout)
		}
		inplace := mat.DenseCopyOf(s)
		l.BackwardInput(inplace, inplace, x, y, cols)
		checkClose(t, l.Type()+" BackwardInput in place", inplace, got, 0)
	}
}

// checkJoinFD checks j.BackwardJoin against finite differences of
// j.ForwardJoin in each input, with every subset of destinations.
func checkJoinFD(t *testing.T, j Join, xs []*mat.Dense, s *mat.Dense, cols int) {
	t.Helper()
	n, _ := xs[0].Dims()
	fwd := func(xs []*mat.Dense) *mat.Dense {
		r, _ := xs[0].Dims()
		y := mat.NewDense(r, Numel(j.OutShape()), nil)
		j.ForwardJoin(y, xs)
		return y
	}
	y := fwd(xs)
	for mask := 1; mask < 1<<len(xs); mask++ {
		dst := make([]*mat.Dense, len(xs))
		for a, x := range xs {
			if mask&(1<<a) != 0 {
				_, f := x.Dims()
				dst[a] = nanDense(n*cols, f)
			}
		}
		j.BackwardJoin(dst, s, xs, y, cols)
		for a, x := range xs {
			if dst[a] == nil {
				continue
			}
			_, fin := x.Dims()
			want := mat.NewDense(n*cols, fin, nil)
			for i := 0; i < n; i++ {
				// The forward of sample i as a function of input a alone.
				fi := func(xa *mat.Dense) *mat.Dense {
					row := make([]*mat.Dense, len(xs))
					for b, xb := range xs {
						_, fb := xb.Dims()
						row[b] = mat.DenseCopyOf(xb.Slice(i, i+1, 0, fb))
					}
					row[a] = xa
					return fwd(row)
				}
				for k := 0; k < fin; k++ {
					for c, v := range fdRow(fi, x, i, k, s, cols) {
						want.Set(i*cols+c, k, v)
					}
				}
			}
			checkClose(t, j.Type()+" BackwardJoin", dst[a], want, 1e-7)
		}
	}
}

// explicitV returns the block of V of f as a Dim × Cols matrix (V = rows
// of TransMulTo on the identity).
func explicitV(f interface {
	Dim() int
	Cols() int
	TransMulTo(dst, v *mat.Dense)
}) *mat.Dense {
	d := f.Dim()
	id := mat.NewDense(d, d, nil)
	for i := 0; i < d; i++ {
		id.Set(i, i, 1)
	}
	v := mat.NewDense(d, f.Cols(), nil)
	f.TransMulTo(v, id)
	return v
}

// checkFactorFD checks the block of V of a parameter layer against
// finite differences in its parameters: entry (p, r) is ⟨s_r, ∂y/∂θ_p⟩ at
// sample r/cols.
func checkFactorFD(t *testing.T, l ParamLayer, x, s *mat.Dense, cols int) {
	t.Helper()
	n, _ := x.Dims()
	f := l.Factor(s, x, cols)
	got := explicitV(f)
	var want []float64
	for _, p := range l.Params() {
		for k := range p.Data {
			old := p.Data[k]
			p.Data[k] = old + fdStep
			yp := forward(l, x)
			p.Data[k] = old - fdStep
			ym := forward(l, x)
			p.Data[k] = old
			for r := 0; r < n*cols; r++ {
				var d float64
				for j, v := range s.RawRowView(r) {
					d += v * (yp.At(r/cols, j) - ym.At(r/cols, j))
				}
				want = append(want, d/(2*fdStep))
			}
		}
	}
	if len(want) != f.Dim()*f.Cols() {
		t.Fatalf("%s factor: Dim×Cols %d×%d, parameters × rows %d", l.Type(), f.Dim(), f.Cols(), len(want))
	}
	checkClose(t, l.Type()+" Factor", got, mat.NewDense(f.Dim(), f.Cols(), want), 1e-7)
}
