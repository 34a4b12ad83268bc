// Package bench holds the benchmark networks and the Go benchmarks of every
// stage of the engine (run them with 'make bench' or
// 'go test -run ^$ -bench . ./bench').
//
// The networks are the ones the project's performance targets are stated
// on: MLPs of the ViViT paper's sizes and a 3c3d-like CNN, with PyTorch's
// default initialisation U(±1/√fan_in) from a fixed seed and random inputs.
// Benchmarks report each stage's time as a metric (ms/…) and the whole run
// as a multiple of one gradient pass of the same engine (x-grad), so that
// results read as ratios that carry across machines.
package bench
