package onnx_test

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vivit-go/vivit/internal/enginecheck"
	"github.com/vivit-go/vivit/onnx"
	pb "github.com/vivit-go/vivit/onnx/internal/onnxpb"
)

var (
	mutations    = flag.Int("mutations", 20, "mutated models per seed file in TestMutatedModels")
	mutationSeed = flag.Int("mutation-seed", 29, "seed of TestMutatedModels' random mutations")
	maxMutations = flag.Int("max-mutations", 3, "most fields TestMutatedModels changes in one model")
)

// TestMutatedModels decodes every fixture model, changes one to three
// (-max-mutations) of its fields at random (attribute values, operator
// types, node inputs and outputs, node order, initializer shapes and
// bytes, input dimensions, the opset), encodes it again and reads it.
// Byte-level fuzzing (FuzzRead) rarely gets past the protobuf decoder into
// the converter; these files do. Each must be refused in one line, or
// accepted, and an accepted small model is computed on
// (enginecheck.TopEigen): no panic, no broken result. Run with
// -mutations 20000 (and another -mutation-seed) to search longer.
func TestMutatedModels(t *testing.T) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "hostile", "*valid.onnx"))
	more, _ := filepath.Glob(filepath.Join("..", "testdata", "fixtures", "*", "model.onnx"))
	seeds = append(seeds, more...)
	if len(seeds) < 10 {
		t.Fatalf("found %d seed models", len(seeds))
	}
	rng := rand.New(rand.NewPCG(17, uint64(*mutationSeed)))
	for _, path := range seeds {
		orig := decodeModel(t, path)
		accepted := 0
		for it := 0; it < *mutations; it++ {
			m := proto.Clone(orig).(*pb.ModelProto)
			var did []string
			for range 1 + rng.IntN(*maxMutations) {
				did = append(did, mutate(m, rng))
			}
			if checkMutated(t, m, fmt.Sprintf("%s with %s", path, strings.Join(did, "; "))) {
				accepted++
			}
		}
		t.Logf("%s: %d of %d mutated models accepted", filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), accepted, *mutations)
	}
}

// checkMutated reads the model and computes on it if it is accepted and
// small, failing the test with what, the mutations, on a panic, a
// multi-line error or a broken result; it reports whether the model was
// accepted.
func checkMutated(t *testing.T, m *pb.ModelProto, what string) (accepted bool) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: panic: %v\n%s", what, r, debug.Stack())
		}
	}()
	data, err := proto.Marshal(m)
	if err != nil {
		return false // a mutation the encoder refuses (invalid UTF-8 in a name)
	}
	got, err := onnx.Read(data, nil)
	if err != nil {
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("%s: multi-line error %q", what, err)
		}
		return false
	}
	if got == nil || got.Net == nil {
		t.Fatalf("%s: no error and no network", what)
	}
	if enginecheck.Small(got.Net) {
		if err := enginecheck.TopEigen(got.Net, uint64(len(data))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	return true
}

// ops are the operator types a mutation may give a node: most of the
// supported ones and two that are not.
var ops = []string{"Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh", "Erf",
	"BatchNormalization", "LayerNormalization", "Softmax", "Transpose", "Reshape", "Flatten", "Concat",
	"Gather", "Slice", "Shape", "Unsqueeze", "Squeeze", "MaxPool", "AveragePool", "GlobalAveragePool",
	"Pad", "ReduceMean", "Identity", "Dropout", "Constant", "Cast", "Sqrt", "Pow", "Where", "Equal",
	"Expand", "ConstantOfShape", "Einsum", "Hardmax"}

// decodeModel returns the decoded ONNX file at path.
func decodeModel(t *testing.T, path string) *pb.ModelProto {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m pb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &m
}

// maxFloat32 is math.MaxFloat32 as little-endian raw tensor data.
var maxFloat32 = []byte{0xff, 0xff, 0x7f, 0x7f}

var intPicks = []int64{-3, -2, -1, 0, 1, 2, 3, 4, 7, 64, 1 << 31, -(1 << 40), math.MaxInt64}

var floatPicks = []float32{0, -1, 1e-30, 1e30, float32(math.NaN()), float32(math.Inf(1)), 0.5}

// mutate changes one field of m at random and says which.
func mutate(m *pb.ModelProto, rng *rand.Rand) string {
	g := m.GetGraph()
	nodes, inits := g.GetNode(), g.GetInitializer()
	names := []string{"", "missing"}
	for _, in := range g.GetInput() {
		names = append(names, in.GetName())
	}
	for _, t := range inits {
		names = append(names, t.GetName())
	}
	for _, n := range nodes {
		names = append(names, n.GetOutput()...)
	}
	var n *pb.NodeProto
	if len(nodes) > 0 {
		n = nodes[rng.IntN(len(nodes))]
	}
	switch k := rng.IntN(12); {
	case k == 0 && n != nil && len(n.Attribute) > 0:
		a := n.Attribute[rng.IntN(len(n.Attribute))]
		switch {
		case len(a.Ints) > 0 && rng.IntN(3) > 0:
			i := rng.IntN(len(a.Ints))
			a.Ints[i] = intPicks[rng.IntN(len(intPicks))]
			return fmt.Sprintf("%s.%s[%d] = %d", n.GetName(), a.GetName(), i, a.Ints[i])
		case len(a.Ints) > 0:
			a.Ints = a.Ints[:rng.IntN(len(a.Ints))]
			return fmt.Sprintf("%s.%s has %d ints", n.GetName(), a.GetName(), len(a.Ints))
		case a.F != nil:
			a.F = proto.Float32(floatPicks[rng.IntN(len(floatPicks))])
			return fmt.Sprintf("%s.%s = %v", n.GetName(), a.GetName(), a.GetF())
		default:
			a.I = proto.Int64(intPicks[rng.IntN(len(intPicks))])
			return fmt.Sprintf("%s.%s = %d", n.GetName(), a.GetName(), a.GetI())
		}
	case k == 1 && n != nil && len(n.Attribute) > 0:
		i := rng.IntN(len(n.Attribute))
		n.Attribute = slices.Delete(n.Attribute, i, i+1)
		return fmt.Sprintf("%s loses attribute %d", n.GetName(), i)
	case k == 2 && n != nil:
		n.OpType = proto.String(ops[rng.IntN(len(ops))])
		return fmt.Sprintf("%s becomes %s", n.GetName(), n.GetOpType())
	case k == 3 && n != nil && len(n.Input) > 0:
		i := rng.IntN(len(n.Input))
		n.Input[i] = names[rng.IntN(len(names))]
		return fmt.Sprintf("%s input %d = %q", n.GetName(), i, n.Input[i])
	case k == 4 && n != nil:
		if len(n.Input) > 0 && rng.IntN(2) == 0 {
			n.Input = n.Input[:len(n.Input)-1]
			return fmt.Sprintf("%s loses its last input", n.GetName())
		}
		n.Input = append(n.Input, names[rng.IntN(len(names))])
		return fmt.Sprintf("%s gains input %q", n.GetName(), n.Input[len(n.Input)-1])
	case k == 5 && len(nodes) > 1:
		i, j := rng.IntN(len(nodes)), rng.IntN(len(nodes))
		nodes[i], nodes[j] = nodes[j], nodes[i]
		return fmt.Sprintf("nodes %d and %d swapped", i, j)
	case k == 6 && len(nodes) > 1:
		i := rng.IntN(len(nodes))
		g.Node = slices.Delete(nodes, i, i+1)
		return fmt.Sprintf("node %d deleted", i)
	case k == 7 && len(inits) > 0:
		t := inits[rng.IntN(len(inits))]
		if len(t.Dims) > 0 && rng.IntN(3) > 0 {
			i := rng.IntN(len(t.Dims))
			t.Dims[i] = intPicks[rng.IntN(9)]
			return fmt.Sprintf("%s dim %d = %d", t.GetName(), i, t.Dims[i])
		}
		if len(t.Dims) > 0 && rng.IntN(2) == 0 {
			t.Dims = t.Dims[:len(t.Dims)-1]
			return fmt.Sprintf("%s loses its last dimension", t.GetName())
		}
		t.Dims = append(t.Dims, 1)
		return fmt.Sprintf("%s gains a dimension", t.GetName())
	case k == 8 && len(inits) > 0:
		t := inits[rng.IntN(len(inits))]
		if len(t.RawData) >= 4 {
			i := rng.IntN(len(t.RawData)/4) * 4
			copy(t.RawData[i:], maxFloat32)
			return fmt.Sprintf("%s raw float %d = MaxFloat32", t.GetName(), i/4)
		}
		t.DataType = proto.Int32(int32(rng.IntN(17)))
		return fmt.Sprintf("%s data type %d", t.GetName(), t.GetDataType())
	case k == 9 && len(g.Input) > 0:
		dims := g.Input[0].GetType().GetTensorType().GetShape().GetDim()
		if len(dims) > 0 {
			d := dims[rng.IntN(len(dims))]
			d.Value = &pb.TensorShapeProto_Dimension_DimValue{DimValue: intPicks[rng.IntN(9)]}
			return fmt.Sprintf("an input dimension = %d", d.GetDimValue())
		}
	case k == 10 && len(m.OpsetImport) > 0:
		m.OpsetImport[0].Version = proto.Int64([]int64{1, 7, 11, 13, 17, 18, 21, 99}[rng.IntN(8)])
		return fmt.Sprintf("opset %d", m.OpsetImport[0].GetVersion())
	case k == 11 && n != nil && len(n.Output) > 0:
		n.Output[0] = names[rng.IntN(len(names))]
		return fmt.Sprintf("%s output = %q", n.GetName(), n.Output[0])
	}
	return "nothing"
}

// TestMutatedRegressions computes on mutated models that once gave broken
// results, with the check of TestMutatedModels.
func TestMutatedRegressions(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		floats  map[string]int // initializer → raw float index set to MaxFloat32
	}{
		// LayerNorm weights of 3.4e38 make the attention's inputs huge
		// along one direction, whose contributions to V cancel: the kernel
		// route's Gram matrix of the token-wise linear layers was rounding
		// noise (λ₁ 1.5e60 for 4.3e44, eigenvectors of norm 5e-8).
		{"vit_digits", map[string]int{"norm.weight": 13, "blocks.0.norm1.weight": 12}},
	} {
		path := filepath.Join("..", "testdata", "fixtures", tc.fixture, "model.onnx")
		m := decodeModel(t, path)
		for _, in := range m.GetGraph().GetInitializer() {
			if i, ok := tc.floats[in.GetName()]; ok {
				copy(in.RawData[4*i:], maxFloat32)
			}
		}
		if !checkMutated(t, m, fmt.Sprintf("%s with %v = MaxFloat32", path, tc.floats)) {
			t.Fatalf("%s: the mutated model is refused", path)
		}
	}
}

// TestHugeIntegerFields gives integer fields values beyond a 32-bit int
// (2³² and MaxInt64): each model is refused or read and computed without
// a panic, on any word size (on 32-bit platforms a perm entry of
// MaxInt64 indexed an array). TestSliceHugeStep slices a constant.
func TestHugeIntegerFields(t *testing.T) {
	// Transpose's perm.
	path := filepath.Join("testdata", "hostile", "vit_valid.onnx")
	m := decodeModel(t, path)
	transposed := false
	for _, n := range m.GetGraph().GetNode() {
		for _, a := range n.GetAttribute() {
			if n.GetName() == "/blocks.0/fc1/Transpose" && a.GetName() == "perm" && len(a.Ints) > 1 {
				a.Ints[1] = math.MaxInt64
				transposed = true
			}
		}
	}
	if !transposed {
		t.Fatalf("%s has no Transpose /blocks.0/fc1/Transpose with a perm", path)
	}
	if checkMutated(t, m, path+" with perm[1] = MaxInt64") {
		t.Errorf("%s with perm[1] = MaxInt64 is accepted", path)
	}

	// Slice's steps, as an initializer of the length of its starts.
	for _, step := range []int64{1 << 32, math.MaxInt64} {
		path := filepath.Join("..", "testdata", "fixtures", "mha_tiny", "model.onnx")
		m := decodeModel(t, path)
		g := m.GetGraph()
		lengths := map[string]int{}
		for _, in := range g.GetInitializer() {
			if len(in.GetDims()) == 1 {
				lengths[in.GetName()] = int(in.GetDims()[0])
			}
		}
		for _, n := range g.GetNode() {
			if n.GetOpType() != "Constant" {
				continue
			}
			for _, a := range n.GetAttribute() {
				if a.GetName() == "value" && len(a.GetT().GetDims()) == 1 {
					lengths[n.GetOutput()[0]] = int(a.GetT().GetDims()[0])
				}
			}
		}
		sliced := 0
		for i, n := range g.GetNode() {
			if n.GetOpType() != "Slice" || len(n.GetInput()) < 3 {
				continue
			}
			l, ok := lengths[n.GetInput()[1]]
			if !ok {
				continue
			}
			name := fmt.Sprintf("huge_steps_%d", i)
			steps := &pb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(pb.TensorProto_INT64)), Dims: []int64{int64(l)}}
			for range l {
				steps.Int64Data = append(steps.Int64Data, step)
			}
			g.Initializer = append(g.Initializer, steps)
			for len(n.Input) < 4 {
				n.Input = append(n.Input, "")
			}
			n.Input = append(n.Input[:4], name)
			sliced++
		}
		if sliced == 0 {
			t.Fatalf("%s has no Slice whose starts have a known length", path)
		}
		checkMutated(t, m, fmt.Sprintf("%s with Slice steps %d", path, step))
	}
}
