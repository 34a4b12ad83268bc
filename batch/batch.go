package batch

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/tensorfile"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/safetensors"
)

// batchFile says what Load reads, for messages.
const batchFile = `a batch file (.safetensors, or .pt holding a dict, with tensors "inputs" and "targets")`

// arraysHint says how to read separate arrays, for messages.
const arraysHint = "give the inputs and targets arrays together (batch.LoadArrays, vivit.LoadBatchArrays, or --inputs and --targets)"

// Load reads a batch for net from a safetensors file or a PyTorch file
// (torch.save of a dict) holding the tensors "inputs" and "targets"; see
// the package documentation for their shapes and types. Any other file is
// an error that says what was expected. Errors name the file.
func Load(path string, net *model.Network) (*model.Batch, error) {
	switch k := tensorfile.Detect(path); k {
	case tensorfile.Safetensors, tensorfile.PyTorch:
	case tensorfile.NPY:
		return nil, fmt.Errorf("%s: %s; expected %s. A .npy file holds one array: %s", path, k.Describe(), batchFile, arraysHint)
	default:
		return nil, fmt.Errorf("%s: %s; expected %s", path, k.Describe(), batchFile)
	}
	t, err := tensorfile.Open(path)
	if errors.Is(err, tensorfile.ErrSingleTensor) {
		return nil, fmt.Errorf("%s holds a single tensor; expected %s. For a single tensor of inputs, %s", path, batchFile, arraysHint)
	}
	if err != nil {
		return nil, err
	}
	b, err := FromSafetensors(t.File, net)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// FromSafetensors reads a batch from parsed tensors; see Load. Errors
// name the tensor at fault, not the file.
func FromSafetensors(f *safetensors.File, net *model.Network) (*model.Batch, error) {
	for _, name := range []string{"inputs", "targets"} {
		if _, ok := f.Info(name); !ok {
			return nil, missing(f, name)
		}
	}
	x, xs, err := f.Float64s("inputs")
	if err != nil {
		return nil, err
	}
	var y []float64
	var ys []int
	var classes []int64
	if net.Loss.Kind == model.CrossEntropy {
		classes, ys, err = f.Int64s("targets")
	} else {
		y, ys, err = f.Float64s("targets")
	}
	if errors.Is(err, safetensors.ErrDType) {
		return nil, targetsKind(f, net, err)
	}
	if err != nil {
		return nil, err
	}
	return New(net, x, xs, classes, y, ys)
}

// targetsKind explains a "targets" tensor of the other loss's kind (err,
// the reader's dtype error): floats for cross_entropy, or integers for mse,
// are most likely a batch made for the other loss. Other dtypes keep err.
func targetsKind(f *safetensors.File, net *model.Network, err error) error {
	info, _ := f.Info("targets")
	d := string(info.DType)
	isInt := strings.HasPrefix(d, "I") || strings.HasPrefix(d, "U")
	if net.Loss.Kind == model.CrossEntropy && !isInt && d != "BOOL" {
		return fmt.Errorf("tensor \"targets\" is %s %v: cross_entropy needs integer class indices [N], not floats (mse's targets; the model's loss: LoadOptions.Loss, --loss)", d, info.Shape)
	}
	if net.Loss.Kind != model.CrossEntropy && isInt {
		return fmt.Errorf("tensor \"targets\" is %s %v: mse needs float targets [N, C], not integers (cross_entropy's class indices; the model's loss: LoadOptions.Loss, --loss)", d, info.Shape)
	}
	return err
}

// missing is the error for a batch file without the tensor name: it says
// what the file holds instead.
func missing(f *safetensors.File, name string) error {
	held := f.Names()
	var what string
	switch {
	case len(held) == 0:
		what = "the file holds no tensors"
	case f.Metadata["architecture"] != "":
		what = "the file holds an architecture: it is a model checkpoint"
	default:
		q := make([]string, 0, 4)
		for _, n := range held[:min(len(held), 4)] {
			q = append(q, fmt.Sprintf("%q", n))
		}
		if len(held) > 4 {
			q = append(q, fmt.Sprintf("… (%d in all)", len(held)))
		}
		what = "the file holds " + strings.Join(q, ", ")
	}
	if len(held) == 1 {
		what += "; for one array in a file, " + arraysHint
	}
	return fmt.Errorf("no tensor %q; expected %s (%s)", name, batchFile, what)
}

// LoadArrays reads a batch for net from two files of one array each:
// inputs (see the package documentation for the shapes) and targets, each
// a NumPy .npy file or a PyTorch file holding one tensor
// (torch.save(tensor)). Inputs may have any float or integer dtype;
// class indices any integer dtype, or floats that are all integers.
// Errors name the file at fault.
func LoadArrays(inputs, targets string, net *model.Network) (*model.Batch, error) {
	x, xs, err := tensorfile.ReadFloats(inputs)
	if err != nil {
		return nil, err
	}
	in, err := inputMatrix(net, x, xs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", inputs, err)
	}
	var classes []int64
	var values []float64
	var ys []int
	if net.Loss.Kind == model.CrossEntropy {
		classes, ys, err = tensorfile.ReadInts(targets)
	} else {
		values, ys, err = tensorfile.ReadFloats(targets)
	}
	if err != nil {
		return nil, err
	}
	b, err := withTargets(net, in, classes, values, ys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", targets, err)
	}
	return b, nil
}

// New checks raw arrays against net and returns the batch. inputs holds
// the samples row-major with shape inShape: [N, …input_shape], or
// [N, prod(input_shape)] flattened per sample, or [N] when input_shape is
// [1]. Exactly one of classes (cross-entropy: shape [N]) and values (MSE:
// shape [N, C]) is used, with shape tShape. Its errors name the tensor
// ("inputs" or "targets") at fault; it panics if a slice's length does not
// match its shape.
func New(net *model.Network, inputs []float64, inShape []int, classes []int64, values []float64, tShape []int) (*model.Batch, error) {
	x, err := inputMatrix(net, inputs, inShape)
	if err != nil {
		return nil, err
	}
	return withTargets(net, x, classes, values, tShape)
}

// inputMatrix checks the inputs against net and returns them as a matrix
// with one row per sample, sharing inputs.
func inputMatrix(net *model.Network, inputs []float64, inShape []int) (*mat.Dense, error) {
	size := net.InputSize()
	switch {
	case len(inShape) == len(net.InputShape)+1 && slices.Equal(inShape[1:], net.InputShape):
	case len(inShape) == 2 && inShape[1] == size:
		// Flattened per sample.
	case len(inShape) == 1 && size == 1 && len(net.InputShape) == 1:
		// One feature per sample, without its axis.
	default:
		return nil, fmt.Errorf("tensor \"inputs\" has shape %v, the network needs %s", inShape, wantInputs(net))
	}
	n := inShape[0]
	if n < 1 {
		return nil, fmt.Errorf("tensor \"inputs\" has no samples")
	}
	if len(inputs) != n*size {
		panic("batch: inputs length does not match their shape")
	}
	for i, v := range inputs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("tensor \"inputs\": non-finite value %v in sample %d", v, i/size)
		}
	}
	return mat.NewDense(n, size, inputs), nil
}

// wantInputs describes the accepted input shapes.
func wantInputs(net *model.Network) string {
	dims := strings.Trim(fmt.Sprint(net.InputShape), "[]")
	if len(net.InputShape) == 1 {
		return "[N " + dims + "]"
	}
	return fmt.Sprintf("[N %s] or, flattened, [N %d]", dims, net.InputSize())
}

// withTargets checks the targets against net and the inputs x and
// returns the batch.
func withTargets(net *model.Network, x *mat.Dense, classes []int64, values []float64, tShape []int) (*model.Batch, error) {
	n, _ := x.Dims()
	b := &model.Batch{Inputs: x}
	c := net.NumOutputs()
	switch net.Loss.Kind {
	case model.CrossEntropy:
		if len(tShape) != 1 || tShape[0] != n {
			return nil, fmt.Errorf("tensor \"targets\" has shape %v, cross_entropy needs class indices of shape [%d]", tShape, n)
		}
		if len(classes) != n {
			panic("batch: targets length does not match their shape")
		}
		b.Targets.Classes = make([]int, n)
		for i, v := range classes {
			if v < 0 || v >= int64(c) {
				return nil, fmt.Errorf("tensor \"targets\": label %d of sample %d is out of range [0, %d)", v, i, c)
			}
			b.Targets.Classes[i] = int(v)
		}
	case model.MSE:
		if len(tShape) != 2 || tShape[0] != n || tShape[1] != c {
			return nil, fmt.Errorf("tensor \"targets\" has shape %v, mse needs [%d %d]", tShape, n, c)
		}
		if len(values) != n*c {
			panic("batch: targets length does not match their shape")
		}
		b.Targets.Values = mat.NewDense(n, c, values)
	}
	if err := net.Loss.Check(b.Targets, n, c); err != nil {
		return nil, err
	}
	return b, nil
}
