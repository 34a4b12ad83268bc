//go:build openblas

package backend

import (
	"math"
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/netlib/blas/netlib"

	"github.com/vivit-go/vivit/internal/par"
)

// goThreadedBLAS is OpenBLAS, restricted to the calling thread, with its
// large Dgemm and Dsyrk split over GOMAXPROCS goroutines. It was the
// openblas build's backend until it was measured against fastblas
// (TestBackendShapes) and found no faster; it stays here for that
// measurement.
//
// OpenBLAS's own worker threads keep spinning for a while after every call
// and took the cores from the Go code that ran next: the Lanczos solve that
// follows the Gram stage ran 2× slower than in the pure-Go build. Splitting
// the products in Go keeps both cores busy during BLAS calls and leaves
// none spinning afterwards. OpenBLAS may be called from several threads at
// once. LAPACKE's routines run single-threaded as a consequence.
type goThreadedBLAS struct {
	netlib.Implementation
}

// minSplit is the m·n·k from which a product is split.
const minSplit = 64 * 64 * 64

// Dgemm splits C into row blocks (column blocks when it has few rows), one
// OpenBLAS call each.
func (impl goThreadedBLAS) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	Prepare()
	parts := runtime.GOMAXPROCS(0)
	if parts == 1 || float64(m)*float64(n)*float64(k) < minSplit || max(m, n) < 2*parts {
		impl.Implementation.Dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if m >= n || m >= 16*parts {
		inParallel(splits(m, parts), func(i0, i1 int) {
			aOff := i0 * lda // rows of A
			if tA != blas.NoTrans {
				aOff = i0 // columns of the stored A
			}
			impl.Implementation.Dgemm(tA, tB, i1-i0, n, k, alpha, a[aOff:], lda, b, ldb, beta, c[i0*ldc:], ldc)
		})
		return
	}
	inParallel(splits(n, parts), func(j0, j1 int) {
		bOff := j0 // columns of the stored B
		if tB != blas.NoTrans {
			bOff = j0 * ldb // rows of B
		}
		impl.Implementation.Dgemm(tA, tB, m, j1-j0, k, alpha, a, lda, b[bOff:], ldb, beta, c[j0:], ldc)
	})
}

// Dsyrk splits the triangle of C into row blocks of equal work: for the
// upper triangle, block [i0, i1) is a Dsyrk on its diagonal block and a
// Dgemm on the rectangle to its right (left of it for the lower triangle).
func (impl goThreadedBLAS) Dsyrk(ul blas.Uplo, tA blas.Transpose, n, k int, alpha float64, a []float64, lda int, beta float64, c []float64, ldc int) {
	Prepare()
	parts := runtime.GOMAXPROCS(0)
	if parts == 1 || float64(n)*float64(n)*float64(k) < 2*minSplit || n < 4*parts {
		impl.Implementation.Dsyrk(ul, tA, n, k, alpha, a, lda, beta, c, ldc)
		return
	}
	// rows(i0, i1) is the operand of rows i0..i1 of C: rows of A, or
	// columns of the stored A when it is transposed.
	rows := func(i0 int) []float64 {
		if tA == blas.NoTrans {
			return a[i0*lda:]
		}
		return a[i0:]
	}
	tB := blas.Trans
	if tA != blas.NoTrans {
		tB = blas.NoTrans
	}
	// Twice as many blocks as goroutines, cut so that each holds about the
	// same part of the triangle.
	nb := 2 * parts
	cuts := make([]int, nb+1)
	for i := 1; i < nb; i++ {
		f := float64(i) / float64(nb)
		if ul == blas.Upper {
			cuts[i] = int(float64(n) * (1 - math.Sqrt(1-f)))
		} else {
			cuts[i] = int(float64(n) * math.Sqrt(f))
		}
	}
	cuts[nb] = n
	var blocks [][2]int
	for i := 0; i < nb; i++ {
		if cuts[i+1] > cuts[i] {
			blocks = append(blocks, [2]int{cuts[i], cuts[i+1]})
		}
	}
	inParallel(blocks, func(i0, i1 int) {
		impl.Implementation.Dsyrk(ul, tA, i1-i0, k, alpha, rows(i0), lda, beta, c[i0*ldc+i0:], ldc)
		if ul == blas.Upper && i1 < n {
			impl.Implementation.Dgemm(tA, tB, i1-i0, n-i1, k, alpha, rows(i0), lda, rows(i1), lda, beta, c[i0*ldc+i1:], ldc)
		}
		if ul == blas.Lower && i0 > 0 {
			impl.Implementation.Dgemm(tA, tB, i1-i0, i0, k, alpha, rows(i0), lda, a, lda, beta, c[i0*ldc:], ldc)
		}
	})
}

// splits cuts [0, n) into parts nearly equal blocks.
func splits(n, parts int) [][2]int {
	var s [][2]int
	for p := range parts {
		lo, hi := p*n/parts, (p+1)*n/parts
		if hi > lo {
			s = append(s, [2]int{lo, hi})
		}
	}
	return s
}

// inParallel runs f on every block, the blocks shared among GOMAXPROCS
// goroutines.
func inParallel(blocks [][2]int, f func(lo, hi int)) {
	par.For(len(blocks), runtime.GOMAXPROCS(0), func(_, i int) { f(blocks[i][0], blocks[i][1]) })
}
