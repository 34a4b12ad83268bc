// Package tensorfile reads the tensor containers vivit accepts behind one
// interface: safetensors files and PyTorch state_dicts (torch.save of a
// dict) as files of named tensors, and NumPy .npy files and PyTorch files
// holding one tensor as single arrays. Detect tells the formats apart by
// their first bytes, falling back on the extension, so that readers can
// say which kind of file they expected when given another.
//
// Every error names the file.
package tensorfile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vivit-go/vivit/npy"
	"github.com/vivit-go/vivit/safetensors"
	"github.com/vivit-go/vivit/torchpt"
)

// Kind is a file format.
type Kind string

// The formats Detect tells apart.
const (
	Safetensors Kind = "safetensors" // safetensors: named tensors and string metadata
	PyTorch     Kind = "pytorch"     // torch.save: a state_dict or one tensor
	NPY         Kind = "npy"         // NumPy .npy: one array
	ONNX        Kind = "onnx"        // an ONNX model (by its extension)
)

// Describe returns a short phrase for the format, for messages.
func (k Kind) Describe() string {
	switch k {
	case Safetensors:
		return "a safetensors file"
	case PyTorch:
		return "a PyTorch file"
	case NPY:
		return "a NumPy .npy array"
	case ONNX:
		return "an ONNX model"
	}
	return "a file of unknown format"
}

const npyMagic = "\x93NUMPY"

// sniffLen is how many leading bytes Detect reads.
const sniffLen = max(torchpt.SniffLen, 16)

// Detect returns the format of the file at path: an ONNX model by the
// extension .onnx; otherwise by the first bytes (a zip archive or legacy
// pickle is PyTorch, the .npy magic NumPy, a length-prefixed JSON header
// safetensors); otherwise by the extension (.pt and .pth PyTorch, .npy
// NumPy). Anything else, unreadable files included, is reported as
// Safetensors, whose reader then says what is wrong.
func Detect(path string) Kind {
	ext := strings.ToLower(filepath.Ext(path))
	if ext == ".onnx" {
		return ONNX
	}
	if f, err := os.Open(path); err == nil {
		head := make([]byte, sniffLen)
		n, _ := io.ReadFull(f, head)
		f.Close()
		if k := sniff(head[:n]); k != "" {
			return k
		}
	}
	switch ext {
	case ".pt", ".pth":
		return PyTorch
	case ".npy":
		return NPY
	}
	return Safetensors
}

// sniff tells a format from the first bytes of a file, "" if it cannot.
func sniff(head []byte) Kind {
	switch {
	case torchpt.Sniff(head) != torchpt.Unknown:
		return PyTorch
	case bytes.HasPrefix(head, []byte(npyMagic)):
		return NPY
	case len(head) > 8 && head[8] == '{' && binary.LittleEndian.Uint64(head) <= safetensors.MaxHeaderSize:
		return Safetensors
	}
	return ""
}

// ErrSingleTensor marks a PyTorch file that holds one tensor
// (torch.save(tensor)) where a dict of named tensors was expected.
var ErrSingleTensor = errors.New("holds a single tensor, not a state_dict (a dict of named tensors)")

// Tensors is a file of named tensors as read.
type Tensors struct {
	// File holds the tensors; a PyTorch state_dict is converted to an
	// in-memory safetensors file, in state_dict order, without metadata.
	File *safetensors.File
	// Format is Safetensors or PyTorch.
	Format Kind
	// DTypes is each tensor's element type as stored (safetensors' names
	// such as "F32", PyTorch's such as "float32").
	DTypes map[string]string
}

// Open reads a safetensors file or a PyTorch state_dict. A PyTorch file
// holding a single tensor, and any other format, is an error.
func Open(path string) (*Tensors, error) {
	switch k := Detect(path); k {
	case Safetensors:
		f, err := safetensors.Open(path)
		if err != nil {
			return nil, err
		}
		return FromSafetensors(f), nil
	case PyTorch:
		return openPyTorch(path)
	default:
		return nil, fmt.Errorf("%s: %s, not a file of named tensors (.safetensors, or .pt holding a state_dict)", path, k.Describe())
	}
}

// FromSafetensors wraps a parsed safetensors file.
func FromSafetensors(f *safetensors.File) *Tensors {
	dt := map[string]string{}
	for _, t := range f.Tensors {
		dt[t.Name] = string(t.DType)
	}
	return &Tensors{File: f, Format: Safetensors, DTypes: dt}
}

func openPyTorch(path string) (*Tensors, error) {
	pf, err := torchpt.Open(path)
	if err != nil {
		return nil, err
	}
	dt := map[string]string{}
	var ts []safetensors.Tensor
	for _, t := range pf.Tensors {
		if t.Name == "" {
			return nil, fmt.Errorf("%s %w", path, ErrSingleTensor)
		}
		dt[t.Name] = string(t.DType)
		st := safetensors.Tensor{Name: t.Name, Shape: t.Shape, F64: t.F64, F32: t.F32, I64: t.I64}
		if st.Shape == nil {
			st.Shape = []int{}
		}
		ts = append(ts, st)
	}
	var b bytes.Buffer
	if err := safetensors.Write(&b, ts, nil); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := safetensors.Parse(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Tensors{File: f, Format: PyTorch, DTypes: dt}, nil
}

// oneArray is what a single-array reader accepts, for messages.
const oneArray = "one array (.npy, or .pt holding one tensor saved with torch.save(tensor))"

// ReadFloats reads one array of numbers from a .npy file (any float or
// integer dtype) or a PyTorch file holding one floating-point tensor.
func ReadFloats(path string) ([]float64, []int, error) {
	switch k := Detect(path); k {
	case PyTorch:
		t, err := oneTensor(path)
		if err != nil {
			return nil, nil, err
		}
		v, err := t.Float64s()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return v, t.Shape, nil
	case NPY:
		a, err := npy.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		return a.Data, a.Shape, nil
	default:
		return nil, nil, notOneArray(path, k)
	}
}

// ReadInts reads one integer array from a .npy file (integer or bool
// dtypes, or floats that are all integers) or a PyTorch file holding one
// integer tensor.
func ReadInts(path string) ([]int64, []int, error) {
	switch k := Detect(path); k {
	case PyTorch:
		t, err := oneTensor(path)
		if err != nil {
			return nil, nil, err
		}
		v, err := t.Int64s()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w (class indices)", path, err)
		}
		return v, t.Shape, nil
	case NPY:
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, fmt.Errorf("npy: %w", err)
		}
		defer f.Close()
		v, shape, err := npy.ReadInt64(bufio.NewReader(f))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return v, shape, nil
	default:
		return nil, nil, notOneArray(path, k)
	}
}

// notOneArray is the error for a file of kind k given where one array was
// expected. A missing file is reported as such.
func notOneArray(path string, k Kind) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return fmt.Errorf("%s: %s; expected %s", path, k.Describe(), oneArray)
}

func oneTensor(path string) (*torchpt.Tensor, error) {
	f, err := torchpt.Open(path)
	if err != nil {
		return nil, err
	}
	if len(f.Tensors) != 1 {
		return nil, fmt.Errorf("%s holds %d tensors; expected %s", path, len(f.Tensors), oneArray)
	}
	return &f.Tensors[0], nil
}
