// Command vivit computes the curvature of a network's mini-batch loss from
// a PyTorch checkpoint: top eigenpairs and the nonzero spectrum of the
// generalized Gauss-Newton matrix, per-sample directional derivatives, and
// gradient statistics.
//
// Usage:
//
//	vivit eigen       [--model M (--data D | --inputs X --targets Y)] [--k K] [knobs] [--directional] [--eigvecs FILE]
//	vivit spectrum    [--model M --data D] [knobs] [--plot FILE.png]
//	vivit directional [--model M --data D] [--k K] [knobs] [--plot FILE.png]
//	vivit stats       [--model M --data D] [knobs] [--diag-ggn F.npy] [--grad-variance F.npy]
//	vivit newton      [--model M --data D] [--k K] [--damping constant:δ|shrink:δ|skip:δ:τ] [--step FILE]
//	vivit bench       [--model M --data D] [--k K] [--seeds S] [--plot FILE.png]
//	vivit inspect     [--model M [--arch A.json]] [--data D]
//	vivit version
//
// Checkpoints are safetensors files (architecture in the metadata or given
// with --arch) or PyTorch .pt/.pth state_dicts (with --arch). Batches are
// safetensors files or .npy pairs. Without --model every command runs on
// the embedded example: a 64-32-10 tanh MLP trained on the UCI digits and
// a held-out batch. docs/guide.md is the manual.
//
// Exit codes: 0 success, 1 runtime failure, 2 usage error, 130 and 143
// stopped by SIGINT and SIGTERM (outputs are written whole or not at all,
// so an interrupted run leaves no partial file).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/internal/backend"
	"github.com/vivit-go/vivit/internal/fastblas"
)

// version is set at link time (-ldflags "-X main.version=…").
var version = "v0.1.0-dev"

// usageError marks errors caused by how the command was called.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

const mainUsage = `vivit: curvature of a neural network's loss through the GGN's low-rank structure

Usage:
  vivit <command> [flags]

Commands:
  eigen        top-k eigenvalues and eigenvectors of the GGN
  spectrum     all nonzero eigenvalues of the GGN, its rank and trace (and a plot)
  directional  per-sample slopes and curvatures along the top eigenvectors (and a plot)
  stats        loss, gradient, gradient noise and the diagonal of the GGN
  newton       a damped Newton step in the top-k eigenbasis, written as tensors
  bench        exact versus approximate curvature: error, subspace overlap, time, memory
  inspect      what a model file holds and whether vivit supports it
  version      the version, the build, the cores and the memory a run may use

Run 'vivit <command> --help' for a command's flags and examples. Without
--model, commands run on the embedded example (a 64-32-10 MLP trained on the
UCI digits data). Exit codes: 0 success, 1 runtime failure, 2 usage error.
`

type command func(args []string, stdout, stderr io.Writer) error

var commands = map[string]command{
	"eigen":       runEigen,
	"spectrum":    runSpectrum,
	"directional": runDirectional,
	"stats":       runStats,
	"inspect":     runInspect,
	"newton":      runNewton,
	"bench":       runBench,
	"version":     runVersion,
}

func main() {
	// The engine calls its kernels itself; this makes the rest of gonum
	// (mat, lapack) in the process use them too.
	vivit.UseBLAS()
	// The engine's heap is mostly large float64 buffers (activations,
	// factors, Gram chunks) that the collector does not scan, so
	// collecting when the heap has grown by 25 % instead of 100 % keeps
	// the peak resident memory near the live working set at a small cost
	// in CPU (the ViT of bench/: 376 instead of 435 MiB, 6 % more time;
	// 10 % saves another 3 % of memory for 5 % more time, 18 % on
	// Monte-Carlo runs; ResNet-8 alike either way; docs/performance.md).
	// The GOGC environment variable overrides it.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(25)
	}
	os.Exit(runInterruptible(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return 2
	}
	var err error
	switch name := args[0]; name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && commands[args[1]] != nil {
			err = commands[args[1]]([]string{"--help"}, stdout, stderr)
		} else {
			fmt.Fprint(stdout, mainUsage)
		}
	case "--version", "-version":
		err = runVersion(nil, stdout, stderr)
	default:
		cmd, ok := commands[name]
		if !ok {
			err = usagef("unknown command %q (want eigen, spectrum, directional, stats, newton, bench, inspect or version; see 'vivit help')", name)
			break
		}
		err = cmd(args[1:], stdout, stderr)
	}
	if err == nil || errors.Is(err, errHelp) {
		return 0
	}
	// The library's errors start with its package name, which the
	// command's own prefix already says.
	fmt.Fprintln(stderr, "vivit:", strings.TrimPrefix(err.Error(), "vivit: "))
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func runVersion(args []string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		if args[0] == "--help" || args[0] == "-h" {
			fmt.Fprint(stdout, "Usage: vivit version\n\nPrints the version of vivit, of Go and of the main dependencies, and what\nthis machine gives a run: the build and its kernels, the cores, and the\nmemory (the default --memory budget is three quarters of it).\n")
			return errHelp
		}
		return usagef("version takes no arguments, got %q", args[0])
	}
	v := version
	deps := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		if mv := info.Main.Version; mv != "" && mv != "(devel)" && version == "v0.1.0-dev" {
			v = mv
		}
		for _, d := range info.Deps {
			switch d.Path {
			case "gonum.org/v1/gonum", "gonum.org/v1/plot", "github.com/nlpodyssey/gopickle":
				deps += fmt.Sprintf(", %s %s", d.Path, d.Version)
			}
		}
	}
	b := vivit.DefaultMemoryBudget()
	budget := vivit.FormatBytes(b)
	if b == debug.SetMemoryLimit(-1) {
		budget += " (the Go memory limit, GOMEMLIMIT)"
	}
	m, source := vivit.AvailableMemory()
	memory := "unknown; default budget " + budget
	if m > 0 {
		memory = fmt.Sprintf("%s (%s); default budget %s", vivit.FormatBytes(m), source, budget)
	}
	_, err := fmt.Fprintf(stdout, "vivit %s (%s %s/%s%s)\nbuild:  %s, %s kernels\ncores:  %d (GOMAXPROCS %d)\nmemory: %s\n",
		v, runtime.Version(), runtime.GOOS, runtime.GOARCH, deps,
		backend.Build, fastblas.Kernels(), runtime.NumCPU(), runtime.GOMAXPROCS(0), memory)
	return err
}
