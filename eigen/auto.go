package eigen

// Auto returns a solver suited to the top k eigenpairs of an n×n matrix on
// the build's backend: Dense for tiny n, where its overhead is smallest;
// Lanczos when k is small against n; Tridiagonal when k is a large part of
// n. In the openblas build it returns LAPACKE.
func Auto(n, k int) Solver {
	if s := backendAuto(n, k); s != nil {
		return s
	}
	switch {
	case n <= 64:
		return Dense{}
	case k <= n/8:
		return Lanczos{}
	}
	return Tridiagonal{}
}
