package jacobians_test

import (
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/model"
)

// lossFactor runs net forward on the inputs and returns the activations
// and the loss Hessian's square root at the output (the factor the
// backward pass starts from), with its columns per sample.
func lossFactor(net *model.Network, inputs *mat.Dense) (acts []*mat.Dense, s *mat.Dense, cols int) {
	acts = net.Forward(inputs)
	z := acts[len(acts)-1]
	n, c := z.Dims()
	cols = net.Loss.ReducedCols(c)
	s = mat.NewDense(n*cols, c, nil)
	net.Loss.ReducedSqrtHessianTo(s, z, math.Sqrt(net.Loss.Weight(n)))
	return acts, s, cols
}
