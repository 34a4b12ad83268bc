package model

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
)

// BenchmarkBatchNormFactor measures BatchNorm's factor block on a
// ResNet-sized activation (N = 32, C' = 10, per-sample [64, 8, 8]):
// forming it (the sums over positions) and its Gram matrix.
func BenchmarkBatchNormFactor(b *testing.B) {
	fastblas.Use()
	defer blas64.Use(gonum.Implementation{})
	defer blas32.Use(gonum.Implementation{})
	rng := rand.New(rand.NewPCG(1, 1))
	const n, cols = 32, 10
	shape := []int{64, 8, 8}
	l := benchBatchNorm(b, rng, shape)
	x := randMat(rng, n, Numel(shape))
	s := randMat(rng, n*cols, Numel(shape))
	b.Run("factor", func(b *testing.B) {
		for b.Loop() {
			l.Factor(s, x, cols)
		}
	})
	f := l.Factor(s, x, cols)
	g := mat.NewSymDense(n*cols, nil)
	b.Run("gram", func(b *testing.B) {
		for b.Loop() {
			f.AddGramTo(g)
		}
	})
	d := mat.NewDense(n*cols, Numel(shape), nil)
	b.Run("backward", func(b *testing.B) {
		for b.Loop() {
			l.BackwardInput(d, s, x, nil, cols)
		}
	})
}

// BenchmarkBatchNormForward measures BatchNorm's forward pass on the
// largest activation of the ResNet-8 case (N = 32, per-sample [16, 32, 32]),
// alone and followed by ReLU.
func BenchmarkBatchNormForward(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	const n = 32
	shape := []int{16, 32, 32}
	l := benchBatchNorm(b, rng, shape)
	x := randMat(rng, n, Numel(shape))
	y := mat.NewDense(n, Numel(shape), nil)
	z := mat.NewDense(n, Numel(shape), nil)
	relu := NewReLU(shape)
	b.SetBytes(int64(2 * 8 * n * Numel(shape)))
	b.Run("bn", func(b *testing.B) {
		for b.Loop() {
			l.Forward(y, x)
		}
	})
	b.Run("bn+relu", func(b *testing.B) {
		for b.Loop() {
			l.Forward(y, x)
			relu.Forward(z, y)
		}
	})
}

// benchBatchNorm returns a BatchNorm of per-sample shape shape with random
// parameters and running statistics.
func benchBatchNorm(b *testing.B, rng *rand.Rand, shape []int) *BatchNorm {
	c := shape[0]
	w, bias := randParam(rng, "bn.weight", c), randParam(rng, "bn.bias", c)
	mean, variance := make([]float64, c), make([]float64, c)
	for i := range variance {
		mean[i], variance[i] = rng.NormFloat64(), 0.5+rng.Float64()
	}
	l, err := NewBatchNorm(shape, w, bias, mean, variance, 1e-5)
	if err != nil {
		b.Fatal(err)
	}
	return l
}
