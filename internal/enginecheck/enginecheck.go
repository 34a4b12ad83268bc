// Package enginecheck runs the engine on a network that a reader accepted
// and reports what a correct engine never does: the fuzz and mutation
// tests of the readers use it, so that a model the readers let through is
// also one the engine computes on without panicking or returning
// non-finite or inconsistent numbers.
package enginecheck

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/jacobians"
	"github.com/vivit-go/vivit/lowrank"
	"github.com/vivit-go/vivit/model"
)

// Small reports whether the network is small enough to compute on in one
// fuzzing iteration: at most 4096 inputs, 32768 parameters, 64 outputs
// and 65536 activation entries per sample.
func Small(net *model.Network) bool {
	if net.InputSize() > 1<<12 || net.NumParams() > 1<<15 || net.NumOutputs() > 64 {
		return false
	}
	entries := 0
	for _, nd := range net.Nodes {
		entries += model.Numel(nd.Op.OutShape())
	}
	return entries <= 1<<16
}

// RandomBatch returns n standard normal inputs and targets that suit the
// network's loss, drawn from rng.
func RandomBatch(net *model.Network, n int, rng *rand.Rand) *model.Batch {
	x := mat.NewDense(n, net.InputSize(), nil)
	for i := range x.RawMatrix().Data {
		x.RawMatrix().Data[i] = rng.NormFloat64()
	}
	c := net.NumOutputs()
	var tg model.Targets
	if net.Loss.Kind == model.CrossEntropy {
		tg.Classes = make([]int, n)
		for i := range tg.Classes {
			tg.Classes[i] = rng.IntN(c)
		}
	} else {
		tg.Values = mat.NewDense(n, c, nil)
		for i := range tg.Values.RawMatrix().Data {
			tg.Values.RawMatrix().Data[i] = rng.NormFloat64()
		}
	}
	return &model.Batch{Inputs: x, Targets: tg}
}

// TopEigen computes the exact and the Monte-Carlo (M = 1) top-2
// eigenpairs of a random batch of three samples drawn with seed, and
// returns an error if the batch does not fit the network, a result
// breaks the package's conventions (Block), or the blocks formed from
// separable factor rows disagree with the dense ones (separableGram). The engine may refuse to
// compute (a loss that overflows on these inputs, say); that is not an
// error here. A panic is left to the caller's test.
func TopEigen(net *model.Network, seed uint64) error {
	b := RandomBatch(net, 3, rand.New(rand.NewPCG(1, seed)))
	if err := b.Check(net); err != nil {
		return fmt.Errorf("random batch refused: %v", err)
	}
	if err := separableGram(net, b); err != nil {
		return err
	}
	for _, mc := range []int{0, 1} {
		res, err := vivit.TopEigen(net, b, 2, &vivit.Options{MCSamples: mc, Seed: 7})
		if err != nil {
			continue
		}
		for _, blk := range res.Blocks {
			if err := Block(blk); err != nil {
				return fmt.Errorf("Monte-Carlo samples %d: %v", mc, err)
			}
		}
	}
	return nil
}

// Block returns an error unless the block's eigenvalues are finite, not
// negative beyond rounding and descending, and its eigenvectors of unit
// length to within the accuracy the vivit package documents for eigenpair
// j, relative rounding of about 1e-16·λ₁/λ_j.
func Block(blk vivit.Block) error {
	for j, v := range blk.Values {
		if !(v >= -1e-9*math.Max(1, math.Abs(blk.Values[0]))) || math.IsInf(v, 0) {
			return fmt.Errorf("eigenvalue %d is %v (all: %v)", j, v, blk.Values)
		}
		if j > 0 && !(v <= blk.Values[j-1]) {
			return fmt.Errorf("eigenvalues not descending: %v", blk.Values)
		}
	}
	if blk.Vectors == nil {
		return nil
	}
	rows, _ := blk.Vectors.Dims()
	for j := 0; j < rows; j++ {
		norm := mat.Norm(blk.Vectors.RowView(j), 2)
		if tol := 1e-9 + 1e-14*blk.Values[0]/blk.Values[j]; !(math.Abs(norm-1) <= tol) {
			return fmt.Errorf("eigenvector %d (λ = %v, λ₁ = %v) has norm %v", j, blk.Values[j], blk.Values[0], norm)
		}
	}
	return nil
}

// separableGram returns an error unless the Gram matrix of the exact
// curvature factor's blocks as the engine forms them (jacobians.BackpropEach,
// separable rows as lowrank.SepConv where it finds them) agrees with that
// of the dense blocks (jacobians.Backprop) to 1e-9 of its largest entry.
// A batch whose factor is not finite is not checked.
func separableGram(net *model.Network, b *model.Batch) error {
	acts := net.Forward(b.Inputs)
	z := acts[len(acts)-1]
	n, c := z.Dims()
	cols := net.Loss.ReducedCols(c)
	s := mat.NewDense(n*cols, c, nil)
	net.Loss.ReducedSqrtHessianTo(s, z, 1)
	if !finite(s.RawMatrix().Data) {
		return nil
	}
	gram := func(fs []jacobians.LayerFactor) *mat.SymDense {
		g := mat.NewSymDense(n*cols, nil)
		for _, f := range fs {
			f.Factor.AddGramTo(g)
		}
		return g
	}
	want := gram(jacobians.Backprop(net, acts, s, cols))
	fs, err := jacobians.BackpropEach(context.Background(), net, acts, s, cols, lowrank.Float64, nil, nil)
	if err != nil {
		return err
	}
	got := gram(fs)
	var scale, diff float64
	for i := 0; i < n*cols; i++ {
		for j := i; j < n*cols; j++ {
			w, g := want.At(i, j), got.At(i, j)
			if math.IsNaN(w) || math.IsInf(w, 0) {
				return nil
			}
			scale, diff = max(scale, math.Abs(w)), max(diff, math.Abs(g-w))
			if math.IsNaN(g) {
				diff = math.NaN()
			}
		}
	}
	if !(diff <= 1e-9*scale) {
		return fmt.Errorf("Gram matrix from separable factor rows differs from the dense one by %v (largest entry %v)", diff, scale)
	}
	return nil
}

func finite(x []float64) bool {
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
