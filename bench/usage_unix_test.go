//go:build unix

package bench

import (
	"syscall"
	"time"
)

// processUsage returns the CPU time (user and system) and the minor page
// faults of the process so far.
func processUsage() (cpu time.Duration, faults int64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), int64(ru.Minflt)
}
