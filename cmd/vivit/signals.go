package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vivit-go/vivit/internal/atomicfile"
)

// runContext is the context of the command's computations: main cancels
// it on SIGINT or SIGTERM. Tests that call run directly leave it alone.
var runContext = context.Background()

// stopGrace is how long an interrupted run may take to stop by itself
// before the process exits anyway.
const stopGrace = 800 * time.Millisecond

// runInterruptible is run, stopped by SIGINT or SIGTERM: the computation's
// context is cancelled, and the exit code is 130 (SIGINT) or 143 (SIGTERM)
// within stopGrace, the conventional 128 + signal number. Outputs are
// written whole or not at all (internal/atomicfile), and none is replaced
// after the signal: an interrupted run leaves existing files as they were
// (but for those it had finished writing before the signal) and no
// partial or temporary file.
func runInterruptible(args []string, stdout, stderr io.Writer) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runContext = ctx
	done := make(chan int, 1)
	go func() { done <- run(args, stdout, stderr) }()
	select {
	case code := <-done:
		return code
	case sig := <-sigs:
		// From here on no output is replaced: writes in progress are
		// abandoned (their temporary files removed) and new ones refused.
		atomicfile.Abort()
		cancel()
		code, name := 130, "interrupted"
		if sig == syscall.SIGTERM {
			code, name = 143, "terminated"
		}
		select {
		case <-done:
		case <-time.After(stopGrace):
		}
		fmt.Fprintf(stderr, "vivit: %s\n", name)
		return code
	}
}
