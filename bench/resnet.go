package bench

import "github.com/vivit-go/vivit"

// ResNet8Cases returns the cases of the CIFAR-style ResNet-8 with
// BatchNorm (ResNet8) at N = 32: exact top-10 in float64 and with
// Options.Precision float32, and Monte-Carlo (M=1) top-10.
func ResNet8Cases() ([]Case, error) {
	m, b, err := ResNet8(32, 1)
	if err != nil {
		return nil, err
	}
	return []Case{
		{Name: "resnet8 N=32 exact top-10", Model: m, Batch: b, K: 10},
		{Name: "resnet8 N=32 exact top-10, float32", Model: m, Batch: b, K: 10, Opts: vivit.Options{Precision: vivit.Float32}},
		{Name: "resnet8 N=32 mc=1 top-10", Model: m, Batch: b, K: 10, Opts: vivit.Options{MCSamples: 1}},
	}, nil
}
