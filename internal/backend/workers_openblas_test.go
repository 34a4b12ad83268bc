//go:build openblas

package backend

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
)

// childEnv marks the process TestPrepareStopsWorkers starts.
const childEnv = "VIVIT_BACKEND_WORKERS_CHILD"

// processCPU returns the user and system CPU time of the whole process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestPrepareStopsWorkers checks that Prepare ends the worker threads a
// threaded OpenBLAS starts when the library loads, which spin for about
// 0.1 s. It needs a fresh process, so the test starts its own binary
// (TestWorkersChild). The workers are created by the library's constructor,
// before the Go runtime starts any thread, so the first of them has the
// lowest thread id after the main thread's (ids are handed out in
// increasing order): the child notes that thread, computes a first
// product with Mul (which calls Prepare), and reports whether the thread
// still exists a second later. Without the shutdown in Prepare
// it does (it sleeps once its spinning ends, but it spins first). The
// child also measures the CPU time the process uses during 100 ms of sleep
// after Prepare, logged: with the worker stopped it is under 1 ms on an
// idle machine and a few ms on a heavily loaded one (Go's own threads
// waiting for a core); with the worker spinning it was 90–110 ms on an
// idle 2-core machine, much less when other processes keep both cores
// busy, as the worker yields to them.
func TestPrepareStopsWorkers(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("OpenBLAS starts no worker thread on one core")
	}
	for i := 0; i < 3; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWorkersChild$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), childEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		s := string(out)
		if strings.Contains(s, "--- SKIP") {
			t.Skipf("child skipped:\n%s", s)
		}
		j := strings.Index(s, "first-thread-alive=")
		if j < 0 {
			t.Fatalf("child printed no measurement:\n%s", s)
		}
		var alive bool
		var ns int64
		if _, err := fmt.Sscanf(s[j:], "first-thread-alive=%t idle-cpu-ns=%d", &alive, &ns); err != nil {
			t.Fatalf("child printed %q: %v", s, err)
		}
		t.Logf("after Prepare: the library's first thread alive: %t; CPU time of the process during 100 ms of sleep: %v", alive, time.Duration(ns))
		if alive {
			t.Errorf("the thread OpenBLAS started when it loaded is still there after Prepare")
		}
	}
}

// TestWorkersChild is the process TestPrepareStopsWorkers starts; it does
// nothing in a normal test run.
func TestWorkersChild(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("run by TestPrepareStopsWorkers")
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Skip(err)
	}
	var ids []int
	for _, task := range tasks {
		if id, err := strconv.Atoi(task.Name()); err == nil && id != os.Getpid() {
			ids = append(ids, id)
		}
	}
	// The engine's first product, which must stop the workers (through
	// Prepare).
	var dst mat.Dense
	Mul(&dst, mat.NewDense(2, 2, []float64{1, 2, 3, 4}), mat.NewDense(2, 2, nil))
	if !stoppedWorkers {
		t.Skip("this OpenBLAS has no blas_thread_shutdown_ (a serial build: no workers)")
	}
	first := slices.Min(ids)
	// pthread_join returns when the kernel clears the thread's id, a
	// moment before the exited task leaves /proc: wait up to a second for
	// the entry to go. A worker that was not stopped never leaves.
	task := fmt.Sprintf("/proc/self/task/%d", first)
	for deadline := time.Now().Add(time.Second); ; time.Sleep(time.Millisecond) {
		if _, err = os.Stat(task); err != nil || time.Now().After(deadline) {
			break
		}
	}
	c0 := processCPU()
	time.Sleep(100 * time.Millisecond)
	fmt.Printf("first-thread-alive=%t idle-cpu-ns=%d\n", err == nil, processCPU()-c0)
}
