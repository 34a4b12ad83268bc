package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vivit-go/vivit/internal/atomicfile"
	"github.com/vivit-go/vivit/internal/numel"
)

// MaxHeaderLen is the largest header length, in bytes, that Read accepts.
const MaxHeaderLen = 1 << 20

const magic = "\x93NUMPY"

// Array is an n-dimensional float64 array in C (row-major) order. Data has
// the product of Shape elements; an empty Shape is a scalar with one.
type Array struct {
	Shape []int
	Data  []float64
}

// dtype is a supported element type.
type dtype struct {
	kind  byte // 'f', 'i', 'u' or 'b'
	size  int
	order binary.ByteOrder
}

func parseDescr(s string) (dtype, error) {
	bad := errorf(ErrDescr, "descr %q is not supported (want <f8, <f4, >f8, >f4, <i8, <i4, <i2, |i1, <u8, <u4, <u2, |u1 or |b1)", clip(s))
	if len(s) != 3 {
		return dtype{}, bad
	}
	d := dtype{kind: s[1], size: int(s[2] - '0')}
	switch s[1:] {
	case "f4", "f8", "i2", "i4", "i8", "u2", "u4", "u8":
		switch s[0] {
		case '<':
			d.order = binary.LittleEndian
		case '>':
			d.order = binary.BigEndian
		default:
			return dtype{}, bad
		}
	case "i1", "u1", "b1":
		if s[0] != '|' && s[0] != '<' && s[0] != '>' {
			return dtype{}, bad
		}
		d.order = binary.LittleEndian
	default:
		return dtype{}, bad
	}
	return d, nil
}

// float64s converts raw data to float64.
func (d dtype) float64s(b []byte) []float64 {
	v := make([]float64, len(b)/d.size)
	for i := range v {
		p := b[i*d.size:]
		switch d.kind {
		case 'f':
			if d.size == 4 {
				v[i] = float64(math.Float32frombits(d.order.Uint32(p)))
			} else {
				v[i] = math.Float64frombits(d.order.Uint64(p))
			}
		case 'u':
			v[i] = float64(d.uint(p))
		case 'i':
			v[i] = float64(d.int(p))
		case 'b':
			if p[0] != 0 {
				v[i] = 1
			}
		}
	}
	return v
}

func (d dtype) uint(p []byte) uint64 {
	switch d.size {
	case 1:
		return uint64(p[0])
	case 2:
		return uint64(d.order.Uint16(p))
	case 4:
		return uint64(d.order.Uint32(p))
	}
	return d.order.Uint64(p)
}

func (d dtype) int(p []byte) int64 {
	switch d.size {
	case 1:
		return int64(int8(p[0]))
	case 2:
		return int64(int16(d.order.Uint16(p)))
	case 4:
		return int64(int32(d.order.Uint32(p)))
	}
	return int64(d.order.Uint64(p))
}

// raw is a decoded file before conversion.
type raw struct {
	header
	dtype dtype
	n     int
	data  []byte
}

// decode reads and validates one array from r.
func decode(r io.Reader) (*raw, error) {
	var pre [8]byte
	n, err := io.ReadFull(r, pre[:])
	m := min(n, len(magic))
	if string(pre[:m]) != magic[:m] {
		return nil, errorf(ErrMagic, "starts with %q, want %q", pre[:m], magic)
	}
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, errorf(ErrTruncated, "input ends after %d bytes, inside the magic string and version", n)
		}
		return nil, fmt.Errorf("npy: %w", err)
	}
	major, minor := pre[6], pre[7]
	if major < 1 || major > 3 || minor != 0 {
		return nil, errorf(ErrVersion, "version %d.%d (want 1.0, 2.0 or 3.0)", major, minor)
	}
	lenBytes := 4
	if major == 1 {
		lenBytes = 2
	}
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:lenBytes]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, errorf(ErrTruncated, "input ends inside the header length")
		}
		return nil, fmt.Errorf("npy: %w", err)
	}
	hlen := uint64(binary.LittleEndian.Uint32(lb[:]))
	if hlen > MaxHeaderLen {
		return nil, errorf(ErrHeader, "header length %d exceeds the limit of %d bytes", hlen, MaxHeaderLen)
	}
	hb, err := io.ReadAll(io.LimitReader(r, int64(hlen)))
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	if uint64(len(hb)) < hlen {
		return nil, errorf(ErrTruncated, "header has %d of %d bytes", len(hb), hlen)
	}
	if major == 3 && !utf8.Valid(hb) {
		return nil, errorf(ErrHeader, "version 3.0 header is not valid UTF-8")
	}
	h, err := parseHeader(string(hb))
	if err != nil {
		return nil, err
	}
	d, err := parseDescr(h.descr)
	if err != nil {
		return nil, err
	}
	count, ok := numel.Of(h.shape, d.size)
	if !ok {
		return nil, errorf(ErrShape, "shape %s of %s overflows", shapeRepr(h.shape), h.descr)
	}
	nbytes := int64(count) * int64(d.size)
	limit := nbytes
	if limit < math.MaxInt64 {
		limit++ // one more byte, to detect trailing data
	}
	data, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	switch {
	case int64(len(data)) < nbytes:
		return nil, errorf(ErrTruncated, "data has %d bytes, shape %s of %s needs %d", len(data), shapeRepr(h.shape), h.descr, nbytes)
	case int64(len(data)) > nbytes:
		return nil, errorf(ErrTrailing, "data of shape %s of %s (%d bytes) is followed by more bytes", shapeRepr(h.shape), h.descr, nbytes)
	}
	return &raw{header: h, dtype: d, n: count, data: data}, nil
}

// Read reads a .npy file holding one array from r, which must hold nothing
// else.
func Read(r io.Reader) (*Array, error) {
	x, err := decode(r)
	if err != nil {
		return nil, err
	}
	v := x.dtype.float64s(x.data)
	if x.fortran {
		v = toC(x.shape, v)
	}
	return &Array{Shape: x.shape, Data: v}, nil
}

// ReadFile reads the .npy file at path; see Read. Errors mention path.
func ReadFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	a, err := Read(bufio.NewReader(f))
	if err != nil {
		return nil, withPath(err, path)
	}
	return a, nil
}

// ReadInt64 reads a .npy file holding one integer array from r, in C
// order. Integer and bool dtypes are converted exactly; float dtypes are
// accepted only if every element is an integer in the int64 range.
func ReadInt64(r io.Reader) (data []int64, shape []int, err error) {
	x, err := decode(r)
	if err != nil {
		return nil, nil, err
	}
	d := x.dtype
	switch d.kind {
	case 'f':
		v := d.float64s(x.data)
		if x.fortran {
			v = toC(x.shape, v)
		}
		data = make([]int64, len(v))
		for i, f := range v {
			// -2⁶³ is exact in float64; 2⁶³ is the first value beyond range.
			if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
				return nil, nil, errorf(ErrNotInteger, "element %d of %s is %v, not an integer in the int64 range", i, x.descr, f)
			}
			data[i] = int64(f)
		}
	default:
		data = make([]int64, x.n)
		for i := range data {
			p := x.data[i*d.size:]
			switch d.kind {
			case 'u':
				u := d.uint(p)
				if u > math.MaxInt64 {
					return nil, nil, errorf(ErrNotInteger, "an element of %s is %d, beyond the int64 range", x.descr, u)
				}
				data[i] = int64(u)
			case 'i':
				data[i] = d.int(p)
			case 'b':
				if p[0] != 0 {
					data[i] = 1
				}
			}
		}
		if x.fortran {
			data = toC(x.shape, data)
		}
	}
	return data, x.shape, nil
}

// toC reorders v, the elements of an array of the given shape in Fortran
// order, into C order.
func toC[T any](shape []int, v []T) []T {
	if len(shape) < 2 || len(v) == 0 {
		return v
	}
	// Walk the source in Fortran order (first index fastest) while keeping
	// the destination offset in C order up to date.
	stride := make([]int, len(shape))
	s := 1
	for k := len(shape) - 1; k >= 0; k-- {
		stride[k] = s
		s *= shape[k]
	}
	idx := make([]int, len(shape))
	out := make([]T, len(v))
	dst := 0
	for _, x := range v {
		out[dst] = x
		for k := range idx {
			idx[k]++
			dst += stride[k]
			if idx[k] < shape[k] {
				break
			}
			dst -= stride[k] * shape[k]
			idx[k] = 0
		}
	}
	return out
}

// shapeRepr formats shape as Python does a tuple: (), (3,), (3, 4).
func shapeRepr(shape []int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, d := range shape {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		b.WriteByte(',')
	}
	b.WriteByte(')')
	return b.String()
}

// growthDigits is NumPy's GROWTH_AXIS_MAX_DIGITS: numpy.save leaves room
// for the first dimension to grow to this many digits.
const growthDigits = 21

// encodeHeader validates a and returns the complete preamble of its file.
func encodeHeader(a *Array) ([]byte, error) {
	if a == nil {
		return nil, errorf(ErrData, "nil *Array")
	}
	for k, d := range a.Shape {
		if d < 0 {
			return nil, errorf(ErrShape, "dimension %d is %d, must be non-negative", k, d)
		}
	}
	n, ok := numel.Of(a.Shape, 8)
	if !ok {
		return nil, errorf(ErrShape, "element count of %v overflows", a.Shape)
	}
	if len(a.Data) != n {
		return nil, errorf(ErrData, "shape %v has %d elements, Data has %d", a.Shape, n, len(a.Data))
	}
	dict := "{'descr': '<f8', 'fortran_order': False, 'shape': " + shapeRepr(a.Shape) + ", }"
	if len(a.Shape) > 0 {
		dict += strings.Repeat(" ", max(0, growthDigits-len(strconv.Itoa(a.Shape[0]))))
	}
	hlen := len(dict) + 1 // with the final newline
	for _, v := range []struct {
		major    byte
		lenBytes int
		max      int
	}{{1, 2, math.MaxUint16}, {2, 4, int(min(math.MaxUint32, math.MaxInt))}} {
		pre := len(magic) + 2 + v.lenBytes
		pad := 64 - (pre+hlen)%64
		if hlen+pad > v.max {
			continue
		}
		var b bytes.Buffer
		b.WriteString(magic)
		b.WriteByte(v.major)
		b.WriteByte(0)
		if v.lenBytes == 2 {
			b.Write(binary.LittleEndian.AppendUint16(nil, uint16(hlen+pad)))
		} else {
			b.Write(binary.LittleEndian.AppendUint32(nil, uint32(hlen+pad)))
		}
		b.WriteString(dict)
		b.WriteString(strings.Repeat(" ", pad))
		b.WriteByte('\n')
		return b.Bytes(), nil
	}
	return nil, errorf(ErrShape, "header for shape of %d dimensions is too long", len(a.Shape))
}

// Write writes a to w as numpy.save writes a C-contiguous float64 array.
// Nothing is written if a is invalid.
func Write(w io.Writer, a *Array) error {
	h, err := encodeHeader(a)
	if err != nil {
		return err
	}
	return write(w, h, a.Data)
}

// WriteFile writes a to the file at path; see Write. The file is not
// created if a is invalid.
// An existing file is replaced whole or not at all: the data goes to a
// temporary file in the same directory, renamed over path once complete.
func WriteFile(path string, a *Array) error {
	h, err := encodeHeader(a)
	if err != nil {
		return withPath(err, path)
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return write(w, h, a.Data) }); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}

func write(w io.Writer, header []byte, data []float64) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.Write(header)
	var buf [8]byte
	for _, v := range data {
		binary.LittleEndian.PutUint64(buf[:], math.Float64bits(v))
		bw.Write(buf[:])
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}
