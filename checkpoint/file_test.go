package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vivit-go/vivit/npy"
	"github.com/vivit-go/vivit/safetensors"
	"github.com/vivit-go/vivit/torchpt"
)

// TestOpenFormats reads one checkpoint as safetensors (with and without
// the architecture) and as a PyTorch state_dict, and checks the errors
// of files without an architecture and of other formats.
func TestOpenFormats(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	ts := mlpTensors()
	for i := range ts[0].F32 {
		ts[0].F32[i] = float32(i) / 4
	}
	var pts []torchpt.Tensor
	for _, s := range ts {
		pts = append(pts, torchpt.Tensor{Name: s.Name, Shape: s.Shape, F32: s.F32, F64: s.F64})
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(safetensors.WriteFile(p("meta.safetensors"), ts, map[string]string{ArchitectureKey: mlpArch}))
	must(safetensors.WriteFile(p("plain.safetensors"), ts, nil))
	must(torchpt.WriteFile(p("sd.pt"), pts))
	must(os.WriteFile(p("arch.json"), []byte(mlpArch), 0o644))
	must(npy.WriteFile(p("x.npy"), &npy.Array{Shape: []int{1}, Data: []float64{1}}))
	arch, err := ReadArchitecture(p("arch.json"))
	must(err)

	ref, err := Load(p("meta.safetensors"), nil)
	must(err)
	for _, tc := range []struct {
		path, format string
		arch         *Architecture
	}{
		{p("meta.safetensors"), Safetensors, arch},
		{p("plain.safetensors"), Safetensors, arch},
		{p("sd.pt"), PyTorch, arch},
	} {
		f, err := Open(tc.path)
		must(err)
		if f.Format != tc.format || f.Path != tc.path || len(f.DTypes) != 4 {
			t.Errorf("%s: format %s, path %s, dtypes %v", tc.path, f.Format, f.Path, f.DTypes)
		}
		if !slices.Equal(f.Tensors.Names(), []string{"0.weight", "0.bias", "2.weight", "2.bias"}) {
			t.Errorf("%s: tensors %v, want state_dict order", tc.path, f.Tensors.Names())
		}
		net, err := f.Network(tc.arch)
		must(err)
		for i, q := range net.Params() {
			if !slices.Equal(q.Data, ref.Params()[i].Data) {
				t.Errorf("%s: %s differs", tc.path, q.Name)
			}
		}
		// Without an architecture, only the file with metadata builds.
		_, err = f.Network(nil)
		if got := err == nil; got != (tc.path == p("meta.safetensors")) {
			t.Errorf("%s: Network(nil): %v", tc.path, err)
		}
		if err != nil && !errors.Is(err, ErrNoArchitecture) {
			t.Errorf("%s: %v does not match ErrNoArchitecture", tc.path, err)
		}
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errOf(Load(p("sd.pt"), nil)), p("sd.pt") + ": a PyTorch state_dict holds no architecture; give the architecture JSON"},
		{errOf(Load(p("plain.safetensors"), nil)), p("plain.safetensors") + `: no "architecture" in the safetensors metadata`},
		{errOf(Load(p("x.npy"), nil)), p("x.npy") + ": a NumPy .npy array, not a checkpoint (expected a .safetensors file, or a .pt file holding a state_dict)"},
		{errOf(Load(p("m.onnx"), nil)), p("m.onnx") + ": an ONNX model, not a checkpoint"},
		{errOf(ReadArchitecture(p("x.npy"))), p("x.npy") + ": architecture: invalid JSON"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", tc.err, tc.want)
		}
	}
	if !arch.Equal(ref0(t)) || arch.Equal(&Architecture{}) {
		t.Error("Architecture.Equal")
	}
}

func errOf[T any](_ T, err error) error { return err }

func ref0(t *testing.T) *Architecture {
	a, err := ParseArchitecture([]byte(strings.ReplaceAll(mlpArch, ", ", ",  ")))
	if err != nil {
		t.Fatal(err)
	}
	return a
}
