package vivit_test

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"testing"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
)

// atStart is the state of the process after every package's
// initialisation (vivit's and all it imports) and before any test runs.
var atStart struct {
	goroutines   int
	memoryLimit  int64
	blas64Impl   string
	blas32Impl   string
	gonumDefault string
}

func TestMain(m *testing.M) {
	atStart.goroutines = runtime.NumGoroutine()
	atStart.memoryLimit = debug.SetMemoryLimit(-1)
	atStart.blas64Impl = fmt.Sprintf("%T", blas64.Implementation())
	atStart.blas32Impl = fmt.Sprintf("%T", blas32.Implementation())
	atStart.gonumDefault = reflect.TypeOf(gonum.Implementation{}).String()
	os.Exit(m.Run())
}

// TestImportHasNoSideEffects checks that importing vivit (and with it
// every package of the engine) leaves gonum's BLAS registry as gonum
// sets it, starts no goroutine (a test binary starts with the main
// goroutine alone) and leaves the Go runtime's memory limit unset
// (GOMEMLIMIT unset: no limit).
func TestImportHasNoSideEffects(t *testing.T) {
	if atStart.blas64Impl != atStart.gonumDefault || atStart.blas32Impl != atStart.gonumDefault {
		t.Errorf("after import, blas64 is %s and blas32 is %s, want gonum's %s", atStart.blas64Impl, atStart.blas32Impl, atStart.gonumDefault)
	}
	if atStart.goroutines != 1 {
		t.Errorf("%d goroutines after import, want 1 (main)", atStart.goroutines)
	}
	if os.Getenv("GOMEMLIMIT") == "" && atStart.memoryLimit != math.MaxInt64 {
		t.Errorf("memory limit %d after import, want none (%d)", atStart.memoryLimit, int64(math.MaxInt64))
	}
}
