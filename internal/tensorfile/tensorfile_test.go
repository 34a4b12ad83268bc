package tensorfile

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vivit-go/vivit/npy"
	"github.com/vivit-go/vivit/safetensors"
	"github.com/vivit-go/vivit/torchpt"
)

// TestDetect checks that the content decides over the name, and the
// name when the content cannot.
func TestDetect(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	ts := []safetensors.Tensor{{Name: "a", Shape: []int{2}, F64: []float64{1, 2}}}
	for _, name := range []string{"s.safetensors", "s.pt", "s.npy", "s.bin"} {
		if err := safetensors.WriteFile(p(name), ts, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"t.pt", "t.safetensors", "t"} {
		if err := torchpt.WriteFile(p(name), []torchpt.Tensor{{Name: "a", Shape: []int{2}, F32: []float32{1, 2}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"n.npy", "n.safetensors"} {
		if err := npy.WriteFile(p(name), &npy.Array{Shape: []int{2}, Data: []float64{1, 2}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(p("junk.dat"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Kind{
		"s.safetensors": Safetensors, "s.pt": Safetensors, "s.npy": Safetensors, "s.bin": Safetensors,
		"t.pt": PyTorch, "t.safetensors": PyTorch, "t": PyTorch,
		"n.npy": NPY, "n.safetensors": NPY,
		"junk.dat": Safetensors, "m.ONNX": ONNX,
		"missing.pt": PyTorch, "missing.npy": NPY, "missing.safetensors": Safetensors,
	} {
		if got := Detect(p(name)); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	// Whatever the name, a file of named tensors reads the same.
	for _, name := range []string{"s.pt", "t.safetensors"} {
		f, err := Open(p(name))
		if err != nil {
			t.Fatal(err)
		}
		v, shape, err := f.File.Float64s("a")
		if err != nil || !slices.Equal(v, []float64{1, 2}) || !slices.Equal(shape, []int{2}) {
			t.Errorf("%s: %v %v %v", name, v, shape, err)
		}
	}
	if _, err := Open(p("n.npy")); err == nil || !strings.Contains(err.Error(), "n.npy: a NumPy .npy array, not a file of named tensors") {
		t.Errorf("Open(.npy): %v", err)
	}
	if _, _, err := ReadFloats(p("s.npy")); err == nil || !strings.Contains(err.Error(), "s.npy: a safetensors file; expected one array") {
		t.Errorf("ReadFloats(safetensors): %v", err)
	}
	if _, _, err := ReadInts(p("missing")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("ReadInts(missing): %v", err)
	}
	if v, shape, err := ReadFloats(p("t")); err != nil || !slices.Equal(v, []float64{1, 2}) || !slices.Equal(shape, []int{2}) {
		t.Errorf("ReadFloats(.pt): %v %v %v", v, shape, err)
	}
}
