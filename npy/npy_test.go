package npy

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/vivit-go/vivit/internal/numel"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// file assembles an .npy file from a raw header (no padding added).
func file(major byte, header string, data []byte) []byte {
	b := []byte(magic)
	b = append(b, major, 0)
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
	}
	b = append(b, header...)
	return append(b, data...)
}

func f8(order binary.AppendByteOrder, v ...float64) []byte {
	var b []byte
	for _, x := range v {
		b = order.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

const gradNorm = 0.41512816877715125 // expected.json of mse_regression

func TestReadGrad(t *testing.T) {
	a, err := ReadFile(filepath.Join("testdata", "grad.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Shape, []int{419}) || len(a.Data) != 419 {
		t.Fatalf("shape %v, %d values", a.Shape, len(a.Data))
	}
	if got := norm(a.Data); !(math.Abs(got-gradNorm) <= 1e-12*gradNorm) {
		t.Errorf("‖grad‖ = %.17g, want %.17g", got, gradNorm)
	}
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// checkEigvecs checks that the rows of a [k, p] array are orthonormal and
// follow the sign convention of the fixtures, which fails unless the
// Fortran-order data was transposed correctly.
func checkEigvecs(t *testing.T, a *Array, k, p int) {
	t.Helper()
	if !slices.Equal(a.Shape, []int{k, p}) || len(a.Data) != k*p {
		t.Fatalf("shape %v, %d values, want [%d %d]", a.Shape, len(a.Data), k, p)
	}
	for i := range k {
		row := a.Data[i*p : (i+1)*p]
		if n := norm(row); !(math.Abs(n-1) <= 1e-12) {
			t.Errorf("row %d has norm %.17g", i, n)
		}
		big := 0
		for j, x := range row {
			if math.Abs(x) > math.Abs(row[big]) {
				big = j
			}
		}
		if row[big] < 0 {
			t.Errorf("row %d: largest entry %v is negative", i, row[big])
		}
		for j := range i {
			if d := dot(row, a.Data[j*p:(j+1)*p]); !(math.Abs(d) <= 1e-12) {
				t.Errorf("rows %d and %d: dot product %v", i, j, d)
			}
		}
	}
}

func TestReadEigvecsFortran(t *testing.T) {
	b := readTestdata(t, "eigvecs.npy")
	if !bytes.Contains(b[:128], []byte("'fortran_order': True")) {
		t.Fatal("test data is not stored in Fortran order")
	}
	a, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	checkEigvecs(t, a, 10, 419)
	// The raw data, read in C order, is the transpose.
	raw := b[128:]
	for i := range 10 {
		for j := range 419 {
			x := math.Float64frombits(binary.LittleEndian.Uint64(raw[8*(j*10+i):]))
			if a.Data[i*419+j] != x {
				t.Fatalf("element (%d, %d) = %v, want %v", i, j, a.Data[i*419+j], x)
			}
		}
	}
}

// TestFixtures reads every .npy file of the module's reference fixtures and
// checks them against expected.json.
func TestFixtures(t *testing.T) {
	exps, _ := filepath.Glob(filepath.Join("..", "testdata", "fixtures", "*", "expected.json"))
	if len(exps) == 0 {
		t.Skip("no fixtures in ../testdata/fixtures")
	}
	for _, exp := range exps {
		dir := filepath.Dir(exp)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var e struct {
				NumParams int     `json:"num_params"`
				K         int     `json:"k"`
				GradNorm  float64 `json:"grad_norm"`
				Stats     struct {
					GGNTrace float64 `json:"ggn_trace"`
				} `json:"stats"`
			}
			b, err := os.ReadFile(exp)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatal(err)
			}
			read := func(name string) *Array {
				a, err := ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				return a
			}
			checkEigvecs(t, read("eigvecs.npy"), e.K, e.NumParams)
			for _, name := range []string{"grad.npy", "diag_ggn.npy", "grad_variance.npy"} {
				a := read(name)
				if !slices.Equal(a.Shape, []int{e.NumParams}) {
					t.Errorf("%s has shape %v, want [%d]", name, a.Shape, e.NumParams)
				}
				switch name {
				case "grad.npy":
					if got := norm(a.Data); !(math.Abs(got-e.GradNorm) <= 1e-12*e.GradNorm) {
						t.Errorf("‖grad‖ = %v, want %v", got, e.GradNorm)
					}
				case "diag_ggn.npy":
					var tr float64
					for _, x := range a.Data {
						tr += x
					}
					if !(math.Abs(tr-e.Stats.GGNTrace) <= 1e-12*e.Stats.GGNTrace) {
						t.Errorf("Σ diag(G) = %v, want %v", tr, e.Stats.GGNTrace)
					}
				case "grad_variance.npy":
					for i, x := range a.Data {
						if x < -1e-15 {
							t.Errorf("variance %d is %v", i, x)
						}
					}
				}
			}
		})
	}
}

// TestWriteMatchesNumPy checks Write against files written by numpy.save.
func TestWriteMatchesNumPy(t *testing.T) {
	orig := readTestdata(t, "grad.npy")
	a, err := Read(bytes.NewReader(orig))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, a); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), orig) {
		t.Errorf("rewritten grad.npy differs:\n got %q\nwant %q", buf.Bytes()[:128], orig[:128])
	}

	// numpy.save of the C-ordered eigenvectors has the same header as the
	// Fortran-ordered file, with False for True and one space less padding.
	ev := readTestdata(t, "eigvecs.npy")
	a, err = Read(bytes.NewReader(ev))
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := Write(&buf, a); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(string(ev[:128]), "True, ", "False, ", 1)
	want = strings.Replace(want, "  \n", " \n", 1)
	if got := string(buf.Bytes()[:128]); got != want {
		t.Errorf("header\n got %q\nwant %q", got, want)
	}
	if !bytes.Equal(buf.Bytes()[128:], f8(binary.LittleEndian, a.Data...)) {
		t.Error("data is not little-endian C order")
	}
}

func TestWriteHeader(t *testing.T) {
	// Headers numpy.save writes for these shapes (numpy 2.x), before padding.
	for _, tc := range []struct {
		shape []int
		dict  string
	}{
		{[]int{}, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }"},
		{[]int{3}, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }" + strings.Repeat(" ", 20)},
		{[]int{2, 3}, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }" + strings.Repeat(" ", 20)},
		{[]int{0, 12345}, "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 12345), }" + strings.Repeat(" ", 20)},
		{[]int{1000000, 0}, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 0), }" + strings.Repeat(" ", 14)},
	} {
		h := writtenHeader(t, tc.shape)
		if !strings.HasPrefix(h, tc.dict) || strings.TrimLeft(h[len(tc.dict):], " ") != "\n" {
			t.Errorf("shape %v: header %q, want %q + spaces + newline", tc.shape, h, tc.dict)
		}
	}
	// numpy pads with 1 to 64 spaces, never 0, so that the data starts at
	// a multiple of 64 bytes.
	pad64 := false
	for k := range 64 {
		shape := slices.Repeat([]int{1}, k)
		h := writtenHeader(t, shape)
		dict := "{'descr': '<f8', 'fortran_order': False, 'shape': " + shapeRepr(shape) + ", }"
		if k > 0 {
			dict += strings.Repeat(" ", 20)
		}
		pad := len(h) - 1 - len(dict)
		if pad < 1 || pad > 64 || (10+len(h))%64 != 0 {
			t.Errorf("shape %v: header of %d bytes has %d spaces of padding", shape, len(h), pad)
		}
		pad64 = pad64 || pad == 64
	}
	if !pad64 {
		t.Error("no shape tested a header that needs no alignment padding")
	}
}

// writtenHeader returns the header Write writes for a zero array.
func writtenHeader(t *testing.T, shape []int) string {
	t.Helper()
	n, _ := numel.Of(shape, 8)
	var buf bytes.Buffer
	if err := Write(&buf, &Array{Shape: shape, Data: make([]float64, n)}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if string(b[:8]) != magic+"\x01\x00" {
		t.Fatalf("shape %v: preamble %q", shape, b[:8])
	}
	hlen := int(binary.LittleEndian.Uint16(b[8:]))
	if len(b) != 10+hlen+8*n {
		t.Fatalf("shape %v: header length %d, file %d bytes", shape, hlen, len(b))
	}
	return string(b[10 : 10+hlen])
}

func TestReadDtypes(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	var i4, u2, i2 []byte
	for _, v := range []int32{-2, 0, 7} {
		i4 = le.AppendUint32(i4, uint32(v))
	}
	for _, v := range []uint16{65535, 0, 1} {
		u2 = be.AppendUint16(u2, v)
	}
	for _, v := range []int16{-300, 0, 300} {
		i2 = le.AppendUint16(i2, uint16(v))
	}
	f4 := func(order binary.AppendByteOrder, v ...float32) []byte {
		var b []byte
		for _, x := range v {
			b = order.AppendUint32(b, math.Float32bits(x))
		}
		return b
	}
	for _, tc := range []struct {
		descr string
		data  []byte
		want  []float64
		ints  []int64 // nil: ReadInt64 must fail
	}{
		{"<f8", f8(le, 1.5, -2, 3), []float64{1.5, -2, 3}, nil},
		{">f8", f8(be, 1, -2, 3), []float64{1, -2, 3}, []int64{1, -2, 3}},
		{"<f4", f4(le, 0.25, 2, -1), []float64{0.25, 2, -1}, nil},
		{">f4", f4(be, 4, 2, -1), []float64{4, 2, -1}, []int64{4, 2, -1}},
		{"<i8", binary.LittleEndian.AppendUint64(le.AppendUint64(le.AppendUint64(nil, 5), 1<<62), uint64(1)<<63), []float64{5, 1 << 62, -(1 << 63)}, []int64{5, 1 << 62, math.MinInt64}},
		{">i8", be.AppendUint64(be.AppendUint64(be.AppendUint64(nil, 5), 6), 7), []float64{5, 6, 7}, []int64{5, 6, 7}},
		{"<i4", i4, []float64{-2, 0, 7}, []int64{-2, 0, 7}},
		{"<i2", i2, []float64{-300, 0, 300}, []int64{-300, 0, 300}},
		{">u2", u2, []float64{65535, 0, 1}, []int64{65535, 0, 1}},
		{"|u1", []byte{0, 128, 255}, []float64{0, 128, 255}, []int64{0, 128, 255}},
		{"|i1", []byte{0, 128, 255}, []float64{0, -128, -1}, []int64{0, -128, -1}},
		{"<u1", []byte{1, 2, 3}, []float64{1, 2, 3}, []int64{1, 2, 3}},
		{"|b1", []byte{0, 1, 2}, []float64{0, 1, 1}, []int64{0, 1, 1}},
		{"<u8", le.AppendUint64(le.AppendUint64(le.AppendUint64(nil, 1), 2), math.MaxUint64), []float64{1, 2, math.MaxUint64}, nil},
	} {
		b := file(1, "{'descr': '"+tc.descr+"', 'fortran_order': False, 'shape': (3,), }\n", tc.data)
		a, err := Read(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s: %v", tc.descr, err)
			continue
		}
		if !slices.Equal(a.Data, tc.want) || !slices.Equal(a.Shape, []int{3}) {
			t.Errorf("%s: got %v %v, want %v", tc.descr, a.Shape, a.Data, tc.want)
		}
		ints, shape, err := ReadInt64(bytes.NewReader(b))
		switch {
		case tc.ints == nil && !errors.Is(err, ErrNotInteger):
			t.Errorf("%s: ReadInt64 = %v, %v, want ErrNotInteger", tc.descr, ints, err)
		case tc.ints != nil && (err != nil || !slices.Equal(ints, tc.ints) || !slices.Equal(shape, []int{3})):
			t.Errorf("%s: ReadInt64 = %v %v, %v, want %v", tc.descr, ints, shape, err, tc.ints)
		}
	}
}

func TestReadInt64Errors(t *testing.T) {
	for _, tc := range []struct {
		data []float64
		want string
	}{
		{[]float64{1, 2.5}, "element 1 of <f8 is 2.5, not an integer"},
		{[]float64{math.NaN()}, "element 0 of <f8 is NaN"},
		{[]float64{math.Inf(-1)}, "is -Inf"},
		{[]float64{1 << 63}, "is 9.223372036854776e+18"},
	} {
		var buf bytes.Buffer
		if err := Write(&buf, &Array{Shape: []int{len(tc.data)}, Data: tc.data}); err != nil {
			t.Fatal(err)
		}
		_, _, err := ReadInt64(&buf)
		if !errors.Is(err, ErrNotInteger) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.data, err, tc.want)
		}
	}
	// -2⁶³ is representable.
	var buf bytes.Buffer
	Write(&buf, &Array{Shape: []int{1}, Data: []float64{-(1 << 63)}})
	if v, _, err := ReadInt64(&buf); err != nil || v[0] != math.MinInt64 {
		t.Errorf("-2⁶³: %v, %v", v, err)
	}
	// Fortran-ordered integer labels are transposed.
	var d []byte
	for _, v := range []int64{1, 4, 2, 5, 3, 6} { // [[1 2 3] [4 5 6]] in Fortran order
		d = binary.LittleEndian.AppendUint64(d, uint64(v))
	}
	v, shape, err := ReadInt64(bytes.NewReader(file(1, "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }", d)))
	if err != nil || !slices.Equal(v, []int64{1, 2, 3, 4, 5, 6}) || !slices.Equal(shape, []int{2, 3}) {
		t.Errorf("Fortran-ordered i8: %v %v, %v", v, shape, err)
	}
}

// TestFortran checks the transpose for several ranks against an explicit
// index computation.
func TestFortran(t *testing.T) {
	for _, shape := range [][]int{{}, {5}, {2, 3}, {3, 1, 4}, {2, 3, 4, 5}, {1, 1, 7}, {2, 0, 3}} {
		n, _ := numel.Of(shape, 8)
		// Element with C index c has value c; store it at its Fortran index.
		fdata := make([]float64, n)
		for c := range n {
			// Multi-index of c in C order.
			rem, f, stride := c, 0, 1
			idx := make([]int, len(shape))
			for k := len(shape) - 1; k >= 0; k-- {
				idx[k] = rem % shape[k]
				rem /= shape[k]
			}
			for k := range shape {
				f += idx[k] * stride
				stride *= shape[k]
			}
			fdata[f] = float64(c)
		}
		hdr := "{'descr': '<f8', 'fortran_order': True, 'shape': " + shapeRepr(shape) + ", }"
		a, err := Read(bytes.NewReader(file(1, hdr, f8(binary.LittleEndian, fdata...))))
		if err != nil {
			t.Fatalf("shape %v: %v", shape, err)
		}
		for c, x := range a.Data {
			if x != float64(c) {
				t.Fatalf("shape %v: element %d = %v", shape, c, x)
			}
		}
	}
}

// TestHeaderVariants checks headers that NumPy would accept.
func TestHeaderVariants(t *testing.T) {
	data := f8(binary.LittleEndian, 1, 2, 3, 4, 5, 6)
	for _, tc := range []struct {
		header string
		shape  []int
	}{
		{"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", []int{2, 3}},
		{"{'shape': (2, 3), 'fortran_order': False, 'descr': '<f8'}", []int{2, 3}},
		{`{"descr": "<f8", "fortran_order": False, "shape": (6,)}`, []int{6}},
		{"{'descr':'<f8','fortran_order':False,'shape':(1,2,3,),}", []int{1, 2, 3}},
		{" \t{ 'descr' : '<f8' ,\n 'fortran_order' : False , 'shape' : ( 2 , 3 ) , } \n\r\n", []int{2, 3}},
		{"{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 3L), }", []int{2, 3}},
		{"{'descr': '<f8', 'fortran_order': False, 'shape': (6, 1, 1), }" + strings.Repeat(" ", 100) + "\n", []int{6, 1, 1}},
	} {
		for _, major := range []byte{1, 2, 3} {
			a, err := Read(bytes.NewReader(file(major, tc.header, data)))
			if err != nil {
				t.Errorf("v%d %q: %v", major, tc.header, err)
				continue
			}
			if !slices.Equal(a.Shape, tc.shape) || !slices.Equal(a.Data, []float64{1, 2, 3, 4, 5, 6}) {
				t.Errorf("v%d %q: shape %v, data %v", major, tc.header, a.Shape, a.Data)
			}
		}
	}
	// A scalar has shape () and one element.
	a, err := Read(bytes.NewReader(file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", f8(binary.LittleEndian, 42))))
	if err != nil || a.Shape == nil || len(a.Shape) != 0 || !slices.Equal(a.Data, []float64{42}) {
		t.Errorf("scalar: %+v, %v", a, err)
	}
	// An empty array has no data.
	a, err = Read(bytes.NewReader(file(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (0, 5), }", nil)))
	if err != nil || !slices.Equal(a.Shape, []int{0, 5}) || len(a.Data) != 0 {
		t.Errorf("empty: %+v, %v", a, err)
	}
}

// TestCorrupt damages a real file in many ways; each must give a specific
// error and no panic.
func TestCorrupt(t *testing.T) {
	orig := readTestdata(t, "grad.npy")
	hdr := string(orig[10:128])
	data := orig[128:]
	// edit replaces the first occurrence of old in the header of grad.npy
	// and rebuilds the file without padding.
	edit := func(old, new string) []byte {
		if !strings.Contains(hdr, old) {
			t.Fatalf("test bug: %q not in header", old)
		}
		return file(1, strings.Replace(hdr, old, new, 1), data)
	}
	patch := func(off int, b ...byte) []byte {
		c := slices.Clone(orig)
		copy(c[off:], b)
		return c
	}
	// A short file claiming more data than a 64-bit int can count is
	// truncated; on 32-bit platforms its size does not fit an int.
	type corruptCase struct {
		name string
		file []byte
		kind error
		want string
	}
	hugeShape := corruptCase{"huge shape, no data", edit("(419,)", "(1000000000, 1000000000)"), ErrTruncated, "data has 3352 bytes, shape (1000000000, 1000000000) of <f8 needs 8000000000000000000"}
	if bits.UintSize == 32 {
		hugeShape.kind, hugeShape.want = ErrShape, "shape (1000000000, 1000000000) of <f8 overflows"
	}
	for _, tc := range []corruptCase{
		{"empty", nil, ErrTruncated, "input ends after 0 bytes"},
		{"magic only", orig[:6], ErrTruncated, "input ends after 6 bytes"},
		{"bad magic", patch(1, 'n'), ErrMagic, `starts with "\x93nUMPY"`},
		{"short bad magic", []byte("PK\x03"), ErrMagic, `starts with "PK\x03"`},
		{"zip file", []byte("PK\x03\x04 not numpy at all"), ErrMagic, "not an npy file"},
		{"version 0", patch(6, 0), ErrVersion, "version 0.0 (want 1.0, 2.0 or 3.0)"},
		{"version 4", patch(6, 4), ErrVersion, "version 4.0"},
		{"minor version", patch(7, 1), ErrVersion, "version 1.1"},
		{"truncated length", orig[:9], ErrTruncated, "inside the header length"},
		{"truncated header", orig[:60], ErrTruncated, "header has 50 of 118 bytes"},
		{"header length too long", patch(8, 0xff, 0xff), ErrTruncated, "header has 3470 of 65535 bytes"},
		{"header length too short", patch(8, 50, 0), ErrShape, "shape is missing at offset 50, want a tuple"},
		{"huge v2 header length", append(append([]byte(magic), 2, 0, 0xff, 0xff, 0xff, 0xff), orig[10:]...), ErrHeader, "header length 4294967295 exceeds the limit of 1048576 bytes"},
		{"v2 reinterpreted length", patch(6, 2), ErrHeader, "header length 662372470 exceeds the limit"},
		{"truncated data", orig[:len(orig)-1], ErrTruncated, "data has 3351 bytes, shape (419,) of <f8 needs 3352"},
		{"no data", orig[:128], ErrTruncated, "data has 0 bytes"},
		{"trailing data", append(slices.Clone(orig), 0), ErrTrailing, "data of shape (419,) of <f8 (3352 bytes) is followed by more bytes"},
		{"two arrays", append(slices.Clone(orig), orig...), ErrTrailing, "followed by more bytes"},
		{"not a dict", edit("{", "["), ErrHeader, `unexpected "['descr'`},
		{"unquoted key", edit("'descr'", "descr"), ErrHeader, "want a quoted key"},
		{"unterminated string", edit("'<f8'", "'<f8"), ErrHeader, "unexpected"},
		{"escape", edit("'<f8'", `'<\x66'`), ErrHeader, "escape sequence in descr"},
		{"missing colon", edit("'descr':", "'descr'"), ErrHeader, `unexpected "'<f8'`},
		{"missing comma", edit("'<f8', ", "'<f8' "), ErrHeader, "want ',' or '}'"},
		{"missing brace", edit("}", ""), ErrHeader, "header ends where a quoted key is expected"},
		{"unclosed dict", file(1, "{'descr': '<f8'", nil), ErrHeader, "header ends where ',' or '}' is expected"},
		{"unclosed tuple", edit("(419,)", "(419,"), ErrShape, `dimension 1 is ", }`},
		{"trailing text", edit("}", "} x"), ErrHeader, `trailing characters "x`},
		{"two dicts", edit("}", "}{}"), ErrHeader, "trailing characters"},
		{"unknown key", edit("'descr'", "'dtype'"), ErrHeader, `unknown key "dtype"`},
		{"duplicate key", edit("'shape': (419,), ", "'shape': (419,), 'shape': (419,), "), ErrHeader, `duplicate key "shape"`},
		{"missing key", edit("'fortran_order': False, ", ""), ErrHeader, `missing key "fortran_order"`},
		{"fortran lowercase", edit("False", "false"), ErrHeader, `fortran_order is "false" at offset 34, want True or False`},
		{"fortran number", edit("False", "0"), ErrHeader, `fortran_order is "0,`},
		{"unsupported descr", edit("<f8", "<c16"), ErrDescr, `descr "<c16" is not supported`},
		{"native order descr", edit("<f8", "=f8"), ErrDescr, `descr "=f8"`},
		{"no order descr", edit("'<f8'", "'f8'"), ErrDescr, `descr "f8"`},
		{"pipe f8", edit("<f8", "|f8"), ErrDescr, `descr "|f8"`},
		{"structured descr", edit("'<f8'", "[('a', '<f8')]"), ErrDescr, "structured dtypes are not supported"},
		{"object descr", edit("<f8", "|O"), ErrDescr, `descr "|O"`},
		{"shape list", edit("(419,)", "[419]"), ErrShape, "shape is \"[419]"},
		{"shape int", edit("(419,)", "419"), ErrShape, "want a tuple"},
		{"shape not a tuple", edit("(419,)", "(419)"), ErrShape, "shape (419) is not a tuple"},
		{"negative dim", edit("(419,)", "(-419,)"), ErrShape, "dimension 0 = -419 is negative"},
		{"float dim", edit("(419,)", "(419.0,)"), ErrHeader, `unexpected ".0,)`},
		{"empty dim", edit("(419,)", "(419,,)"), ErrShape, "dimension 1 is \",)"},
		{"dim out of range", edit("(419,)", "(99999999999999999999,)"), ErrShape, "dimension 0 = 99999999999999999999 is out of range"},
		{"overflow shape", edit("(419,)", "(65536, 65536, 65536, 65536)"), ErrShape, "shape (65536, 65536, 65536, 65536) of <f8 overflows"},
		{"overflow bytes", edit("(419,)", fmt.Sprintf("(%d,)", math.MaxInt/8+1)), ErrShape, "overflows"},
		hugeShape,
		{"wrong size", edit("(419,)", "(420,)"), ErrTruncated, "needs 3360"},
		{"wrong dtype size", edit("<f8", "<f4"), ErrTrailing, "(1676 bytes) is followed by more bytes"},
		{"fortran changes nothing in 1-D but size", edit("(419,)", "(419, 2)"), ErrTruncated, "needs 6704"},
		{"v3 invalid UTF-8", append(append([]byte(magic), 3, 0, 118, 0, 0, 0), append([]byte("\xff"), orig[11:]...)...), ErrHeader, "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Read(bytes.NewReader(tc.file))
			if err == nil {
				t.Fatalf("no error; shape %v", a.Shape)
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
			if _, _, err2 := ReadInt64(bytes.NewReader(tc.file)); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("ReadInt64 error %v differs from Read error %v", err2, err)
			}
		})
	}
}

// TestMemoryBounded reads headers that claim huge arrays from short inputs.
func TestMemoryBounded(t *testing.T) {
	shape := "(100000000000,)" // 800 GB
	if bits.UintSize == 32 {
		shape = "(200000000,)" // 1.6 GB
	}
	b := file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': "+shape+", }", f8(binary.LittleEndian, 1, 2))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := Read(bytes.NewReader(b)); !errors.Is(err, ErrTruncated) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Errorf("reading a short file that claims shape %s of float64 10 times allocated %d bytes", shape, d)
	}
}

func TestRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for iter := range 300 {
		shape := make([]int, rnd.IntN(5))
		for k := range shape {
			shape[k] = rnd.IntN(6)
		}
		n, _ := numel.Of(shape, 8)
		a := &Array{Shape: shape, Data: make([]float64, n)}
		for i := range a.Data {
			if rnd.IntN(2) == 0 {
				a.Data[i] = math.Float64frombits(rnd.Uint64()) // any bits, NaN included
			} else {
				a.Data[i] = rnd.NormFloat64()
			}
		}
		var buf bytes.Buffer
		if err := Write(&buf, a); err != nil {
			t.Fatal(err)
		}
		if hl := int(binary.LittleEndian.Uint16(buf.Bytes()[8:])); (10+hl)%64 != 0 || buf.Bytes()[9+hl] != '\n' {
			t.Fatalf("iteration %d: header length %d", iter, hl)
		}
		got, err := Read(iotest.HalfReader(&buf))
		if err != nil {
			t.Fatalf("iteration %d: %v", iter, err)
		}
		if !slices.Equal(got.Shape, shape) || len(got.Data) != n {
			t.Fatalf("iteration %d: shape %v, want %v", iter, got.Shape, shape)
		}
		for i := range a.Data {
			if math.Float64bits(got.Data[i]) != math.Float64bits(a.Data[i]) {
				t.Fatalf("iteration %d: element %d = %v, want %v", iter, i, got.Data[i], a.Data[i])
			}
		}
	}
}

func TestWriteErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    *Array
		kind error
		want string
	}{
		{"nil", nil, ErrData, "nil *Array"},
		{"zero value", &Array{}, ErrData, "shape [] has 1 elements, Data has 0"},
		{"mismatch", &Array{Shape: []int{2, 3}, Data: make([]float64, 5)}, ErrData, "shape [2 3] has 6 elements, Data has 5"},
		{"negative", &Array{Shape: []int{2, -3}}, ErrShape, "dimension 1 is -3, must be non-negative"},
		{"overflow", &Array{Shape: []int{math.MaxInt, math.MaxInt}}, ErrShape, fmt.Sprintf("element count of [%d %d] overflows", math.MaxInt, math.MaxInt)},
	} {
		var buf bytes.Buffer
		err := Write(&buf, tc.a)
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %v containing %q", tc.name, err, tc.kind, tc.want)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: wrote %d bytes", tc.name, buf.Len())
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

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.npy")
	a := &Array{Shape: []int{3, 2}, Data: []float64{1, 2, 3, 4, 5, 6}}
	if err := WriteFile(path, a); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil || !slices.Equal(got.Data, a.Data) || !slices.Equal(got.Shape, a.Shape) {
		t.Fatalf("ReadFile: %+v, %v", got, err)
	}
	bad := filepath.Join(dir, "bad.npy")
	if err := WriteFile(bad, &Array{Shape: []int{2}}); !errors.Is(err, ErrData) || !strings.Contains(err.Error(), bad) {
		t.Errorf("WriteFile of an invalid array: %v", err)
	}
	if _, err := os.Stat(bad); !errors.Is(err, os.ErrNotExist) {
		t.Error("WriteFile created a file for an invalid array")
	}
	if err := os.WriteFile(bad, []byte("\x93NUMPY\x01\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadFile(bad)
	var e *Error
	if !errors.As(err, &e) || e.Path != bad || !strings.Contains(err.Error(), "npy: "+bad+": truncated") {
		t.Errorf("ReadFile of a truncated file: %v", err)
	}
	missing := filepath.Join(dir, "missing.npy")
	if _, err := ReadFile(missing); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("ReadFile of a missing file: %v", err)
	}
	if err := WriteFile(filepath.Join(dir, "no", "dir", "x.npy"), a); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
	if err := Write(&failWriter{n: 100}, &Array{Shape: []int{100000}, Data: make([]float64, 100000)}); err == nil || !strings.Contains(err.Error(), "device full") {
		t.Errorf("Write to a failing writer: %v", err)
	}
	if _, err := Read(iotest.ErrReader(errors.New("disk on fire"))); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("Read from a failing reader: %v", err)
	}
	half := io.MultiReader(bytes.NewReader(readTestdata(t, "grad.npy")[:200]), iotest.ErrReader(errors.New("cable cut")))
	if _, err := Read(half); err == nil || !strings.Contains(err.Error(), "cable cut") {
		t.Errorf("Read from a reader failing in the data: %v", err)
	}
}
