//go:build !unix

package model

// cpuTime is not measured on this system: the benchmarks' cpu-ms/op
// read 0.
func cpuTime() float64 { return 0 }
