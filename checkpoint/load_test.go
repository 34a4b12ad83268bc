package checkpoint

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/safetensors"
)

const mlpArch = `{"input_shape": [3], "layers": [{"type": "linear", "in": 3, "out": 4, "bias": true}, {"type": "tanh"}, {"type": "linear", "in": 4, "out": 2, "bias": true}], "loss": {"type": "cross_entropy", "reduction": "mean"}}`

func mlpTensors() []safetensors.Tensor {
	return []safetensors.Tensor{
		{Name: "0.weight", Shape: []int{4, 3}, F32: make([]float32, 12)},
		{Name: "0.bias", Shape: []int{4}, F32: make([]float32, 4)},
		{Name: "2.weight", Shape: []int{2, 4}, F64: make([]float64, 8)},
		{Name: "2.bias", Shape: []int{2}, F64: make([]float64, 2)},
	}
}

func encode(t *testing.T, ts []safetensors.Tensor, meta map[string]string) *safetensors.File {
	t.Helper()
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, meta); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCheckpointErrors(t *testing.T) {
	replace := func(arch, old, new string) string { return strings.Replace(arch, old, new, 1) }
	for _, tc := range []struct {
		name    string
		arch    string // "" means no metadata
		tensors func([]safetensors.Tensor) []safetensors.Tensor
		want    string
	}{
		{"ok", mlpArch, nil, ""},
		{"no architecture", "", nil, `no "architecture" in the safetensors metadata`},
		{"invalid JSON", "{", nil, "architecture: invalid JSON"},
		{"unknown top-level field", replace(mlpArch, `"loss"`, `"optimizer": 1, "loss"`), nil, `unknown field "optimizer"`},
		{"unknown layer", replace(mlpArch, `"tanh"`, `"swish"`), nil, `layer 1: unknown type "swish"`},
		{"unknown layer field", replace(mlpArch, `"bias": true}, {"type": "tanh"}`, `"bias": true, "act": 1}, {"type": "tanh"}`), nil, `layer 0 (linear): unknown field "act"`},
		{"layer without type", replace(mlpArch, `{"type": "tanh"}`, `{}`), nil, `layer 1 has no "type"`},
		{"layer not object", replace(mlpArch, `{"type": "tanh"}`, `3`), nil, "layer 1 is not a JSON object"},
		{"linear missing out", replace(mlpArch, `"out": 4, `, ``), nil, `needs fields "in" and "out"`},
		{"linear chain mismatch", replace(mlpArch, `"in": 4`, `"in": 5`), nil, "layer 2 (linear): expects input of shape [5], but the previous layer gives [4]"},
		{"linear in is not int", replace(mlpArch, `"in": 3`, `"in": "3"`), nil, `field "in" must be an integer`},
		{"negative size", replace(mlpArch, `"out": 4`, `"out": -4`), nil, "in and out must be positive"},
		{"unknown loss", replace(mlpArch, `"cross_entropy"`, `"hinge"`), nil, `unknown loss type "hinge"`},
		{"unknown reduction", replace(mlpArch, `"mean"`, `"none"`), nil, `unknown loss reduction "none"`},
		{"no layers", `{"input_shape": [3], "layers": [], "loss": {"type": "mse", "reduction": "sum"}}`, nil, "no layers"},
		{"no input shape", `{"layers": [{"type": "tanh"}], "loss": {"type": "mse", "reduction": "sum"}}`, nil, "input_shape is missing"},
		{"zero input dim", replace(mlpArch, `[3]`, `[0]`), nil, "non-positive dimension"},
		{"huge input", replace(mlpArch, `[3]`, `[1000000, 1000000, 1000000]`), nil, "too large"},
		{"one class", replace(replace(mlpArch, `"out": 2`, `"out": 1`), `"in": 4, "out": 2`, `"in": 4, "out": 1`), func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[2].Shape, ts[2].F64 = []int{1, 4}, make([]float64, 4)
			ts[3].Shape, ts[3].F64 = []int{1}, make([]float64, 1)
			return ts
		}, "cross_entropy needs at least 2 outputs"},
		{"missing tensor", mlpArch, func(ts []safetensors.Tensor) []safetensors.Tensor { return ts[:3] }, `tensor "2.bias" is missing`},
		{"extra tensor", mlpArch, func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "5.weight", Shape: []int{1}, F32: []float32{0}})
		}, `tensor "5.weight" is not a parameter of the architecture`},
		{"wrong shape", mlpArch, func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[0].Shape = []int{3, 4}
			return ts
		}, `tensor "0.weight" has shape [3 4], the architecture needs [4 3]`},
		{"integer weights", mlpArch, func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[1].F32, ts[1].I64 = nil, make([]int64, 4)
			return ts
		}, `0.bias`},
		{"NaN weight", mlpArch, func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[2].F64[5] = math.NaN()
			return ts
		}, `tensor "2.weight": non-finite value NaN at flat index 5`},
		{"Inf bias", mlpArch, func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[1].F32[0] = float32(math.Inf(1))
			return ts
		}, `tensor "0.bias": non-finite value +Inf`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := mlpTensors()
			if tc.tensors != nil {
				ts = tc.tensors(ts)
			}
			meta := map[string]string{}
			if tc.arch != "" {
				meta[ArchitectureKey] = tc.arch
			}
			_, err := FromSafetensors(encode(t, ts, meta), nil)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestArchitectureAllocationBounded(t *testing.T) {
	huge := strings.Replace(mlpArch, `"in": 4, "out": 2`, `"in": 4, "out": 200000000`, 1)
	_, err := FromSafetensors(encode(t, mlpTensors(), map[string]string{ArchitectureKey: huge}), nil)
	if err == nil || !strings.Contains(err.Error(), "layer 2 (linear): needs 1000000000 parameters, but only 1048586 of the 1048602 allowed remain: architecture too large (the checkpoint holds 26 values in all)") {
		t.Fatalf("error %v", err)
	}
	overflow := strings.Replace(mlpArch, `"in": 3, "out": 4`, `"in": 3, "out": 268435455`, 1)
	if _, err := ParseAndBuild(overflow); err == nil {
		t.Fatal("a 3×268435455 layer followed by a 4-input layer was accepted")
	}
	a, err := ParseArchitecture([]byte(strings.Replace(mlpArch, `"in": 3, "out": 4`, `"in": 3, "out": 100000000`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.BuildLimited(1000); err == nil || !strings.Contains(err.Error(), "layer 0 (linear): needs 400000000 parameters, but only 1000 of the 1000 allowed remain") {
		t.Fatalf("BuildLimited: %v", err)
	}
}

// ParseAndBuild is a test shorthand.
func ParseAndBuild(arch string) (*model.Network, error) {
	a, err := ParseArchitecture([]byte(arch))
	if err != nil {
		return nil, err
	}
	return a.Build()
}
