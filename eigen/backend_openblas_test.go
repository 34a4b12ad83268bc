//go:build openblas

package eigen

func backendSolvers() []Solver { return []Solver{LAPACKE{}} }
