package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/vivit-go/vivit/internal/numel"
)

// FuzzRead checks that Read never panics, that every format error is an
// *Error, and that an accepted array is consistent and survives Write and
// Read unchanged.
func FuzzRead(f *testing.F) {
	f.Add(readTestdata(f, "grad.npy"))
	f.Add(readTestdata(f, "eigvecs.npy")[:128+8*40]) // header of a Fortran array, truncated
	f.Add(file(1, "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }", make([]byte, 24)))
	f.Add(file(2, "{'descr': '|u1', 'fortran_order': False, 'shape': (), }", []byte{7}))
	f.Add(file(3, `{"descr": ">f4", "fortran_order": True, "shape": (1, 2, 2,)}`, make([]byte, 16)))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Read(bytes.NewReader(b))
		ints, ishape, ierr := ReadInt64(bytes.NewReader(b))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind == nil {
				t.Fatalf("error %v is a %T without a kind", err, err)
			}
			if ierr == nil || ierr.Error() != err.Error() {
				t.Fatalf("Read error %v, ReadInt64 error %v", err, ierr)
			}
			return
		}
		n, ok := numel.Of(a.Shape, 1)
		if !ok || n != len(a.Data) || a.Shape == nil {
			t.Fatalf("shape %v with %d elements", a.Shape, len(a.Data))
		}
		if ierr == nil {
			if !slices.Equal(ishape, a.Shape) || len(ints) != n {
				t.Fatalf("ReadInt64 shape %v, %d values", ishape, len(ints))
			}
			for i, v := range ints {
				if !(math.Abs(float64(v)-a.Data[i]) <= math.Abs(a.Data[i])*0x1p-52) {
					t.Fatalf("element %d: ReadInt64 %d, Read %v", i, v, a.Data[i])
				}
			}
		} else if !errors.Is(ierr, ErrNotInteger) {
			t.Fatalf("ReadInt64 of a valid file: %v", ierr)
		}
		var buf bytes.Buffer
		if err := Write(&buf, a); err != nil {
			t.Fatalf("Write of a read array: %v", err)
		}
		if hl := binary.LittleEndian.Uint16(buf.Bytes()[8:]); (10+int(hl))%64 != 0 {
			t.Fatalf("header length %d", hl)
		}
		again, err := Read(&buf)
		if err != nil {
			t.Fatalf("Read of a written array: %v", err)
		}
		if !slices.Equal(again.Shape, a.Shape) {
			t.Fatalf("shape %v, want %v", again.Shape, a.Shape)
		}
		for i := range a.Data {
			if math.Float64bits(again.Data[i]) != math.Float64bits(a.Data[i]) {
				t.Fatalf("element %d: %v, want %v", i, again.Data[i], a.Data[i])
			}
		}
	})
}
