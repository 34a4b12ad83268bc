package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/vivit-go/vivit/internal/atomicfile"
	"github.com/vivit-go/vivit/internal/numel"
)

// Tensor is a tensor to be written. Exactly one of F64, F32 and I64 must be
// non-nil (use an empty slice for a zero-size tensor); it selects the dtype
// (F64, F32 or I64) and holds the elements in row-major order.
type Tensor struct {
	Name  string
	Shape []int
	F64   []float64
	I64   []int64
	F32   []float32
}

func (t *Tensor) dtype() (DType, int, error) {
	var d DType
	var n, set int
	if t.F64 != nil {
		d, n, set = F64, len(t.F64), set+1
	}
	if t.F32 != nil {
		d, n, set = F32, len(t.F32), set+1
	}
	if t.I64 != nil {
		d, n, set = I64, len(t.I64), set+1
	}
	switch set {
	case 0:
		return "", 0, errorf(t.Name, ErrData, "none of F64, F32 and I64 is set")
	case 1:
		return d, n, nil
	}
	return "", 0, errorf(t.Name, ErrData, "more than one of F64, F32 and I64 is set")
}

// Write writes a safetensors file holding tensors, in the given order and
// contiguously, with metadata as __metadata__ (omitted if empty). Nothing
// is written if the arguments are invalid.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header, err := encodeHeader(tensors, metadata)
	if err != nil {
		return err
	}
	return write(w, header, tensors)
}

// WriteFile writes a safetensors file to path; see Write. The file is not
// created if the arguments are invalid.
// An existing file is replaced whole or not at all: the data goes to a
// temporary file in the same directory, renamed over path once complete.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	header, err := encodeHeader(tensors, metadata)
	if err != nil {
		return withPath(err, path)
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return write(w, header, tensors) }); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// encodeHeader validates its arguments and returns the header, including
// the 8-byte length prefix and padding.
func encodeHeader(tensors []Tensor, metadata map[string]string) ([]byte, error) {
	var b bytes.Buffer
	b.Write(make([]byte, 8))
	b.WriteByte('{')
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteString(`"` + MetadataKey + `":{`)
		for i, k := range keys {
			if !utf8.ValidString(k) || !utf8.ValidString(metadata[k]) {
				return nil, errorf(MetadataKey, ErrMetadata, "key %q or its value is not valid UTF-8", k)
			}
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(&b, k)
			b.WriteByte(':')
			writeString(&b, metadata[k])
		}
		b.WriteByte('}')
	}
	comma := len(metadata) > 0
	seen := make(map[string]bool, len(tensors))
	var offset int64
	for i := range tensors {
		t := &tensors[i]
		switch {
		case t.Name == "":
			return nil, errorf("", ErrEmptyName, "tensor %d has an empty name", i)
		case t.Name == MetadataKey:
			return nil, errorf("", ErrHeader, "tensor %d is named %q, which is reserved", i, MetadataKey)
		case !utf8.ValidString(t.Name):
			return nil, errorf(t.Name, ErrHeader, "name is not valid UTF-8")
		case seen[t.Name]:
			return nil, errorf(t.Name, ErrDuplicate, "given twice")
		}
		seen[t.Name] = true
		dtype, n, err := t.dtype()
		if err != nil {
			return nil, err
		}
		for j, d := range t.Shape {
			if d < 0 {
				return nil, errorf(t.Name, ErrShape, "dimension %d is %d, must be non-negative", j, d)
			}
		}
		want, ok := numel.Of(t.Shape, dtype.Size())
		if !ok {
			return nil, errorf(t.Name, ErrShape, "element count of %v overflows", t.Shape)
		}
		if n != want {
			return nil, errorf(t.Name, ErrSize, "shape %v has %d elements, %s holds %d", t.Shape, want, dtype, n)
		}
		nbytes := int64(n) * int64(dtype.Size())
		if offset > math.MaxInt64-nbytes {
			return nil, errorf(t.Name, ErrSize, "data too large")
		}
		if comma {
			b.WriteByte(',')
		}
		comma = true
		writeString(&b, t.Name)
		b.WriteString(`:{"dtype":"` + string(dtype) + `","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, offset, offset+nbytes)
		offset += nbytes
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	h := b.Bytes()
	if len(h)-8 > MaxHeaderSize {
		return nil, errorf("", ErrHeaderLength, "header of %d bytes exceeds the limit of %d", len(h)-8, MaxHeaderSize)
	}
	binary.LittleEndian.PutUint64(h, uint64(len(h)-8))
	return h, nil
}

// writeString writes s as a JSON string without HTML escaping.
func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)           // cannot fail for a string
	b.Truncate(b.Len() - 1) // Encode appends a newline
}

// write writes the encoded header and the tensor data.
func write(w io.Writer, header []byte, tensors []Tensor) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.Write(header)
	var buf []byte
	flush := func() {
		bw.Write(buf)
		buf = buf[:0]
	}
	const chunk = 1 << 15
	for _, t := range tensors {
		switch {
		case t.F64 != nil:
			for _, v := range t.F64 {
				buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
				if len(buf) >= chunk {
					flush()
				}
			}
		case t.F32 != nil:
			for _, v := range t.F32 {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
				if len(buf) >= chunk {
					flush()
				}
			}
		default:
			for _, v := range t.I64 {
				buf = binary.LittleEndian.AppendUint64(buf, uint64(v))
				if len(buf) >= chunk {
					flush()
				}
			}
		}
	}
	flush()
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}
