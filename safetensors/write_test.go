package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestWriteReproducesFixture rewrites the real files from their parsed
// contents and expects the same bytes.
func TestWriteReproducesFixture(t *testing.T) {
	for _, name := range []string{"model.safetensors", "batch.safetensors", "digits_batch.safetensors"} {
		orig := readTestdata(t, name)
		f, err := Parse(orig)
		if err != nil {
			t.Fatal(err)
		}
		var tensors []Tensor
		for _, n := range f.Names() {
			b, info, err := f.Bytes(n)
			if err != nil {
				t.Fatal(err)
			}
			tensors = append(tensors, fromBytes(info, b))
		}
		var buf bytes.Buffer
		if err := Write(&buf, tensors, f.Metadata); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), orig) {
			h1, _ := split(t, orig)
			h2, _ := split(t, buf.Bytes())
			t.Errorf("%s: rewritten file differs\n got header %q\nwant header %q", name, h2, h1)
		}
	}
}

// fromBytes builds a Tensor with the exact bits of an F32, F64 or I64 tensor.
func fromBytes(info TensorInfo, b []byte) Tensor {
	t := Tensor{Name: info.Name, Shape: info.Shape}
	switch info.DType {
	case F32:
		t.F32 = make([]float32, len(b)/4)
		for i := range t.F32 {
			t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case F64:
		t.F64 = make([]float64, len(b)/8)
		for i := range t.F64 {
			t.F64[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
	case I64:
		t.I64 = make([]int64, len(b)/8)
		for i := range t.I64 {
			t.I64[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		}
	default:
		panic("fromBytes: dtype " + info.DType)
	}
	return t
}

// TestRoundTrip writes random tensors and reads them back.
func TestRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for iter := range 300 {
		var tensors []Tensor
		for i := range rnd.IntN(6) {
			shape := make([]int, rnd.IntN(4))
			n := 1
			for j := range shape {
				shape[j] = rnd.IntN(5)
				n *= shape[j]
			}
			tn := Tensor{Name: string(rune('a'+i)) + strings.Repeat("é", rnd.IntN(3)), Shape: shape}
			switch rnd.IntN(3) {
			case 0:
				tn.F64 = make([]float64, n)
				for k := range tn.F64 {
					tn.F64[k] = math.Float64frombits(rnd.Uint64()) // any bits, NaN included
				}
			case 1:
				tn.F32 = make([]float32, n)
				for k := range tn.F32 {
					tn.F32[k] = float32(rnd.NormFloat64())
				}
			default:
				tn.I64 = make([]int64, n)
				for k := range tn.I64 {
					tn.I64[k] = int64(rnd.Uint64())
				}
			}
			tensors = append(tensors, tn)
		}
		var meta map[string]string
		if rnd.IntN(2) == 0 {
			meta = map[string]string{"k": strings.Repeat("\"<\\>\n", rnd.IntN(4)), "architecture": "{}"}
		}
		var buf bytes.Buffer
		if err := Write(&buf, tensors, meta); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if h := binary.LittleEndian.Uint64(b); h%8 != 0 {
			t.Fatalf("iteration %d: header length %d not a multiple of 8", iter, h)
		}
		f, err := Parse(b)
		if err != nil {
			t.Fatalf("iteration %d: %v", iter, err)
		}
		if len(meta) == 0 && f.Metadata != nil || len(meta) > 0 && !equalMaps(meta, f.Metadata) {
			t.Fatalf("iteration %d: metadata %v, want %v", iter, f.Metadata, meta)
		}
		var names []string
		for _, tn := range tensors {
			names = append(names, tn.Name)
		}
		if !slices.Equal(f.Names(), names) {
			t.Fatalf("iteration %d: names %q, want %q", iter, f.Names(), names)
		}
		for _, tn := range tensors {
			bs, info, err := f.Bytes(tn.Name)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(info.Shape, tn.Shape) && !(len(info.Shape) == 0 && len(tn.Shape) == 0) {
				t.Fatalf("iteration %d: %q has shape %v, want %v", iter, tn.Name, info.Shape, tn.Shape)
			}
			got := fromBytes(info, bs)
			switch {
			case tn.F64 != nil:
				for k := range tn.F64 {
					if math.Float64bits(got.F64[k]) != math.Float64bits(tn.F64[k]) {
						t.Fatalf("iteration %d: %q[%d] = %v, want %v", iter, tn.Name, k, got.F64[k], tn.F64[k])
					}
				}
				v, _, err := f.Float64s(tn.Name)
				if err != nil || len(v) != len(tn.F64) {
					t.Fatal(err)
				}
			case tn.F32 != nil:
				v, _, err := f.Float64s(tn.Name)
				if err != nil {
					t.Fatal(err)
				}
				for k := range tn.F32 {
					if v[k] != float64(tn.F32[k]) {
						t.Fatalf("iteration %d: %q[%d] = %v, want %v", iter, tn.Name, k, v[k], tn.F32[k])
					}
				}
			default:
				v, _, err := f.Int64s(tn.Name)
				if err != nil || !slices.Equal(v, tn.I64) {
					t.Fatalf("iteration %d: %q = %v, want %v (%v)", iter, tn.Name, v, tn.I64, err)
				}
			}
		}
	}
}

func TestWriteErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		kind    error
		want    string
	}{
		{"empty name", []Tensor{{Name: "", F64: []float64{}, Shape: []int{0}}}, nil, ErrEmptyName, "tensor 0 has an empty name"},
		{"reserved name", []Tensor{{Name: MetadataKey, F64: []float64{1}}}, nil, ErrHeader, "reserved"},
		{"invalid UTF-8 name", []Tensor{{Name: "\xff", F64: []float64{1}}}, nil, ErrHeader, "not valid UTF-8"},
		{"invalid UTF-8 metadata", []Tensor{}, map[string]string{"k": "\xff"}, ErrMetadata, "not valid UTF-8"},
		{"duplicate", []Tensor{{Name: "a", F64: []float64{1}}, {Name: "a", F64: []float64{1}}}, nil, ErrDuplicate, `tensor "a": duplicate tensor name: given twice`},
		{"no data", []Tensor{{Name: "a", Shape: []int{0}}}, nil, ErrData, "none of F64, F32 and I64 is set"},
		{"two slices", []Tensor{{Name: "a", F64: []float64{1}, F32: []float32{1}}}, nil, ErrData, "more than one"},
		{"negative dim", []Tensor{{Name: "a", Shape: []int{2, -1}, F64: []float64{}}}, nil, ErrShape, "dimension 1 is -1, must be non-negative"},
		{"overflow", []Tensor{{Name: "a", Shape: []int{math.MaxInt, math.MaxInt}, F64: []float64{}}}, nil, ErrShape, "overflows"},
		{"length mismatch", []Tensor{{Name: "a", Shape: []int{2, 3}, I64: make([]int64, 5)}}, nil, ErrSize, `tensor "a": data size mismatch: shape [2 3] has 6 elements, I64 holds 5`},
		{"scalar needs one element", []Tensor{{Name: "a", F32: []float32{}}}, nil, ErrSize, "shape [] has 1 elements, F32 holds 0"},
	} {
		var buf bytes.Buffer
		err := Write(&buf, tc.tensors, tc.meta)
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %v containing %q", tc.name, err, tc.kind, tc.want)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: %d bytes written despite the error", tc.name, buf.Len())
		}
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n < len(p) {
		n := w.n
		w.n = 0
		return n, errors.New("device full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.safetensors")
	big := make([]float64, 100000)
	for i := range big {
		big[i] = float64(i)
	}
	tensors := []Tensor{{Name: "big", Shape: []int{len(big)}, F64: big}, {Name: "s", F32: []float32{2}}}
	if err := WriteFile(path, tensors, map[string]string{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := f.Float64s("big")
	if err != nil || !slices.Equal(v, big) {
		t.Fatalf("big tensor did not survive: %v", err)
	}
	// Invalid arguments must not create the file.
	bad := filepath.Join(dir, "bad.safetensors")
	err = WriteFile(bad, []Tensor{{Name: "a"}}, nil)
	if !errors.Is(err, ErrData) || !strings.Contains(err.Error(), bad) {
		t.Errorf("WriteFile with bad tensor: %v", err)
	}
	if _, err := os.Stat(bad); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WriteFile created %s despite invalid arguments", bad)
	}
	if err := WriteFile(filepath.Join(dir, "no", "such", "dir"), tensors, nil); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
	if err := Write(&failWriter{n: 1000}, tensors, nil); err == nil || !strings.Contains(err.Error(), "device full") {
		t.Errorf("Write to a failing writer: %v", err)
	}
}
