package main

import "github.com/vivit-go/vivit/bench"

// extraCases are the convolutional cases of the targets: the 3c3d-like
// network at N = 32 and N = 128, the ResNet-8 with BatchNorm at N = 32, and
// the depthwise-separable network (with ordinary 3×3 convolutions for
// comparison) at N = 32.
func extraCases() ([]bench.Case, error) {
	cs, err := bench.ConvCases(32, 128)
	if err != nil {
		return nil, err
	}
	rn, err := bench.ResNet8Cases()
	if err != nil {
		return nil, err
	}
	dw, err := bench.DWSepCases()
	return append(append(cs, rn...), dw...), err
}
