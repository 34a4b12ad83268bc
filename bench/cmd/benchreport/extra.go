package main

import "github.com/vivit-go/vivit/bench"

// extraCases are the convolutional cases of the targets: the 3c3d-like
// network at N = 32 and N = 128.
func extraCases() ([]bench.Case, error) { return bench.ConvCases(32, 128) }
