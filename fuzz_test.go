package vivit_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/vivit-go/vivit/checkpoint"
	"github.com/vivit-go/vivit/internal/enginecheck"
	"github.com/vivit-go/vivit/onnx"
	"github.com/vivit-go/vivit/safetensors"
)

// FuzzONNXEigen reads arbitrary bytes as an ONNX model and, when the
// reader accepts a small one, computes its exact and Monte-Carlo top
// eigenpairs on a random batch (enginecheck.TopEigen): a model the reader
// accepts must not make the engine panic or return numbers that break
// the package's conventions. (onnx's FuzzRead checks the reader alone, on
// any size; onnx's TestMutatedModels mutates the decoded fields.)
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
		if err != nil || !enginecheck.Small(m.Net) {
			return
		}
		if err := enginecheck.TopEigen(m.Net, uint64(len(data))); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzArchitectureEigen builds sequential networks from arbitrary
// architecture JSON, gives a small one random weights and computes its
// exact and Monte-Carlo top eigenpairs (enginecheck.TopEigen).
// (checkpoint's FuzzArchitecture runs the layers' forward and backward
// passes on any size.)
func FuzzArchitectureEigen(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "fixtures", "*", "model.safetensors"))
	for _, p := range seeds {
		if st, err := safetensors.Open(p); err == nil {
			f.Add([]byte(st.Metadata[checkpoint.ArchitectureKey]))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := checkpoint.ParseArchitecture(data)
		if err != nil {
			return
		}
		net, err := a.BuildLimited(1 << 15)
		if err != nil || !enginecheck.Small(net) {
			return
		}
		rng := rand.New(rand.NewPCG(3, uint64(len(data))))
		for _, p := range net.Params() {
			for i := range p.Data {
				p.Data[i] = rng.NormFloat64() / 2
			}
		}
		if err := enginecheck.TopEigen(net, uint64(len(data))); err != nil {
			t.Fatal(err)
		}
	})
}
