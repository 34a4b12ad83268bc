package onnx

import (
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vivit-go/vivit/model"
	pb "github.com/vivit-go/vivit/onnx/internal/onnxpb"
)

// activationGraph is Gemm(6→5), the activation node built by act on its
// output, Gemm(5→3), at the given opset.
func activationGraph(opset int64, act func(g *graphBuilder, in, out string)) *graphBuilder {
	g := newGraph("input", 6)
	g.m.OpsetImport[0].Version = proto.Int64(opset)
	g.node("Gemm", "fc1", []string{"input", g.init("fc1.weight", 1, 0, 5, 6), g.init("fc1.bias", 1, 0, 5)}, []string{"h"}, intAttr("transB", 1))
	act(g, "h", "a")
	g.node("Gemm", "fc2", []string{"a", g.init("fc2.weight", 1, 0, 3, 5), g.init("fc2.bias", 1, 0, 3)}, []string{"out"}, intAttr("transB", 1))
	g.output("out")
	return g
}

func stringAttr(name, v string) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

// TestPiecewiseAndGeluOps reads Clip (both bounds, one, none), HardSigmoid,
// HardSwish and opset 20's Gelu, and checks the layer each becomes and its
// values at points on every piece.
func TestPiecewiseAndGeluOps(t *testing.T) {
	xs := []float64{-7, -3.5, -1, -0.25, 0.3, 2, 4, 8}
	for _, tc := range []struct {
		name   string
		opset  int64
		act    func(g *graphBuilder, in, out string)
		mapped string
		f      func(x float64) float64
	}{
		{"relu6", 17, func(g *graphBuilder, in, out string) {
			g.node("Clip", "clip", []string{in, g.constFloat("lo", 0), g.constFloat("hi", 6)}, []string{out})
		}, "hardtanh", func(x float64) float64 { return min(max(x, 0), 6) }},
		{"clip max only", 17, func(g *graphBuilder, in, out string) {
			g.node("Clip", "clip", []string{in, "", g.constFloat("hi", 0.3)}, []string{out})
		}, "hardtanh", func(x float64) float64 { return min(x, 0.3) }},
		{"clip min only", 17, func(g *graphBuilder, in, out string) {
			g.node("Clip", "clip", []string{in, g.constFloat("lo", -1)}, []string{out})
		}, "hardtanh", func(x float64) float64 { return max(x, -1) }},
		{"clip no bounds", 17, func(g *graphBuilder, in, out string) {
			g.node("Clip", "clip", []string{in}, []string{out})
		}, "hardtanh", func(x float64) float64 { return x }},
		{"hardsigmoid", 17, func(g *graphBuilder, in, out string) {
			g.node("HardSigmoid", "hs", []string{in}, []string{out}, floatAttr("alpha", float32(1.0/6)))
		}, "hard_sigmoid", func(x float64) float64 { return min(max(x+3, 0), 6) / 6 }},
		{"hardsigmoid onnx default", 17, func(g *graphBuilder, in, out string) {
			g.node("HardSigmoid", "hs", []string{in}, []string{out})
		}, "hard_sigmoid", func(x float64) float64 { return min(max(0.2*x+0.5, 0), 1) }},
		{"hardswish", 17, func(g *graphBuilder, in, out string) {
			g.node("HardSwish", "hw", []string{in}, []string{out})
		}, "hard_swish", func(x float64) float64 { return x * min(max(x+3, 0), 6) / 6 }},
		{"gelu", 20, func(g *graphBuilder, in, out string) {
			g.node("Gelu", "gelu", []string{in}, []string{out})
		}, "gelu", func(x float64) float64 { return x * (1 + math.Erf(x/math.Sqrt2)) / 2 }},
		{"gelu tanh", 20, func(g *graphBuilder, in, out string) {
			g.node("Gelu", "gelu", []string{in}, []string{out}, stringAttr("approximate", "tanh"))
		}, "gelu_tanh", func(x float64) float64 {
			return x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))) / 2
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Read(activationGraph(tc.opset, tc.act).bytes(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Net.Nodes) != 3 {
				t.Fatalf("%d nodes, want 3", len(m.Net.Nodes))
			}
			e, ok := m.Net.Nodes[1].Op.(*model.Elementwise)
			if !ok || e.Type() != tc.mapped {
				t.Fatalf("activation became %T %v, want %s", m.Net.Nodes[1].Op, m.Net.Nodes[1].Op.Type(), tc.mapped)
			}
			for _, x := range xs {
				if got, want := e.F(x), tc.f(x); !(math.Abs(got-want) <= 1e-15*(1+math.Abs(want))) {
					t.Errorf("f(%v) = %.17g, want %.17g", x, got, want)
				}
			}
		})
	}
}

func TestPiecewiseAndGeluOpsRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opset int64
		act   func(g *graphBuilder, in, out string)
		want  string
	}{
		{"clip min above max", 17, func(g *graphBuilder, in, out string) {
			g.node("Clip", "clip", []string{in, g.constFloat("lo", 2), g.constFloat("hi", 1)}, []string{out})
		}, "node clip (Clip): its min 2 exceeds its max 1"},
		{"clip NaN", 17, func(g *graphBuilder, in, out string) {
			g.node("Clip", "clip", []string{in, g.constFloat("lo", float32(math.NaN()))}, []string{out})
		}, "its min is NaN"},
		{"clip learned bound", 17, func(g *graphBuilder, in, out string) {
			g.node("Clip", "clip", []string{in, g.init("lo", 1, 0)}, []string{out})
		}, "its min must be a constant"},
		{"clip activation bound", 17, func(g *graphBuilder, in, out string) {
			g.node("Clip", "clip", []string{in, in}, []string{out})
		}, "its min must be a constant"},
		{"clip vector bound", 17, func(g *graphBuilder, in, out string) {
			g.m.Graph.Node = append(g.m.Graph.Node, &pb.NodeProto{OpType: proto.String("Constant"), Name: proto.String("v"), Output: []string{"v"},
				Attribute: []*pb.AttributeProto{{Name: proto.String("value"), Type: pb.AttributeProto_TENSOR.Enum(), T: float32Tensor("", []int64{2}, []float32{0, 1})}}})
			g.node("Clip", "clip", []string{in, "v"}, []string{out})
		}, "its min must be a float scalar"},
		{"gelu approximate", 20, func(g *graphBuilder, in, out string) {
			g.node("Gelu", "gelu", []string{in}, []string{out}, stringAttr("approximate", "fast"))
		}, `attribute approximate = "fast"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(activationGraph(tc.opset, tc.act).bytes(t), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line containing %q", err, tc.want)
			}
		})
	}
}
