//go:build unix

package model

import "syscall"

// cpuTime returns the process's user+system CPU time in seconds: on a
// shared machine it measures the work where wall time measures the queue.
func cpuTime() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
