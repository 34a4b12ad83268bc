package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vivit-go/vivit/example"
	"github.com/vivit-go/vivit/safetensors"
)

// TestArchitectureByHand covers what trips users who describe a network
// by hand: PyTorch's names and letter case are accepted, a wrong layer
// size is reported once with no misleading hint, a DataParallel prefix is
// recognised, and every computing command prints the batch loss.
func TestArchitectureByHand(t *testing.T) {
	dir := docsDir(t)
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const loss = `"loss": {"type": "cross_entropy", "reduction": "mean"}}`
	write("torch.json", `{"input_shape": [64], "layers": [{"type": "Linear", "in_features": 64, "out_features": 32},
		{"type": "Tanh"}, {"type": "LINEAR", "in_features": 32, "out_features": 10}], `+loss)
	write("wrong.json", `{"input_shape": [64], "layers": [{"type": "linear", "in": 64, "out": 32},
		{"type": "tanh"}, {"type": "linear", "in": 30, "out": 10}], `+loss)
	r := ok(t, dir, "inspect", "--model", "model.pt", "--arch", "torch.json", "--data", "batch.safetensors")
	if !strings.Contains(r.stdout, "loss 0.328339") || !strings.Contains(r.stdout, "0.weight [32 64]") {
		t.Errorf("inspect with PyTorch names:\n%s", r.stdout)
	}
	r = cli(t, dir, "inspect", "--model", "model.pt", "--arch", "wrong.json")
	if r.code != 1 || !strings.Contains(r.stdout, "  - layer 2 (linear): expects input of shape [30], but the previous layer gives [32]\n") ||
		strings.Contains(r.stdout, "flatten") || strings.Count(r.stdout, "layer 2 (linear)") != 1 {
		t.Errorf("inspect with a wrong size: exit %d\n%s", r.code, r.stdout)
	}
	// A DataParallel state_dict: every name prefixed with "module.".
	mf, err := safetensors.Parse(example.ModelFile())
	if err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.Tensor
	for _, name := range mf.Names() {
		v, shape := float32s(t, mf, name)
		ts = append(ts, safetensors.Tensor{Name: "module." + name, Shape: shape, F32: v})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "dp.safetensors"), ts, mf.Metadata); err != nil {
		t.Fatal(err)
	}
	r = cli(t, dir, "inspect", "--model", "dp.safetensors")
	if r.code != 1 || !strings.Contains(r.stdout, `every tensor name carries the prefix "module."`) {
		t.Errorf("inspect of a DataParallel state_dict: exit %d\n%s", r.code, r.stdout)
	}
	// The architecture guessed for a checkpoint without one takes the
	// batch's per-sample shape when a batch is given.
	cnn := load(t, "digits_cnn")
	cf, err := safetensors.Open(cnn.Model())
	if err != nil {
		t.Fatal(err)
	}
	ts = nil
	for _, name := range cf.Names() {
		v, shape := float32s(t, cf, name)
		ts = append(ts, safetensors.Tensor{Name: name, Shape: shape, F32: v})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "cnn.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	r = cli(t, dir, "inspect", "--model", "cnn.safetensors", "--data", cnn.Batch())
	if !strings.Contains(r.stdout, `{"input_shape": [1,8,8],`) {
		t.Errorf("guessed architecture with a batch:\n%s", r.stdout)
	}
	// The batch loss, in every computing command's table and JSON.
	for _, args := range [][]string{{"eigen", "--k", "2"}, {"spectrum"}, {"directional", "--k", "2"}, {"stats"}, {"newton", "--k", "2"},
		{"bench", "--k", "2", "--mc", "1", "--seeds", "1"}} {
		if r := ok(t, dir, args...); !strings.Contains(r.stdout, "loss 0.328339") && !strings.Contains(r.stdout, "batch loss 0.328339") {
			t.Errorf("%v: no batch loss in\n%s", args, r.stdout)
		}
		r := ok(t, dir, append(args, "--format", "json")...)
		var got struct {
			Loss *float64 `json:"loss"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Loss == nil || !(*got.Loss > 0.3283 && *got.Loss < 0.3284) {
			t.Errorf("%v --format json: loss %v (%v)", args, got.Loss, err)
		}
	}
	// The eigenvalue index is "k" in every CSV.
	if r := ok(t, dir, "spectrum", "--format", "csv"); !strings.HasPrefix(r.stdout, "group,k,eigenvalue\n") {
		t.Errorf("spectrum csv header: %q", strings.SplitN(r.stdout, "\n", 2)[0])
	}
}
