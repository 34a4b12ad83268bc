//go:build openblas

package backend

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"

	"github.com/vivit-go/vivit/internal/fastblas"
)

var shapes = flag.Bool("backend.shapes", false, "time fastblas against OpenBLAS on the engine's product shapes")

var shapeFilter = flag.String("backend.only", "", "with -backend.shapes: only shapes whose name contains this")

// engineShapes are the large products of the benchmark cases (MLP and
// 3c3d), as the engine calls them: kind, transposes, m, n, k (n, k for
// Dsyrk).
var engineShapes = []struct {
	syrk    bool
	tA, tB  blas.Transpose
	m, n, k int
}{
	{false, 'N', 'N', 1152, 512, 512},
	{false, 'N', 'N', 288, 1152, 512},
	{false, 'N', 'N', 288, 512, 256},
	{false, 'N', 'N', 128, 512, 512},
	{false, 'N', 'N', 1152, 128, 128},
	{false, 'N', 'N', 128, 128, 128},
	{false, 'N', 'N', 10, 110592, 32},
	{false, 'N', 'N', 10, 4800, 288},
	{false, 'N', 'T', 96, 4608, 576},
	{false, 'N', 'T', 128, 1152, 864},
	{false, 'N', 'T', 64, 25088, 75},
	{false, 'N', 'T', 128, 1152, 512},
	{false, 'N', 'T', 128, 512, 784},
	{false, 'N', 'T', 128, 512, 512},
	{false, 'N', 'T', 128, 1152, 128},
	{false, 'N', 'T', 128, 128, 128},
	{false, 'N', 'T', 128, 128, 64},
	{false, 'T', 'N', 512, 784, 128},
	{false, 'T', 'N', 512, 512, 128},
	{false, 'T', 'N', 512, 1152, 32},
	{false, 'T', 'N', 1280, 128, 128},
	{false, 'T', 'N', 1280, 64, 128},
	{false, 'T', 'N', 256, 512, 32},
	{true, 'N', 0, 0, 288, 14496},
	{true, 'N', 0, 0, 288, 11808},
	{true, 'N', 0, 0, 288, 8192},
	{true, 'N', 0, 0, 288, 2048},
	{true, 'N', 0, 0, 576, 14496},
	{true, 'N', 0, 0, 128, 14496},
	{true, 'N', 0, 0, 64, 14496},
	{true, 'N', 0, 0, 288, 4800},
	{true, 'N', 0, 0, 32, 110592},
	{true, 'N', 0, 0, 128, 784},
	{true, 'N', 0, 0, 128, 512},
	{true, 'N', 0, 0, 128, 128},
	{true, 'N', 0, 0, 288, 128},
}

// TestBackendShapes prints, for every shape of engineShapes, the median
// time of fastblas's parallel product and of goThreadedBLAS's, the two
// alternated call by call. Run it with
//
//	go test -tags openblas ./internal/backend -run BackendShapes -v -args -backend.shapes
func TestBackendShapes(t *testing.T) {
	if !*shapes {
		t.Skip("run with -backend.shapes")
	}
	rng := rand.New(rand.NewPCG(1, 1))
	fill := func(n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = rng.NormFloat64()
		}
		return s
	}
	impls := []blas.Float64{fastblas.Implementation{}, goThreadedBLAS{}}
	for _, s := range engineShapes {
		var a, b, c []float64
		var lda, ldb int
		var run func(impl blas.Float64)
		var flops float64
		if s.syrk {
			lda = s.k
			a, c = fill(s.n*s.k), fill(s.n*s.n)
			run = func(impl blas.Float64) { impl.Dsyrk(blas.Upper, s.tA, s.n, s.k, 1, a, lda, 0, c, s.n) }
			flops = float64(s.n) * float64(s.n+1) * float64(s.k)
		} else {
			lda, ldb = s.k, s.n
			if s.tA != blas.NoTrans {
				lda = s.m
			}
			if s.tB != blas.NoTrans {
				ldb = s.k
			}
			a, b, c = fill(s.m*s.k), fill(s.k*s.n), fill(s.m*s.n)
			run = func(impl blas.Float64) { impl.Dgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n) }
			flops = 2 * float64(s.m) * float64(s.n) * float64(s.k)
		}
		name := fmt.Sprintf("gemm %c%c %d×%d×%d", s.tA, s.tB, s.m, s.n, s.k)
		if s.syrk {
			name = fmt.Sprintf("syrk %c n=%d k=%d", s.tA, s.n, s.k)
		}
		if !strings.Contains(name, *shapeFilter) {
			continue
		}
		reps := max(15, min(200, int(4e9/flops)))
		ts := make([][]time.Duration, len(impls))
		for r := 0; r < reps+1; r++ {
			for i, impl := range impls {
				t0 := time.Now()
				run(impl)
				if r > 0 {
					ts[i] = append(ts[i], time.Since(t0))
				}
			}
		}
		var med [2]float64
		for i := range ts {
			sort.Slice(ts[i], func(x, y int) bool { return ts[i][x] < ts[i][y] })
			med[i] = ts[i][len(ts[i])/2].Seconds()
		}
		t.Logf("%-28s fastblas %6.1f GF/s  openblas %6.1f GF/s  openblas/fastblas time %.2f", name, flops/med[0]/1e9, flops/med[1]/1e9, med[1]/med[0])
	}
}
