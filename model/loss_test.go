package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// hessian returns ∂²ℓ/∂z² for one row of logits, by definition.
func hessian(l Loss, z []float64) *mat.Dense {
	c := len(z)
	h := mat.NewDense(c, c, nil)
	if l.Kind == MSE {
		for i := 0; i < c; i++ {
			h.Set(i, i, l.mseScale(c))
		}
		return h
	}
	p := make([]float64, c)
	softmaxTo(p, z)
	for i := 0; i < c; i++ {
		for j := 0; j < c; j++ {
			v := -p[i] * p[j]
			if i == j {
				v += p[i]
			}
			h.Set(i, j, v)
		}
	}
	return h
}

func TestSqrtHessianFactors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	z := mat.NewDense(4, 5, nil)
	for i := 0; i < 4; i++ {
		for j := 0; j < 5; j++ {
			z.Set(i, j, 3*rng.NormFloat64())
		}
	}
	z.Set(3, 2, 800) // saturated softmax: p exactly one-hot
	for _, l := range []Loss{{CrossEntropy, Mean}, {CrossEntropy, Sum}, {MSE, Mean}, {MSE, Sum}} {
		full := mat.NewDense(4*5, 5, nil)
		l.SqrtHessianTo(full, z, 1)
		rc := l.ReducedCols(5)
		red := mat.NewDense(4*rc, 5, nil)
		l.ReducedSqrtHessianTo(red, z, 1)
		for i := 0; i < 4; i++ {
			want := hessian(l, z.RawRowView(i))
			for _, f := range []struct {
				name string
				s    mat.Matrix
			}{{"full", full.Slice(i*5, (i+1)*5, 0, 5)}, {"reduced", red.Slice(i*rc, (i+1)*rc, 0, 5)}} {
				var h mat.Dense
				h.Mul(f.s.T(), f.s)
				if !mat.EqualApprox(&h, want, 1e-15) {
					t.Errorf("%v %s factor, sample %d: SSᵀ ≠ H\n%v\n%v", l, f.name, i, mat.Formatted(&h), mat.Formatted(want))
				}
			}
		}
	}
}

// TestMonteCarloFactorUnbiased: the average of S_n S_nᵀ over many draws
// approaches H_n.
func TestMonteCarloFactorUnbiased(t *testing.T) {
	z := mat.NewDense(1, 3, []float64{0.5, -1, 2})
	for _, l := range []Loss{{CrossEntropy, Mean}, {MSE, Mean}} {
		const draws, m = 4000, 5
		avg := mat.NewDense(3, 3, nil)
		s := mat.NewDense(m, 3, nil)
		for seed := uint64(0); seed < draws; seed++ {
			l.SampleSqrtHessianTo(s, z, m, seed, []int{0}, 1)
			var h mat.Dense
			h.Mul(s.T(), s)
			avg.Add(avg, &h)
		}
		avg.Scale(1.0/draws, avg)
		want := hessian(l, z.RawRowView(0))
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				// standard error of a mean of draws·m terms of size ≤ max|H|·few
				if !(math.Abs(avg.At(i, j)-want.At(i, j)) <= 0.03*mat.Max(want)) {
					t.Errorf("%v: E[SSᵀ][%d][%d] ≈ %.4f, H = %.4f", l, i, j, avg.At(i, j), want.At(i, j))
				}
			}
		}
	}
}
