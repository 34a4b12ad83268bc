package safetensors

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error is an *Error,
// and that an accepted file satisfies the documented invariants and, if
// all its dtypes are writable, survives Write and Parse unchanged.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"model.safetensors", "batch.safetensors", "digits_batch.safetensors"} {
		f.Add(readTestdata(f, name))
	}
	f.Add(build(`{}`, nil))
	f.Add(build(`{"z":{"dtype":"F64","shape":[0,3],"data_offsets":[0,0]},"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind == nil {
				t.Fatalf("error %v is a %T without a kind", err, err)
			}
			return
		}
		var end int64
		writable := true
		var tensors []Tensor
		for _, info := range file.Tensors {
			if info.Begin != end || info.End < info.Begin {
				t.Fatalf("tensor %q at [%d, %d], previous ends at %d", info.Name, info.Begin, info.End, end)
			}
			end = info.End
			raw, got, err := file.Bytes(info.Name)
			if err != nil {
				t.Fatalf("Bytes(%q): %v", info.Name, err)
			}
			if int64(got.NumElements()*got.DType.Size()) != int64(len(raw)) {
				t.Fatalf("tensor %q: %d bytes for %v %s", info.Name, len(raw), got.Shape, got.DType)
			}
			v, _, ferr := file.Float64s(info.Name)
			iv, _, ierr := file.Int64s(info.Name)
			switch info.DType {
			case F32, F64:
				if ferr != nil || len(v) != got.NumElements() {
					t.Fatalf("Float64s(%q): %v", info.Name, ferr)
				}
			case I32, I64:
				if ierr != nil || len(iv) != got.NumElements() {
					t.Fatalf("Int64s(%q): %v", info.Name, ierr)
				}
			}
			switch info.DType {
			case F32, F64, I64:
				tensors = append(tensors, fromBytes(got, raw))
			default:
				writable = false
			}
		}
		if end != int64(len(file.data)) {
			t.Fatalf("tensors cover %d of %d bytes", end, len(file.data))
		}
		if !writable {
			return
		}
		// Write keeps the given order; ties between zero-size tensors are
		// the only way the offset order could differ, and Names already
		// reflects it.
		var buf bytes.Buffer
		if err := Write(&buf, tensors, file.Metadata); err != nil {
			t.Fatalf("Write of a parsed file: %v", err)
		}
		again, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("Parse of a rewritten file: %v", err)
		}
		if !slices.Equal(again.Names(), file.Names()) {
			t.Fatalf("names %q, want %q", again.Names(), file.Names())
		}
		if !bytes.Equal(again.data, file.data) {
			t.Fatal("data changed on rewrite")
		}
		if len(file.Metadata) > 0 && !equalMaps(again.Metadata, file.Metadata) {
			t.Fatalf("metadata %v, want %v", again.Metadata, file.Metadata)
		}
	})
}
