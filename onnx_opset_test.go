package vivit_test

import (
	"path/filepath"
	"testing"

	"github.com/vivit-go/vivit"
)

// TestDecomposedLayerNorm reads one model exported at opset 14, where the
// exporter writes LayerNorm as ReduceMean, Sub, Pow, Sqrt, Div and a
// learned Mul and Add, and at opset 17, where it is one
// LayerNormalization node (onnx/testdata/layernorm_opset*.onnx: a
// residual GELU MLP over 3 tokens with two LayerNorms of non-trivial
// weights), and checks that both give the same network: loss, spectrum,
// eigenvectors, per-sample directional derivatives and statistics.
func TestDecomposedLayerNorm(t *testing.T) {
	var res [2]*vivit.Result
	var spec [2]*vivit.SpectrumResult
	var stats [2]*vivit.Stats
	for i, op := range []string{"14", "17"} {
		m, err := vivit.LoadModel(filepath.Join("onnx", "testdata", "layernorm_opset"+op+".onnx"))
		if err != nil {
			t.Fatal(err)
		}
		b := tinyBatch(m, 6, 7)
		if res[i], err = vivit.Directional(m, b, 4, nil); err != nil {
			t.Fatal(err)
		}
		if spec[i], err = vivit.Spectrum(m, b, nil); err != nil {
			t.Fatal(err)
		}
		if stats[i], err = vivit.ComputeStats(m, b, nil); err != nil {
			t.Fatal(err)
		}
	}
	if e := maxRelErr([]float64{res[0].Loss}, []float64{res[1].Loss}); !(e <= 1e-13) {
		t.Errorf("loss %.17g against %.17g", res[0].Loss, res[1].Loss)
	}
	if len(spec[0].Blocks[0].Values) != len(spec[1].Blocks[0].Values) || len(spec[1].Blocks[0].Values) == 0 {
		t.Fatalf("ranks %d and %d", len(spec[0].Blocks[0].Values), len(spec[1].Blocks[0].Values))
	}
	for _, c := range []struct {
		what      string
		got, want []float64
		tol       float64
	}{
		{"spectrum", spec[0].Blocks[0].Values, spec[1].Blocks[0].Values, 1e-11},
		{"eigenvectors", res[0].Blocks[0].Vectors.RawMatrix().Data, res[1].Blocks[0].Vectors.RawMatrix().Data, 1e-9},
		{"γ", res[0].Blocks[0].Gamma.RawMatrix().Data, res[1].Blocks[0].Gamma.RawMatrix().Data, 1e-9},
		{"λ", res[0].Blocks[0].Lambda.RawMatrix().Data, res[1].Blocks[0].Lambda.RawMatrix().Data, 1e-9},
		{"diagonal GGN", stats[0].DiagGGN, stats[1].DiagGGN, 1e-11},
		{"gradient", stats[0].Grad, stats[1].Grad, 1e-11},
	} {
		if e := maxRelErr(c.got, c.want); !(e <= c.tol) {
			t.Errorf("%s: opset 14 against 17, max rel error %.3g", c.what, e)
		}
	}
}
