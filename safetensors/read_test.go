package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// split returns the header and data buffer of a well-formed file.
func split(t testing.TB, b []byte) (string, []byte) {
	t.Helper()
	n := binary.LittleEndian.Uint64(b)
	return string(b[8 : 8+n]), b[8+n:]
}

// build assembles a file from a header and a data buffer.
func build(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func TestParseModel(t *testing.T) {
	f, err := Open(filepath.Join("testdata", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	want := []TensorInfo{
		{"0.weight", F32, []int{16, 5}, 0, 320},
		{"0.bias", F32, []int{16}, 320, 384},
		{"2.weight", F32, []int{16, 16}, 384, 1408},
		{"2.bias", F32, []int{16}, 1408, 1472},
		{"4.weight", F32, []int{3, 16}, 1472, 1664},
		{"4.bias", F32, []int{3}, 1664, 1676},
	}
	if len(f.Tensors) != len(want) {
		t.Fatalf("got %d tensors, want %d", len(f.Tensors), len(want))
	}
	for i, w := range want {
		got := f.Tensors[i]
		if got.Name != w.Name || got.DType != w.DType || !slices.Equal(got.Shape, w.Shape) || got.Begin != w.Begin || got.End != w.End {
			t.Errorf("tensor %d = %+v, want %+v", i, got, w)
		}
		info, ok := f.Info(w.Name)
		if !ok || info.Name != w.Name || !slices.Equal(info.Shape, w.Shape) {
			t.Errorf("Info(%q) = %+v, %t", w.Name, info, ok)
		}
		v, shape, err := f.Float64s(w.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(shape, w.Shape) || len(v) != w.NumElements() {
			t.Errorf("Float64s(%q): %d values of shape %v", w.Name, len(v), shape)
		}
		for _, x := range v {
			if float64(float32(x)) != x || math.IsNaN(x) || !(math.Abs(x) <= 100) {
				t.Errorf("Float64s(%q): implausible weight %v", w.Name, x)
				break
			}
		}
	}
	if got := f.Names(); !slices.Equal(got, []string{"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"}) {
		t.Errorf("Names() = %q", got)
	}
	var arch struct {
		InputShape []int            `json:"input_shape"`
		Layers     []map[string]any `json:"layers"`
	}
	if err := json.Unmarshal([]byte(f.Metadata["architecture"]), &arch); err != nil {
		t.Fatalf("metadata architecture: %v", err)
	}
	if !slices.Equal(arch.InputShape, []int{5}) || len(arch.Layers) != 5 {
		t.Errorf("architecture = %+v", arch)
	}
	if _, ok := f.Info("1.weight"); ok {
		t.Error("Info found a tensor that does not exist")
	}
	if _, _, err := f.Int64s("0.weight"); !errors.Is(err, ErrDType) || !strings.Contains(err.Error(), `tensor "0.weight": unsupported dtype: dtype F32 cannot be read as int64`) {
		t.Errorf("Int64s of F32: %v", err)
	}
	if _, _, err := f.Float64s("nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Float64s of missing tensor: %v", err)
	}
}

func TestParseBatch(t *testing.T) {
	f, err := Parse(readTestdata(t, "digits_batch.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata != nil {
		t.Errorf("Metadata = %v, want nil", f.Metadata)
	}
	x, xs, err := f.Float64s("inputs")
	if err != nil || !slices.Equal(xs, []int{32, 1, 8, 8}) || len(x) != 32*64 {
		t.Fatalf("inputs: %d values, shape %v, %v", len(x), xs, err)
	}
	y, ys, err := f.Int64s("targets")
	if err != nil || !slices.Equal(ys, []int{32}) {
		t.Fatalf("targets: shape %v, %v", ys, err)
	}
	for i, c := range y {
		if c < 0 || c > 9 {
			t.Errorf("targets[%d] = %d, not a digit", i, c)
		}
	}
	if _, _, err := f.Float64s("targets"); !errors.Is(err, ErrDType) || !strings.Contains(err.Error(), "I64 cannot be read as float64") {
		t.Errorf("Float64s of I64: %v", err)
	}
}

// TestFixtures reads every reference fixture of the module and checks it
// against its expected.json.
func TestFixtures(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("..", "testdata", "fixtures", "*", "expected.json"))
	if len(dirs) == 0 {
		t.Skip("no fixtures in ../testdata/fixtures")
	}
	for _, exp := range dirs {
		dir := filepath.Dir(exp)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var e struct {
				BatchSize   int `json:"batch_size"`
				NumOutputs  int `json:"num_outputs"`
				ParamLayout []struct {
					Name  string `json:"name"`
					Shape []int  `json:"shape"`
				} `json:"param_layout"`
				LossSpec struct {
					Type string `json:"type"`
				} `json:"loss_spec"`
			}
			b, err := os.ReadFile(exp)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatal(err)
			}
			m, err := Open(filepath.Join(dir, "model.safetensors"))
			if errors.Is(err, fs.ErrNotExist) {
				t.Skip("a graph case: model.onnx, no checkpoint")
			}
			if err != nil {
				t.Fatal(err)
			}
			names := m.Names()
			if len(names) != len(e.ParamLayout) {
				t.Fatalf("names %q, want %d params", names, len(e.ParamLayout))
			}
			for i, p := range e.ParamLayout {
				info, _ := m.Info(p.Name)
				if names[i] != p.Name || !slices.Equal(info.Shape, p.Shape) {
					t.Errorf("tensor %d: %q %v, want %q %v", i, names[i], info.Shape, p.Name, p.Shape)
				}
				if _, _, err := m.Float64s(p.Name); err != nil {
					t.Error(err)
				}
			}
			if !json.Valid([]byte(m.Metadata["architecture"])) {
				t.Errorf("architecture metadata is not JSON: %q", m.Metadata["architecture"])
			}
			bt, err := Open(filepath.Join(dir, "batch.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			_, xs, err := bt.Float64s("inputs")
			if err != nil || xs[0] != e.BatchSize {
				t.Errorf("inputs shape %v, %v", xs, err)
			}
			if strings.Contains(e.LossSpec.Type, "cross") {
				y, ys, err := bt.Int64s("targets")
				if err != nil || !slices.Equal(ys, []int{e.BatchSize}) {
					t.Fatalf("targets shape %v, %v", ys, err)
				}
				for _, c := range y {
					if c < 0 || c >= int64(e.NumOutputs) {
						t.Errorf("target %d out of range", c)
					}
				}
			} else {
				_, ys, err := bt.Float64s("targets")
				if err != nil || !slices.Equal(ys, []int{e.BatchSize, e.NumOutputs}) {
					t.Errorf("targets shape %v, %v", ys, err)
				}
			}
		})
	}
}

func TestRead(t *testing.T) {
	b := readTestdata(t, "model.safetensors")
	f, err := Read(iotest.OneByteReader(bytes.NewReader(b)), int64(len(b)))
	if err != nil || len(f.Tensors) != 6 {
		t.Fatalf("Read: %v", err)
	}
	// A size beyond what the reader holds must fail without allocating it.
	if _, err := Read(bytes.NewReader(b), 1<<60); !errors.Is(err, ErrShortFile) || !strings.Contains(err.Error(), "read 2452 bytes, expected 1152921504606846976") {
		t.Errorf("Read with a size that is too large: %v", err)
	}
	if _, err := Read(bytes.NewReader(b), -1); !errors.Is(err, ErrShortFile) {
		t.Errorf("Read with a negative size: %v", err)
	}
	// A size that is too small truncates the data buffer.
	if _, err := Read(bytes.NewReader(b), int64(len(b)-4)); !errors.Is(err, ErrOffsets) {
		t.Errorf("Read with a short size: %v", err)
	}
	if _, err := Read(iotest.ErrReader(errors.New("disk on fire")), 100); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("Read with a failing reader: %v", err)
	}
}

func TestOpenErrorsMentionPath(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.safetensors")
	if err := os.WriteFile(bad, []byte("short"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(bad)
	var e *Error
	if !errors.As(err, &e) || e.Path != bad || !strings.Contains(err.Error(), bad) || !errors.Is(err, ErrShortFile) {
		t.Errorf("Open(%q) = %v", bad, err)
	}
	missing := filepath.Join(dir, "missing.safetensors")
	if _, err := Open(missing); err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(%q) = %v", missing, err)
	}
}

// TestValid checks unusual but well-formed files.
func TestValid(t *testing.T) {
	largeDim := 1000000000
	if bits.UintSize == 32 {
		largeDim = 20000
	}
	f32 := func(v ...float32) []byte {
		var b []byte
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		header string
		data   []byte
		names  []string
		meta   map[string]string
	}{
		{"empty", `{}`, nil, []string{}, nil},
		{"empty metadata", `{"__metadata__":{}}`, nil, []string{}, map[string]string{}},
		{"whitespace", "{ \"a\" :\t{\"shape\":[],\n\"dtype\":\"F32\", \"data_offsets\":[0,4]}\r\n}  \n\t", f32(1), []string{"a"}, nil},
		{"scalar", `{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, f32(3), []string{"s"}, nil},
		{"zero size", `{"z":{"dtype":"F64","shape":[0,3],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32(1), []string{"z", "a"}, nil},
		{"zero size at end", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"z":{"dtype":"I64","shape":[0],"data_offsets":[4,4]}}`, f32(1), []string{"a", "z"}, nil},
		{"zero size ties keep header order", `{"y":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"x":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`, nil, []string{"y", "x"}, nil},
		{"offset order", `{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32(1, 2), []string{"a", "b"}, nil},
		{"other dtypes", `{"h":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"u":{"dtype":"U8","shape":[4],"data_offsets":[4,8]},"k":{"dtype":"BOOL","shape":[],"data_offsets":[8,9]}}`, make([]byte, 9), []string{"h", "u", "k"}, nil},
		{"unicode", `{"__metadata__":{"ü":"<&>"},"\u00e9\t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32(1), []string{"é\t"}, map[string]string{"ü": "<&>"}},
		{"metadata last", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"k":"v"}}`, f32(1), []string{"a"}, map[string]string{"k": "v"}},
		// Large dimensions around a zero: valid while the others' product
		// (1e18; 4e8 on 32-bit platforms) and its bytes fit an int.
		{"large dims around zero", fmt.Sprintf(`{"z":{"dtype":"F32","shape":[%d,0,%d],"data_offsets":[0,0]}}`, largeDim, largeDim), nil, []string{"z"}, nil},
	} {
		f, err := Parse(build(tc.header, tc.data))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := f.Names(); !slices.Equal(got, tc.names) {
			t.Errorf("%s: Names() = %q, want %q", tc.name, got, tc.names)
		}
		if tc.meta == nil && f.Metadata != nil || tc.meta != nil && !equalMaps(f.Metadata, tc.meta) {
			t.Errorf("%s: Metadata = %v, want %v", tc.name, f.Metadata, tc.meta)
		}
		for _, n := range tc.names {
			if b, _, err := f.Bytes(n); err != nil {
				t.Errorf("%s: Bytes(%q): %v", tc.name, n, err)
			} else if info, _ := f.Info(n); int64(len(b)) != info.End-info.Begin {
				t.Errorf("%s: Bytes(%q) has %d bytes", tc.name, n, len(b))
			}
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

// TestCorrupt damages a real file in many ways; each must give a specific
// error and no panic.
func TestCorrupt(t *testing.T) {
	orig := readTestdata(t, "model.safetensors")
	header, data := split(t, orig)
	// edit replaces the first occurrence of old in the header.
	edit := func(old, new string) []byte {
		if !strings.Contains(header, old) {
			t.Fatalf("test bug: %q not in header", old)
		}
		return build(strings.Replace(header, old, new, 1), data)
	}
	withLength := func(n uint64) []byte {
		b := slices.Clone(orig)
		binary.LittleEndian.PutUint64(b, n)
		return b
	}
	entry := func(name, body string) string { return `"` + name + `":{` + body + `}` }
	const bias = `"0.bias":{"dtype":"F32","shape":[16],"data_offsets":[320,384]}`

	for _, tc := range []struct {
		name string
		file []byte
		kind error
		want string
	}{
		{"empty", nil, ErrShortFile, "0 bytes, need at least 8"},
		{"7 bytes", orig[:7], ErrShortFile, "7 bytes, need at least 8"},
		{"header truncated", orig[:100], ErrHeaderLength, "header length 768 exceeds the 92 bytes after the length prefix"},
		{"data truncated", orig[:len(orig)-1], ErrOffsets, `tensor "4.bias": invalid data_offsets: end 1676 is beyond the 1675-byte data buffer`},
		{"huge header length", withLength(1 << 40), ErrHeaderLength, "header length 1099511627776 exceeds the limit of 104857600 bytes"},
		{"max header length", withLength(math.MaxUint64), ErrHeaderLength, "exceeds the limit"},
		{"header length too long", withLength(uint64(len(orig))), ErrHeaderLength, "header length 2452 exceeds the 2444 bytes"},
		{"header length cut", withLength(760), ErrHeader, "not valid JSON"},
		{"header length zero", withLength(0), ErrHeader, "does not start with '{'"},
		{"leading space", build(" "+header, data), ErrHeader, "does not start with '{'"},
		{"not an object", build(`["a"]`, nil), ErrHeader, "does not start with '{'"},
		{"bad JSON", edit(`"dtype":"F32"`, `"dtype":F32`), ErrHeader, "not valid JSON: invalid character 'F'"},
		{"missing colon", edit(`"dtype":"F32"`, `"dtype" "F32"`), ErrHeader, "not valid JSON"},
		{"unclosed", build(`{"a":{"dtype":"F32"`, nil), ErrHeader, "not valid JSON: unexpected EOF"},
		{"trailing object", build(strings.TrimRight(header, " ")+"{}", data), ErrHeader, "trailing data after the header object: an object"},
		{"trailing garbage", build(strings.TrimRight(header, " ")+"x", data), ErrHeader, "trailing data after the header object: invalid character 'x'"},
		{"invalid UTF-8", edit(`"0.bias"`, "\"0.b\xffas\""), ErrHeader, "not valid UTF-8"},
		{"metadata string", edit(`"__metadata__":{"architecture":`, `"__metadata__":"x","y":{"architecture":`), ErrMetadata, "invalid __metadata__: value is a string, want an object"},
		{"metadata null", build(`{"__metadata__":null}`, nil), ErrMetadata, "value is null, want an object"},
		{"metadata number value", build(`{"__metadata__":{"architecture":1}}`, nil), ErrMetadata, `value of key "architecture" is a number, want a string`},
		{"metadata object value", build(`{"__metadata__":{"a":{}}}`, nil), ErrMetadata, `value of key "a" is an object, want a string`},
		{"metadata duplicate key", build(`{"__metadata__":{"a":"1","a":"2"}}`, nil), ErrMetadata, `duplicate key "a"`},
		{"metadata twice", build(`{"__metadata__":{},"__metadata__":{}}`, nil), ErrMetadata, "appears twice"},
		{"missing dtype", edit(bias, entry("0.bias", `"shape":[16],"data_offsets":[320,384]`)), ErrEntry, `tensor "0.bias": invalid tensor entry: missing field "dtype"`},
		{"missing shape", edit(bias, entry("0.bias", `"dtype":"F32","data_offsets":[320,384]`)), ErrEntry, `missing field "shape"`},
		{"missing offsets", edit(bias, entry("0.bias", `"dtype":"F32","shape":[16]`)), ErrEntry, `missing field "data_offsets"`},
		{"unknown field", edit(bias, entry("0.bias", `"dtype":"F32","shape":[16],"data_offsets":[320,384],"offset":0`)), ErrEntry, `tensor "0.bias": invalid tensor entry: unknown field "offset"`},
		{"duplicate field", edit(bias, entry("0.bias", `"dtype":"F32","dtype":"F32","shape":[16],"data_offsets":[320,384]`)), ErrEntry, `duplicate field "dtype"`},
		{"entry not an object", edit(bias, `"0.bias":[320,384]`), ErrEntry, `tensor "0.bias": invalid tensor entry: entry is an array, want an object`},
		{"entry null", edit(bias, `"0.bias":null`), ErrEntry, "entry is null, want an object"},
		{"unknown dtype", edit(`"F32"`, `"F31"`), ErrDType, `tensor "0.weight": unsupported dtype: unknown dtype "F31"`},
		{"lowercase dtype", edit(`"F32"`, `"f32"`), ErrDType, `unknown dtype "f32"`},
		{"dtype not a string", edit(`"dtype":"F32"`, `"dtype":32`), ErrDType, "dtype is a number, want a string"},
		{"negative dim", edit(`[16,5]`, `[16,-5]`), ErrShape, `tensor "0.weight": invalid shape: shape[1] = -5 is negative`},
		{"fractional dim", edit(`[16,5]`, `[16,5.0]`), ErrShape, "shape[1] = 5.0 is not an integer"},
		{"exponent dim", edit(`[16,5]`, `[16,5e0]`), ErrShape, "shape[1] = 5e0 is not an integer"},
		{"string dim", edit(`[16,5]`, `[16,"5"]`), ErrShape, "shape[1] is a string, want an integer"},
		{"nested dim", edit(`[16,5]`, `[16,[5]]`), ErrShape, "shape[1] is an array, want an integer"},
		{"shape not an array", edit(`"shape":[16,5]`, `"shape":80`), ErrShape, "shape is a number, want an array"},
		{"dim out of range", edit(`[16,5]`, `[16,99999999999999999999]`), ErrShape, "shape[1] = 99999999999999999999 is out of range"},
		{"overflow shape", edit(`[16,5]`, `[65536,65536,65536,65536]`), ErrShape, "element count of [65536 65536 65536 65536] overflows"},
		{"overflow bytes", edit(`[16,5]`, fmt.Sprintf("[%d]", math.MaxInt/4+1)), ErrShape, "overflows"},
		{"overflow before zero", edit(`[16,5]`, `[65536,65536,0,65536,65536]`), ErrShape, "overflows"},
		{"three offsets", edit(`[0,320]`, `[0,160,320]`), ErrOffsets, `tensor "0.weight": invalid data_offsets: has 3 values, want 2 [begin, end]`},
		{"one offset", edit(`[0,320]`, `[320]`), ErrOffsets, "has 1 values"},
		{"offsets not an array", edit(`"data_offsets":[0,320]`, `"data_offsets":{"begin":0}`), ErrOffsets, "data_offsets is an object, want an array"},
		{"negative offset", edit(`[0,320]`, `[-1,319]`), ErrOffsets, "data_offsets[0] = -1 is negative"},
		{"fractional offset", edit(`[0,320]`, `[0,320.5]`), ErrOffsets, "data_offsets[1] = 320.5 is not an integer"},
		{"begin after end", edit(`[0,320]`, `[320,0]`), ErrOffsets, "begin 320 is after end 0"},
		{"end beyond data", edit(`[1664,1676]`, `[1664,1680]`), ErrOffsets, `tensor "4.bias": invalid data_offsets: end 1680 is beyond the 1676-byte data buffer`},
		{"size mismatch", edit(`[16,5]`, `[16,4]`), ErrSize, `tensor "0.weight": data size mismatch: dtype F32 and shape [16 4] need 256 bytes, data_offsets [0, 320] hold 320`},
		{"wrong dtype size", edit(`"F32"`, `"F64"`), ErrSize, "dtype F64 and shape [16 5] need 640 bytes"},
		{"overlap", edit(`[320,384]`, `[300,364]`), ErrOverlap, `tensor "0.bias": overlapping tensors: data_offsets [300, 364] overlap tensor "0.weight" at [0, 320]`},
		{"same offsets", edit(`"shape":[16],"data_offsets":[1408,1472]`, `"shape":[16],"data_offsets":[320,384]`), ErrOverlap, `overlap tensor "0.bias"`},
		{"zero size inside", edit(`"shape":[3],"data_offsets":[1664,1676]`, `"shape":[0],"data_offsets":[100,100]`), ErrOverlap, `tensor "4.bias": overlapping tensors: data_offsets [100, 100] overlap tensor "0.weight"`},
		{"gap", edit(`"shape":[16,5],"data_offsets":[0,320]`, `"shape":[16,4],"data_offsets":[0,256]`), ErrGap, `tensor "0.bias": data not contiguous: 64 unused bytes before data_offsets [320, 384]`},
		{"gap at start", edit(`"shape":[16,5],"data_offsets":[0,320]`, `"shape":[16,4],"data_offsets":[64,320]`), ErrGap, `tensor "0.weight": data not contiguous: 64 unused bytes before data_offsets [64, 320]`},
		{"trailing data", build(header, append(slices.Clone(data), 0, 0, 0, 0)), ErrGap, "data not contiguous: tensors cover 1676 bytes of the 1680-byte data buffer"},
		{"missing tensor", edit(`,"4.bias":{"dtype":"F32","shape":[3],"data_offsets":[1664,1676]}`, ``), ErrGap, "tensors cover 1664 bytes of the 1676-byte"},
		{"data without tensors", build(`{}`, []byte{1}), ErrGap, "tensors cover 0 bytes of the 1-byte"},
		{"duplicate name", edit(`"0.bias"`, `"0.weight"`), ErrDuplicate, `tensor "0.weight": duplicate tensor name: appears twice in the header`},
		{"empty name", edit(`"0.bias"`, `""`), ErrEmptyName, `empty tensor name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(tc.file)
			if err == nil {
				t.Fatalf("no error; tensors %v", f.Names())
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %v is a %T, not an *Error", err, err)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %q is not %q", err, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// TestHandMadeFile checks that File methods guard against a File that was
// not produced by Parse.
func TestHandMadeFile(t *testing.T) {
	f := &File{
		Tensors: []TensorInfo{
			{Name: "oob", DType: F32, Shape: []int{2}, Begin: 0, End: 8},
			{Name: "neg", DType: F32, Shape: []int{-2}, Begin: 0, End: 0},
			{Name: "bad", DType: "X", Shape: nil, Begin: 0, End: 0},
		},
		data: make([]byte, 4),
	}
	for name, kind := range map[string]error{"oob": ErrOffsets, "neg": ErrSize, "bad": ErrDType} {
		if _, _, err := f.Float64s(name); !errors.Is(err, kind) {
			t.Errorf("Float64s(%q) = %v, want %v", name, err, kind)
		}
	}
	var zero File
	if len(zero.Names()) != 0 {
		t.Error("zero File has names")
	}
	if _, ok := zero.Info("x"); ok {
		t.Error("zero File has tensor x")
	}
}

func TestErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{Kind: ErrShortFile, Reason: "3 bytes"}, "safetensors: file too short: 3 bytes"},
		{&Error{Path: "m.st", Name: "w", Kind: ErrShape, Reason: "bad"}, `safetensors: m.st: tensor "w": invalid shape: bad`},
		{&Error{Name: MetadataKey, Kind: ErrMetadata, Reason: "bad"}, "safetensors: invalid __metadata__: bad"},
		{&Error{Name: MetadataKey, Kind: ErrHeader, Reason: "bad"}, "safetensors: __metadata__: invalid header: bad"},
		{&Error{Reason: "just this"}, "safetensors: just this"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
