package backend

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/mat"
)

// TestMul checks Mul against a product computed entry by entry, for every
// transpose combination, a matrix times its own transpose (the Dsyrk
// path), views with strides, and an empty destination.
func TestMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	rnd := func(r, c int) *mat.Dense {
		m := mat.NewDense(r, c+3, nil)
		for i := 0; i < r; i++ {
			for j := 0; j < c+3; j++ {
				m.Set(i, j, rng.NormFloat64())
			}
		}
		return m.Slice(0, r, 1, c+1).(*mat.Dense) // strided view
	}
	check := func(name string, got *mat.Dense, a, b mat.Matrix) {
		t.Helper()
		m, k := a.Dims()
		_, n := b.Dims()
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var want, scale float64
				for p := 0; p < k; p++ {
					want += a.At(i, p) * b.At(p, j)
					scale += math.Abs(a.At(i, p) * b.At(p, j))
				}
				if g := got.At(i, j); !(math.Abs(g-want) <= 1e-14*scale) {
					t.Fatalf("%s: [%d,%d] = %v, want %v", name, i, j, g, want)
				}
			}
		}
	}
	for _, sz := range [][3]int{{1, 1, 1}, {7, 5, 3}, {40, 33, 70}, {3, 200, 9}} {
		m, n, k := sz[0], sz[1], sz[2]
		a, at, b, bt := rnd(m, k), rnd(k, m), rnd(k, n), rnd(n, k)
		for _, c := range []struct {
			name string
			a, b mat.Matrix
		}{{"NN", a, b}, {"TN", at.T(), b}, {"NT", a, bt.T()}, {"TT", at.T(), bt.T()}, {"AAt", a, a.T()}, {"AtA", a.T(), a}} {
			var dst mat.Dense
			Mul(&dst, c.a, c.b)
			check(c.name, &dst, c.a, c.b)
			r, cc := c.a.Dims()
			_, cc = c.b.Dims()
			into := mat.NewDense(r, cc, nil)
			into.Apply(func(int, int, float64) float64 { return math.NaN() }, into)
			Mul(into, c.a, c.b) // overwrites, NaNs included
			check(c.name+" into", into, c.a, c.b)
		}
	}
	// Gemm and Syrk against gonum's.
	a, b := rnd(30, 20), rnd(20, 25)
	c1, c2 := mat.NewDense(30, 25, nil), mat.NewDense(30, 25, nil)
	Gemm(blas.NoTrans, blas.NoTrans, 2, a.RawMatrix(), b.RawMatrix(), 0, c1.RawMatrix())
	g := c2.RawMatrix()
	gonum.Implementation{}.Dgemm(blas.NoTrans, blas.NoTrans, 30, 25, 20, 2, a.RawMatrix().Data, a.RawMatrix().Stride, b.RawMatrix().Data, b.RawMatrix().Stride, 0, g.Data, g.Stride)
	if !mat.EqualApprox(c1, c2, 1e-12) {
		t.Error("Gemm differs from gonum's Dgemm")
	}
	s1, s2 := mat.NewSymDense(30, nil), mat.NewSymDense(30, nil)
	Syrk(blas.NoTrans, 1, a.RawMatrix(), 0, s1.RawSymmetric())
	r2 := s2.RawSymmetric()
	gonum.Implementation{}.Dsyrk(blas.Upper, blas.NoTrans, 30, 20, 1, a.RawMatrix().Data, a.RawMatrix().Stride, 0, r2.Data, r2.Stride)
	if !mat.EqualApprox(s1, s2, 1e-12) {
		t.Error("Syrk differs from gonum's Dsyrk")
	}
}
