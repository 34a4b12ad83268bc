package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/vivit-go/vivit/internal/numel"
)

// MaxHeaderSize is the largest header length, in bytes, that Parse accepts.
const MaxHeaderSize = 100 << 20

// MetadataKey is the header key of the metadata object.
const MetadataKey = "__metadata__"

// DType is a tensor element type as spelled in the header, such as "F32".
type DType string

// Element types. Only F32, F64, I32 and I64 can be converted by File
// methods; the others are parsed and available through File.Bytes.
const (
	BOOL   DType = "BOOL"
	U8     DType = "U8"
	I8     DType = "I8"
	F8E5M2 DType = "F8_E5M2"
	F8E4M3 DType = "F8_E4M3"
	F8E8M0 DType = "F8_E8M0"
	I16    DType = "I16"
	U16    DType = "U16"
	F16    DType = "F16"
	BF16   DType = "BF16"
	I32    DType = "I32"
	U32    DType = "U32"
	F32    DType = "F32"
	I64    DType = "I64"
	U64    DType = "U64"
	F64    DType = "F64"
	C64    DType = "C64"
)

var dtypeSizes = map[DType]int{
	BOOL: 1, U8: 1, I8: 1, F8E5M2: 1, F8E4M3: 1, F8E8M0: 1,
	I16: 2, U16: 2, F16: 2, BF16: 2,
	I32: 4, U32: 4, F32: 4,
	I64: 8, U64: 8, F64: 8, C64: 8,
}

// Size returns the size of one element in bytes, or 0 if d is unknown.
func (d DType) Size() int { return dtypeSizes[d] }

// TensorInfo describes one tensor of a File.
type TensorInfo struct {
	Name       string
	DType      DType
	Shape      []int
	Begin, End int64 // byte offsets into the data buffer, [Begin, End)
}

// NumElements returns the number of elements, the product of the shape
// (1 for a scalar).
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a parsed safetensors file.
type File struct {
	Metadata map[string]string // nil if the header has no __metadata__
	Tensors  []TensorInfo      // sorted by Begin; read-only

	data  []byte
	index map[string]int
}

// Parse parses a complete safetensors file held in b. The File refers to b,
// which must not be modified afterwards.
func Parse(b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, errorf("", ErrShortFile, "%d bytes, need at least 8 for the header length", len(b))
	}
	h := binary.LittleEndian.Uint64(b)
	if h > MaxHeaderSize {
		return nil, errorf("", ErrHeaderLength, "header length %d exceeds the limit of %d bytes", h, MaxHeaderSize)
	}
	if h > uint64(len(b)-8) {
		return nil, errorf("", ErrHeaderLength, "header length %d exceeds the %d bytes after the length prefix", h, len(b)-8)
	}
	header, data := b[8:8+h], b[8+h:]
	f, err := parseHeader(header, int64(len(data)))
	if err != nil {
		return nil, err
	}
	f.data = data
	return f, nil
}

// Read reads and parses a safetensors file of size bytes from r. Memory
// use is bounded by the bytes r actually delivers.
func Read(r io.Reader, size int64) (*File, error) {
	if size < 0 {
		return nil, errorf("", ErrShortFile, "negative size %d", size)
	}
	b, err := io.ReadAll(io.LimitReader(r, size))
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if int64(len(b)) < size {
		return nil, errorf("", ErrShortFile, "read %d bytes, expected %d", len(b), size)
	}
	return Parse(b)
}

// Open reads and parses the safetensors file at path. Errors mention path.
func Open(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, withPath(err, path)
	}
	return f, nil
}

// Names returns the tensor names in data-offset order.
func (f *File) Names() []string {
	names := make([]string, len(f.Tensors))
	for i, t := range f.Tensors {
		names[i] = t.Name
	}
	return names
}

// Info returns the description of the named tensor and whether it exists.
func (f *File) Info(name string) (TensorInfo, bool) {
	i, ok := f.find(name)
	if !ok {
		return TensorInfo{}, false
	}
	t := f.Tensors[i]
	t.Shape = append([]int{}, t.Shape...)
	return t, true
}

func (f *File) find(name string) (int, bool) {
	if f.index != nil {
		i, ok := f.index[name]
		if ok && i < len(f.Tensors) && f.Tensors[i].Name == name {
			return i, true
		}
	}
	for i, t := range f.Tensors {
		if t.Name == name {
			return i, true
		}
	}
	return 0, false
}

// Bytes returns the raw little-endian bytes of the named tensor, its
// description, and an error if the tensor does not exist. The slice is a
// view into the file and must not be modified.
func (f *File) Bytes(name string) ([]byte, TensorInfo, error) {
	i, ok := f.find(name)
	if !ok {
		return nil, TensorInfo{}, errorf(name, ErrNotFound, "not in the file")
	}
	t := f.Tensors[i]
	t.Shape = append([]int{}, t.Shape...)
	// Guard against a File assembled by hand rather than by Parse.
	if t.Begin < 0 || t.Begin > t.End || t.End > int64(len(f.data)) {
		return nil, t, errorf(name, ErrOffsets, "[%d, %d] outside the data buffer of %d bytes", t.Begin, t.End, len(f.data))
	}
	size := t.DType.Size()
	if size == 0 {
		return nil, t, errorf(name, ErrDType, "unknown dtype %q", string(t.DType))
	}
	n, ok := numel.Of(t.Shape, size)
	if !ok || int64(n)*int64(size) != t.End-t.Begin {
		return nil, t, errorf(name, ErrSize, "dtype %s and shape %v do not match %d data bytes", t.DType, t.Shape, t.End-t.Begin)
	}
	return f.data[t.Begin:t.End], t, nil
}

// Float64s returns the named tensor converted to float64, row-major, and
// its shape. The dtype must be F32 or F64.
func (f *File) Float64s(name string) ([]float64, []int, error) {
	b, t, err := f.Bytes(name)
	if err != nil {
		return nil, nil, err
	}
	switch t.DType {
	case F32:
		v := make([]float64, len(b)/4)
		for i := range v {
			v[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		}
		return v, t.Shape, nil
	case F64:
		v := make([]float64, len(b)/8)
		for i := range v {
			v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return v, t.Shape, nil
	}
	return nil, nil, errorf(name, ErrDType, "dtype %s cannot be read as float64 (want F32 or F64)", t.DType)
}

// Int64s returns the named tensor converted to int64, row-major, and its
// shape. The dtype must be I64 or I32.
func (f *File) Int64s(name string) ([]int64, []int, error) {
	b, t, err := f.Bytes(name)
	if err != nil {
		return nil, nil, err
	}
	switch t.DType {
	case I32:
		v := make([]int64, len(b)/4)
		for i := range v {
			v[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
		return v, t.Shape, nil
	case I64:
		v := make([]int64, len(b)/8)
		for i := range v {
			v[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return v, t.Shape, nil
	}
	return nil, nil, errorf(name, ErrDType, "dtype %s cannot be read as int64 (want I64 or I32)", t.DType)
}

// parseHeader parses the JSON header for a data buffer of dataLen bytes.
func parseHeader(header []byte, dataLen int64) (*File, error) {
	if len(header) == 0 || header[0] != '{' {
		return nil, errorf("", ErrHeader, "does not start with '{'")
	}
	if !utf8.Valid(header) {
		return nil, errorf("", ErrHeader, "not valid UTF-8")
	}
	p := &parser{dec: json.NewDecoder(bytes.NewReader(header))}
	p.dec.UseNumber()
	if _, err := p.delim('{', "", ErrHeader, "header"); err != nil {
		return nil, err
	}
	f := &File{index: make(map[string]int)}
	seen := make(map[string]bool)
	for p.dec.More() {
		name, err := p.key()
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, errorf("", ErrEmptyName, "header has a tensor named \"\"")
		}
		if seen[name] {
			if name == MetadataKey {
				return nil, errorf(name, ErrMetadata, "appears twice")
			}
			return nil, errorf(name, ErrDuplicate, "appears twice in the header")
		}
		seen[name] = true
		if name == MetadataKey {
			if f.Metadata, err = p.metadata(); err != nil {
				return nil, err
			}
			continue
		}
		t, err := p.entry(name, dataLen)
		if err != nil {
			return nil, err
		}
		f.Tensors = append(f.Tensors, t)
	}
	if _, err := p.token(""); err != nil { // the closing '}'
		return nil, err
	}
	if tok, err := p.dec.Token(); err != io.EOF {
		if err == nil {
			return nil, errorf("", ErrHeader, "trailing data after the header object: %s", describe(tok))
		}
		return nil, errorf("", ErrHeader, "trailing data after the header object: %v", err)
	}

	slices.SortStableFunc(f.Tensors, func(a, b TensorInfo) int {
		if c := cmp.Compare(a.Begin, b.Begin); c != 0 {
			return c
		}
		return cmp.Compare(a.End, b.End)
	})
	var end int64
	for i, t := range f.Tensors {
		switch {
		case t.Begin < end:
			prev := f.Tensors[i-1]
			return nil, errorf(t.Name, ErrOverlap, "data_offsets [%d, %d] overlap tensor %q at [%d, %d]", t.Begin, t.End, prev.Name, prev.Begin, prev.End)
		case t.Begin > end:
			return nil, errorf(t.Name, ErrGap, "%d unused bytes before data_offsets [%d, %d]", t.Begin-end, t.Begin, t.End)
		}
		end = t.End
		f.index[t.Name] = i
	}
	if end != dataLen {
		return nil, errorf("", ErrGap, "tensors cover %d bytes of the %d-byte data buffer", end, dataLen)
	}
	return f, nil
}

// parser walks the header token by token, so that duplicate keys, which
// encoding/json would silently merge, can be detected.
type parser struct {
	dec *json.Decoder
}

// token returns the next token, reporting a syntax error as ErrHeader.
func (p *parser) token(name string) (json.Token, error) {
	tok, err := p.dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, errorf(name, ErrHeader, "not valid JSON: %v", err)
	}
	return tok, nil
}

// delim reads the opening delimiter d of the value of what.
func (p *parser) delim(d json.Delim, name string, kind error, what string) (json.Token, error) {
	tok, err := p.token(name)
	if err != nil {
		return nil, err
	}
	if tok != d {
		want := "an object"
		if d == '[' {
			want = "an array"
		}
		return nil, errorf(name, kind, "%s is %s, want %s", what, describe(tok), want)
	}
	return tok, nil
}

// key reads an object key; the decoder guarantees it is a string.
func (p *parser) key() (string, error) {
	tok, err := p.token("")
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", errorf("", ErrHeader, "object key is %s", describe(tok))
	}
	return s, nil
}

func (p *parser) metadata() (map[string]string, error) {
	if _, err := p.delim('{', MetadataKey, ErrMetadata, "value"); err != nil {
		return nil, err
	}
	m := make(map[string]string)
	for p.dec.More() {
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, errorf(MetadataKey, ErrMetadata, "duplicate key %q", k)
		}
		tok, err := p.token(MetadataKey)
		if err != nil {
			return nil, err
		}
		v, ok := tok.(string)
		if !ok {
			return nil, errorf(MetadataKey, ErrMetadata, "value of key %q is %s, want a string", k, describe(tok))
		}
		m[k] = v
	}
	if _, err := p.token(MetadataKey); err != nil {
		return nil, err
	}
	return m, nil
}

func (p *parser) entry(name string, dataLen int64) (TensorInfo, error) {
	t := TensorInfo{Name: name}
	if _, err := p.delim('{', name, ErrEntry, "entry"); err != nil {
		return t, err
	}
	var haveDType, haveShape, haveOffsets bool
	var offsets []int64
	for p.dec.More() {
		field, err := p.key()
		if err != nil {
			return t, err
		}
		var dup bool
		switch field {
		case "dtype":
			dup, haveDType = haveDType, true
			if dup {
				break
			}
			tok, err := p.token(name)
			if err != nil {
				return t, err
			}
			s, ok := tok.(string)
			if !ok {
				return t, errorf(name, ErrDType, "dtype is %s, want a string", describe(tok))
			}
			t.DType = DType(s)
		case "shape":
			dup, haveShape = haveShape, true
			if dup {
				break
			}
			dims, err := p.ints(name, ErrShape, "shape")
			if err != nil {
				return t, err
			}
			t.Shape = make([]int, len(dims))
			for i, d := range dims {
				if d > math.MaxInt {
					return t, errorf(name, ErrShape, "dimension %d is %d, too large", i, d)
				}
				t.Shape[i] = int(d)
			}
		case "data_offsets":
			dup, haveOffsets = haveOffsets, true
			if dup {
				break
			}
			if offsets, err = p.ints(name, ErrOffsets, "data_offsets"); err != nil {
				return t, err
			}
		default:
			return t, errorf(name, ErrEntry, "unknown field %q", field)
		}
		if dup {
			return t, errorf(name, ErrEntry, "duplicate field %q", field)
		}
	}
	if _, err := p.token(name); err != nil {
		return t, err
	}
	switch {
	case !haveDType:
		return t, errorf(name, ErrEntry, "missing field \"dtype\"")
	case !haveShape:
		return t, errorf(name, ErrEntry, "missing field \"shape\"")
	case !haveOffsets:
		return t, errorf(name, ErrEntry, "missing field \"data_offsets\"")
	}
	size := t.DType.Size()
	if size == 0 {
		return t, errorf(name, ErrDType, "unknown dtype %q", string(t.DType))
	}
	n, ok := numel.Of(t.Shape, size)
	if !ok {
		return t, errorf(name, ErrShape, "element count of %v overflows", t.Shape)
	}
	if len(offsets) != 2 {
		return t, errorf(name, ErrOffsets, "has %d values, want 2 [begin, end]", len(offsets))
	}
	t.Begin, t.End = offsets[0], offsets[1]
	switch {
	case t.Begin > t.End:
		return t, errorf(name, ErrOffsets, "begin %d is after end %d", t.Begin, t.End)
	case t.End > dataLen:
		return t, errorf(name, ErrOffsets, "end %d is beyond the %d-byte data buffer", t.End, dataLen)
	}
	if want := int64(n) * int64(size); t.End-t.Begin != want {
		return t, errorf(name, ErrSize, "dtype %s and shape %v need %d bytes, data_offsets [%d, %d] hold %d", t.DType, t.Shape, want, t.Begin, t.End, t.End-t.Begin)
	}
	return t, nil
}

// ints reads an array of non-negative integers.
func (p *parser) ints(name string, kind error, what string) ([]int64, error) {
	if _, err := p.delim('[', name, kind, what); err != nil {
		return nil, err
	}
	v := []int64{}
	for p.dec.More() {
		tok, err := p.token(name)
		if err != nil {
			return nil, err
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, errorf(name, kind, "%s[%d] is %s, want an integer", what, len(v), describe(tok))
		}
		x, err := strconv.ParseInt(string(num), 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange):
			return nil, errorf(name, kind, "%s[%d] = %s is out of range", what, len(v), num)
		case err != nil:
			return nil, errorf(name, kind, "%s[%d] = %s is not an integer", what, len(v), num)
		case x < 0:
			return nil, errorf(name, kind, "%s[%d] = %d is negative", what, len(v), x)
		}
		v = append(v, x)
	}
	if _, err := p.token(name); err != nil {
		return nil, err
	}
	return v, nil
}

// describe names the JSON type of a token for error messages.
func describe(tok json.Token) string {
	switch tok := tok.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case json.Delim:
		switch tok {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return fmt.Sprintf("%q", rune(tok))
	}
	return fmt.Sprintf("%T", tok)
}

// Renamed returns the file with every tensor name replaced by
// rename(name), sharing f's data. Two tensors may not end up with one
// name.
func (f *File) Renamed(rename func(string) string) (*File, error) {
	g := &File{Metadata: f.Metadata, data: f.data, index: map[string]int{}}
	g.Tensors = make([]TensorInfo, len(f.Tensors))
	for i, t := range f.Tensors {
		t.Name = rename(t.Name)
		if j, dup := g.index[t.Name]; dup {
			return nil, fmt.Errorf("safetensors: renaming gives %q to both %q and %q", t.Name, f.Tensors[j].Name, f.Tensors[i].Name)
		}
		g.index[t.Name] = i
		g.Tensors[i] = t
	}
	return g, nil
}
