package model

import (
	"math"
	"slices"
)

// Entrywise functions of the ONNX operator set and of PyTorch's
// activations, computed as PyTorch's CPU kernels compute them.

// logistic is the logistic sigmoid, with two branches that keep exp from
// overflowing.
func logistic(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	ex := math.Exp(x)
	return ex / (1 + ex)
}

// NewGELU returns PyTorch's exact GELU, x·Φ(x) = x·½(1 + erf(x/√2)), with
// derivative Φ(x) + x·φ(x).
func NewGELU(shape []int) *Elementwise {
	return &Elementwise{Name: "gelu", Shape: slices.Clone(shape),
		F: func(x float64) float64 {
			return x * 0.5 * (1 + math.Erf(x*(math.Sqrt2/2)))
		},
		DF: func(x, _ float64) float64 {
			cdf := 0.5 * (1 + math.Erf(x*(math.Sqrt2/2)))
			pdf := math.Exp(-0.5*x*x) * (2 / math.SqrtPi) * (math.Sqrt2 / 2) * 0.5
			return cdf + x*pdf
		},
		YUnused: true}
}

// NewGELUTanh returns PyTorch's GELU with approximate='tanh':
// ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
func NewGELUTanh(shape []int) *Elementwise {
	const beta = math.Sqrt2 * (2 / math.SqrtPi) * 0.5 // √(2/π)
	const kappa = 0.044715
	return &Elementwise{Name: "gelu_tanh", Shape: slices.Clone(shape),
		F: func(x float64) float64 {
			inner := beta * (x + kappa*x*x*x)
			return 0.5 * x * (1 + math.Tanh(inner))
		},
		DF: func(x, _ float64) float64 {
			x2 := x * x
			t := math.Tanh(beta * (x + kappa*x2*x))
			return 0.5*(1+t) + 0.5*x*(1-t*t)*beta*(1+3*kappa*x2)
		},
		YUnused: true}
}

// NewSiLU returns SiLU (swish), x·σ(x), with derivative
// σ(x)(1 + x(1 − σ(x))).
func NewSiLU(shape []int) *Elementwise {
	return &Elementwise{Name: "silu", Shape: slices.Clone(shape),
		F: func(x float64) float64 { return x * logistic(x) },
		DF: func(x, _ float64) float64 {
			s := logistic(x)
			return s * (1 + x*(1-s))
		},
		YUnused: true}
}

// NewErf returns the error function, with derivative (2/√π)·exp(−x²).
func NewErf(shape []int) *Elementwise {
	return &Elementwise{Name: "erf", Shape: slices.Clone(shape), F: math.Erf,
		DF:      func(x, _ float64) float64 { return (2 / math.SqrtPi) * math.Exp(-x*x) },
		YUnused: true}
}

// NewSqrt returns the square root, with derivative 1/(2y) (+Inf at 0, NaN
// below, as PyTorch).
func NewSqrt(shape []int) *Elementwise {
	return &Elementwise{Name: "sqrt", Shape: slices.Clone(shape), F: math.Sqrt,
		DF:      func(_, y float64) float64 { return 1 / (2 * y) },
		XUnused: true}
}

// NewAffine returns y = a·x + b: ONNX Mul, Div, Add or Sub by a scalar
// constant (x/c as a = 1/c).
func NewAffine(shape []int, a, b float64) *Elementwise {
	return &Elementwise{Name: "affine", Shape: slices.Clone(shape),
		F:       func(x float64) float64 { return a*x + b },
		DF:      func(_, _ float64) float64 { return a },
		XUnused: true, YUnused: true}
}

// NewPowConst returns y = x^p for a constant exponent p, with derivative
// p·x^(p−1) (0 for p = 0, as PyTorch).
func NewPowConst(shape []int, p float64) *Elementwise {
	return &Elementwise{Name: "pow", Shape: slices.Clone(shape),
		F: func(x float64) float64 { return math.Pow(x, p) },
		DF: func(x, _ float64) float64 {
			if p == 0 {
				return 0
			}
			return p * math.Pow(x, p-1)
		},
		YUnused: true}
}
