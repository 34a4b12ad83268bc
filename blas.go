package vivit

import "github.com/vivit-go/vivit/internal/backend"

// UseBLAS registers the engine's BLAS as gonum's blas64 (and, in the
// default build, blas32) implementation for the whole program, so that
// gonum code outside the engine (mat's products, lapack/gonum, the Dense
// eigensolver) runs on it too. In the default build that is
// internal/fastblas: gonum's pure-Go BLAS with AVX2/FMA or AVX-512 kernels
// for Dgemm, Dsyrk, Sgemm and Ssyrk where the CPU has them (6–9× gonum's on
// large products with AVX2, about twice that with full-width AVX-512),
// gonum's own code elsewhere. It is the same in the openblas build, where
// OpenBLAS serves only the eigensolvers (LAPACKE): measured on the
// engine's products it was not faster (docs/performance.md).
//
// The engine does not need it: its products call these kernels
// explicitly. Importing vivit registers nothing and starts no goroutine;
// a program that wants the faster BLAS for its own gonum code calls
// UseBLAS once, before other goroutines use blas64 (as blas64.Use
// requires). The vivit command does.
func UseBLAS() { backend.Use() }
