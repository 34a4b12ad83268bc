package vivit_test

import (
	"fmt"
	"os"
	"reflect"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
)

// atStart is the state of the process after every package's
// initialisation (vivit's and all it imports) and before any test runs.
var atStart struct {
	goroutines   int
	blas64Impl   string
	blas32Impl   string
	gonumDefault string
}

func TestMain(m *testing.M) {
	atStart.goroutines = runtime.NumGoroutine()
	atStart.blas64Impl = fmt.Sprintf("%T", blas64.Implementation())
	atStart.blas32Impl = fmt.Sprintf("%T", blas32.Implementation())
	atStart.gonumDefault = reflect.TypeOf(gonum.Implementation{}).String()
	os.Exit(m.Run())
}

// TestImportHasNoSideEffects checks that importing vivit (and with it
// every package of the engine) leaves gonum's BLAS registry as gonum
// sets it and starts no goroutine: a test binary starts with the main
// goroutine alone.
func TestImportHasNoSideEffects(t *testing.T) {
	if atStart.blas64Impl != atStart.gonumDefault || atStart.blas32Impl != atStart.gonumDefault {
		t.Errorf("after import, blas64 is %s and blas32 is %s, want gonum's %s", atStart.blas64Impl, atStart.blas32Impl, atStart.gonumDefault)
	}
	if atStart.goroutines != 1 {
		t.Errorf("%d goroutines after import, want 1 (main)", atStart.goroutines)
	}
}
