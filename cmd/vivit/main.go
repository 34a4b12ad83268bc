// Command vivit computes the curvature of a network's mini-batch loss from
// a PyTorch checkpoint: top eigenpairs and the nonzero spectrum of the
// generalized Gauss-Newton matrix, per-sample directional derivatives, and
// gradient statistics.
//
// Usage:
//
//	vivit eigen     [--model M --data D] [--k K] [knobs] [--directional] [--eigvecs FILE.npy]
//	vivit spectrum  [--model M --data D] [knobs]
//	vivit stats     [--model M --data D] [--mc M --seed S] [--diag-ggn F.npy] [--grad-variance F.npy]
//	vivit version
//
// Without --model and --data every command runs on the embedded example: a
// 64-32-10 tanh MLP trained on the UCI digits and a held-out batch.
//
// Exit codes: 0 success, 1 runtime failure, 2 usage error.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
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
  eigen      top-k eigenvalues and eigenvectors of the GGN (and per-sample directional derivatives)
  spectrum   all nonzero eigenvalues of the GGN and its trace
  stats      loss, gradient, gradient noise and the diagonal of the GGN
  version    print the version

Run 'vivit <command> --help' for a command's flags and examples. Without
--model and --data, commands run on the embedded example (a 64-32-10 MLP
trained on the UCI digits data).
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return 2
	}
	var err error
	switch args[0] {
	case "eigen":
		err = runEigen(args[1:], stdout, stderr)
	case "spectrum":
		err = runSpectrum(args[1:], stdout, stderr)
	case "stats":
		err = runStats(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "vivit", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, mainUsage)
	default:
		err = usagef("unknown command %q (want eigen, spectrum, stats or version)", args[0])
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, errHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "vivit:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
