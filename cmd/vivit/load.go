package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/example"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/npy"
	"github.com/vivit-go/vivit/onnx"
	"github.com/vivit-go/vivit/safetensors"
	"github.com/vivit-go/vivit/torchpt"
)

const embeddedName = "embedded example"

// checkpoint is a checkpoint file as read, before the network is built.
type checkpoint struct {
	path   string            // as given; embeddedName for the example
	format string            // "safetensors" or "pytorch"
	file   *safetensors.File // its tensors (a PyTorch file is converted)
	dtypes map[string]string // each tensor's element type as stored
	// arch is the architecture (from --arch or the metadata), nil if there
	// is none; archFrom says where it came from ("metadata" or the --arch
	// path) and archErr why it could not be read.
	arch     *model.Architecture
	archFrom string
	archErr  error
}

// isPyTorch tells a PyTorch file from a safetensors one by its first bytes
// and, failing that, its extension.
func isPyTorch(path string) bool {
	if f, err := os.Open(path); err == nil {
		head := make([]byte, torchpt.SniffLen)
		n, _ := io.ReadFull(f, head)
		f.Close()
		if torchpt.Sniff(head[:n]) != torchpt.Unknown {
			return true
		}
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".pt", ".pth":
		return true
	}
	return false
}

// readTensors reads a safetensors or PyTorch file into a safetensors.File.
func readTensors(path string) (*safetensors.File, string, map[string]string, error) {
	if !isPyTorch(path) {
		f, err := safetensors.Open(path)
		if err != nil {
			return nil, "", nil, err
		}
		dt := map[string]string{}
		for _, t := range f.Tensors {
			dt[t.Name] = string(t.DType)
		}
		return f, "safetensors", dt, nil
	}
	pf, err := torchpt.Open(path)
	if err != nil {
		return nil, "", nil, err
	}
	dt := map[string]string{}
	var ts []safetensors.Tensor
	for _, t := range pf.Tensors {
		if t.Name == "" {
			return nil, "", nil, fmt.Errorf("%s holds a single tensor, not a state_dict (a dict of named tensors)", path)
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
		return nil, "", nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := safetensors.Parse(b.Bytes())
	if err != nil {
		return nil, "", nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, "pytorch", dt, nil
}

// readCheckpoint reads --model (or the embedded example) and the
// architecture that goes with it.
func (c *common) readCheckpoint() (*checkpoint, error) {
	ck := &checkpoint{path: c.model}
	if c.model == "" {
		f, err := safetensors.Parse(example.ModelFile())
		if err != nil {
			return nil, err
		}
		ck.path, ck.file, ck.format = embeddedName, f, "safetensors"
		ck.dtypes = map[string]string{}
		for _, t := range f.Tensors {
			ck.dtypes[t.Name] = string(t.DType)
		}
	} else {
		var err error
		if ck.file, ck.format, ck.dtypes, err = readTensors(c.model); err != nil {
			return nil, err
		}
	}
	meta, hasMeta := ck.file.Metadata[model.ArchitectureKey]
	var metaArch *model.Architecture
	if hasMeta {
		a, err := model.ParseArchitecture([]byte(meta))
		if err != nil {
			ck.archErr = fmt.Errorf("%s: metadata %q: %w", ck.path, model.ArchitectureKey, err)
		}
		metaArch = a
	}
	switch {
	case c.arch != "":
		data, err := os.ReadFile(c.arch)
		if err != nil {
			return nil, err
		}
		a, err := model.ParseArchitecture(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.arch, err)
		}
		ck.arch, ck.archFrom, ck.archErr = a, c.arch, nil
		if metaArch != nil && !sameArch(a, metaArch) {
			c.warn("--arch %s overrides the different architecture in the metadata of %s", c.arch, ck.path)
		}
	case hasMeta:
		ck.arch, ck.archFrom = metaArch, "metadata"
	case ck.format == "pytorch":
		ck.archErr = fmt.Errorf("%s: a PyTorch state_dict holds no architecture: pass --arch FILE.json (see docs/formats.md)", ck.path)
	default:
		ck.archErr = fmt.Errorf("%s: no %q in the safetensors metadata: pass --arch FILE.json (see docs/formats.md)", ck.path, model.ArchitectureKey)
	}
	return ck, nil
}

func sameArch(a, b *model.Architecture) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// build makes the network from the checkpoint's tensors.
func (ck *checkpoint) build() (*vivit.Model, error) {
	if ck.arch == nil {
		return nil, ck.archErr
	}
	m, err := model.FromSafetensors(ck.file, ck.arch)
	if err != nil {
		if ck.archFrom != "metadata" {
			return nil, fmt.Errorf("%s with --arch %s: %w", ck.path, ck.archFrom, err)
		}
		return nil, fmt.Errorf("%s: %w", ck.path, err)
	}
	return m, nil
}

// isONNX tells an ONNX model by its extension.
func isONNX(path string) bool { return strings.EqualFold(filepath.Ext(path), ".onnx") }

// lossOption returns --loss, nil when it is not given.
func (c *common) lossOption() (*model.Loss, error) {
	if c.loss == "" {
		return nil, nil
	}
	l, err := model.ParseLoss(c.loss)
	if err != nil {
		return nil, usagef("--loss: %v", err)
	}
	return &l, nil
}

// loadONNX reads an ONNX model with --loss, reporting the reader's
// warnings.
func (c *common) loadONNX() (*onnx.Model, error) {
	loss, err := c.lossOption()
	if err != nil {
		return nil, err
	}
	if c.arch != "" {
		return nil, usagef("--arch: an ONNX model describes its own graph")
	}
	om, err := onnx.ReadFile(c.model, &onnx.Options{Loss: loss})
	if om != nil {
		for _, w := range om.Warnings {
			c.warn("%s: %s", c.model, w)
		}
	}
	return om, err
}

// loadModel reads --model (or the embedded example) with --loss.
func (c *common) loadModel() (*vivit.Model, error) {
	var m *vivit.Model
	switch {
	case c.model == "":
		var err error
		if m, _, err = example.Load(); err != nil {
			return nil, err
		}
	case isONNX(c.model):
		om, err := c.loadONNX()
		if err != nil {
			return nil, err
		}
		return om.Net, nil
	default:
		ck, err := c.readCheckpoint()
		if err != nil {
			return nil, err
		}
		if m, err = ck.build(); err != nil {
			return nil, err
		}
	}
	loss, err := c.lossOption()
	if err != nil {
		return nil, err
	}
	if loss != nil {
		if loss.Kind != m.Loss.Kind && c.data == "" && c.inputs == "" && c.model == "" {
			return nil, usagef("--loss %s: the embedded example's batch has targets for %s", c.loss, m.Loss.Kind)
		}
		m.Loss = *loss
	}
	return m, nil
}

// load reads the model and the batch: the files given, or the embedded
// example.
func (c *common) load() (*vivit.Model, *vivit.Batch, error) {
	if c.model == "" && c.loss == "" {
		return example.Load()
	}
	m, err := c.loadModel()
	if err != nil {
		return nil, nil, err
	}
	if c.model == "" {
		_, b, err := example.Load()
		return m, b, err
	}
	b, err := c.loadBatch(m)
	if err != nil {
		return nil, nil, err
	}
	return m, b, nil
}

// loadBatch reads --data or --inputs/--targets for m.
func (c *common) loadBatch(m *vivit.Model) (*vivit.Batch, error) {
	if c.data != "" {
		f, _, _, err := readTensors(c.data)
		if err != nil {
			return nil, err
		}
		b, err := model.BatchFromSafetensors(f, m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.data, err)
		}
		return b, nil
	}
	x, xs, err := readFloats(c.inputs)
	if err != nil {
		return nil, err
	}
	// Accept inputs flattened per sample as well as [N, ...input_shape].
	if len(xs) == 2 && len(m.InputShape) > 1 && xs[1] == m.InputSize() {
		xs = append([]int{xs[0]}, m.InputShape...)
	}
	if len(xs) == 1 && m.InputSize() == 1 && len(m.InputShape) == 1 {
		xs = []int{xs[0], 1}
	}
	var classes []int64
	var values []float64
	var ys []int
	if m.Loss.Kind == model.CrossEntropy {
		classes, ys, err = readInts(c.targets)
	} else {
		values, ys, err = readFloats(c.targets)
	}
	if err != nil {
		return nil, err
	}
	b, err := model.NewBatch(m, x, xs, classes, values, ys)
	if err != nil {
		return nil, fmt.Errorf("--inputs %s, --targets %s: %w", c.inputs, c.targets, err)
	}
	return b, nil
}

// readFloats reads one array from a .npy file or a .pt file holding one
// tensor.
func readFloats(path string) ([]float64, []int, error) {
	if isPyTorch(path) {
		t, err := oneTensor(path)
		if err != nil {
			return nil, nil, err
		}
		v, err := t.Float64s()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return v, t.Shape, nil
	}
	a, err := npy.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return a.Data, a.Shape, nil
}

// readInts reads one integer array from a .npy file (integer dtypes, or
// floats that are all integers) or a .pt file holding one integer tensor.
func readInts(path string) ([]int64, []int, error) {
	if isPyTorch(path) {
		t, err := oneTensor(path)
		if err != nil {
			return nil, nil, err
		}
		v, err := t.Int64s()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w (class indices)", path, err)
		}
		return v, t.Shape, nil
	}
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
}

func oneTensor(path string) (*torchpt.Tensor, error) {
	f, err := torchpt.Open(path)
	if err != nil {
		return nil, err
	}
	if len(f.Tensors) != 1 {
		return nil, fmt.Errorf("%s holds %d tensors; want one (torch.save(tensor))", path, len(f.Tensors))
	}
	return &f.Tensors[0], nil
}
