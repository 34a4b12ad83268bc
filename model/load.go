package model

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/safetensors"
)

// ArchitectureKey is the safetensors metadata key that holds the
// architecture JSON.
const ArchitectureKey = "architecture"

// budgetSlack is how many parameters beyond the values a checkpoint holds
// its architecture may allocate (8 MiB of float64).
const budgetSlack = 1 << 20

// LoadCheckpoint reads a network from a safetensors checkpoint whose
// metadata holds the architecture. If arch is not nil it is used instead
// of the metadata (for plain state_dicts saved without it).
func LoadCheckpoint(path string, arch *Architecture) (*Network, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	net, err := FromSafetensors(f, arch)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return net, nil
}

// FromSafetensors builds a network from the tensors of a parsed
// checkpoint; see LoadCheckpoint.
func FromSafetensors(f *safetensors.File, arch *Architecture) (*Network, error) {
	if arch == nil {
		js, ok := f.Metadata[ArchitectureKey]
		if !ok {
			return nil, fmt.Errorf("no %q in the safetensors metadata; pass the architecture separately (--arch)", ArchitectureKey)
		}
		var err error
		if arch, err = ParseArchitecture([]byte(js)); err != nil {
			return nil, err
		}
	}
	// Every parameter must be in the file: never allocate much more than it
	// holds. The slack lets a slightly short file reach the check below
	// that names the missing tensor.
	held := 0
	for _, t := range f.Tensors {
		held += t.NumElements()
	}
	net, err := arch.BuildLimited(held + budgetSlack)
	if errors.Is(err, ErrTooLarge) {
		return nil, fmt.Errorf("%w (the checkpoint holds %d values in all)", err, held)
	}
	if err != nil {
		return nil, err
	}
	want := map[string]*Param{}
	for _, p := range net.Params() {
		want[p.Name] = p
	}
	for _, name := range f.Names() {
		if _, ok := want[name]; !ok {
			return nil, fmt.Errorf("tensor %q is not a parameter of the architecture (expected: %s)", name, strings.Join(paramNames(net), ", "))
		}
	}
	for _, p := range net.Params() {
		data, shape, err := f.Float64s(p.Name)
		if err != nil {
			if _, ok := f.Info(p.Name); !ok {
				return nil, fmt.Errorf("tensor %q is missing (the architecture needs %s)", p.Name, strings.Join(paramNames(net), ", "))
			}
			return nil, err
		}
		if !slices.Equal(shape, p.Shape) {
			return nil, fmt.Errorf("tensor %q has shape %v, the architecture needs %v", p.Name, shape, p.Shape)
		}
		copy(p.Data, data)
	}
	if err := net.CheckFinite(); err != nil {
		return nil, err
	}
	return net, nil
}

func paramNames(net *Network) []string {
	var ns []string
	for _, p := range net.Params() {
		ns = append(ns, p.Name)
	}
	return ns
}

// LoadBatch reads a batch for net from a safetensors file with tensors
// "inputs" ([N, …input_shape], F32 or F64) and "targets" (I64 [N] class
// indices for cross-entropy; F32/F64 [N, C] for MSE).
func LoadBatch(path string, net *Network) (*Batch, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	b, err := BatchFromSafetensors(f, net)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// BatchFromSafetensors reads a batch from a parsed file; see LoadBatch.
func BatchFromSafetensors(f *safetensors.File, net *Network) (*Batch, error) {
	x, xs, err := f.Float64s("inputs")
	if err != nil {
		if _, ok := f.Info("inputs"); !ok {
			return nil, fmt.Errorf("no tensor \"inputs\"")
		}
		return nil, err
	}
	var y []float64
	var ys []int
	var classes []int64
	if net.Loss.Kind == CrossEntropy {
		classes, ys, err = f.Int64s("targets")
	} else {
		y, ys, err = f.Float64s("targets")
	}
	if err != nil {
		if _, ok := f.Info("targets"); !ok {
			return nil, fmt.Errorf("no tensor \"targets\"")
		}
		return nil, err
	}
	return NewBatch(net, x, xs, classes, y, ys)
}

// NewBatch checks raw tensors against net and returns the batch. Exactly
// one of classes (cross-entropy) and values (MSE) is used.
func NewBatch(net *Network, inputs []float64, inShape []int, classes []int64, values []float64, tShape []int) (*Batch, error) {
	if len(inShape) != len(net.InputShape)+1 || !slices.Equal(inShape[1:], net.InputShape) {
		return nil, fmt.Errorf("tensor \"inputs\" has shape %v, the network needs [N %s]", inShape, strings.Trim(fmt.Sprint(net.InputShape), "[]"))
	}
	n := inShape[0]
	if n < 1 {
		return nil, fmt.Errorf("tensor \"inputs\" has no samples")
	}
	if len(inputs) != n*net.InputSize() {
		panic("model: inputs length does not match their shape")
	}
	for i, v := range inputs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("tensor \"inputs\": non-finite value %v in sample %d", v, i/net.InputSize())
		}
	}
	b := &Batch{Inputs: mat.NewDense(n, net.InputSize(), inputs)}
	c := net.NumOutputs()
	switch net.Loss.Kind {
	case CrossEntropy:
		if len(tShape) != 1 || tShape[0] != n {
			return nil, fmt.Errorf("tensor \"targets\" has shape %v, cross_entropy needs class indices of shape [%d]", tShape, n)
		}
		b.Targets.Classes = make([]int, n)
		for i, v := range classes {
			if v < 0 || v >= int64(c) {
				return nil, fmt.Errorf("tensor \"targets\": label %d of sample %d is out of range [0, %d)", v, i, c)
			}
			b.Targets.Classes[i] = int(v)
		}
	case MSE:
		if len(tShape) != 2 || tShape[0] != n || tShape[1] != c {
			return nil, fmt.Errorf("tensor \"targets\" has shape %v, mse needs [%d %d]", tShape, n, c)
		}
		b.Targets.Values = mat.NewDense(n, c, values)
	}
	if err := net.Loss.Check(b.Targets, n, c); err != nil {
		return nil, err
	}
	return b, nil
}
