package batch

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/checkpoint"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/npy"
	"github.com/vivit-go/vivit/safetensors"
	"github.com/vivit-go/vivit/torchpt"
)

const mlpArch = `{"input_shape": [3], "layers": [{"type": "linear", "in": 3, "out": 4, "bias": true}, {"type": "tanh"}, {"type": "linear", "in": 4, "out": 2, "bias": true}], "loss": {"type": "cross_entropy", "reduction": "mean"}}`

// imageArch takes [1, 2, 2] images, to check flattened inputs.
const imageArch = `{"input_shape": [1, 2, 2], "layers": [{"type": "flatten"}, {"type": "linear", "in": 4, "out": 3}], "loss": {"type": "cross_entropy", "reduction": "sum"}}`

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

// network builds the untrained network of an architecture JSON.
func network(t *testing.T, arch string) *model.Network {
	t.Helper()
	a, err := checkpoint.ParseArchitecture([]byte(arch))
	if err != nil {
		t.Fatal(err)
	}
	net, err := a.Build()
	if err != nil {
		t.Fatal(err)
	}
	return net
}

func TestBatchErrors(t *testing.T) {
	net, err := checkpoint.FromSafetensors(encode(t, mlpTensors(), map[string]string{checkpoint.ArchitectureKey: mlpArch}), nil)
	if err != nil {
		t.Fatal(err)
	}
	x := safetensors.Tensor{Name: "inputs", Shape: []int{2, 3}, F32: make([]float32, 6)}
	y := safetensors.Tensor{Name: "targets", Shape: []int{2}, I64: []int64{0, 1}}
	for _, tc := range []struct {
		name string
		ts   func() []safetensors.Tensor
		want string
	}{
		{"ok", func() []safetensors.Tensor { return []safetensors.Tensor{x, y} }, ""},
		{"no inputs", func() []safetensors.Tensor { return []safetensors.Tensor{y} }, `no tensor "inputs"`},
		{"no targets", func() []safetensors.Tensor { return []safetensors.Tensor{x} }, `no tensor "targets"`},
		{"wrong width", func() []safetensors.Tensor {
			return []safetensors.Tensor{{Name: "inputs", Shape: []int{2, 4}, F32: make([]float32, 8)}, y}
		}, `tensor "inputs" has shape [2 4], the network needs [N 3]`},
		{"label out of range", func() []safetensors.Tensor {
			return []safetensors.Tensor{x, {Name: "targets", Shape: []int{2}, I64: []int64{0, 2}}}
		}, "label 2 of sample 1 is out of range [0, 2)"},
		{"negative label", func() []safetensors.Tensor {
			return []safetensors.Tensor{x, {Name: "targets", Shape: []int{2}, I64: []int64{-1, 0}}}
		}, "label -1 of sample 0 is out of range"},
		{"label count", func() []safetensors.Tensor {
			return []safetensors.Tensor{x, {Name: "targets", Shape: []int{3}, I64: []int64{0, 1, 1}}}
		}, `tensor "targets" has shape [3], cross_entropy needs class indices of shape [2]`},
		{"float labels", func() []safetensors.Tensor {
			return []safetensors.Tensor{x, {Name: "targets", Shape: []int{2}, F32: []float32{0, 1}}}
		}, `tensor "targets" is F32 [2]: cross_entropy needs integer class indices [N], not floats (mse's targets`},
		{"NaN input", func() []safetensors.Tensor {
			bad := safetensors.Tensor{Name: "inputs", Shape: []int{2, 3}, F64: []float64{0, 0, 0, 0, math.NaN(), 0}}
			return []safetensors.Tensor{bad, y}
		}, `tensor "inputs": non-finite value NaN in sample 1`},
		{"empty batch", func() []safetensors.Tensor {
			return []safetensors.Tensor{{Name: "inputs", Shape: []int{0, 3}, F32: []float32{}}, {Name: "targets", Shape: []int{0}, I64: []int64{}}}
		}, "no samples"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromSafetensors(encode(t, tc.ts(), nil), net)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestMSEBatchErrors(t *testing.T) {
	arch := strings.Replace(mlpArch, `"cross_entropy"`, `"mse"`, 1)
	net, err := checkpoint.FromSafetensors(encode(t, mlpTensors(), map[string]string{checkpoint.ArchitectureKey: arch}), nil)
	if err != nil {
		t.Fatal(err)
	}
	x := safetensors.Tensor{Name: "inputs", Shape: []int{2, 3}, F32: make([]float32, 6)}
	for _, tc := range []struct {
		y    safetensors.Tensor
		want string
	}{
		{safetensors.Tensor{Name: "targets", Shape: []int{2, 2}, F64: []float64{1, 2, 3, 4}}, ""},
		{safetensors.Tensor{Name: "targets", Shape: []int{2}, I64: []int64{0, 1}}, `tensor "targets" is I64 [2]: mse needs float targets [N, C], not integers (cross_entropy's class indices`},
		{safetensors.Tensor{Name: "targets", Shape: []int{2, 3}, F64: make([]float64, 6)}, `tensor "targets" has shape [2 3], mse needs [2 2]`},
		{safetensors.Tensor{Name: "targets", Shape: []int{2, 2}, F64: []float64{1, math.Inf(-1), 3, 4}}, "non-finite value -Inf at [0, 1]"},
	} {
		_, err := FromSafetensors(encode(t, []safetensors.Tensor{x, tc.y}, nil), net)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("unexpected error: %v", err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
}

// images returns n samples of imageArch's [1, 2, 2] inputs, and labels.
func images(n int) ([]float64, []int64) {
	x := make([]float64, 4*n)
	for i := range x {
		x[i] = float64(i%7) - 2.5
	}
	y := make([]int64, n)
	for i := range y {
		y[i] = int64(i % 3)
	}
	return x, y
}

func f32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// TestEveryFormat reads one batch from every format, inputs shaped as the
// network's input_shape and flattened per sample, and checks that each
// gives the same batch.
func TestEveryFormat(t *testing.T) {
	dir := t.TempDir()
	net := network(t, imageArch)
	const n = 5
	x, y := images(n)
	want := mat.NewDense(n, 4, x)
	path := func(name string) string { return filepath.Join(dir, name) }
	write := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, shape := range [][]int{{n, 1, 2, 2}, {n, 4}} {
		tag := "full"
		if len(shape) == 2 {
			tag = "flat"
		}
		write(safetensors.WriteFile(path(tag+".safetensors"), []safetensors.Tensor{
			{Name: "inputs", Shape: shape, F32: f32s(x)}, {Name: "targets", Shape: []int{n}, I64: y}}, nil))
		write(torchpt.WriteFile(path(tag+".pt"), []torchpt.Tensor{
			{Name: "inputs", Shape: shape, F64: x}, {Name: "targets", Shape: []int{n}, I64: y}}))
		write(npy.WriteFile(path(tag+"-X.npy"), &npy.Array{Shape: shape, Data: x}))
		write(torchpt.WriteFile(path(tag+"-X.pt"), []torchpt.Tensor{{Name: "x", Shape: shape, F32: f32s(x)}}))
	}
	yf := make([]float64, n)
	for i, v := range y {
		yf[i] = float64(v)
	}
	write(npy.WriteFile(path("y.npy"), &npy.Array{Shape: []int{n}, Data: yf}))
	write(torchpt.WriteFile(path("y.pt"), []torchpt.Tensor{{Name: "y", Shape: []int{n}, I64: y}}))
	for _, tag := range []string{"full", "flat"} {
		for _, tc := range []struct {
			name string
			load func() (*model.Batch, error)
		}{
			{tag + ".safetensors", func() (*model.Batch, error) { return Load(path(tag+".safetensors"), net) }},
			{tag + ".pt", func() (*model.Batch, error) { return Load(path(tag+".pt"), net) }},
			{tag + "-X.npy y.npy", func() (*model.Batch, error) { return LoadArrays(path(tag+"-X.npy"), path("y.npy"), net) }},
			{tag + "-X.pt y.pt", func() (*model.Batch, error) { return LoadArrays(path(tag+"-X.pt"), path("y.pt"), net) }},
			{tag + "-X.npy y.pt", func() (*model.Batch, error) { return LoadArrays(path(tag+"-X.npy"), path("y.pt"), net) }},
		} {
			b, err := tc.load()
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if !mat.Equal(b.Inputs, want) {
				t.Errorf("%s: inputs\n%v\nwant\n%v", tc.name, mat.Formatted(b.Inputs), mat.Formatted(want))
			}
			for i, c := range b.Targets.Classes {
				if int64(c) != y[i] {
					t.Errorf("%s: label %d is %d, want %d", tc.name, i, c, y[i])
				}
			}
			if len(b.Targets.Classes) != n {
				t.Errorf("%s: %d labels, want %d", tc.name, len(b.Targets.Classes), n)
			}
			if err := b.Check(net); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
	}
}

// TestNewShapes checks which input shapes New accepts.
func TestNewShapes(t *testing.T) {
	img := network(t, imageArch)
	x, y := images(2)
	for _, tc := range []struct {
		shape []int
		want  string
	}{
		{[]int{2, 1, 2, 2}, ""},
		{[]int{2, 4}, ""},
		{[]int{2, 2, 2}, `tensor "inputs" has shape [2 2 2], the network needs [N 1 2 2] or, flattened, [N 4]`},
		{[]int{1, 8}, `tensor "inputs" has shape [1 8], the network needs [N 1 2 2] or, flattened, [N 4]`},
		{[]int{8}, `tensor "inputs" has shape [8], the network needs [N 1 2 2]`},
		{[]int{}, `tensor "inputs" has shape [], the network needs`},
	} {
		_, err := New(img, x, tc.shape, y, nil, []int{2})
		check(t, err, tc.want)
	}
	// One feature per sample: [N] and [N, 1] are both accepted.
	one := network(t, `{"input_shape": [1], "layers": [{"type": "linear", "in": 1, "out": 2}], "loss": {"type": "mse", "reduction": "mean"}}`)
	for _, shape := range [][]int{{3}, {3, 1}} {
		b, err := New(one, []float64{1, 2, 3}, shape, nil, make([]float64, 6), []int{3, 2})
		check(t, err, "")
		if err == nil && b.Len() != 3 {
			t.Errorf("%v: %d samples, want 3", shape, b.Len())
		}
	}
}

func check(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("error %v, want one containing %q", err, want)
	}
}

// TestWrongFiles gives each reader the files it does not read: every
// error names the file and says what was expected.
func TestWrongFiles(t *testing.T) {
	dir := t.TempDir()
	net := network(t, mlpArch)
	path := func(name string) string { return filepath.Join(dir, name) }
	x := []float64{1, 2, 3, 4, 5, 6}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(npy.WriteFile(path("X.npy"), &npy.Array{Shape: []int{2, 3}, Data: x}))
	must(npy.WriteFile(path("y.npy"), &npy.Array{Shape: []int{2}, Data: []float64{0, 1}}))
	must(npy.WriteFile(path("y3.npy"), &npy.Array{Shape: []int{3}, Data: []float64{0, 1, 1}}))
	must(npy.WriteFile(path("X4.npy"), &npy.Array{Shape: []int{2, 4}, Data: make([]float64, 8)}))
	must(torchpt.WriteFile(path("X.pt"), []torchpt.Tensor{{Name: "x", Shape: []int{2, 3}, F64: x}}))
	must(safetensors.WriteFile(path("model.safetensors"), mlpTensors(), map[string]string{checkpoint.ArchitectureKey: mlpArch}))
	must(torchpt.WriteFile(path("model.pt"), []torchpt.Tensor{{Name: "0.weight", Shape: []int{4, 3}, F32: make([]float32, 12)}, {Name: "0.bias", Shape: []int{4}, F32: make([]float32, 4)}}))
	must(safetensors.WriteFile(path("batch.safetensors"), []safetensors.Tensor{
		{Name: "inputs", Shape: []int{2, 3}, F64: x}, {Name: "targets", Shape: []int{2}, I64: []int64{0, 1}}}, nil))
	must(os.WriteFile(path("net.onnx"), []byte("\x08\x07"), 0o644))
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"Load .npy", load(path("X.npy"), net), []string{path("X.npy") + ": a NumPy .npy array; expected a batch file", "LoadArrays", "--inputs and --targets"}},
		{"Load .onnx", load(path("net.onnx"), net), []string{path("net.onnx") + ": an ONNX model; expected a batch file"}},
		{"Load model.safetensors", load(path("model.safetensors"), net), []string{path("model.safetensors") + `: no tensor "inputs"; expected a batch file`, "it is a model checkpoint"}},
		{"Load model.pt", load(path("model.pt"), net), []string{path("model.pt") + `: no tensor "inputs"`, `the file holds "0.weight", "0.bias"`}},
		{"Load one-tensor .pt", load(path("X.pt"), net), []string{path("X.pt") + `: no tensor "inputs"`, `the file holds "x"; for one array in a file, give the inputs and targets arrays together`}},
		{"Load missing", load(path("nope.safetensors"), net), []string{"nope.safetensors: no such file or directory"}},
		{"LoadArrays batch file", arrays(path("batch.safetensors"), path("y.npy"), net), []string{path("batch.safetensors") + ": a safetensors file; expected one array (.npy, or .pt holding one tensor"}},
		{"LoadArrays .onnx targets", arrays(path("X.npy"), path("net.onnx"), net), []string{path("net.onnx") + ": an ONNX model; expected one array"}},
		{"LoadArrays state_dict", arrays(path("model.pt"), path("y.npy"), net), []string{path("model.pt") + " holds 2 tensors; expected one array"}},
		{"LoadArrays missing", arrays(path("X.npy"), path("nope.npy"), net), []string{"nope.npy: no such file or directory"}},
		{"LoadArrays wrong inputs", arrays(path("X4.npy"), path("y.npy"), net), []string{path("X4.npy") + `: tensor "inputs" has shape [2 4], the network needs [N 3]`}},
		{"LoadArrays wrong targets", arrays(path("X.npy"), path("y3.npy"), net), []string{path("y3.npy") + `: tensor "targets" has shape [3], cross_entropy needs class indices of shape [2]`}},
	} {
		for _, w := range tc.want {
			if tc.err == nil || !strings.Contains(tc.err.Error(), w) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, tc.err, w)
			}
		}
	}
	if _, err := Load(path("batch.safetensors"), net); err != nil {
		t.Errorf("the right file: %v", err)
	}
}

func load(path string, net *model.Network) error {
	_, err := Load(path, net)
	return err
}

func arrays(x, y string, net *model.Network) error {
	_, err := LoadArrays(x, y, net)
	return err
}

// TestNewNonFinite checks that New refuses non-finite inputs.
func TestNewNonFinite(t *testing.T) {
	net := network(t, mlpArch)
	_, err := New(net, []float64{0, 0, 0, 0, math.Inf(1), 0}, []int{2, 3}, []int64{0, 1}, nil, []int{2})
	check(t, err, `tensor "inputs": non-finite value +Inf in sample 1`)
}
