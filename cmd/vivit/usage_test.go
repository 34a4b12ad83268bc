package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vivit-go/vivit/npy"
)

// TestErrors checks every usage and input error: exit code 2 for how the
// command was called, 1 for what the files hold, and a one-line message
// on standard error that names the problem.
func TestErrors(t *testing.T) {
	c := load(t, "digits_mlp")
	f := writeCase(t, c)
	dir := f.dir
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notJSON := write("notjson.json", `{"input_shape": [64], "layers": [`)
	unknownLayer := write("conv9d.json", `{"input_shape": [64], "layers": [{"type": "conv9d"}], "loss": {"type": "mse", "reduction": "mean"}}`)
	mismatched := write("small.json", `{"input_shape": [64], "layers": [{"type": "linear", "in": 64, "out": 16}, {"type": "tanh"},
		{"type": "linear", "in": 16, "out": 10}], "loss": {"type": "cross_entropy", "reduction": "mean"}}`)
	legacy, err := os.ReadFile("../../torchpt/testdata/real_tensor_float32_proto2.pt")
	if err != nil {
		t.Fatal(err)
	}
	legacyPT := write("legacy.pt", string(legacy))
	fracTargets := filepath.Join(dir, "frac.npy")
	npy.WriteFile(fracTargets, &npy.Array{Shape: []int{64}, Data: append([]float64{0.5}, make([]float64, 63)...)})
	shortInputs := filepath.Join(dir, "short.npy")
	npy.WriteFile(shortInputs, &npy.Array{Shape: []int{64, 63}, Data: make([]float64, 64*63)})
	model, batch := c.Model(), c.Batch()
	m := []string{"--model", model, "--data", batch}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		// usage errors
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"eigen", "--bogus"}, 2, "unknown flag --bogus (see 'vivit eigen --help')"},
		{[]string{"spectrum", "-bogus=1"}, 2, "unknown flag --bogus"},
		{[]string{"eigen", "--k", "x"}, 2, `invalid value "x" for flag --k`},
		{[]string{"eigen", "--k", "0"}, 2, "--k must be at least 1, got 0"},
		{[]string{"directional", "--k", "-3"}, 2, "--k must be at least 1, got -3"},
		{[]string{"eigen", "--format", "xml"}, 2, `--format must be table, json or csv, got "xml"`},
		{[]string{"inspect", "--format", "csv"}, 2, `--format must be table or json, got "csv"`},
		{[]string{"inspect", "--mc", "1"}, 2, "unknown flag --mc"},
		{[]string{"eigen", "--model", model}, 2, "--model needs a batch: --data FILE, or --inputs X.npy --targets Y.npy"},
		{[]string{"stats", "--data", batch}, 2, "a batch (--data or --inputs) needs --model"},
		{[]string{"eigen", "--model", model, "--data", batch, "--inputs", f.inputsNPY, "--targets", f.targetNPY}, 2, "--data and --inputs/--targets are alternatives"},
		{[]string{"eigen", "--model", model, "--inputs", f.inputsNPY}, 2, "--inputs and --targets go together"},
		{[]string{"spectrum", "--arch", f.arch}, 2, "--arch needs --model"},
		{[]string{"eigen", "--mc", "-1"}, 2, "--mc must be ≥ 0, got -1"},
		{[]string{"eigen", "--seed", "3"}, 2, "--seed needs --mc"},
		{[]string{"eigen", "--groups", "pairs"}, 2, `--groups must be full or layer, got "pairs"`},
		{[]string{"eigen", "--subbatch", "1,x"}, 2, `--subbatch: "x" is not an index or a range FIRST-LAST`},
		{[]string{"eigen", "--subbatch", "1,100000"}, 2, `--subbatch: "100000" is out of range for a batch of 128 samples (indices 0 to 127)`},
		{[]string{"eigen", "--subbatch", "120-128"}, 2, `--subbatch: "120-128" is out of range for a batch of 128 samples`},
		{[]string{"eigen", "--subbatch", "9-3"}, 2, `--subbatch: range "9-3" ends before it starts`},
		{[]string{"eigen", "--subbatch", "-3"}, 2, `--subbatch: "-3" is not an index or a range FIRST-LAST`},
		{[]string{"eigen", "--subbatch", "0-3,2"}, 2, "--subbatch: index 2 is repeated"},
		{[]string{"eigen", "--subbatch", "1,1"}, 2, "--subbatch: index 1 is repeated"},
		{[]string{"eigen", "--precision", "float16"}, 2, `--precision: "float16" is not float64 or float32`},
		{[]string{"eigen", "--eigvecs", "v.txt"}, 2, "--eigvecs v.txt: the file name must end in .npy, .safetensors or .pt"},
		{[]string{"eigen", "--groups", "layer", "--eigvecs", "x.npy"}, 2, "with --groups layer write .safetensors or .pt"},
		{[]string{"spectrum", "--plot", "s.jpg"}, 2, "--plot s.jpg: the file name must end in .png"},
		{[]string{"stats", "--precision", "float32"}, 2, "--precision does not apply to stats"},
		{[]string{"stats", "--precision", "float32"}, 2, "--precision does not apply to stats"},
		{[]string{"stats", "--diag-ggn", "d.csv"}, 2, "--diag-ggn d.csv: the file name must end in .npy"},
		{[]string{"eigen", "one", "stray"}, 2, `unexpected argument "stray": the one argument without a flag is the model file`},
		{[]string{"inspect", "--model", model, "again.onnx"}, 2, `the model is given twice, by --model ` + model + ` and as the argument "again.onnx"`},
		{[]string{"eigen", "stray", "--data", batch}, 1, "stray"},
		{[]string{"version", "x"}, 2, `version takes no arguments, got "x"`},
		// input errors
		{[]string{"eigen", "--model", filepath.Join(dir, "missing.safetensors"), "--data", batch}, 1, "missing.safetensors: no such file or directory"},
		{[]string{"eigen", "--model", model, "--data", filepath.Join(dir, "nope.safetensors")}, 1, "nope.safetensors: no such file or directory"},
		{[]string{"eigen", "--model", model, "--inputs", filepath.Join(dir, "nope.npy"), "--targets", f.targetNPY}, 1, "nope.npy: no such file or directory"},
		{[]string{"eigen", "--model", f.plain, "--arch", filepath.Join(dir, "nope.json"), "--data", batch}, 1, "nope.json: no such file or directory"},
		{[]string{"eigen", "--model", f.plain, "--arch", notJSON, "--data", batch}, 1, "notjson.json: architecture: invalid JSON"},
		{[]string{"eigen", "--model", f.plain, "--arch", unknownLayer, "--data", batch}, 1, `architecture: layer 0: unknown type "conv9d" (supported: `},
		{[]string{"eigen", "--model", f.pt, "--arch", mismatched, "--data", batch}, 1, `model.pt with --arch ` + mismatched + `: tensor "0.weight" has shape [32 64], the architecture needs [16 64]`},
		{[]string{"eigen", "--model", f.pt, "--data", batch}, 1, "model.pt: a PyTorch state_dict holds no architecture: pass --arch FILE.json"},
		{[]string{"eigen", "--model", f.plain, "--data", batch}, 1, `plain.safetensors: no "architecture" in the safetensors metadata: pass --arch FILE.json`},
		{[]string{"eigen", "--model", legacyPT, "--arch", f.arch, "--data", batch}, 1, "legacy PyTorch serialization (torch < 1.6 or _use_new_zipfile_serialization=False) is not supported"},
		{[]string{"eigen", "--model", model, "--data", model}, 1, `no tensor "inputs"`},
		{[]string{"eigen", "--model", model, "--inputs", f.inputsNPY, "--targets", fracTargets}, 1, "element 0 of <f8 is 0.5, not an integer"},
		{[]string{"eigen", "--model", model, "--inputs", shortInputs, "--targets", f.targetNPY}, 1, `tensor "inputs" has shape [64 63], the network needs [N 64]`},
		{[]string{"eigen", "--model", model, "--inputs", f.targetNPY, "--targets", f.targetNPY}, 1, `tensor "inputs" has shape [64], the network needs [N 64]`},
		{append([]string{"eigen", "--out", filepath.Join(dir, "no", "such", "dir.txt")}, m...), 1, "no such file or directory"},
		// the library's refusal, under the command's one prefix
		{append([]string{"eigen", "--memory", "1KiB"}, m...), 1, "vivit: TopEigen (chunked, with a"},
	} {
		r := cli(t, "", tc.args...)
		lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
		if r.code != tc.code || len(lines) != 1 || !strings.HasPrefix(lines[0], "vivit: ") || !strings.Contains(lines[0], tc.msg) {
			t.Errorf("%v:\n exit %d, stderr %q\n want exit %d and one line containing %q", tc.args, r.code, r.stderr, tc.code, tc.msg)
		}
		if r.stdout != "" {
			t.Errorf("%v: stdout %q", tc.args, r.stdout)
		}
	}
	// No command at all: the usage, exit 2.
	if r := cli(t, ""); r.code != 2 || !strings.HasPrefix(r.stderr, "vivit: curvature") {
		t.Errorf("no arguments: exit %d, stderr %q", r.code, r.stderr)
	}
}
