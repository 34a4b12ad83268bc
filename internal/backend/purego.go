//go:build !openblas

package backend

import (
	"gonum.org/v1/gonum/blas"

	"github.com/vivit-go/vivit/internal/fastblas"
)

var impl blas.Float64 = fastblas.Implementation{}

// Build names the backend this build links: "pure Go" (products and
// eigensolvers in Go).
const Build = "pure Go"

// Prepare does nothing in this build; in the openblas build it restricts
// OpenBLAS to the calling thread and stops the worker threads the library
// started when it loaded.
func Prepare() {}

// Use registers the backend, internal/fastblas, as gonum's blas64 and
// blas32 implementation.
func Use() { fastblas.Use() }
