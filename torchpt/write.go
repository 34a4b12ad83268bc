package torchpt

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vivit-go/vivit/internal/atomicfile"
)

// Write writes tensors as torch.save(state_dict) does: a zip archive
// "archive" with data.pkl (pickle protocol 2), byteorder, one storage
// record per tensor and version. Exactly one of F64, F32 and I64 must be
// set in each tensor; it selects the storage type (DoubleStorage,
// FloatStorage, LongStorage). DType is ignored. Nothing is written if the
// tensors are invalid.
func Write(w io.Writer, tensors []Tensor) error {
	seen := map[string]bool{}
	for i := range tensors {
		t := &tensors[i]
		if seen[t.Name] {
			return fmt.Errorf("torchpt: tensor %q appears twice", t.Name)
		}
		seen[t.Name] = true
		n, set := 0, 0
		if t.F64 != nil {
			n, set = len(t.F64), set+1
		}
		if t.F32 != nil {
			n, set = len(t.F32), set+1
		}
		if t.I64 != nil {
			n, set = len(t.I64), set+1
		}
		if set != 1 {
			return fmt.Errorf("torchpt: tensor %q must have exactly one of F64, F32 and I64 set", t.Name)
		}
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("torchpt: tensor %q has a negative dimension in %v", t.Name, t.Shape)
			}
		}
		if n != t.NumElements() {
			return fmt.Errorf("torchpt: tensor %q has %d elements, its shape %v needs %d", t.Name, n, t.Shape, t.NumElements())
		}
	}

	var p pickler
	p.stateDict(tensors)

	zw := zip.NewWriter(w)
	record := func(name string, data []byte) error {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: "archive/" + name, Method: zip.Store, Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		return err
	}
	if err := record("data.pkl", p.buf.Bytes()); err != nil {
		return fmt.Errorf("torchpt: %w", err)
	}
	if err := record("byteorder", []byte("little")); err != nil {
		return fmt.Errorf("torchpt: %w", err)
	}
	// torch.save writes the storages sorted by key, as strings.
	keys := make([]string, len(tensors))
	for i := range tensors {
		keys[i] = strconv.Itoa(i)
	}
	sort.Strings(keys)
	for _, k := range keys {
		i, _ := strconv.Atoi(k)
		if err := record("data/"+k, storageBytes(&tensors[i])); err != nil {
			return fmt.Errorf("torchpt: %w", err)
		}
	}
	if err := record("version", []byte("3\n")); err != nil {
		return fmt.Errorf("torchpt: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("torchpt: %w", err)
	}
	return nil
}

// WriteFile writes tensors to path; see Write. An existing file is
// replaced whole or not at all: the data goes to a temporary file in the
// same directory, renamed over path once complete.
func WriteFile(path string, tensors []Tensor) error {
	var b bytes.Buffer
	if err := Write(&b, tensors); err != nil {
		return err
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { _, err := w.Write(b.Bytes()); return err }); err != nil {
		return fmt.Errorf("torchpt: %w", err)
	}
	return nil
}

func storageBytes(t *Tensor) []byte {
	le := binary.LittleEndian
	switch {
	case t.F64 != nil:
		b := make([]byte, 8*len(t.F64))
		for i, v := range t.F64 {
			le.PutUint64(b[8*i:], math.Float64bits(v))
		}
		return b
	case t.F32 != nil:
		b := make([]byte, 4*len(t.F32))
		for i, v := range t.F32 {
			le.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return b
	}
	b := make([]byte, 8*len(t.I64))
	for i, v := range t.I64 {
		le.PutUint64(b[8*i:], uint64(v))
	}
	return b
}

// Pickle opcodes (protocol 2).
const (
	opProto      = 0x80
	opGlobal     = 'c'
	opBinput     = 'q'
	opBinget     = 'h'
	opEmptyTuple = ')'
	opEmptyDict  = '}'
	opReduce     = 'R'
	opMark       = '('
	opBinunicode = 'X'
	opTuple      = 't'
	opTuple1     = 0x85
	opTuple2     = 0x86
	opTuple3     = 0x87
	opBinpersid  = 'Q'
	opBinint1    = 'K'
	opBinint2    = 'M'
	opBinint     = 'J'
	opNewfalse   = 0x89
	opSetitem    = 's'
	opSetitems   = 'u'
	opBuild      = 'b'
	opStop       = '.'
)

// pickler writes the opcodes Python's pickle.Pickler writes (protocol 2)
// for a state_dict, memoizing as it does.
type pickler struct {
	buf  bytes.Buffer
	next int            // next memo index
	memo map[string]int // memo index of each global and string
}

func (p *pickler) op(b ...byte) { p.buf.Write(b) }

func (p *pickler) memoize() {
	if p.next < 256 {
		p.op(opBinput, byte(p.next))
	} else {
		p.op('r') // LONG_BINPUT
		p.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(p.next)))
	}
	p.next++
}

// get writes a reference to a memoized object and reports whether there
// was one. Python memoizes by identity: globals and string literals
// ("storage", "cpu", "version") are shared objects, names are not.
func (p *pickler) get(key string) bool {
	i, ok := p.memo[key]
	if !ok {
		if p.memo == nil {
			p.memo = map[string]int{}
		}
		p.memo[key] = p.next
		return false
	}
	if i < 256 {
		p.op(opBinget, byte(i))
	} else {
		p.op('j') // LONG_BINGET
		p.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(i)))
	}
	return true
}

func (p *pickler) global(module, name string) {
	if p.get("global " + module + "\n" + name) {
		return
	}
	p.op(opGlobal)
	p.buf.WriteString(module + "\n" + name + "\n")
	p.memoize()
}

// lit writes a string literal, memoized by value.
func (p *pickler) lit(s string) {
	if p.get("str " + s) {
		return
	}
	p.str(s)
}

// str writes a fresh string.
func (p *pickler) str(s string) {
	p.op(opBinunicode)
	p.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	p.buf.WriteString(s)
	p.memoize()
}

func (p *pickler) int(v int) {
	switch {
	case v >= 0 && v < 1<<8:
		p.op(opBinint1, byte(v))
	case v >= 0 && v < 1<<16:
		p.op(opBinint2)
		p.buf.Write(binary.LittleEndian.AppendUint16(nil, uint16(v)))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		p.op(opBinint)
		p.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(int32(v))))
	default:
		// LONG1: little-endian two's complement, shortest form.
		b := binary.LittleEndian.AppendUint64(nil, uint64(v))
		for len(b) > 1 && ((b[len(b)-1] == 0 && b[len(b)-2]&0x80 == 0) || (b[len(b)-1] == 0xff && b[len(b)-2]&0x80 != 0)) {
			b = b[:len(b)-1]
		}
		p.op(0x8a, byte(len(b)))
		p.buf.Write(b)
	}
}

// tuple writes a tuple of ints.
func (p *pickler) tuple(vs []int) {
	if len(vs) == 0 {
		p.op(opEmptyTuple)
		return
	}
	if len(vs) > 3 {
		p.op(opMark)
	}
	for _, v := range vs {
		p.int(v)
	}
	switch len(vs) {
	case 1:
		p.op(opTuple1)
	case 2:
		p.op(opTuple2)
	case 3:
		p.op(opTuple3)
	default:
		p.op(opTuple)
	}
	p.memoize()
}

func (p *pickler) orderedDict() {
	p.global("collections", "OrderedDict")
	p.op(opEmptyTuple, opReduce)
	p.memoize()
}

// setitems writes the items that write produces, in batches of 1000 as
// pickle's _batch_setitems does.
func (p *pickler) setitems(n int, write func(i int)) {
	for start := 0; start < n; start += 1000 {
		end := min(start+1000, n)
		if end-start == 1 {
			write(start)
			p.op(opSetitem)
			continue
		}
		p.op(opMark)
		for i := start; i < end; i++ {
			write(i)
		}
		p.op(opSetitems)
	}
}

func (p *pickler) stateDict(tensors []Tensor) {
	p.op(opProto, 2)
	p.orderedDict()
	p.setitems(len(tensors), func(i int) {
		t := &tensors[i]
		p.str(t.Name)
		p.tensor(t, fmt.Sprint(i))
	})
	// state: {'_metadata': OrderedDict((module, {'version': 1}), …)}
	var modules []string
	seen := map[string]bool{}
	for _, t := range tensors {
		m := ""
		if i := strings.LastIndexByte(t.Name, '.'); i >= 0 {
			m = t.Name[:i]
		}
		for _, mm := range []string{"", m} {
			if !seen[mm] {
				seen[mm] = true
				modules = append(modules, mm)
			}
		}
	}
	p.op(opEmptyDict)
	p.memoize()
	p.lit("_metadata")
	p.orderedDict()
	p.setitems(len(modules), func(i int) {
		p.str(modules[i])
		p.op(opEmptyDict)
		p.memoize()
		p.lit("version")
		p.int(1)
		p.op(opSetitem)
	})
	p.op(opSetitem, opBuild, opStop)
}

// tensor writes torch._utils._rebuild_tensor_v2(storage, 0, size, stride,
// False, OrderedDict()) for a contiguous tensor with its own storage.
func (p *pickler) tensor(t *Tensor, key string) {
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.op(opMark)
	p.op(opMark)
	p.lit("storage")
	switch {
	case t.F64 != nil:
		p.global("torch", "DoubleStorage")
	case t.F32 != nil:
		p.global("torch", "FloatStorage")
	default:
		p.global("torch", "LongStorage")
	}
	p.str(key)
	p.lit("cpu")
	p.int(t.NumElements())
	p.op(opTuple)
	p.memoize()
	p.op(opBinpersid)
	p.int(0)
	stride := make([]int, len(t.Shape))
	s := 1
	for i := len(t.Shape) - 1; i >= 0; i-- {
		stride[i] = s
		s *= max(t.Shape[i], 1)
	}
	p.tuple(t.Shape)
	p.tuple(stride)
	p.op(opNewfalse)
	p.orderedDict()
	p.op(opTuple)
	p.memoize()
	p.op(opReduce)
	p.memoize()
}
