//go:build openblas

package eigen

import (
	"flag"
	"sort"
	"testing"
	"time"
)

var solverTimes = flag.Bool("eigen.solvertimes", false, "time every solver on GGN-like matrices of the benchmark cases' sizes")

// TestSolverTimes prints the median time of every solver, the four
// alternated call by call, on GGN-like (decaying) spectra of the sizes the
// benchmark cases give the eigensolver (N·C or N·M for N = 32 and 128),
// k = 10 (Dense only up to n = 320: it takes seconds beyond). Run it
// with
//
//	go test -tags openblas ./eigen -run SolverTimes -v -args -eigen.solvertimes
func TestSolverTimes(t *testing.T) {
	if !*solverTimes {
		t.Skip("run with -eigen.solvertimes")
	}
	const k = 10
	solvers := []Solver{Dense{}, Tridiagonal{}, Lanczos{}, LAPACKE{}}
	for _, n := range []int{32, 64, 128, 256, 320, 640, 1280} {
		a := ggnLike(n, 11)
		reps := max(5, min(101, 2000000/(n*n)))
		ts := make([][]time.Duration, len(solvers))
		for r := 0; r <= reps; r++ {
			for i, s := range solvers {
				if _, dense := s.(Dense); dense && n > 320 {
					continue // seconds on gonum's BLAS
				}
				t0 := time.Now()
				if _, _, err := s.TopK(a, k); err != nil {
					t.Fatal(err)
				}
				if r > 0 {
					ts[i] = append(ts[i], time.Since(t0))
				}
			}
		}
		line := ""
		for i, s := range solvers {
			if len(ts[i]) == 0 {
				continue
			}
			sort.Slice(ts[i], func(x, y int) bool { return ts[i][x] < ts[i][y] })
			line += " " + s.Name() + " " + ts[i][len(ts[i])/2].String()
		}
		t.Logf("n=%d k=%d (Auto: %s):%s", n, k, Auto(n, k).Name(), line)
	}
}
