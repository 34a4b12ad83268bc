package torchpt

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
	"github.com/vivit-go/vivit/internal/quote"
)

// Errors that Open and Read wrap, for errors.Is.
var (
	// ErrLegacy: the file is in the serialization format of PyTorch < 1.6.
	ErrLegacy = errors.New("legacy PyTorch serialization (torch < 1.6 or _use_new_zipfile_serialization=False) is not supported; re-save it with a current torch.save, or as safetensors")
	// ErrTorchScript: the file is a TorchScript archive.
	ErrTorchScript = errors.New("a TorchScript archive (torch.jit.save) is not a state_dict; save model.state_dict() with torch.save")
	// ErrNotStateDict: the pickle holds something other than tensors.
	ErrNotStateDict = errors.New("not a state_dict")
	// ErrFormat: the archive or the pickle is malformed.
	ErrFormat = errors.New("malformed PyTorch file")
)

// MaxElements bounds the number of elements of a tensor that is larger
// than its storage (an expanded view with zero strides).
const MaxElements = 1 << 22

// maxPickle bounds the size of data.pkl.
const maxPickle = 256 << 20

// DType is a tensor element type, spelled as in PyTorch ("float32", …).
type DType string

// Element types.
const (
	Float32  DType = "float32"
	Float64  DType = "float64"
	Float16  DType = "float16"
	BFloat16 DType = "bfloat16"
	Int64    DType = "int64"
	Int32    DType = "int32"
	Int16    DType = "int16"
	Int8     DType = "int8"
	Uint8    DType = "uint8"
	Bool     DType = "bool"
)

// storageTypes maps torch's storage class names to element types.
var storageTypes = map[string]DType{
	"FloatStorage": Float32, "DoubleStorage": Float64, "HalfStorage": Float16,
	"BFloat16Storage": BFloat16, "LongStorage": Int64, "IntStorage": Int32,
	"ShortStorage": Int16, "CharStorage": Int8, "ByteStorage": Uint8, "BoolStorage": Bool,
}

var dtypeSizes = map[DType]int{
	Float32: 4, Float64: 8, Float16: 2, BFloat16: 2, Int64: 8, Int32: 4,
	Int16: 2, Int8: 1, Uint8: 1, Bool: 1,
}

// Size returns the size of one element in bytes (0 if d is unknown).
func (d DType) Size() int { return dtypeSizes[d] }

// Tensor is one named tensor. Exactly one of F64, F32 and I64 is non-nil
// (possibly empty); see the package documentation for which.
type Tensor struct {
	Name  string
	DType DType // the element type in the file; for Write, derived from the set slice
	Shape []int // [] for a scalar
	F64   []float64
	F32   []float32
	I64   []int64
}

// NumElements returns the product of the shape (1 for a scalar).
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Float64s returns the elements of a floating-point tensor as float64.
func (t *Tensor) Float64s() ([]float64, error) {
	switch {
	case t.F64 != nil:
		return append([]float64(nil), t.F64...), nil
	case t.F32 != nil:
		out := make([]float64, len(t.F32))
		for i, v := range t.F32 {
			out[i] = float64(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("torchpt: tensor %q has dtype %s, want a floating-point type", t.Name, t.DType)
}

// Int64s returns the elements of an integer or bool tensor.
func (t *Tensor) Int64s() ([]int64, error) {
	if t.I64 != nil {
		return append([]int64(nil), t.I64...), nil
	}
	return nil, fmt.Errorf("torchpt: tensor %q has dtype %s, want an integer type", t.Name, t.DType)
}

// File is a loaded state_dict.
type File struct {
	// Tensors in the order of the state_dict. A file holding a single
	// tensor (torch.save(x)) has one, named "".
	Tensors []Tensor
}

// Names returns the tensor names in order.
func (f *File) Names() []string {
	ns := make([]string, len(f.Tensors))
	for i, t := range f.Tensors {
		ns[i] = t.Name
	}
	return ns
}

// Lookup returns the named tensor.
func (f *File) Lookup(name string) (*Tensor, bool) {
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i], true
		}
	}
	return nil, false
}

// Kind is what the first bytes of a file say it is.
type Kind int

const (
	Unknown Kind = iota // neither of the below
	Zip                 // a zip archive: the format of torch.save since PyTorch 1.6
	Legacy              // the pickle stream of torch.save before PyTorch 1.6
)

// legacyMagic is the magic number 0x1950a86a20f9469cfc6c pickled as LONG1,
// the first object of the legacy format.
var legacyMagic = []byte{0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

// SniffLen is the number of leading bytes Sniff needs.
const SniffLen = 32

// Sniff tells from the first SniffLen bytes of a file whether it looks
// like a PyTorch file.
func Sniff(head []byte) Kind {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return Zip
	case len(head) > 0 && head[0] == 0x80 && bytes.Contains(head[:min(len(head), SniffLen)], legacyMagic):
		return Legacy
	}
	return Unknown
}

// Open reads the file at path; see Read. Errors name the path.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("torchpt: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("torchpt: %w", err)
	}
	f, err := Read(fh, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Read reads a state_dict (or a single tensor) saved by torch.save from r,
// which holds size bytes.
func Read(r io.ReaderAt, size int64) (f *File, err error) {
	head := make([]byte, SniffLen)
	n, _ := r.ReadAt(head, 0)
	switch Sniff(head[:n]) {
	case Legacy:
		return nil, ErrLegacy
	case Unknown:
		if n > 0 && head[0] == 0x80 {
			return nil, fmt.Errorf("%w: a bare pickle, not a torch.save archive", ErrFormat)
		}
		return nil, fmt.Errorf("%w: not a zip archive", ErrFormat)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	a, err := newArchive(zr)
	if err != nil {
		return nil, err
	}
	defer func() {
		// The pickle machine panics on some malformed input.
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("%w: data.pkl: %v", ErrFormat, p)
		}
	}()
	obj, err := a.unpickle()
	if err != nil {
		return nil, err
	}
	return a.stateDict(obj)
}

// archive is an open torch.save zip archive.
type archive struct {
	records  map[string]*zip.File // by name, without the top-level folder
	order    binary.ByteOrder
	storages map[string]*storage
}

func newArchive(zr *zip.Reader) (*archive, error) {
	a := &archive{records: map[string]*zip.File{}, order: binary.LittleEndian, storages: map[string]*storage{}}
	prefix := ""
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "data.pkl") && (f.Name == "data.pkl" || strings.HasSuffix(f.Name, "/data.pkl")) {
			p := strings.TrimSuffix(f.Name, "data.pkl")
			if strings.Count(p, "/") <= 1 {
				prefix = p
				break
			}
		}
	}
	for _, f := range zr.File {
		if name, ok := strings.CutPrefix(f.Name, prefix); ok {
			if _, dup := a.records[name]; dup {
				return nil, fmt.Errorf("%w: record %q appears twice", ErrFormat, f.Name)
			}
			a.records[name] = f
		}
	}
	if _, ok := a.records["constants.pkl"]; ok {
		return nil, ErrTorchScript
	}
	if _, ok := a.records["data.pkl"]; !ok {
		return nil, fmt.Errorf("%w: a zip archive without data.pkl (not written by torch.save)", ErrFormat)
	}
	if bo, ok := a.records["byteorder"]; ok {
		b, err := readRecord(bo, 16)
		if err != nil {
			return nil, err
		}
		switch string(b) {
		case "little":
		case "big":
			a.order = binary.BigEndian
		default:
			return nil, fmt.Errorf("%w: byteorder record is %q, want little or big", ErrFormat, b)
		}
	}
	return a, nil
}

// readRecord reads a whole record of at most limit bytes; memory grows
// with the bytes actually read, not with the size the archive claims.
func readRecord(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%w: record %q has %d bytes, more than %d", ErrFormat, f.Name, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: record %q: %v", ErrFormat, f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit))
	if err != nil {
		return nil, fmt.Errorf("%w: record %q: %v", ErrFormat, f.Name, err)
	}
	return b, nil
}

// storage is a persistent storage reference from the pickle.
type storage struct {
	dtype DType
	key   string
	numel int
	data  []byte // loaded on first use
}

// view is a tensor as the pickle describes it.
type view struct {
	st     *storage
	offset int
	size   []int
	stride []int
}

func (a *archive) unpickle() (any, error) {
	data, err := readRecord(a.records["data.pkl"], maxPickle)
	if err != nil {
		return nil, err
	}
	if err := scan(data); err != nil {
		return nil, fmt.Errorf("%w: data.pkl: %v", ErrFormat, err)
	}
	u := pickle.NewUnpickler(bytes.NewReader(data))
	u.FindClass = findClass
	u.PersistentLoad = a.persistentLoad
	obj, err := u.Load()
	if err != nil {
		var nc *notAllowed
		if errors.As(err, &nc) {
			return nil, nc.err()
		}
		return nil, fmt.Errorf("%w: data.pkl: %v", ErrFormat, err)
	}
	return obj, nil
}

func (a *archive) persistentLoad(id any) (any, error) {
	t, ok := id.(*types.Tuple)
	if !ok || t.Len() != 5 {
		return nil, fmt.Errorf("persistent id %v is not a 5-tuple ('storage', type, key, location, numel)", id)
	}
	if s, _ := t.Get(0).(string); s != "storage" {
		return nil, fmt.Errorf("persistent id of kind %v, want 'storage'", t.Get(0))
	}
	st, ok := t.Get(1).(storageClass)
	if !ok {
		return nil, fmt.Errorf("persistent id with storage type %v", t.Get(1))
	}
	key, ok1 := t.Get(2).(string)
	numel, ok2 := toInt(t.Get(4))
	if !ok1 || !ok2 || numel < 0 {
		return nil, fmt.Errorf("persistent id with key %v and size %v", t.Get(2), t.Get(4))
	}
	if s, ok := a.storages[key]; ok {
		if s.dtype != st.dtype || s.numel != numel {
			return nil, fmt.Errorf("storage %q is referenced as %s[%d] and %s[%d]", key, s.dtype, s.numel, st.dtype, numel)
		}
		return s, nil
	}
	s := &storage{dtype: st.dtype, key: key, numel: numel}
	a.storages[key] = s
	return s, nil
}

// load reads the storage's bytes from its record.
func (a *archive) load(s *storage) error {
	if s.data != nil {
		return nil
	}
	rec, ok := a.records["data/"+s.key]
	if !ok {
		return fmt.Errorf("%w: storage %q has no record %q", ErrFormat, s.key, "data/"+s.key)
	}
	want := int64(s.numel) * int64(s.dtype.Size())
	if int64(s.numel) > math.MaxInt64/8 || rec.UncompressedSize64 != uint64(want) {
		return fmt.Errorf("%w: record %q has %d bytes, its %d elements of %s need %d", ErrFormat, "data/"+s.key, rec.UncompressedSize64, s.numel, s.dtype, want)
	}
	b, err := readRecord(rec, want)
	if err != nil {
		return err
	}
	if int64(len(b)) != want {
		return fmt.Errorf("%w: record %q is truncated", ErrFormat, "data/"+s.key)
	}
	s.data = b
	return nil
}

func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case *big.Int:
		if x.IsInt64() && x.Int64() >= math.MinInt && x.Int64() <= math.MaxInt {
			return int(x.Int64()), true
		}
	}
	return 0, false
}

func toInts(v any) ([]int, bool) {
	t, ok := v.(*types.Tuple)
	if !ok {
		if l, ok := v.(*types.List); ok {
			t = types.NewTupleFromSlice(*l)
		} else {
			return nil, false
		}
	}
	out := make([]int, t.Len())
	for i := range out {
		x, ok := toInt(t.Get(i))
		if !ok {
			return nil, false
		}
		out[i] = x
	}
	return out, true
}

// stateDict turns the unpickled object into tensors.
func (a *archive) stateDict(obj any) (*File, error) {
	type entry struct {
		key   any
		value any
	}
	var entries []entry
	switch d := obj.(type) {
	case *view:
		t, err := a.tensor("", d)
		if err != nil {
			return nil, err
		}
		return &File{Tensors: []Tensor{t}}, nil
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			oe := e.Value.(*types.OrderedDictEntry)
			entries = append(entries, entry{oe.Key, oe.Value})
		}
	case *types.Dict:
		for _, e := range *d {
			entries = append(entries, entry{e.Key, e.Value})
		}
	default:
		return nil, fmt.Errorf("%w: the file holds %s, not a dict of tensors", ErrNotStateDict, describe(obj))
	}
	f := &File{}
	seen := map[string]bool{}
	var nested []string
	var firstErr error
	for _, e := range entries {
		name, ok := e.key.(string)
		if !ok {
			return nil, fmt.Errorf("%w: a key is %s, not a string", ErrNotStateDict, describe(e.key))
		}
		v, ok := e.value.(*view)
		if !ok {
			if hasTensors(e.value) {
				nested = append(nested, name)
			} else if firstErr == nil {
				firstErr = fmt.Errorf("%w: %q is %s, not a tensor", ErrNotStateDict, name, describe(e.value))
			}
			continue
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: tensor %q appears twice", ErrFormat, name)
		}
		seen[name] = true
		t, err := a.tensor(name, v)
		if err != nil {
			return nil, err
		}
		f.Tensors = append(f.Tensors, t)
	}
	if len(nested) > 0 {
		return nil, fmt.Errorf("%w: it is a dict whose entries %s hold dicts of tensors (a training checkpoint?); save the model's state_dict itself, e.g. torch.save(ckpt[%q], path)",
			ErrNotStateDict, quoteAll(nested), nested[0])
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return f, nil
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

func hasTensors(v any) bool {
	switch d := v.(type) {
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			if hasTensors(e.Value.(*types.OrderedDictEntry).Value) {
				return true
			}
		}
	case *types.Dict:
		for _, e := range *d {
			if hasTensors(e.Value) {
				return true
			}
		}
	case *view:
		return true
	}
	return false
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		return fmt.Sprintf("the string %q", x)
	case int, *big.Int:
		return fmt.Sprintf("the integer %v", x)
	case float64:
		return fmt.Sprintf("the number %v", x)
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case *types.List:
		return "a list"
	case *types.Tuple:
		return "a tuple"
	case *types.Dict, *types.OrderedDict:
		return "a dict"
	case *storage:
		return "a bare storage"
	}
	return fmt.Sprintf("a %T", v)
}

// tensor copies a view out of its storage into a contiguous tensor.
func (a *archive) tensor(name string, v *view) (Tensor, error) {
	t := Tensor{Name: name, DType: v.st.dtype, Shape: v.size}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: tensor %q: %s", ErrFormat, name, fmt.Sprintf(format, args...))
	}
	if len(v.size) != len(v.stride) {
		return t, bad("size %v and stride %v have different lengths", v.size, v.stride)
	}
	if v.offset < 0 {
		return t, bad("negative storage offset %d", v.offset)
	}
	n := 1
	last := v.offset // largest storage index the view touches
	for i, d := range v.size {
		if d < 0 || v.stride[i] < 0 {
			return t, bad("size %v or stride %v is negative", v.size, v.stride)
		}
		if d == 0 {
			n = 0
			continue
		}
		if n > 0 {
			if d > MaxElements || n > MaxElements*8/d {
				n = -1 // too many; reported below
			} else {
				n *= d
			}
		}
		if v.stride[i] > 0 && d-1 > (math.MaxInt-last)/v.stride[i] {
			return t, bad("view runs past the end of its storage")
		}
		last += (d - 1) * v.stride[i]
	}
	if n != 0 && last >= v.st.numel {
		return t, bad("view (offset %d, size %v, stride %v) runs past the end of its storage of %d elements", v.offset, v.size, v.stride, v.st.numel)
	}
	if n < 0 || (n > v.st.numel && n > MaxElements) {
		return t, bad("expanded view of %v elements is larger than MaxElements", v.size)
	}
	if err := a.load(v.st); err != nil {
		return t, err
	}
	// Visit the elements in row-major order.
	idx := make([]int, n)
	if n > 0 {
		pos := make([]int, len(v.size))
		off := v.offset
		for k := 0; k < n; k++ {
			idx[k] = off
			for d := len(pos) - 1; d >= 0; d-- {
				pos[d]++
				off += v.stride[d]
				if pos[d] < v.size[d] {
					break
				}
				off -= v.stride[d] * v.size[d]
				pos[d] = 0
			}
		}
	}
	decode(&t, v.st.data, idx, a.order)
	return t, nil
}

// decode fills t's slice with the elements of data at the indices idx.
func decode(t *Tensor, data []byte, idx []int, order binary.ByteOrder) {
	size := t.DType.Size()
	at := func(i int) []byte { return data[i*size : (i+1)*size] }
	switch t.DType {
	case Float64:
		t.F64 = make([]float64, len(idx))
		for k, i := range idx {
			t.F64[k] = math.Float64frombits(order.Uint64(at(i)))
		}
	case Float32, Float16, BFloat16:
		t.F32 = make([]float32, len(idx))
		for k, i := range idx {
			switch t.DType {
			case Float32:
				t.F32[k] = math.Float32frombits(order.Uint32(at(i)))
			case Float16:
				t.F32[k] = halfToFloat(order.Uint16(at(i)))
			case BFloat16:
				t.F32[k] = math.Float32frombits(uint32(order.Uint16(at(i))) << 16)
			}
		}
	default:
		t.I64 = make([]int64, len(idx))
		for k, i := range idx {
			p := at(i)
			switch t.DType {
			case Int64:
				t.I64[k] = int64(order.Uint64(p))
			case Int32:
				t.I64[k] = int64(int32(order.Uint32(p)))
			case Int16:
				t.I64[k] = int64(int16(order.Uint16(p)))
			case Int8:
				t.I64[k] = int64(int8(p[0]))
			case Uint8:
				t.I64[k] = int64(p[0])
			case Bool:
				if p[0] != 0 {
					t.I64[k] = 1
				}
			}
		}
	}
}

// halfToFloat converts an IEEE 754 binary16 to float32 exactly.
func halfToFloat(h uint16) float32 {
	sign := float32(1)
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float32(h & 0x3ff)
	switch exp {
	case 0:
		return sign * frac * float32(math.Ldexp(1, -24))
	case 0x1f:
		if frac == 0 {
			return sign * float32(math.Inf(1))
		}
		return float32(math.NaN())
	}
	return sign * (1 + frac/1024) * float32(math.Ldexp(1, exp-15))
}

// Classes the pickle may name.

type storageClass struct{ dtype DType }

type rebuildTensor struct{ v1 bool }

func (r rebuildTensor) Call(args ...any) (any, error) {
	// _rebuild_tensor_v2(storage, storage_offset, size, stride,
	// requires_grad, backward_hooks[, metadata]);
	// _rebuild_tensor(storage, storage_offset, size, stride).
	if (r.v1 && len(args) != 4) || (!r.v1 && len(args) != 6 && len(args) != 7) {
		return nil, fmt.Errorf("tensor rebuild with %d arguments", len(args))
	}
	st, ok := args[0].(*storage)
	if !ok {
		return nil, fmt.Errorf("tensor rebuild on %s, not a storage", describe(args[0]))
	}
	off, ok1 := toInt(args[1])
	size, ok2 := toInts(args[2])
	stride, ok3 := toInts(args[3])
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("tensor rebuild with offset %v, size %v, stride %v", args[1], args[2], args[3])
	}
	return &view{st: st, offset: off, size: size, stride: stride}, nil
}

type rebuildParameter struct{}

func (rebuildParameter) Call(args ...any) (any, error) {
	// _rebuild_parameter(data, requires_grad, backward_hooks) and
	// _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state)
	if len(args) < 3 {
		return nil, fmt.Errorf("parameter rebuild with %d arguments", len(args))
	}
	if _, ok := args[0].(*view); !ok {
		return nil, fmt.Errorf("parameter rebuild on %s, not a tensor", describe(args[0]))
	}
	return args[0], nil
}

// notAllowed is returned by findClass for classes outside the allow-list.
type notAllowed struct{ module, name string }

func (e *notAllowed) Error() string {
	return "class " + quote.Name(e.module+"."+e.name) + " is not allowed"
}

func (e *notAllowed) err() error {
	full := quote.Name(e.module + "." + e.name)
	switch {
	case strings.HasPrefix(e.module, "torch.nn") || e.module == "__main__":
		return fmt.Errorf("%w: the file holds a pickled object of class %s (torch.save(model)?); save model.state_dict() instead", ErrNotStateDict, full)
	case strings.HasPrefix(e.module, "numpy"):
		return fmt.Errorf("%w: the file holds NumPy objects (%s); convert them with torch.from_numpy before saving", ErrNotStateDict, full)
	}
	return fmt.Errorf("%w: the pickle names class %s, which is not part of a state_dict", ErrNotStateDict, full)
}

func findClass(module, name string) (any, error) {
	switch module + "." + name {
	case "torch._utils._rebuild_tensor_v2":
		return rebuildTensor{}, nil
	case "torch._utils._rebuild_tensor":
		return rebuildTensor{v1: true}, nil
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		return rebuildParameter{}, nil
	}
	if module == "torch" {
		if d, ok := storageTypes[name]; ok {
			return storageClass{d}, nil
		}
	}
	return nil, &notAllowed{module, name}
}
