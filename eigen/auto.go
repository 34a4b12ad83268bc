package eigen

// Auto returns a solver suited to the top k eigenpairs of an n×n Gram
// matrix on the build's backend. Pure Go, from measurements on a 2-core
// machine with GGN-like (decaying) spectra:
//
//   - n ≤ 32: Dense, the reference (all solvers take microseconds);
//   - n < 128: Tridiagonal;
//   - k ≤ n/8: Lanczos (for n = 1280, k = 10: about 10× faster than
//     Tridiagonal on a decaying spectrum, 2× on a flat one);
//   - otherwise Tridiagonal.
//
// In the openblas build, from n = 128, it returns Lanczos for few pairs of
// a large matrix and LAPACKE otherwise (see backendAuto there).
func Auto(n, k int) Solver {
	if s := backendAuto(n, k); s != nil {
		return s
	}
	switch {
	case n <= 32:
		return Dense{}
	case n < 128:
		return Tridiagonal{}
	case k <= n/8:
		return Lanczos{}
	}
	return Tridiagonal{}
}
