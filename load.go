package vivit

import (
	"errors"
	"fmt"

	"github.com/vivit-go/vivit/batch"
	"github.com/vivit-go/vivit/checkpoint"
	"github.com/vivit-go/vivit/internal/tensorfile"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/onnx"
)

// LoadOptions says how to read a model file that does not describe itself
// fully. The zero value, like nil, reads the file as it is.
type LoadOptions struct {
	// Arch is the path of an architecture JSON file (docs/formats.md) for a
	// checkpoint. A PyTorch state_dict, or a safetensors file without the
	// architecture in its metadata, needs one; for a safetensors file with
	// one, Arch replaces it. ONNX models describe their own graph: Arch
	// must be empty for them.
	Arch string
	// Loss, when not nil, replaces the model's loss: the architecture's, or
	// an ONNX model's metadata property vivit.loss (cross_entropy:mean when
	// absent). model.ParseLoss reads the command line's form.
	Loss *model.Loss
	// Rename maps the tensor names of a checkpoint to the architecture's
	// before they are matched: each tensor whose name starts with a rule's
	// Old has that prefix replaced by its New (the first rule that applies;
	// {Old: "module.", New: ""} strips the prefix nn.DataParallel adds).
	// Every rule must apply to some tensor. ONNX models keep their names.
	Rename []Rename
	// Warn, when not nil, receives the readers' warnings, one message per
	// call: an ONNX export whose initializers have anonymous names (BatchNorm
	// folded into the convolutions, so the parameters are not the PyTorch
	// model's), or an Arch that differs from the metadata's architecture.
	Warn func(msg string)
}

// Rename replaces the prefix Old of a checkpoint's tensor names by New
// (LoadOptions.Rename).
type Rename = checkpoint.Rename

// LoadModel reads a model from any file that describes it fully: an ONNX
// graph (.onnx, exported from PyTorch as docs/formats.md says; its loss
// from the metadata property vivit.loss, else cross_entropy:mean), or a
// safetensors checkpoint with the architecture in its metadata. It is
// LoadModelWith(path, nil), which discards warnings.
func LoadModel(path string) (*Model, error) { return LoadModelWith(path, nil) }

// LoadModelWith reads a model as LoadModel does, with the architecture
// and loss of o: it also reads PyTorch state_dicts (.pt, saved with
// torch.save(model.state_dict(), path)) and safetensors files without the
// architecture in their metadata, given o.Arch. The format is told by the
// file's first bytes (ONNX by the extension .onnx). Every error names the
// file at fault; for a file of another kind (a batch, a .npy array) it
// says what was expected.
func LoadModelWith(path string, o *LoadOptions) (*Model, error) {
	if o == nil {
		o = &LoadOptions{}
	}
	if o.Loss != nil {
		if err := o.Loss.Validate(); err != nil {
			return nil, fmt.Errorf("vivit: LoadOptions.Loss: %w", err)
		}
	}
	switch k := tensorfile.Detect(path); k {
	case tensorfile.ONNX:
		if o.Arch != "" {
			return nil, fmt.Errorf("%s: an ONNX model describes its own graph; LoadOptions.Arch (%s) is for checkpoints", path, o.Arch)
		}
		if len(o.Rename) > 0 {
			return nil, fmt.Errorf("%s: an ONNX model's parameter names are its own; LoadOptions.Rename is for checkpoints", path)
		}
		om, err := onnx.ReadFile(path, &onnx.Options{Loss: o.Loss})
		if om != nil && o.Warn != nil {
			for _, w := range om.Warnings {
				o.Warn(path + ": " + w)
			}
		}
		if err != nil {
			return nil, err
		}
		return om.Net, nil
	case tensorfile.NPY:
		return nil, fmt.Errorf("%s: %s; expected a model (.onnx, or a checkpoint: .safetensors, or .pt holding a state_dict). Arrays of inputs and targets are read by LoadBatchArrays", path, k.Describe())
	}
	ck, err := checkpoint.Open(path)
	if err != nil {
		return nil, err
	}
	if err := ck.Rename(o.Rename); err != nil {
		return nil, err
	}
	var m *Model
	if o.Arch == "" {
		m, err = ck.Network(nil)
		if errors.Is(err, checkpoint.ErrNoArchitecture) {
			return nil, fmt.Errorf("%w; pass it with LoadModelWith(path, &vivit.LoadOptions{Arch: \"arch.json\"})", err)
		}
	} else {
		arch, aerr := checkpoint.ReadArchitecture(o.Arch)
		if aerr != nil {
			return nil, aerr
		}
		if meta, _ := ck.Architecture(); meta != nil && !meta.Equal(arch) && o.Warn != nil {
			o.Warn(fmt.Sprintf("%s overrides the different architecture in the metadata of %s", o.Arch, path))
		}
		if m, err = checkpoint.FromSafetensors(ck.Tensors, arch); err != nil {
			err = fmt.Errorf("%s with architecture %s: %w", path, o.Arch, err)
		}
	}
	if err != nil {
		return nil, err
	}
	if o.Loss != nil {
		m.Loss = *o.Loss
	}
	return m, nil
}

// LoadBatch reads a batch for m from a batch file: a safetensors file, or
// a PyTorch file saved with torch.save({"inputs": X, "targets": y}, path),
// holding the tensors "inputs" ([N, …input_shape], or flattened to
// [N, prod(input_shape)]) and "targets" (int64 class indices [N] for
// cross-entropy, floats [N, C] for MSE). Errors name the file and tensor;
// for a file of another kind (a .npy array, a checkpoint) they say what
// was expected.
func LoadBatch(path string, m *Model) (*Batch, error) { return batch.Load(path, m) }

// LoadBatchArrays reads a batch for m from two files of one array each,
// the inputs and the targets, each a NumPy .npy file or a PyTorch file
// holding one tensor (torch.save(tensor)), with the shapes of LoadBatch.
// Errors name the file at fault.
func LoadBatchArrays(inputs, targets string, m *Model) (*Batch, error) {
	return batch.LoadArrays(inputs, targets, m)
}
