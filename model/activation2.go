package model

import "math"

// NewLeakyReLU returns PyTorch's LeakyReLU: x for x > 0, slope·x otherwise;
// its derivative at 0 is slope, as in autograd.
func NewLeakyReLU(shape []int, slope float64) *Elementwise {
	return &Elementwise{Name: "leaky_relu", Shape: shape,
		F: func(x float64) float64 {
			if x > 0 {
				return x
			}
			return x * slope
		},
		DF: func(x, _ float64) float64 {
			if x > 0 {
				return 1
			}
			return slope
		},
		YUnused: true}
}

// NewELU returns PyTorch's ELU: x for x > 0, alpha·(exp(x) − 1) otherwise
// (computed as PyTorch's CPU kernel does); its derivative at 0 is alpha.
func NewELU(shape []int, alpha float64) *Elementwise {
	return &Elementwise{Name: "elu", Shape: shape,
		F: func(x float64) float64 {
			if x > 0 {
				return x
			}
			return (math.Exp(x) - 1) * alpha
		},
		DF: func(x, _ float64) float64 {
			if x > 0 {
				return 1
			}
			return alpha * math.Exp(x)
		},
		YUnused: true}
}

// NewSoftplus returns PyTorch's Softplus: log(1 + exp(β·x))/β, and x itself
// where β·x > threshold; its derivative is the logistic sigmoid of β·x
// (1 above the threshold).
func NewSoftplus(shape []int, beta, threshold float64) *Elementwise {
	return &Elementwise{Name: "softplus", Shape: shape,
		F: func(x float64) float64 {
			if x*beta > threshold {
				return x
			}
			return math.Log1p(math.Exp(x*beta)) / beta
		},
		DF: func(x, _ float64) float64 {
			if x*beta > threshold {
				return 1
			}
			z := math.Exp(x * beta)
			return z / (z + 1)
		},
		YUnused: true}
}

// NewHardtanh returns PyTorch's Hardtanh: x clamped to [lo, hi] (ReLU6 is
// lo = 0, hi = 6, and ONNX writes both as Clip). Its derivative is 1
// strictly inside (lo, hi) and 0 elsewhere, at the kinks included, as in
// autograd's hardtanh_backward.
func NewHardtanh(shape []int, lo, hi float64) *Elementwise {
	return &Elementwise{Name: "hardtanh", Shape: shape,
		F: func(x float64) float64 { return min(max(x, lo), hi) },
		DF: func(x, _ float64) float64 {
			if x > lo && x < hi {
				return 1
			}
			return 0
		},
		YUnused: true}
}

// NewHardSigmoid returns max(0, min(1, alpha·x + beta)); PyTorch's
// Hardsigmoid is alpha = 1/6, beta = 1/2. Its derivative is 0 where
// alpha·x + beta is outside (0, 1), as in autograd, and alpha rounded to
// float32 inside: PyTorch's kernel computes the slope as 1.0f/6.0f in
// every precision (0.1666666716…, 6e-8 above 1/6), and the engine
// reproduces its float64 gradients to 1e-15.
//
// alpha·x is rounded before beta is added (the float64 conversion), so
// that no platform fuses the two into one multiply-add: fused, 1/6·(−3)
// + 1/2 is 2.8e-17 rather than 0 (on arm64, which fuses by default), and
// the derivative at the kink would change sides.
func NewHardSigmoid(shape []int, alpha, beta float64) *Elementwise {
	slope := float64(float32(alpha))
	return &Elementwise{Name: "hard_sigmoid", Shape: shape,
		F: func(x float64) float64 { return min(max(float64(alpha*x)+beta, 0), 1) },
		DF: func(x, _ float64) float64 {
			if z := float64(alpha*x) + beta; z > 0 && z < 1 {
				return slope
			}
			return 0
		},
		YUnused: true}
}

// NewHardSwish returns PyTorch's Hardswish: x·min(max(x + 3, 0), 6)/6. Its
// derivative is 0 below −3, x/3 + 1/2 on [−3, 3] and 1 above, as in
// autograd's hardswish_backward.
func NewHardSwish(shape []int) *Elementwise {
	return &Elementwise{Name: "hard_swish", Shape: shape,
		F: func(x float64) float64 { return x * min(max(x+3, 0), 6) / 6 },
		DF: func(x, _ float64) float64 {
			switch {
			case x < -3:
				return 0
			case x <= 3:
				return x/3 + 0.5
			}
			return 1
		},
		YUnused: true}
}
