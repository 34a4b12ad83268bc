package main

import (
	"fmt"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/checkpoint"
	"github.com/vivit-go/vivit/example"
	"github.com/vivit-go/vivit/internal/tensorfile"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/safetensors"
)

const embeddedName = "embedded example"

// checkpointFile is --model (or the embedded example) read as a
// checkpoint, before the network is built.
type checkpointFile struct {
	path   string            // as given; embeddedName for the example
	format string            // checkpoint.Safetensors or checkpoint.PyTorch
	file   *safetensors.File // its tensors (a PyTorch file is converted)
	dtypes map[string]string // each tensor's element type as stored
	// arch is the architecture (from --arch or the metadata), nil if there
	// is none; archFrom says where it came from ("metadata" or the --arch
	// path) and archErr why it could not be read.
	arch     *checkpoint.Architecture
	archFrom string
	archErr  error
}

// readCheckpoint reads --model (or the embedded example) and the
// architecture that goes with it.
func (c *common) readCheckpoint() (*checkpointFile, error) {
	var f *checkpoint.File
	if c.model == "" {
		st, err := safetensors.Parse(example.ModelFile())
		if err != nil {
			return nil, err
		}
		f = checkpoint.NewFile(embeddedName, st)
	} else {
		var err error
		if f, err = checkpoint.Open(c.model); err != nil {
			return nil, err
		}
	}
	if err := f.Rename(c.renames); err != nil {
		return nil, err
	}
	ck := &checkpointFile{path: f.Path, format: f.Format, file: f.Tensors, dtypes: f.DTypes}
	metaArch, metaErr := f.Architecture()
	switch {
	case c.arch != "":
		a, err := checkpoint.ReadArchitecture(c.arch)
		if err != nil {
			return nil, err
		}
		ck.arch, ck.archFrom = a, c.arch
		if metaArch != nil && !a.Equal(metaArch) {
			c.warn("--arch %s overrides the different architecture in the metadata of %s", c.arch, ck.path)
		}
	case metaErr != nil:
		ck.archErr = metaErr
	case metaArch != nil:
		ck.arch, ck.archFrom = metaArch, "metadata"
	case f.Format == checkpoint.PyTorch:
		ck.archErr = fmt.Errorf("%s: a PyTorch state_dict holds no architecture: pass --arch FILE.json (see docs/formats.md)", ck.path)
	default:
		ck.archErr = fmt.Errorf("%s: no %q in the safetensors metadata: pass --arch FILE.json (see docs/formats.md)", ck.path, checkpoint.ArchitectureKey)
	}
	return ck, nil
}

// build makes the network from the checkpoint's tensors.
func (ck *checkpointFile) build() (*vivit.Model, error) {
	if ck.arch == nil {
		return nil, ck.archErr
	}
	m, err := checkpoint.FromSafetensors(ck.file, ck.arch)
	if err != nil {
		if ck.archFrom != "metadata" {
			return nil, fmt.Errorf("%s with --arch %s: %w", ck.path, ck.archFrom, err)
		}
		return nil, fmt.Errorf("%s: %w", ck.path, err)
	}
	return m, nil
}

// isONNX tells an ONNX model by its extension.
func isONNX(path string) bool { return tensorfile.Detect(path) == tensorfile.ONNX }

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

// loadModel reads --model (or the embedded example) with --loss.
func (c *common) loadModel() (*vivit.Model, error) {
	loss, err := c.lossOption()
	if err != nil {
		return nil, err
	}
	var m *vivit.Model
	switch {
	case c.model == "":
		if m, _, err = example.Load(); err != nil {
			return nil, err
		}
	case isONNX(c.model):
		if c.arch != "" {
			return nil, usagef("--arch: an ONNX model describes its own graph")
		}
		if len(c.renames) > 0 {
			return nil, usagef("--rename: an ONNX model's parameter names are its own")
		}
		warn := func(msg string) { c.warn("%s", msg) }
		return vivit.LoadModelWith(c.model, &vivit.LoadOptions{Loss: loss, Warn: warn})
	default:
		ck, err := c.readCheckpoint()
		if err != nil {
			return nil, err
		}
		if m, err = ck.build(); err != nil {
			return nil, err
		}
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
		return vivit.LoadBatch(c.data, m)
	}
	return vivit.LoadBatchArrays(c.inputs, c.targets, m)
}
