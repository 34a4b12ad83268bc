package checkpoint

import (
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/safetensors"
)

// FuzzArchitecture builds networks from arbitrary architecture JSON: it must
// return an error or a network whose shapes chain and whose forward and
// backward passes run, never panic or allocate without bound.
func FuzzArchitecture(f *testing.F) {
	f.Add([]byte(mlpArch))
	for _, name := range []string{"digits_mlp", "digits_cnn", "mse_regression"} {
		if st, err := safetensors.Open(filepath.Join("..", "testdata", "fixtures", name, "model.safetensors")); err == nil {
			f.Add([]byte(st.Metadata[ArchitectureKey]))
		}
	}
	f.Add([]byte(`{"input_shape": [2, 3], "layers": [{"type": "flatten"}, {"type": "linear", "in": 6, "out": 2}], "loss": {"type": "mse", "reduction": "sum"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseArchitecture(data)
		if err != nil {
			return
		}
		// Bound the work a fuzzed architecture may ask for.
		total := 1
		for _, d := range a.InputShape {
			if d <= 0 || d > 64 {
				return
			}
			total *= d
		}
		if total > 4096 || len(a.Layers) > 16 {
			return
		}
		net, err := a.Build()
		if err != nil {
			return
		}
		if net.NumParams() > 1<<16 {
			return
		}
		for _, nd := range net.Nodes {
			if model.Numel(nd.Op.OutShape()) > 1<<14 {
				return
			}
		}
		x := mat.NewDense(2, net.InputSize(), nil)
		for i := range x.RawMatrix().Data {
			x.RawMatrix().Data[i] = float64(i%7) - 3
		}
		acts := net.Forward(x)
		for i, nd := range net.Nodes {
			l := nd.Op.(model.Layer)
			s := mat.NewDense(2, model.Numel(l.OutShape()), nil)
			dst := mat.NewDense(2, model.Numel(l.InShape()), nil)
			l.BackwardInput(dst, s, acts[i], acts[i+1], 1)
		}
	})
}

// FuzzCheckpoint loads arbitrary bytes as a checkpoint: errors are fine,
// panics are not.
func FuzzCheckpoint(f *testing.F) {
	for _, name := range []string{"mse_regression", "digits_mlp"} {
		if data, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", name, "model.safetensors")); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := safetensors.Parse(data)
		if err != nil {
			return
		}
		if _, err := FromSafetensors(st, nil); err != nil {
			return
		}
	})
}
