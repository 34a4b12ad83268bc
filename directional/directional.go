package directional

import (
	"math"

	"github.com/vivit-go/vivit/internal/backend"
	"gonum.org/v1/gonum/mat"
)

// Gamma returns γ (N×k) from the cross products cross = (Vᵀ∇ℓ_n)ᵀ, one row
// per sample (N × cols), the Gram eigenvectors u (cols × k, as columns) and
// their eigenvalues.
func Gamma(cross, u *mat.Dense, values []float64) *mat.Dense {
	n, _ := cross.Dims()
	_, k := u.Dims()
	checkValues(values, k)
	g := mat.NewDense(n, k, nil)
	backend.Mul(g, cross, u)
	for j, l := range values {
		s := 1 / math.Sqrt(l)
		for i := 0; i < n; i++ {
			g.Set(i, j, s*g.At(i, j))
		}
	}
	return g
}

// LambdaOwn returns λ (N×k) when V's own columns cover the samples: c
// columns per sample, λ_nk = λ_k ‖ũ_k[n]‖² / w.
func LambdaOwn(u *mat.Dense, values []float64, c int, w float64) *mat.Dense {
	r, k := u.Dims()
	checkValues(values, k)
	if r%c != 0 {
		panic("directional: rows not divisible by columns per sample")
	}
	out := perSampleSquares(u, c)
	for j, l := range values {
		for i := 0; i < r/c; i++ {
			out.Set(i, j, l*out.At(i, j)/w)
		}
	}
	return out
}

// LambdaCross returns λ (N×k) from the cross Gram XᵀV ((N·c) × cols) of a
// factor X with c columns per sample and weight w: λ_nk = ‖X_nᵀVũ_k‖²/(w λ_k).
func LambdaCross(cross, u *mat.Dense, values []float64, c int, w float64) *mat.Dense {
	r, _ := cross.Dims()
	_, k := u.Dims()
	checkValues(values, k)
	if r%c != 0 {
		panic("directional: rows not divisible by columns per sample")
	}
	var p mat.Dense
	backend.Mul(&p, cross, u)
	out := perSampleSquares(&p, c)
	for j, l := range values {
		for i := 0; i < r/c; i++ {
			out.Set(i, j, out.At(i, j)/(w*l))
		}
	}
	return out
}

// perSampleSquares returns the (rows/c)×k matrix whose entry (i, j) is the
// sum of squares of column j over rows i·c … i·c+c−1 of m (rows × k).
func perSampleSquares(m *mat.Dense, c int) *mat.Dense {
	r, k := m.Dims()
	out := mat.NewDense(r/c, k, nil)
	for q := 0; q < r; q++ {
		row, o := m.RawRowView(q), out.RawRowView(q/c)
		for j, v := range row {
			o[j] += v * v
		}
	}
	return out
}

func checkValues(values []float64, k int) {
	if len(values) != k {
		panic("directional: eigenvalue count does not match eigenvectors")
	}
	for _, v := range values {
		if !(v > 0) {
			panic("directional: eigenvalues must be positive")
		}
	}
}

// Summary holds per-direction statistics of a directional derivative over
// the samples: mean, population variance (divisor N) and the
// signal-to-noise ratio mean²/variance (+Inf for zero variance with a
// nonzero mean, NaN for both zero).
type Summary struct {
	Mean, Variance, SNR []float64
}

// Summarize returns the statistics of each column of d (N×k).
func Summarize(d *mat.Dense) Summary {
	n, k := d.Dims()
	s := Summary{Mean: make([]float64, k), Variance: make([]float64, k), SNR: make([]float64, k)}
	for j := 0; j < k; j++ {
		var m float64
		for i := 0; i < n; i++ {
			m += d.At(i, j)
		}
		m /= float64(n)
		var v float64
		for i := 0; i < n; i++ {
			e := d.At(i, j) - m
			v += e * e
		}
		v /= float64(n)
		s.Mean[j], s.Variance[j] = m, v
		s.SNR[j] = m * m / v
	}
	return s
}
