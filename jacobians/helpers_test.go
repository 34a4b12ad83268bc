package jacobians_test

import (
	"math"
	"os"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/batch"
	"github.com/vivit-go/vivit/checkpoint"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/onnx"
)

// loadFixture reads the network (an ONNX graph, or a sequential
// checkpoint with its architecture) and the batch of the fixture name.
func loadFixture(t *testing.T, name string) (*model.Network, *model.Batch) {
	t.Helper()
	dir := "../testdata/fixtures/" + name + "/"
	var net *model.Network
	if _, err := os.Stat(dir + "model.onnx"); err == nil {
		m, err := onnx.ReadFile(dir+"model.onnx", nil)
		if err != nil {
			t.Fatal(err)
		}
		net = m.Net
	} else {
		ck, err := checkpoint.Open(dir + "model.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		if net, err = ck.Network(nil); err != nil {
			t.Fatal(err)
		}
	}
	b, err := batch.Load(dir+"batch.safetensors", net)
	if err != nil {
		t.Fatal(err)
	}
	return net, b
}

// eachFixture runs f as a subtest on the network and batch of every
// fixture (ONNX graphs and sequential checkpoints).
func eachFixture(t *testing.T, f func(t *testing.T, net *model.Network, b *model.Batch)) {
	t.Helper()
	entries, err := os.ReadDir("../testdata/fixtures")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			net, b := loadFixture(t, e.Name())
			f(t, net, b)
		})
	}
}

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
