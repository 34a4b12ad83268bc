// Package eigen computes the leading eigenpairs, or all eigenvalues, of the
// symmetric positive semi-definite Gram matrices Ĝ = VᵀV of the engine:
// n×n with n = N·C' up to a few thousand, fast-decaying spectra and often
// many (numerically) zero eigenvalues.
//
// # Solvers
//
// A Solver returns the k largest eigenpairs. Four implementations share
// one conformance suite:
//
//	solver       method                                     memory (float64s)
//	Dense        mat.EigenSym: full decomposition           ≈ 3·n²
//	Tridiagonal  Householder + Dsterf + inverse iteration   ≈ n² + n·k
//	Lanczos      block Lanczos, full reorthogonalisation    n² + 2·n·m + m²
//	LAPACKE      LAPACK Dsyevr (openblas build tag only)    ≈ 2·n² + n·k
//
// For Lanczos, m is the basis size (MaxBasis plus a block) and the n² is
// SymOperator's copy of the matrix, absent with TopKOperator on an
// operator of one's own. SymOperator32 holds the matrix rounded to
// float32 instead (n² float32s, products accumulated in float64): the
// exact operator of fl32(a), for solves whose tolerance is above float32's
// rounding, whose products stream half the bytes (the engine uses it for
// Options.Precision = Float32).
//
// Dense, Tridiagonal and Lanczos are pure Go. Lanczos also works on an
// Operator, a matrix given only by its action, through TopKOperator; the
// operator form needs no n² copy. Auto picks a solver for (n, k).
// Values returns all eigenvalues without vectors.
//
// # Contracts
//
// Ordering: eigenvalues are returned in descending order, eigenvectors as
// the matching columns of an n×k matrix, each of unit 2-norm and orthogonal
// to the others to working precision (for Tridiagonal, as for LAPACK's
// Dstein, to about ε·‖A‖ over the gap between clusters: at most ~1e-13).
//
// Signs: every solver normalises each eigenvector so that its entry of
// largest magnitude (the first one, on ties) is positive, so results are
// deterministic and comparable across solvers. For a repeated eigenvalue
// the basis of its eigenspace is not unique and differs between solvers.
//
// Multiplicities: all solvers return repeated eigenvalues with their
// multiplicity and orthonormal eigenvectors for them. Dense and LAPACKE do
// so by construction; Tridiagonal reorthogonalises the inverse-iteration
// vectors of eigenvalues closer than 1e-3·‖T‖₁; Lanczos detects clusters of
// BlockSize numerically equal Ritz values and then repeats with block size
// k (see Lanczos). When k cuts through a cluster, the vectors span part of
// its eigenspace.
//
// Zero eigenvalues: when k exceeds the rank, the remaining values are zero
// to working precision (|λ| ≲ n·ε·λ₁, possibly slightly negative) with
// orthonormal vectors of the null space. Use NumericalRank to count the
// eigenvalues that may be divided by.
//
// Accuracy and tolerance: the direct solvers (Dense, Tridiagonal, LAPACKE)
// are backward stable: eigenvalues are exact for a matrix within about
// n·ε·λ₁ of the input, residuals ‖A·u − λ·u‖ are of that order, and an
// eigenvector's error is about that divided by its eigengap. Lanczos
// iterates until ‖A·u_i − λ_i·u_i‖ ≤ Tol·λ₁ for every returned pair
// (default 1e-13), checked with a fresh application of the operator, and
// reports the achieved residual in Stats.
//
// Determinism: the pure-Go solvers split their parallel work into chunks
// that do not depend on the number of cores, and Lanczos draws its random
// vectors from Lanczos.Seed, so results are bit-for-bit reproducible,
// whatever GOMAXPROCS.
//
// Errors: k outside [1, n] is a programming error and panics. Numerical
// failure (an iteration that does not converge) is returned as an error
// wrapping ErrNotConverged; no solver returns silently wrong results.
//
// Backends: importing this package registers nothing and starts no
// goroutine. Its own products call their kernels explicitly: the Lanczos
// products (a few vectors against the Gram matrix) run on
// internal/fastblas's thin kernels in both builds, faster for them than
// any BLAS; the tridiagonal reduction on its own parallel kernels. Dense
// (mat.EigenSym) goes through gonum's blas64, which is gonum's pure-Go
// BLAS unless the program registers another (vivit.UseBLAS). In builds
// with the openblas tag, Values uses LAPACKE's Dsyevd and Auto returns
// LAPACKE for many pairs, with OpenBLAS restricted to the calling thread
// and the worker threads it starts when it loads stopped, both on the
// engine's first product or LAPACKE call (the workers spin for 0.1 s and
// took a core from the Go code). The openblas build needs Debian's
// libopenblas-dev and liblapacke-dev.
//
// Memory: solvers that need the matrix in full storage copy it (n²
// float64s) unless it is a FullSymDense (MirrorUpper), which they use in
// place; the engine passes its Gram matrices that way.
package eigen
