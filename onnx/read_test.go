package onnx

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vivit-go/vivit/model"
	pb "github.com/vivit-go/vivit/onnx/internal/onnxpb"
)

func TestReadSmallResNet(t *testing.T) {
	m, err := Read(smallResNet().bytes(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range m.Net.Params() {
		names = append(names, p.Name)
	}
	want := []string{"stem.0.weight", "stem.1.weight", "stem.1.bias", "block.conv1.weight", "block.bn1.weight", "block.bn1.bias",
		"block.conv2.weight", "block.bn2.weight", "block.bn2.bias", "fc.weight", "fc.bias"}
	if !slices.Equal(names, want) {
		t.Errorf("parameters %q,\nwant %q", names, want)
	}
	// The alias is a parameter of its own with the values of its source.
	var src, alias *model.Param
	for _, p := range m.Net.Params() {
		switch p.Name {
		case "stem.1.bias":
			src = p
		case "block.bn2.bias":
			alias = p
		}
	}
	if !slices.Equal(src.Data, alias.Data) || &src.Data[0] == &alias.Data[0] {
		t.Errorf("the alias must hold a copy of its source's values")
	}
	if m.LossSource != "default" || m.Net.Loss != (model.Loss{Kind: model.CrossEntropy, Reduction: model.Mean}) {
		t.Errorf("loss %v from %q, want cross_entropy:mean by default", m.Net.Loss, m.LossSource)
	}
	if len(m.Warnings) != 0 {
		t.Errorf("warnings %q", m.Warnings)
	}
	if got := m.Net.NumOutputs(); got != 4 {
		t.Errorf("%d outputs, want 4", got)
	}
}

func TestLossFromMetadataAndOption(t *testing.T) {
	g := smallResNet()
	g.m.MetadataProps = []*pb.StringStringEntryProto{{Key: proto.String(LossKey), Value: proto.String("mse:sum")}}
	m, err := Read(g.bytes(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Net.Loss != (model.Loss{Kind: model.MSE, Reduction: model.Sum}) || m.LossSource != "metadata" {
		t.Errorf("loss %v from %s, want mse:sum from the metadata", m.Net.Loss, m.LossSource)
	}
	ce := model.Loss{Kind: model.CrossEntropy, Reduction: model.Sum}
	m, err = Read(g.bytes(t), &Options{Loss: &ce})
	if err != nil {
		t.Fatal(err)
	}
	if m.Net.Loss != ce || m.LossSource != "option" {
		t.Errorf("loss %v from %s, want the option's", m.Net.Loss, m.LossSource)
	}
	g.m.MetadataProps[0].Value = proto.String("hinge")
	if _, err := Read(g.bytes(t), nil); err == nil || !strings.Contains(err.Error(), LossKey) {
		t.Errorf("a bad metadata loss: err = %v, want one naming %s", err, LossKey)
	}
}

// hostile returns broken variants of the small ResNet, each with a word
// its error must contain.
func hostile(t *testing.T) map[string]struct {
	data []byte
	want string
} {
	good := smallResNet().bytes(t)
	edit := func(f func(g *graphBuilder)) []byte {
		g := smallResNet()
		f(g)
		return g.bytes(t)
	}
	findInit := func(g *graphBuilder, name string) *pb.TensorProto {
		for _, t := range g.m.Graph.Initializer {
			if t.GetName() == name {
				return t
			}
		}
		panic(name)
	}
	findNode := func(g *graphBuilder, op string) *pb.NodeProto {
		for _, n := range g.m.Graph.Node {
			if n.GetOpType() == op {
				return n
			}
		}
		panic(op)
	}
	findNodeNamed := func(g *graphBuilder, name string) *pb.NodeProto {
		for _, n := range g.m.Graph.Node {
			if n.GetName() == name {
				return n
			}
		}
		panic(name)
	}
	setGroup := func(n *pb.NodeProto, v int64) {
		for _, a := range n.Attribute {
			if a.GetName() == "group" {
				a.I = proto.Int64(v)
			}
		}
	}
	cases := map[string]struct {
		data []byte
		want string
	}{
		"empty":     {nil, "empty"},
		"garbage":   {[]byte("this is not a protobuf \x00\xff\xfe"), "not an ONNX model"},
		"truncated": {good[:len(good)/2], "not an ONNX model"},
		"unsupported op": {edit(func(g *graphBuilder) { findNode(g, "Relu").OpType = proto.String("Hardmax") }),
			"/stem/Relu (Hardmax): operator not supported (supported operators: "},
		"control characters in names": {edit(func(g *graphBuilder) {
			n := findNode(g, "Relu")
			n.OpType = proto.String("Re\nlu")
			n.Name = proto.String("stem\r\xbd")
		}), `node "stem\r\xbd" ("Re\nlu"): operator not supported`},
		"missing initializer": {edit(func(g *graphBuilder) {
			is := g.m.Graph.Initializer
			g.m.Graph.Initializer = slices.DeleteFunc(is, func(t *pb.TensorProto) bool { return t.GetName() == "block.conv1.weight" })
		}), `reads "block.conv1.weight", which no node, input or initializer defines`},
		"cycle": {edit(func(g *graphBuilder) { findNode(g, "Relu").Input[0] = "a" }), "cycle"},
		"dangling edge": {edit(func(g *graphBuilder) { findNode(g, "Add").Input[1] = "nowhere" }),
			`/block/Add (Add): reads "nowhere"`},
		"NaN weight": {edit(func(g *graphBuilder) {
			raw := findInit(g, "fc.weight").RawData
			copy(raw[4:], []byte{0, 0, 0xc0, 0x7f})
		}), `"fc.weight": non-finite value NaN`},
		"wrong weight shape": {edit(func(g *graphBuilder) {
			w := findInit(g, "block.conv1.weight")
			w.Dims = []int64{3, 9, 3, 1}
		}), `weight "block.conv1.weight" has shape [3 9 3 1], the input [N 3 5 5] needs [out 3 kh kw]`},
		"short raw data": {edit(func(g *graphBuilder) {
			w := findInit(g, "fc.bias")
			w.RawData = w.RawData[:5]
		}), `initializer "fc.bias": its raw data holds 5 bytes`},
		"external data": {edit(func(g *graphBuilder) {
			w := findInit(g, "fc.weight")
			w.RawData = nil
			w.DataLocation = pb.TensorProto_EXTERNAL.Enum()
			w.ExternalData = []*pb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("../../etc/passwd")}}
		}), "external file"},
		"absurd dimensions": {edit(func(g *graphBuilder) {
			findInit(g, "fc.weight").Dims = []int64{1 << 40, 1 << 40}
		}), "absurdly large"},
		"integer weights": {edit(func(g *graphBuilder) {
			w := findInit(g, "block.conv1.weight")
			w.DataType = proto.Int32(int32(pb.TensorProto_INT64))
			w.RawData = make([]byte, 8*81)
		}), `its weight "block.conv1.weight" has type INT64`},
		"unknown opset": {edit(func(g *graphBuilder) { g.m.OpsetImport[0].Version = proto.Int64(99) }), "opset 99"},
		"foreign domain": {edit(func(g *graphBuilder) {
			g.m.OpsetImport = append(g.m.OpsetImport, &pb.OperatorSetIdProto{Domain: proto.String("com.example"), Version: proto.Int64(1)})
		}), `"com.example"`},
		"training BatchNorm": {edit(func(g *graphBuilder) {
			n := findNode(g, "BatchNormalization")
			for _, a := range n.Attribute {
				if a.GetName() == "training_mode" {
					a.I = proto.Int64(1)
				}
			}
		}), "training-mode BatchNorm"},
		"unknown attribute": {edit(func(g *graphBuilder) {
			n := findNode(g, "Conv")
			n.Attribute = append(n.Attribute, intAttr("frobnicate", 3))
		}), `attribute "frobnicate" is not supported`},
		"group not dividing the input channels": {edit(func(g *graphBuilder) {
			setGroup(findNode(g, "Conv"), 3)
		}), "/stem.0/Conv (Conv): attribute group = 3 must be positive and divide the 2 input channels of [N 2 5 5]"},
		"group zero": {edit(func(g *graphBuilder) {
			setGroup(findNode(g, "Conv"), 0)
		}), "/stem.0/Conv (Conv): attribute group = 0 must be positive"},
		"weight inconsistent with group": {edit(func(g *graphBuilder) {
			setGroup(findNodeNamed(g, "/block.conv1/Conv"), 3)
		}), `/block.conv1/Conv (Conv): weight "block.conv1.weight" has shape [3 3 3 3], the input [N 3 5 5] with group = 3 needs [out 1 kh kw]`},
		"group not dividing the output channels": {edit(func(g *graphBuilder) {
			setGroup(findNodeNamed(g, "/block.conv1/Conv"), 3)
			for i, t := range g.m.Graph.Initializer {
				if t.GetName() == "block.conv1.weight" {
					g.m.Graph.Initializer[i] = float32Tensor("block.conv1.weight", []int64{4, 1, 3, 3}, make([]float32, 36))
				}
			}
		}), `/block.conv1/Conv (Conv): weight "block.conv1.weight" has 4 output channels, not a multiple of group = 3`},
		"asymmetric pads": {edit(func(g *graphBuilder) {
			n := findNode(g, "Conv")
			for _, a := range n.Attribute {
				if a.GetName() == "pads" {
					a.Ints = []int64{1, 1, 0, 0}
				}
			}
		}), "asymmetric"},
		"two inputs": {edit(func(g *graphBuilder) {
			g.m.Graph.Input = append(g.m.Graph.Input, g.m.Graph.Input[0])
		}), "2 inputs"},
		"no output": {edit(func(g *graphBuilder) { g.m.Graph.Output = nil }), "0 outputs"},
		"empty required input": {edit(func(g *graphBuilder) { findNode(g, "Relu").Input[0] = "" }),
			`input 0 is empty ("")`},
		"constant without its tensor": {edit(func(g *graphBuilder) {
			g.node("Constant", "c", nil, []string{"c"}, &pb.AttributeProto{Name: proto.String("value"), Type: pb.AttributeProto_TENSOR.Enum()})
		}), "c (Constant): value: no tensor"},
		"duplicate initializer": {edit(func(g *graphBuilder) {
			g.m.Graph.Initializer = append(g.m.Graph.Initializer, g.m.Graph.Initializer[0])
		}), "defined twice"},
	}
	return cases
}

func TestHostile(t *testing.T) {
	for name, c := range hostile(t) {
		t.Run(name, func(t *testing.T) {
			m, err := Read(c.data, nil)
			if err == nil {
				t.Fatalf("no error (network with %d nodes)", len(m.Net.Nodes))
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want it to contain %q", msg, c.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans several lines: %q", msg)
			}
			if m != nil && m.Net != nil {
				t.Errorf("a network was returned with the error")
			}
		})
	}
}

// TestAllProblemsAtOnce checks that every unsupported node is named in one
// error, and that nodes depending on a failed one are not reported again.
func TestAllProblemsAtOnce(t *testing.T) {
	g := smallResNet()
	for _, n := range g.m.Graph.Node {
		switch n.GetName() {
		case "/stem/Relu":
			n.OpType = proto.String("Hardmax")
		case "Identity_0":
			n.OpType = proto.String("LpPool")
		}
	}
	m, err := Read(g.bytes(t), nil)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"/stem/Relu (Hardmax)", "Identity_0 (LpPool)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %s", msg, want)
		}
	}
	if strings.Contains(msg, "/block/Conv") || strings.Count(msg, "operator not supported") != 2 {
		t.Errorf("error %q reports more than the two failing nodes", msg)
	}
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("error %v is not ErrUnsupported", err)
	}
	if m == nil || len(m.Nodes) != len(g.m.Graph.Node) {
		t.Fatalf("the model description is missing")
	}
	var problems int
	for _, n := range m.Nodes {
		if n.Problem != "" {
			problems++
		}
	}
	if problems < 2 {
		t.Errorf("%d nodes carry a problem, want at least 2", problems)
	}
}

func TestAnonymousNamesWarn(t *testing.T) {
	g := smallResNet()
	for _, ini := range g.m.Graph.Initializer {
		if ini.GetName() == "fc.bias" {
			ini.Name = proto.String("onnx::Gemm_12")
		}
	}
	for _, n := range g.m.Graph.Node {
		for i, in := range n.Input {
			if in == "fc.bias" {
				n.Input[i] = "onnx::Gemm_12"
			}
		}
	}
	m, err := Read(g.bytes(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "do_constant_folding=False") {
		t.Errorf("warnings %q, want one about the export recipe", m.Warnings)
	}
}

func TestSnap32(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{
		{float64(float32(math.Sqrt2)), math.Sqrt2},
		{float64(float32(math.Sqrt(8))), math.Sqrt(8)},
		{float64(float32(1 / math.Sqrt(64))), 0.125},
		{float64(float32(1 / math.Sqrt(48))), 1 / math.Sqrt(48)},
		{float64(float32(1e-5)), 1e-5},
		{float64(float32(0.044715)), 0.044715},
		{float64(float32(math.Sqrt(2 / math.Pi))), math.Sqrt(2 / math.Pi)},
		{-float64(float32(math.Sqrt2)), -math.Sqrt2},
		{0.5, 0.5},
		{3, 3},
		{0, 0},
		{0.1, 0.1}, // not a float32 value: kept
		{float64(float32(1.0 / 6)), 1.0 / 6},
		{-float64(float32(1.0 / 3)), -1.0 / 3},
		{float64(float32(0.1)), 0.1},
		{float64(float32(-0.3)), -0.3},
	} {
		if got := snap32(c.in); got != c.want {
			t.Errorf("snap32(%.17g) = %.17g, want %.17g", c.in, got, c.want)
		}
		if float32(snap32(c.in)) != float32(c.in) {
			t.Errorf("snap32(%.17g) changes the float32 value", c.in)
		}
	}
}

// TestReadFileNames checks that ReadFile errors start with the path.
func TestReadFileNames(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.onnx")
	if err := os.WriteFile(p, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(p, nil)
	if err == nil || !strings.HasPrefix(err.Error(), p+": ") {
		t.Errorf("err = %v, want it to start with the path", err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add(smallResNet().bytes(f))
	for _, name := range []string{"resnet_digits", "vit_digits", "mha_tiny"} {
		if b, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", name, "model.onnx")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Read(data, nil)
		if err == nil && (m == nil || m.Net == nil) {
			t.Fatal("no error and no network")
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
	})
}

// TestHostileFiles reads the exported hostile files of testdata/hostile
// (tools/fixtures/make_graph_fixtures.py --hostile; README.md there says
// what is wrong with each): every one is refused in one line, except the
// valid ones.
func TestHostileFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "hostile", "*.onnx"))
	if err != nil || len(files) < 20 {
		t.Fatalf("hostile files: %v, %d found", err, len(files))
	}
	valid := map[string]string{
		"valid.onnx":       "",
		"vit_valid.onnx":   "",
		"double_bias.onnx": "", // a float64 bias is a float initializer
		"no_recipe.onnx":   "anonymous name",
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			m, err := ReadFile(f, nil)
			if warn, ok := valid[name]; ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if warn != "" && (len(m.Warnings) == 0 || !strings.Contains(m.Warnings[0], warn)) {
					t.Errorf("warnings %q, want %q", m.Warnings, warn)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted (%d nodes)", len(m.Net.Nodes))
			}
			if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), f+": ") {
				t.Errorf("error %q: want one line starting with the path", err)
			}
		})
	}
}

// TestSliceHugeStep slices a constant (shape arithmetic) with steps
// beyond a 32-bit int: [-1 6 99][0:2:step] is the target shape of a
// Reshape, [-1 6] for a step of 1 (read) and [-1] for a step past the
// axis (refused: it merges the batch away). On 32-bit platforms a step
// of 2³² became a loop step of 0, which never ended.
func TestSliceHugeStep(t *testing.T) {
	for _, step := range []int64{1, 2, 1 << 32, math.MaxInt64} {
		g := newGraph("input", 6)
		shape := g.constInts("shape", -1, 6, 99)
		g.node("Slice", "/Slice", []string{shape, g.initInts("starts", 0), g.initInts("ends", 2), g.initInts("axes", 0), g.initInts("steps", step)}, []string{"target"})
		g.node("Reshape", "/Reshape", []string{"input", "target"}, []string{"r"})
		g.node("Gemm", "/fc/Gemm", []string{"r", g.init("fc.weight", 0.5, 0, 3, 6), g.init("fc.bias", 0.1, 0, 3)}, []string{"logits"},
			floatAttr("alpha", 1), floatAttr("beta", 1), intAttr("transB", 1))
		g.output("logits")
		_, err := Read(g.bytes(t), nil)
		if (err == nil) != (step == 1) {
			t.Errorf("step %d: error %v", step, err)
		}
	}
}
