//go:build openblas

package backend

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/netlib/blas/netlib"
)

// TestGoThreadedBLAS checks the split products against OpenBLAS's single
// calls, for every transpose and triangle, on shapes that split by rows,
// by columns, and not at all.
func TestGoThreadedBLAS(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	fill := func(n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = rng.NormFloat64()
		}
		return s
	}
	var ref netlib.Implementation
	var impl goThreadedBLAS
	for _, d := range [][3]int{{300, 200, 100}, {20, 500, 300}, {7, 9, 11}, {129, 130, 64}} {
		m, n, k := d[0], d[1], d[2]
		for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			for _, tB := range []blas.Transpose{blas.NoTrans, blas.Trans} {
				lda, ldb := k+1, n+2
				if tA != blas.NoTrans {
					lda = m + 1
				}
				if tB != blas.NoTrans {
					ldb = k + 2
				}
				a, b := fill(max(m, k)*lda), fill(max(n, k)*ldb)
				c := fill(m * (n + 3))
				want := append([]float64(nil), c...)
				ref.Dgemm(tA, tB, m, n, k, 1.5, a, lda, b, ldb, -0.5, want, n+3)
				impl.Dgemm(tA, tB, m, n, k, 1.5, a, lda, b, ldb, -0.5, c, n+3)
				for i := range c {
					if !(math.Abs(c[i]-want[i]) <= 1e-12*(1+math.Abs(want[i]))) {
						t.Fatalf("Dgemm %c%c %v: C[%d] = %v, want %v", tA, tB, d, i, c[i], want[i])
					}
				}
			}
		}
		for _, ul := range []blas.Uplo{blas.Upper, blas.Lower} {
			for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
				lda := k + 1
				if tA != blas.NoTrans {
					lda = n + 1
				}
				a := fill(max(n, k) * lda)
				c := fill(n * (n + 3))
				want := append([]float64(nil), c...)
				ref.Dsyrk(ul, tA, n, k, 2, a, lda, 0.5, want, n+3)
				impl.Dsyrk(ul, tA, n, k, 2, a, lda, 0.5, c, n+3)
				for i := range c {
					if !(math.Abs(c[i]-want[i]) <= 1e-12*(1+math.Abs(want[i]))) {
						t.Fatalf("Dsyrk %c%c n=%d k=%d: C[%d,%d] = %v, want %v", ul, tA, n, k, i/(n+3), i%(n+3), c[i], want[i])
					}
				}
			}
		}
	}
}
