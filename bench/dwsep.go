package bench

import "github.com/vivit-go/vivit"

// DWSepLayers are the layers of a small MobileNet-style network on 3×32×32
// inputs: conv 3→32 3×3, then two depthwise-separable stages (depthwise
// 3×3 padding 1, groups = channels; pointwise 1×1 32→64 and 64→64), each
// followed by max-pool 2, and linear 4096→10, with ReLU after every
// convolution. With depthwise false the depthwise convolutions are
// ordinary 3×3 convolutions of the same channels (groups 1), for
// comparison. 49,098 parameters with depthwise convolutions, 94,314
// without.
func DWSepLayers(depthwise bool) []map[string]any {
	g := func(c int) int {
		if depthwise {
			return c
		}
		return 1
	}
	relu := map[string]any{"type": "relu"}
	pool := map[string]any{"type": "maxpool2d", "kernel_size": 2}
	return []map[string]any{
		{"type": "conv2d", "in_channels": 3, "out_channels": 32, "kernel_size": 3, "padding": 1}, relu,
		{"type": "conv2d", "in_channels": 32, "out_channels": 32, "kernel_size": 3, "padding": 1, "groups": g(32)}, relu,
		{"type": "conv2d", "in_channels": 32, "out_channels": 64, "kernel_size": 1}, relu, pool,
		{"type": "conv2d", "in_channels": 64, "out_channels": 64, "kernel_size": 3, "padding": 1, "groups": g(64)}, relu,
		{"type": "conv2d", "in_channels": 64, "out_channels": 64, "kernel_size": 1}, relu, pool,
		{"type": "flatten"}, {"type": "linear", "in": 64 * 8 * 8, "out": 10},
	}
}

// DWSepCases returns exact and Monte-Carlo (M=1) top-10 at N = 32 of the
// DWSepLayers network with depthwise convolutions and with ordinary ones.
func DWSepCases() ([]Case, error) {
	var cs []Case
	for _, dw := range []bool{true, false} {
		m, b, err := Build([]int{3, 32, 32}, DWSepLayers(dw), 32, 1)
		if err != nil {
			return nil, err
		}
		name := "dwsep"
		if !dw {
			name = "dwsep-dense3x3"
		}
		cs = append(cs,
			Case{Name: name + " N=32 exact top-10", Model: m, Batch: b, K: 10},
			Case{Name: name + " N=32 mc=1 top-10", Model: m, Batch: b, K: 10, Opts: vivit.Options{MCSamples: 1}})
	}
	return cs, nil
}
