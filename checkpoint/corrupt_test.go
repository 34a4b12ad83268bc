package checkpoint

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vivit-go/vivit/batch"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/safetensors"
)

func fixtureBytes(t *testing.T, name, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", name, file))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// editHeader rewrites the JSON header of a safetensors file, keeping its data.
func editHeader(t *testing.T, data []byte, edit func(h map[string]any)) []byte {
	t.Helper()
	n := binary.LittleEndian.Uint64(data)
	var h map[string]any
	if err := json.Unmarshal(data[8:8+n], &h); err != nil {
		t.Fatal(err)
	}
	edit(h)
	js, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	out = append(out, js...)
	return append(out, data[8+n:]...)
}

// editArch rewrites the architecture JSON in a checkpoint's metadata.
func editArch(t *testing.T, data []byte, edit func(a map[string]any)) []byte {
	return editHeader(t, data, func(h map[string]any) {
		meta := h["__metadata__"].(map[string]any)
		var a map[string]any
		if err := json.Unmarshal([]byte(meta[ArchitectureKey].(string)), &a); err != nil {
			t.Fatal(err)
		}
		edit(a)
		js, _ := json.Marshal(a)
		meta[ArchitectureKey] = string(js)
	})
}

func tensorEntry(h map[string]any, name string) map[string]any { return h[name].(map[string]any) }

// patchData overwrites bytes of the named tensor's data at element i.
func patchFloat32(t *testing.T, data []byte, name string, i int, v float32) []byte {
	t.Helper()
	f, err := safetensors.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.Info(name)
	n := binary.LittleEndian.Uint64(data)
	out := append([]byte(nil), data...)
	binary.LittleEndian.PutUint32(out[8+int64(n)+info.Begin+int64(4*i):], math.Float32bits(v))
	return out
}

func patchInt64(t *testing.T, data []byte, name string, i int, v int64) []byte {
	t.Helper()
	f, err := safetensors.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.Info(name)
	n := binary.LittleEndian.Uint64(data)
	out := append([]byte(nil), data...)
	binary.LittleEndian.PutUint64(out[8+int64(n)+info.Begin+int64(8*i):], uint64(v))
	return out
}

// TestCorruptedRealFiles corrupts the real fixture checkpoint and batch in
// many distinct ways; each must give its own clear error, never a panic.
func TestCorruptedRealFiles(t *testing.T) {
	model := fixtureBytes(t, "digits_mlp", "model.safetensors")
	batch := fixtureBytes(t, "digits_mlp", "batch.safetensors")
	layers := func(a map[string]any) []any { return a["layers"].([]any) }
	for _, tc := range []struct {
		name        string
		model       []byte
		batch       []byte // nil: the real batch
		wantInError string
	}{
		{"empty file", []byte{}, nil, "file too short"},
		{"7 bytes", model[:7], nil, "file too short"},
		{"cut in header", model[:100], nil, "header"},
		{"cut in data", model[:len(model)-10], nil, "data"},
		{"header length huge", append(binary.LittleEndian.AppendUint64(nil, 1<<60), model[8:]...), nil, "header"},
		{"header length past end", append(binary.LittleEndian.AppendUint64(nil, uint64(len(model))), model[8:]...), nil, "header"},
		{"header not JSON", append(append([]byte(nil), model[:8]...), append([]byte("x"), model[9:]...)...), nil, "header"},
		{"trailing bytes", append(append([]byte(nil), model...), 1, 2, 3), nil, "data"},
		{"architecture broken JSON", editHeader(t, model, func(h map[string]any) {
			h["__metadata__"].(map[string]any)[ArchitectureKey] = `{"input_shape": [64], "layers": [`
		}), nil, "architecture: invalid JSON"},
		{"no architecture", editHeader(t, model, func(h map[string]any) { delete(h, "__metadata__") }), nil, `no "architecture"`},
		{"unknown layer type", editArch(t, model, func(a map[string]any) { layers(a)[1].(map[string]any)["type"] = "gelu2" }), nil, `unknown type "gelu2"`},
		{"architecture too narrow", editArch(t, model, func(a map[string]any) { layers(a)[0].(map[string]any)["out"] = 31 }), nil, "layer 2 (linear): expects input of shape [32], but the previous layer gives [31]"},
		{"architecture wider than tensors", editArch(t, model, func(a map[string]any) {
			layers(a)[0].(map[string]any)["out"] = 33
			layers(a)[2].(map[string]any)["in"] = 33
		}), nil, `tensor "0.weight" has shape [32 64], the architecture needs [33 64]`},
		{"bias flag off", editArch(t, model, func(a map[string]any) { layers(a)[2].(map[string]any)["bias"] = false }), nil, `tensor "2.bias" is not a parameter of the architecture`},
		{"unknown loss", editArch(t, model, func(a map[string]any) { a["loss"].(map[string]any)["type"] = "nll" }), nil, `unknown loss type "nll"`},
		{"input shape mismatch", editArch(t, model, func(a map[string]any) { a["input_shape"] = []int{8, 8} }), nil, "add a flatten layer"},
		{"dtype F16", editHeader(t, model, func(h map[string]any) {
			tensorEntry(h, "2.bias")["dtype"] = "F16"
			tensorEntry(h, "2.bias")["shape"] = []int{20}
		}), nil, "2.bias"},
		{"dtype unknown", editHeader(t, model, func(h map[string]any) { tensorEntry(h, "0.bias")["dtype"] = "F99" }), nil, "F99"},
		{"shape does not match bytes", editHeader(t, model, func(h map[string]any) { tensorEntry(h, "0.weight")["shape"] = []int{32, 63} }), nil, "0.weight"},
		{"overlapping offsets", editHeader(t, model, func(h map[string]any) {
			tensorEntry(h, "0.bias")["data_offsets"] = []int{8000, 8128}
		}), nil, "0.bias"},
		{"negative dimension", editHeader(t, model, func(h map[string]any) { tensorEntry(h, "2.bias")["shape"] = []int{-10} }), nil, "2.bias"},
		{"renamed tensor", editHeader(t, model, func(h map[string]any) { h["2.bias2"] = h["2.bias"]; delete(h, "2.bias") }), nil, `"2.bias2" is not a parameter`},
		{"NaN weight", patchFloat32(t, model, "0.weight", 17, float32(math.NaN())), nil, `tensor "0.weight": non-finite value NaN at flat index 17`},
		{"Inf bias", patchFloat32(t, model, "2.bias", 3, float32(math.Inf(-1))), nil, `tensor "2.bias": non-finite value -Inf at flat index 3`},
		{"batch truncated", nil, batch[:len(batch)/2], "data"},
		{"batch empty", nil, []byte{}, "file too short"},
		{"batch without inputs", nil, editHeader(t, batch, func(h map[string]any) { h["x"] = h["inputs"]; delete(h, "inputs") }), `no tensor "inputs"`},
		{"batch without targets", nil, editHeader(t, batch, func(h map[string]any) { h["y"] = h["targets"]; delete(h, "targets") }), `no tensor "targets"`},
		{"label out of range", nil, patchInt64(t, batch, "targets", 5, 10), "label 10 of sample 5 is out of range [0, 10)"},
		{"negative label", nil, patchInt64(t, batch, "targets", 0, -1), "label -1 of sample 0 is out of range"},
		{"NaN input", nil, patchFloat32(t, batch, "inputs", 64*3+5, float32(math.NaN())), `tensor "inputs": non-finite value NaN in sample 3`},
		{"inputs as images", nil, editHeader(t, batch, func(h map[string]any) { tensorEntry(h, "inputs")["shape"] = []int{64, 8, 8} }), `tensor "inputs" has shape [64 8 8], the network needs [N 64]`},
		{"inputs not float", nil, editHeader(t, batch, func(h map[string]any) {
			tensorEntry(h, "inputs")["dtype"] = "I32"
		}), "inputs"},
		{"float labels", nil, editHeader(t, batch, func(h map[string]any) {
			tensorEntry(h, "targets")["dtype"] = "F64"
		}), "targets"},
		{"fewer labels than inputs", nil, editHeader(t, batch, func(h map[string]any) {
			tensorEntry(h, "targets")["shape"] = []int{32, 2}
		}), `tensor "targets" has shape [32 2], cross_entropy needs class indices of shape [64]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.model
			if m == nil {
				m = model
			}
			net, err := loadBytes(m)
			if err == nil && tc.batch != nil {
				_, err = loadBatchBytes(tc.batch, net)
			}
			if testing.Verbose() && err != nil {
				t.Log(err)
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantInError) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantInError)
			}
		})
	}
}

func loadBytes(data []byte) (*model.Network, error) {
	if data == nil {
		return nil, nil
	}
	f, err := safetensors.Parse(data)
	if err != nil {
		return nil, err
	}
	return FromSafetensors(f, nil)
}

func loadBatchBytes(data []byte, net *model.Network) (*model.Batch, error) {
	f, err := safetensors.Parse(data)
	if err != nil {
		return nil, err
	}
	return batch.FromSafetensors(f, net)
}
