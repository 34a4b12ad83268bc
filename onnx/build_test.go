package onnx

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/vivit-go/vivit/onnx/internal/onnxpb"
)

// graphBuilder writes small ONNX models for tests, the way torch.onnx.export
// lays them out: float32 initializers in raw data, a dynamic batch axis.
type graphBuilder struct {
	m   *pb.ModelProto
	rng *rand.Rand
}

func newGraph(input string, shape ...int64) *graphBuilder {
	dims := []*pb.TensorShapeProto_Dimension{{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}}}
	for _, d := range shape {
		dims = append(dims, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	in := &pb.ValueInfoProto{Name: proto.String(input), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{
		ElemType: proto.Int32(int32(pb.TensorProto_FLOAT)), Shape: &pb.TensorShapeProto{Dim: dims}}}}}
	return &graphBuilder{
		m: &pb.ModelProto{
			IrVersion:    proto.Int64(8),
			ProducerName: proto.String("test"),
			OpsetImport:  []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}},
			Graph:        &pb.GraphProto{Name: proto.String("g"), Input: []*pb.ValueInfoProto{in}},
		},
		rng: rand.New(rand.NewPCG(1, 2)),
	}
}

// float32Tensor returns a float32 tensor with raw data.
func float32Tensor(name string, shape []int64, data []float32) *pb.TensorProto {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return &pb.TensorProto{Name: proto.String(name), Dims: shape, DataType: proto.Int32(int32(pb.TensorProto_FLOAT)), RawData: raw}
}

func int64Tensor(name string, shape []int64, data []int64) *pb.TensorProto {
	return &pb.TensorProto{Name: proto.String(name), Dims: shape, DataType: proto.Int32(int32(pb.TensorProto_INT64)), Int64Data: data}
}

// init adds a float32 initializer with random values (scale s, plus
// offset), returning its name.
func (g *graphBuilder) init(name string, s, offset float64, shape ...int64) string {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(offset + s*g.rng.NormFloat64())
	}
	g.m.Graph.Initializer = append(g.m.Graph.Initializer, float32Tensor(name, shape, data))
	return name
}

func (g *graphBuilder) initInts(name string, data ...int64) string {
	g.m.Graph.Initializer = append(g.m.Graph.Initializer, int64Tensor(name, []int64{int64(len(data))}, data))
	return name
}

func (g *graphBuilder) node(op, name string, inputs []string, outputs []string, attrs ...*pb.AttributeProto) *pb.NodeProto {
	n := &pb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: inputs, Output: outputs, Attribute: attrs}
	g.m.Graph.Node = append(g.m.Graph.Node, n)
	return n
}

// constInts adds a Constant node holding int64s and returns its output.
func (g *graphBuilder) constInts(name string, data ...int64) string {
	g.node("Constant", name, nil, []string{name}, &pb.AttributeProto{Name: proto.String("value"), Type: pb.AttributeProto_TENSOR.Enum(),
		T: int64Tensor("", []int64{int64(len(data))}, data)})
	return name
}

// constFloat adds a scalar Constant node and returns its output.
func (g *graphBuilder) constFloat(name string, v float32) string {
	g.node("Constant", name, nil, []string{name}, &pb.AttributeProto{Name: proto.String("value"), Type: pb.AttributeProto_TENSOR.Enum(),
		T: float32Tensor("", nil, []float32{v})})
	return name
}

func (g *graphBuilder) output(name string) {
	g.m.Graph.Output = append(g.m.Graph.Output, &pb.ValueInfoProto{Name: proto.String(name)})
}

func (g *graphBuilder) bytes(t testing.TB) []byte {
	t.Helper()
	b, err := proto.Marshal(g.m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func intsAttr(name string, v ...int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INTS.Enum(), Ints: v}
}

func intAttr(name string, v int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func floatAttr(name string, v float32) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

// smallResNet is a residual CNN as torch.onnx.export writes it with the
// project's recipe: conv, BatchNorm, ReLU, a basic block with an identity
// shortcut, global average pooling, flatten and a linear head; the
// shortcut BatchNorm's bias is an Identity alias of another bias.
func smallResNet() *graphBuilder {
	g := newGraph("input", 2, 5, 5)
	conv := func(name, in, out string, cin, cout int64) {
		w := g.init(name+".weight", 0.4, 0, cout, cin, 3, 3)
		g.node("Conv", "/"+name+"/Conv", []string{in, w}, []string{out},
			intsAttr("dilations", 1, 1), intAttr("group", 1), intsAttr("kernel_shape", 3, 3), intsAttr("pads", 1, 1, 1, 1), intsAttr("strides", 1, 1))
	}
	bn := func(name, in, out string, c int64, bias string) {
		w := g.init(name+".weight", 0.2, 1, c)
		if bias == "" {
			bias = g.init(name+".bias", 0.2, 0, c)
		}
		mean := g.init(name+".running_mean", 0.3, 0, c)
		v := g.init(name+".running_var", 0.1, 1, c)
		g.node("BatchNormalization", "/"+name+"/BatchNormalization", []string{in, w, bias, mean, v}, []string{out},
			floatAttr("epsilon", 1e-5), floatAttr("momentum", 0.9), intAttr("training_mode", 0))
	}
	conv("stem.0", "input", "c0", 2, 3)
	bn("stem.1", "c0", "b0", 3, "")
	g.node("Relu", "/stem/Relu", []string{"b0"}, []string{"r0"})
	conv("block.conv1", "r0", "c1", 3, 3)
	bn("block.bn1", "c1", "b1", 3, "")
	g.node("Relu", "/block/Relu", []string{"b1"}, []string{"r1"})
	conv("block.conv2", "r1", "c2", 3, 3)
	// block.bn2.bias aliases stem.1.bias, placed before the initializers
	// as exporters do.
	g.m.Graph.Node = append([]*pb.NodeProto{{OpType: proto.String("Identity"), Name: proto.String("Identity_0"),
		Input: []string{"stem.1.bias"}, Output: []string{"block.bn2.bias"}}}, g.m.Graph.Node...)
	bn("block.bn2", "c2", "b2", 3, "block.bn2.bias")
	g.node("Add", "/block/Add", []string{"b2", "r0"}, []string{"a"})
	g.node("Relu", "/block/Relu_1", []string{"a"}, []string{"r2"})
	g.node("GlobalAveragePool", "/pool/GlobalAveragePool", []string{"r2"}, []string{"p"})
	g.node("Flatten", "/Flatten", []string{"p"}, []string{"f"}, intAttr("axis", 1))
	w := g.init("fc.weight", 0.5, 0, 4, 3)
	b := g.init("fc.bias", 0.1, 0, 4)
	g.node("Gemm", "/fc/Gemm", []string{"f", w, b}, []string{"logits"},
		floatAttr("alpha", 1), floatAttr("beta", 1), intAttr("transB", 1))
	g.output("logits")
	return g
}
