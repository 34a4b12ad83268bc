//go:build openblas

package backend

/*
#cgo LDFLAGS: -lopenblas -ldl
#define _GNU_SOURCE
#include <dlfcn.h>

void openblas_set_num_threads(int);

// stop_workers ends OpenBLAS's worker threads through its
// blas_thread_shutdown_, looked up at run time: the symbol is internal to
// OpenBLAS (exported by its threaded builds, absent from serial ones).
// Returns whether there was one to call.
static int stop_workers(void) {
	int (*shutdown)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "blas_thread_shutdown_");
	if (shutdown == NULL) {
		return 0;
	}
	shutdown();
	return 1;
}
*/
import "C"

import (
	"sync"

	"gonum.org/v1/gonum/blas"

	"github.com/vivit-go/vivit/internal/fastblas"
)

// impl is internal/fastblas, as in the default build: OpenBLAS's Dgemm
// and Dsyrk, called from Go and split over goroutines (goThreadedBLAS in
// this package's tests), were not faster on the engine's products. Timed
// alternately call by call on the shapes the MLP and 3c3d cases use
// (TestBackendShapes, three runs of every shape and five of every Dsyrk,
// on a loaded 2-core Zen 3), fastblas was 11–24 % faster on every Dsyrk
// with k ≤ 784 (the MLP Gram stage's), the two level on 128×128×128
// products, and no shape went OpenBLAS's way in
// every run: the long Dsyrk of 3c3d's Gram stage (n = 288, k = 14496)
// took 0.67–1.14× fastblas's time, the large Dgemms 0.4–2.8× either way.
// So the openblas tag changes only the eigensolvers (LAPACKE's dsyevr and
// dsyevd, see package eigen), and the build runs the same products as the
// pure-Go one.
var impl blas.Float64 = fastblas.Implementation{}

// Build names the backend this build links: the products in Go, the
// eigensolvers through OpenBLAS's LAPACKE.
const Build = "openblas (LAPACKE eigensolvers, products in Go)"

var single sync.Once

// stoppedWorkers records whether Prepare found OpenBLAS's
// blas_thread_shutdown_ and called it.
var stoppedWorkers bool

// Prepare restricts OpenBLAS to the calling thread and ends its worker
// threads, once; every call into OpenBLAS (LAPACKE's routines) must follow
// it, and this package's products call it too, so that the engine's first
// product stops the workers.
//
// A threaded OpenBLAS (Debian's default, libopenblas0-pthread) starts its
// workers when the shared library loads, before any Go code runs, and
// each spins (sched_yield) for about 0.1 s before it sleeps;
// openblas_set_num_threads(1) does not stop them. On a 2-core machine
// that takes one core from the first 0.1 s of every process.
// blas_thread_shutdown_ ends them at the engine's first product or call
// into OpenBLAS (not at import: importing changes nothing in the
// process); with one thread set, OpenBLAS does not start them again
// unless the program itself raises the thread count.
func Prepare() {
	single.Do(func() {
		C.openblas_set_num_threads(1)
		stoppedWorkers = C.stop_workers() != 0
	})
}

// Use registers the backend, internal/fastblas as in the default build,
// as gonum's blas64 and blas32 implementation.
func Use() { fastblas.Use() }
