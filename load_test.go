package vivit_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/checkpoint"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/npy"
	"github.com/vivit-go/vivit/safetensors"
	"github.com/vivit-go/vivit/torchpt"
)

// loadFiles writes the digits_cnn fixture in every format the library
// reads, into a temporary directory.
type loadFiles struct {
	dir                                  string
	model, plain, pt, arch, otherArch    string // checkpoints and architectures
	batch, batchPT, flatBatch, flatPT    string // batch files
	xNPY, xFlatNPY, yNPY, xPT, yPT, onnx string // arrays, and an ONNX model
	archJSON                             string
	n                                    int
	inputs                               []float64
	labels                               []int64
}

func writeLoadFiles(t *testing.T) *loadFiles {
	t.Helper()
	src := filepath.Join("testdata", "fixtures", "digits_cnn")
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	f := &loadFiles{dir: dir, model: filepath.Join(src, "model.safetensors"), plain: p("plain.safetensors"), pt: p("model.pt"),
		arch: p("arch.json"), otherArch: p("other.json"), batch: filepath.Join(src, "batch.safetensors"), batchPT: p("batch.pt"),
		flatBatch: p("flat.safetensors"), flatPT: p("flat.pt"), xNPY: p("X.npy"), xFlatNPY: p("Xflat.npy"), yNPY: p("y.npy"),
		xPT: p("X.pt"), yPT: p("y.pt"), onnx: filepath.Join("testdata", "fixtures", "resmlp_gelu", "model.onnx")}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mf, err := safetensors.Open(f.model)
	must(err)
	f.archJSON = mf.Metadata[checkpoint.ArchitectureKey]
	must(os.WriteFile(f.arch, []byte(f.archJSON), 0o644))
	// The same network with ReLU replaced by tanh: same parameters.
	must(os.WriteFile(f.otherArch, []byte(strings.Replace(f.archJSON, `"relu"`, `"tanh"`, 1)), 0o644))
	var sts []safetensors.Tensor
	var pts []torchpt.Tensor
	for _, name := range mf.Names() {
		v, shape, err := mf.Float64s(name)
		must(err)
		sts = append(sts, safetensors.Tensor{Name: name, Shape: shape, F64: v})
		pts = append(pts, torchpt.Tensor{Name: name, Shape: shape, F64: v})
	}
	must(safetensors.WriteFile(f.plain, sts, nil))
	must(torchpt.WriteFile(f.pt, pts))

	bf, err := safetensors.Open(f.batch)
	must(err)
	x, xs, err := bf.Float64s("inputs")
	must(err)
	y, ys, err := bf.Int64s("targets")
	must(err)
	f.n, f.inputs, f.labels = xs[0], x, y
	flat := []int{xs[0], x2(xs)}
	must(torchpt.WriteFile(f.batchPT, []torchpt.Tensor{{Name: "inputs", Shape: xs, F64: x}, {Name: "targets", Shape: ys, I64: y}}))
	must(safetensors.WriteFile(f.flatBatch, []safetensors.Tensor{{Name: "inputs", Shape: flat, F64: x}, {Name: "targets", Shape: ys, I64: y}}, nil))
	must(torchpt.WriteFile(f.flatPT, []torchpt.Tensor{{Name: "inputs", Shape: flat, F64: x}, {Name: "targets", Shape: ys, I64: y}}))
	must(npy.WriteFile(f.xNPY, &npy.Array{Shape: xs, Data: x}))
	must(npy.WriteFile(f.xFlatNPY, &npy.Array{Shape: flat, Data: x}))
	yf := make([]float64, len(y))
	for i, v := range y {
		yf[i] = float64(v)
	}
	must(npy.WriteFile(f.yNPY, &npy.Array{Shape: ys, Data: yf}))
	must(torchpt.WriteFile(f.xPT, []torchpt.Tensor{{Name: "x", Shape: flat, F64: x}}))
	must(torchpt.WriteFile(f.yPT, []torchpt.Tensor{{Name: "y", Shape: ys, I64: y}}))
	return f
}

// x2 is the number of features per sample of a batch of shape s.
func x2(s []int) int {
	n := 1
	for _, d := range s[1:] {
		n *= d
	}
	return n
}

func sameParams(t *testing.T, what string, a, b *vivit.Model) {
	t.Helper()
	pa, pb := a.Params(), b.Params()
	if len(pa) != len(pb) {
		t.Fatalf("%s: %d parameters, want %d", what, len(pa), len(pb))
	}
	for i := range pa {
		if pa[i].Name != pb[i].Name || !slices.Equal(pa[i].Shape, pb[i].Shape) || !slices.Equal(pa[i].Data, pb[i].Data) {
			t.Errorf("%s: parameter %d is %s %v, want %s %v with the same values", what, i, pa[i].Name, pa[i].Shape, pb[i].Name, pb[i].Shape)
		}
	}
}

// TestLoadModelFormats reads the same network from every checkpoint
// format, and an ONNX model, with and without options.
func TestLoadModelFormats(t *testing.T) {
	f := writeLoadFiles(t)
	ref, err := vivit.LoadModel(f.model)
	if err != nil {
		t.Fatal(err)
	}
	if ref.NumParams() != 4*9+4+640+10 {
		t.Fatalf("%d parameters", ref.NumParams())
	}
	for _, tc := range []struct {
		name string
		path string
		o    *vivit.LoadOptions
	}{
		{"safetensors, metadata", f.model, nil},
		{"safetensors, same --arch", f.model, &vivit.LoadOptions{Arch: f.arch}},
		{"safetensors without metadata", f.plain, &vivit.LoadOptions{Arch: f.arch}},
		{"PyTorch state_dict", f.pt, &vivit.LoadOptions{Arch: f.arch}},
	} {
		var warnings []string
		if tc.o != nil {
			tc.o.Warn = func(m string) { warnings = append(warnings, m) }
		}
		m, err := vivit.LoadModelWith(tc.path, tc.o)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		sameParams(t, tc.name, m, ref)
		if m.Loss != ref.Loss || len(m.Nodes) != len(ref.Nodes) {
			t.Errorf("%s: loss %v and %d nodes, want %v and %d", tc.name, m.Loss, len(m.Nodes), ref.Loss, len(ref.Nodes))
		}
		if len(warnings) != 0 {
			t.Errorf("%s: warnings %q", tc.name, warnings)
		}
	}

	// An architecture that differs from the metadata's replaces it, with a
	// warning.
	var warnings []string
	m, err := vivit.LoadModelWith(f.model, &vivit.LoadOptions{Arch: f.otherArch, Warn: func(m string) { warnings = append(warnings, m) }})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Nodes[1].Op.Type(); got != "tanh" {
		t.Errorf("layer 1 is %s, want the --arch file's tanh", got)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "other.json overrides the different architecture in the metadata of "+f.model) {
		t.Errorf("warnings %q", warnings)
	}

	// The loss option, on a checkpoint and on an ONNX model.
	mse := model.Loss{Kind: model.MSE, Reduction: model.Sum}
	for _, path := range []string{f.model, f.onnx} {
		m, err := vivit.LoadModelWith(path, &vivit.LoadOptions{Loss: &mse})
		if err != nil {
			t.Fatal(err)
		}
		if m.Loss != mse {
			t.Errorf("%s: loss %v, want %v", path, m.Loss, mse)
		}
	}
	om, err := vivit.LoadModel(f.onnx)
	if err != nil {
		t.Fatal(err)
	}
	if om.NumParams() == 0 || om.Loss.Kind != model.CrossEntropy {
		t.Errorf("ONNX model: %d parameters, loss %v", om.NumParams(), om.Loss)
	}
}

// TestLoadModelWrongFiles gives LoadModel files it cannot read as a
// model: every error names the file and says what was expected.
func TestLoadModelWrongFiles(t *testing.T) {
	f := writeLoadFiles(t)
	bad := filepath.Join(f.dir, "bad.json")
	if err := os.WriteFile(bad, []byte(strings.Replace(f.archJSON, `"out": 10`, `"out": 9`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		o    *vivit.LoadOptions
		want []string
	}{
		{"PyTorch without architecture", f.pt, nil, []string{f.pt + ": a PyTorch state_dict holds no architecture", `LoadModelWith(path, &vivit.LoadOptions{Arch: "arch.json"})`}},
		{"safetensors without architecture", f.plain, nil, []string{f.plain + `: no "architecture" in the safetensors metadata`, "LoadModelWith"}},
		{"a batch", f.batch, nil, []string{f.batch + ` holds tensors "inputs" and "targets": it is a batch, not a checkpoint`}},
		{"a batch .pt", f.batchPT, nil, []string{f.batchPT + ` holds tensors "inputs" and "targets": it is a batch, not a checkpoint`}},
		{"a .npy array", f.xNPY, nil, []string{f.xNPY + ": a NumPy .npy array; expected a model (.onnx, or a checkpoint", "LoadBatchArrays"}},
		{"a one-tensor .pt", f.yPT, &vivit.LoadOptions{Arch: f.arch}, []string{f.yPT + " with architecture " + f.arch + `: tensor "y" is not a parameter of the architecture`}},
		{"ONNX with an architecture", f.onnx, &vivit.LoadOptions{Arch: f.arch}, []string{f.onnx + ": an ONNX model describes its own graph; LoadOptions.Arch"}},
		{"wrong architecture", f.pt, &vivit.LoadOptions{Arch: bad}, []string{f.pt + " with architecture " + bad + `: tensor "4.weight" has shape [10 64], the architecture needs [9 64]`}},
		{"missing architecture file", f.pt, &vivit.LoadOptions{Arch: filepath.Join(f.dir, "nope.json")}, []string{"nope.json: no such file or directory"}},
		{"architecture not JSON", f.pt, &vivit.LoadOptions{Arch: f.xNPY}, []string{f.xNPY + ": architecture: invalid JSON"}},
		{"missing model", filepath.Join(f.dir, "nope.safetensors"), nil, []string{"nope.safetensors: no such file or directory"}},
		{"invalid loss", f.model, &vivit.LoadOptions{Loss: &model.Loss{Kind: "hinge", Reduction: model.Mean}}, []string{"LoadOptions.Loss", "hinge"}},
	} {
		_, err := vivit.LoadModelWith(tc.path, tc.o)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, w)
			}
		}
	}
}

// TestLoadBatchFormats reads the same batch from every batch format,
// inputs shaped [N, 1, 8, 8] and flattened to [N, 64].
func TestLoadBatchFormats(t *testing.T) {
	f := writeLoadFiles(t)
	m, err := vivit.LoadModel(f.model)
	if err != nil {
		t.Fatal(err)
	}
	want := mat.NewDense(f.n, 64, f.inputs)
	for _, tc := range []struct {
		name string
		load func() (*vivit.Batch, error)
	}{
		{"safetensors", func() (*vivit.Batch, error) { return vivit.LoadBatch(f.batch, m) }},
		{".pt", func() (*vivit.Batch, error) { return vivit.LoadBatch(f.batchPT, m) }},
		{"flattened safetensors", func() (*vivit.Batch, error) { return vivit.LoadBatch(f.flatBatch, m) }},
		{"flattened .pt", func() (*vivit.Batch, error) { return vivit.LoadBatch(f.flatPT, m) }},
		{".npy arrays", func() (*vivit.Batch, error) { return vivit.LoadBatchArrays(f.xNPY, f.yNPY, m) }},
		{"flattened .npy arrays", func() (*vivit.Batch, error) { return vivit.LoadBatchArrays(f.xFlatNPY, f.yNPY, m) }},
		{".pt arrays", func() (*vivit.Batch, error) { return vivit.LoadBatchArrays(f.xPT, f.yPT, m) }},
	} {
		b, err := tc.load()
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !mat.Equal(b.Inputs, want) {
			t.Errorf("%s: inputs differ from the fixture's", tc.name)
		}
		for i, c := range b.Targets.Classes {
			if int64(c) != f.labels[i] {
				t.Errorf("%s: label %d is %d, want %d", tc.name, i, c, f.labels[i])
				break
			}
		}
		if len(b.Targets.Classes) != f.n {
			t.Errorf("%s: %d labels, want %d", tc.name, len(b.Targets.Classes), f.n)
		}
	}
}

// TestLoadBatchWrongFiles gives LoadBatch and LoadBatchArrays files they
// cannot read: every error names the file and says what was expected.
func TestLoadBatchWrongFiles(t *testing.T) {
	f := writeLoadFiles(t)
	m, err := vivit.LoadModel(f.model)
	if err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(f.dir, "short.npy")
	if err := npy.WriteFile(short, &npy.Array{Shape: []int{31}, Data: make([]float64, 31)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"a .npy array", loadBatch(f.xNPY, m), []string{f.xNPY + ": a NumPy .npy array; expected a batch file (.safetensors, or .pt holding a dict, with tensors \"inputs\" and \"targets\")", "vivit.LoadBatchArrays"}},
		{"a checkpoint", loadBatch(f.model, m), []string{f.model + `: no tensor "inputs"`, "it is a model checkpoint"}},
		{"a state_dict", loadBatch(f.pt, m), []string{f.pt + `: no tensor "inputs"`, `the file holds "0.weight", "0.bias", "4.weight", "4.bias"`}},
		{"an ONNX model", loadBatch(f.onnx, m), []string{f.onnx + ": an ONNX model; expected a batch file"}},
		{"arrays: a batch file", loadArrays(f.batch, f.yNPY, m), []string{f.batch + ": a safetensors file; expected one array (.npy, or .pt holding one tensor"}},
		{"arrays: swapped", loadArrays(f.yNPY, f.xNPY, m), []string{f.yNPY + `: tensor "inputs" has shape [32], the network needs [N 1 8 8] or, flattened, [N 64]`}},
		{"arrays: wrong targets", loadArrays(f.xNPY, short, m), []string{short + `: tensor "targets" has shape [31], cross_entropy needs class indices of shape [32]`}},
		{"arrays: fractional labels", loadArrays(f.xNPY, f.xFlatNPY, m), []string{f.xFlatNPY + ": npy: not an integer array"}},
	} {
		for _, w := range tc.want {
			if tc.err == nil || !strings.Contains(tc.err.Error(), w) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, tc.err, w)
			}
		}
	}
}

func loadBatch(path string, m *vivit.Model) error {
	_, err := vivit.LoadBatch(path, m)
	return err
}

func loadArrays(x, y string, m *vivit.Model) error {
	_, err := vivit.LoadBatchArrays(x, y, m)
	return err
}

// TestLoadModelRename reads a state_dict saved from nn.DataParallel (every
// name prefixed with "module.") by renaming its tensors, and checks the
// refusals: a rule that renames nothing, two tensors renamed to one name,
// and a rule on an ONNX model.
func TestLoadModelRename(t *testing.T) {
	f := writeLoadFiles(t)
	want, err := vivit.LoadModel(f.model)
	if err != nil {
		t.Fatal(err)
	}
	mf, err := safetensors.Open(f.model)
	if err != nil {
		t.Fatal(err)
	}
	var pts []torchpt.Tensor
	for _, name := range mf.Names() {
		v, shape, err := mf.Float64s(name)
		if err != nil {
			t.Fatal(err)
		}
		pts = append(pts, torchpt.Tensor{Name: "module." + name, Shape: shape, F64: v})
	}
	dp := filepath.Join(f.dir, "dataparallel.pt")
	if err := torchpt.WriteFile(dp, pts); err != nil {
		t.Fatal(err)
	}
	if _, err := vivit.LoadModelWith(dp, &vivit.LoadOptions{Arch: f.arch}); err == nil || !strings.Contains(err.Error(), "module.") {
		t.Errorf("without a rename: err = %v, want it to name the prefixed tensors", err)
	}
	got, err := vivit.LoadModelWith(dp, &vivit.LoadOptions{Arch: f.arch, Rename: []vivit.Rename{{Old: "module.", New: ""}}})
	if err != nil {
		t.Fatal(err)
	}
	sameParams(t, "renamed", got, want)
	for _, c := range []struct {
		rules []vivit.Rename
		want  string
	}{
		{[]vivit.Rename{{Old: "module.", New: ""}, {Old: "backbone.", New: ""}}, `rename backbone.=: no tensor name starts with "backbone."`},
		{[]vivit.Rename{{Old: "module.0.", New: "x."}, {Old: "module.4.", New: "x."}}, "renaming gives"},
	} {
		if _, err := vivit.LoadModelWith(dp, &vivit.LoadOptions{Arch: f.arch, Rename: c.rules}); err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), dp) {
			t.Errorf("rules %v: err = %v, want it to start with the path and contain %q", c.rules, err, c.want)
		}
	}
	if _, err := vivit.LoadModelWith(f.onnx, &vivit.LoadOptions{Rename: []vivit.Rename{{Old: "a", New: "b"}}}); err == nil || !strings.Contains(err.Error(), "Rename") {
		t.Errorf("ONNX with a rename: err = %v", err)
	}
	for _, s := range []string{"module.=", "a=b=c", "=x", "noequals"} {
		r, err := checkpoint.ParseRename(s)
		switch s {
		case "module.=":
			if err != nil || r != (vivit.Rename{Old: "module.", New: ""}) {
				t.Errorf("ParseRename(%q) = %v, %v", s, r, err)
			}
		case "a=b=c":
			if err != nil || r != (vivit.Rename{Old: "a", New: "b=c"}) {
				t.Errorf("ParseRename(%q) = %v, %v", s, r, err)
			}
		default:
			if err == nil {
				t.Errorf("ParseRename(%q) accepted", s)
			}
		}
	}
}
