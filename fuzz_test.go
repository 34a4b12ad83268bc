package vivit_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/onnx"
)

// FuzzONNXEigen reads arbitrary bytes as an ONNX model and, when the
// reader accepts a small one, computes the exact and the Monte-Carlo top
// eigenpairs of a random batch: a model the reader accepts must not make
// the engine panic, and what it returns must be finite, with eigenvalues
// that are not negative and unit eigenvectors. (onnx's FuzzRead checks
// the reader alone, on any size.)
func FuzzONNXEigen(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("onnx", "testdata", "hostile", "*valid.onnx"))
	for _, name := range []string{"resmlp_gelu", "mha_tiny", "resnet_digits"} {
		seeds = append(seeds, filepath.Join("testdata", "fixtures", name, "model.onnx"))
	}
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := onnx.Read(data, nil)
		if err != nil || !smallNetwork(m.Net) {
			return
		}
		net := m.Net
		b := randomBatch(net, 3, rand.New(rand.NewPCG(1, uint64(len(data)))))
		if err := b.Check(net); err != nil {
			t.Fatalf("random batch refused: %v", err)
		}
		for _, opts := range []*vivit.Options{nil, {MCSamples: 1, Seed: 7}} {
			res, err := vivit.TopEigen(net, b, 2, opts)
			if err != nil {
				// Refusing is allowed (a loss that overflows on these
				// inputs, say); a panic or a wrong number is not.
				continue
			}
			for _, blk := range res.Blocks {
				checkEigenBlock(t, blk)
			}
		}
	})
}

// smallNetwork reports whether the network is small enough to compute on
// in a fuzzing iteration.
func smallNetwork(net *model.Network) bool {
	if net.InputSize() > 1<<12 || net.NumParams() > 1<<15 || net.NumOutputs() > 64 {
		return false
	}
	entries := 0
	for _, nd := range net.Nodes {
		entries += model.Numel(nd.Op.OutShape())
	}
	return entries <= 1<<16
}

// randomBatch returns n standard normal inputs and targets that suit the
// network's loss.
func randomBatch(net *model.Network, n int, rng *rand.Rand) *vivit.Batch {
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
	return &vivit.Batch{Inputs: x, Targets: tg}
}

// checkEigenBlock fails unless the block's eigenvalues are finite, not
// negative beyond rounding and descending, and its eigenvectors finite and
// of unit length to within the accuracy the package documents for the
// eigenpair j, relative rounding of about 1e-16·λ₁/λ_j (a small
// eigenvalue's vector is mapped back through a Gram matrix whose rounding
// is relative to λ₁).
func checkEigenBlock(t *testing.T, blk vivit.Block) {
	t.Helper()
	for j, v := range blk.Values {
		if !(v >= -1e-9*math.Max(1, math.Abs(blk.Values[0]))) || math.IsInf(v, 0) {
			t.Fatalf("eigenvalue %d is %v (all: %v)", j, v, blk.Values)
		}
		if j > 0 && !(v <= blk.Values[j-1]) {
			t.Fatalf("eigenvalues not descending: %v", blk.Values)
		}
	}
	if blk.Vectors == nil {
		return
	}
	rows, _ := blk.Vectors.Dims()
	for j := 0; j < rows; j++ {
		norm := mat.Norm(blk.Vectors.RowView(j), 2)
		if tol := 1e-9 + 1e-14*blk.Values[0]/blk.Values[j]; !(math.Abs(norm-1) <= tol) {
			t.Fatalf("eigenvector %d (λ = %v, λ₁ = %v) has norm %v", j, blk.Values[j], blk.Values[0], norm)
		}
	}
}
