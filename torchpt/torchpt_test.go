package torchpt

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The files in testdata are written by testdata/gen_pt.py, which replays
// torch.save with Python's own pickle, and (real_*.pt) by PyTorch 1.13.1
// itself (from github.com/nlpodyssey/gopickle's test data, BSD 2-clause).

func open(t *testing.T, name string) *File {
	t.Helper()
	f, err := Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func values(tn *Tensor) []float64 {
	switch {
	case tn.F64 != nil:
		return tn.F64
	case tn.F32 != nil:
		v, _ := tn.Float64s()
		return v
	}
	out := make([]float64, len(tn.I64))
	for i, x := range tn.I64 {
		out[i] = float64(x)
	}
	return out
}

func TestStateDict(t *testing.T) {
	f := open(t, "state_dict.pt")
	raw, err := os.ReadFile("testdata/state_dict.json")
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Order   []string
		Tensors map[string][3]json.RawMessage
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Names(), want.Order) {
		t.Fatalf("names %v, want %v", f.Names(), want.Order)
	}
	for _, name := range want.Order {
		var dtype string
		var shape []int
		var vals []float64
		w := want.Tensors[name]
		json.Unmarshal(w[0], &dtype)
		json.Unmarshal(w[1], &shape)
		json.Unmarshal(w[2], &vals)
		tn, ok := f.Lookup(name)
		if !ok {
			t.Fatalf("no tensor %q", name)
		}
		if string(tn.DType) != dtype || !reflect.DeepEqual(tn.Shape, shape) && !(len(shape) == 0 && len(tn.Shape) == 0) {
			t.Errorf("%s: %s %v, want %s %v", name, tn.DType, tn.Shape, dtype, shape)
		}
		got := values(tn)
		if len(got) != len(vals) {
			t.Fatalf("%s: %d values, want %d", name, len(got), len(vals))
		}
		for i, v := range vals {
			if dtype != "float64" && dtype != "int64" {
				v = float64(float32(v))
			}
			if got[i] != v {
				t.Errorf("%s[%d] = %v, want %v", name, i, got[i], v)
			}
		}
	}
	if tn, _ := f.Lookup("long"); tn.I64[3] != 1<<40 {
		t.Errorf("int64 %d, want 2^40", tn.I64[3])
	}
	if _, err := f.Tensors[0].Int64s(); err == nil {
		t.Error("Int64s of a float tensor: no error")
	}
	if tn, _ := f.Lookup("long"); tn != nil {
		if _, err := tn.Float64s(); err == nil {
			t.Error("Float64s of an int tensor: no error")
		}
	}
}

func TestRealTorch(t *testing.T) {
	for _, tc := range []struct {
		file  string
		dtype DType
		want  []float64
	}{
		{"real_tensor_float32_proto2_zip.pt", Float32, []float64{1.2, -3.4, 5.6, -7.8}},
		{"real_tensor_float64_proto5_zip.pt", Float64, []float64{1.2, -3.4, 5.6, -7.8}},
		{"real_tensor_bfloat16_proto2_zip.pt", BFloat16, []float64{1.2, -3.4, 5.6, -7.8}},
		{"real_tensor_int64_proto2_zip.pt", Int64, []float64{1, -2, 3, -4}},
	} {
		f := open(t, tc.file)
		if len(f.Tensors) != 1 || f.Tensors[0].Name != "" || f.Tensors[0].DType != tc.dtype || !reflect.DeepEqual(f.Tensors[0].Shape, []int{4}) {
			t.Fatalf("%s: %+v", tc.file, f.Tensors)
		}
		tol := 0.0
		switch tc.dtype {
		case Float32:
			tol = 1e-6
		case BFloat16:
			tol = 2e-2
		}
		for i, v := range values(&f.Tensors[0]) {
			if !(math.Abs(v-tc.want[i]) <= tol*math.Abs(tc.want[i])) {
				t.Errorf("%s[%d] = %v, want %v", tc.file, i, v, tc.want[i])
			}
		}
	}
}

func TestOtherLayouts(t *testing.T) {
	f := open(t, "bigendian.pt")
	if a, _ := f.Lookup("a"); a == nil || !reflect.DeepEqual(a.F64, []float64{1, -2}) {
		t.Errorf("big-endian float64: %+v", a)
	}
	if b, _ := f.Lookup("b"); b == nil || !reflect.DeepEqual(b.I64, []int64{3, -4}) {
		t.Errorf("big-endian int64: %+v", b)
	}
	f = open(t, "metadata.pt")
	if w, _ := f.Lookup("w"); w == nil || !reflect.DeepEqual(w.F32, []float32{1, 2}) {
		t.Errorf("tensor with metadata: %+v", w)
	}
}

func TestRejected(t *testing.T) {
	for _, tc := range []struct {
		file string
		err  error
		msg  string
	}{
		{"real_tensor_float32_proto2.pt", ErrLegacy, "legacy PyTorch serialization"},
		{"nested.pt", ErrNotStateDict, `entries "model" hold dicts of tensors`},
		{"list.pt", ErrNotStateDict, "holds a list"},
		{"outofrange.pt", ErrFormat, `tensor "bad": view (offset 2, size [2], stride [1]) runs past the end of its storage of 3 elements`},
		{"gen_pt.py", ErrFormat, "not a zip archive"},
	} {
		_, err := Open(filepath.Join("testdata", tc.file))
		if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v; want %v containing %q", tc.file, err, tc.err, tc.msg)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: multi-line error %q", tc.file, err)
		}
	}
}

// archiveWith returns a zip with the given records under "archive/".
func archiveWith(t *testing.T, records map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range []string{"data.pkl", "constants.pkl", "byteorder", "data/0", "version"} {
		data, ok := records[name]
		if !ok {
			continue
		}
		w, err := zw.Create("archive/" + name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func read(b []byte) (*File, error) { return Read(bytes.NewReader(b), int64(len(b))) }

func TestRejectedArchives(t *testing.T) {
	module := "\x80\x02ctorch.nn.modules.container\nSequential\nq\x00)\x81q\x01."
	numpy := "\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x00."
	other := "\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03."
	for _, tc := range []struct {
		records map[string][]byte
		err     error
		msg     string
	}{
		{map[string][]byte{"data.pkl": []byte(module), "constants.pkl": nil}, ErrTorchScript, "TorchScript"},
		{map[string][]byte{"data.pkl": []byte(module)}, ErrNotStateDict, "torch.nn.modules.container.Sequential (torch.save(model)?)"},
		{map[string][]byte{"data.pkl": []byte(numpy)}, ErrNotStateDict, "NumPy"},
		{map[string][]byte{"data.pkl": []byte(other)}, ErrNotStateDict, "os.system"},
		{map[string][]byte{"version": []byte("3\n")}, ErrFormat, "without data.pkl"},
		{map[string][]byte{"data.pkl": []byte("\x80\x02K\x01."), "byteorder": []byte("middle")}, ErrFormat, "byteorder"},
		{map[string][]byte{"data.pkl": []byte("\x80\x02K\x01.")}, ErrNotStateDict, "the integer 1"},
		{map[string][]byte{"data.pkl": []byte("\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x02s.")}, ErrNotStateDict, `"a" is the integer 2`},
		{map[string][]byte{"data.pkl": []byte("\x80\x02}q\x00")}, ErrFormat, "data.pkl"},
	} {
		_, err := read(archiveWith(t, tc.records))
		if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: %v; want %v containing %q", tc.records["data.pkl"], err, tc.err, tc.msg)
		}
	}
}

func sample() []Tensor {
	return []Tensor{
		{Name: "0.weight", Shape: []int{2, 3}, F32: []float32{0.5, -1.0, 2.0, 0.25, 3.0, -0.5}},
		{Name: "0.bias", Shape: []int{2}, F32: []float32{0.1, 0.2}},
		{Name: "2.weight", Shape: []int{2, 2, 2}, F64: []float64{1, 2, 3, 4, 5, 6, 7, 8}},
		{Name: "2.big", Shape: []int{300}, F64: make([]float64, 300)},
		{Name: "count", Shape: []int{}, I64: []int64{-5}},
		{Name: "4.weight", Shape: []int{0, 4, 1, 2}, F32: []float32{}},
	}
}

func record(t *testing.T, b []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			rc, _ := f.Open()
			d, _ := io.ReadAll(rc)
			return d
		}
	}
	t.Fatalf("no record %s", name)
	return nil
}

// TestWriteMatchesPickle checks that Write's data.pkl is byte for byte what
// Python's pickle writes for the same state_dict (testdata/written.pt), and
// that every other record matches too.
func TestWriteMatchesPickle(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, sample()); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/written.pt")
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := zip.NewReader(bytes.NewReader(want), int64(len(want)))
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if g, w := record(t, b.Bytes(), f.Name), record(t, want, f.Name); !bytes.Equal(g, w) {
			t.Errorf("%s: %d bytes differ from Python's %d", f.Name, len(g), len(w))
		}
	}
	gz, _ := zip.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
	var got []string
	for _, f := range gz.File {
		got = append(got, f.Name)
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("records %v, want %v", got, names)
	}
}

func TestRoundTrip(t *testing.T) {
	in := sample()
	var b bytes.Buffer
	if err := Write(&b, in); err != nil {
		t.Fatal(err)
	}
	f, err := read(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for i, tn := range f.Tensors {
		w := in[i]
		if tn.Name != w.Name || tn.NumElements() != w.NumElements() || len(tn.Shape) != len(w.Shape) ||
			!reflect.DeepEqual(values(&tn), values(&w)) {
			t.Errorf("tensor %d: %+v, want %+v", i, tn, w)
		}
	}
	for _, bad := range [][]Tensor{
		{{Name: "a", Shape: []int{2}, F32: []float32{1}}},
		{{Name: "a", Shape: []int{1}}},
		{{Name: "a", Shape: []int{1}, F32: []float32{1}, F64: []float64{1}}},
		{{Name: "a", Shape: []int{1}, F32: []float32{1}}, {Name: "a", Shape: []int{1}, F32: []float32{1}}},
	} {
		if err := Write(io.Discard, bad); err == nil {
			t.Errorf("Write(%+v): no error", bad)
		}
	}
}

func TestSniff(t *testing.T) {
	legacy, _ := os.ReadFile("testdata/real_tensor_float32_proto2.pt")
	zipped, _ := os.ReadFile("testdata/state_dict.pt")
	if Sniff(legacy[:SniffLen]) != Legacy || Sniff(zipped[:SniffLen]) != Zip || Sniff([]byte("{\"a\":")) != Unknown || Sniff(nil) != Unknown {
		t.Error("Sniff")
	}
}

// TestCorrupt truncates and flips bytes of a valid file: errors, never
// panics.
func TestCorrupt(t *testing.T) {
	good, err := os.ReadFile("testdata/state_dict.pt")
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(good); n += 7 {
		read(good[:n])
	}
	pkl := record(t, good, "archive/data.pkl")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		bad := bytes.Clone(pkl)
		for j := 0; j < 1+rng.IntN(3); j++ {
			bad[rng.IntN(len(bad))] = byte(rng.IntN(256))
		}
		if rng.IntN(4) == 0 {
			bad = bad[:rng.IntN(len(bad))]
		}
		f, err := read(archiveWith(t, map[string][]byte{"data.pkl": bad, "data/0": make([]byte, 48)}))
		if err == nil && f == nil {
			t.Fatal("nil file without error")
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, name := range []string{"state_dict.pt", "bigendian.pt", "nested.pt", "real_tensor_float32_proto2_zip.pt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		read(b)
	})
}
