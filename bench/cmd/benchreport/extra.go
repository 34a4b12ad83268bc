package main

import "github.com/vivit-go/vivit/bench"

// extraCases are the convolutional cases of the targets: the 3c3d-like
// network at N = 32 and N = 128, and the ResNet-8 with BatchNorm at N = 32.
func extraCases() ([]bench.Case, error) {
	cs, err := bench.ConvCases(32, 128)
	if err != nil {
		return nil, err
	}
	rn, err := bench.ResNet8Cases()
	return append(cs, rn...), err
}
