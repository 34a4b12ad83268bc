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
		}}
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
		}}
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
		}}
}
