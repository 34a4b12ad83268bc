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

// mhaTiny returns the exported nn.TransformerEncoderLayer of the mha_tiny
// fixture (testdata/fixtures/mha_tiny).
func mhaTiny(t *testing.T) *pb.ModelProto {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", "mha_tiny", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var m pb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func nodeNamed(t *testing.T, m *pb.ModelProto, name string) *pb.NodeProto {
	t.Helper()
	for _, n := range m.GetGraph().GetNode() {
		if n.GetName() == name {
			return n
		}
	}
	t.Fatalf("no node %s", name)
	return nil
}

// TestReadMergedBatch reads the attention of mha_tiny, whose Reshapes merge
// the batch with the heads and with the tokens, and checks the ONNX shapes
// and the operations the nodes become (the fixture tests check its
// curvature against PyTorch).
func TestReadMergedBatch(t *testing.T) {
	data, err := proto.Marshal(mhaTiny(t))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Read(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"/enc/self_attn/Transpose":   {"[4 N 8]", "alias"},
		"/enc/self_attn/Reshape":     {"[4 2N 4]", "reshape"},
		"/enc/self_attn/Transpose_2": {"[2N 4 4]", "transpose"},
		"/enc/self_attn/Div_2":       {"[2N 4 4]", "affine"},
		"/enc/self_attn/MatMul_1":    {"[2N 4 4]", "matmul"},
		"/enc/self_attn/Softmax":     {"[2N 4 4]", "softmax"},
		"/enc/self_attn/Transpose_5": {"[4 2N 4]", "transpose"},
		"/enc/self_attn/Reshape_3":   {"[4N 8]", "reshape"},
		"/enc/self_attn/Gemm":        {"[4N 8]", "token_linear"},
		"/enc/self_attn/Reshape_4":   {"[4 N 8]", "alias"},
		"/enc/self_attn/Transpose_6": {"[N 4 8]", "alias"},
	}
	for _, n := range m.Nodes {
		w, ok := want[n.Name]
		if !ok {
			continue
		}
		delete(want, n.Name)
		if len(n.Shapes) != 1 || n.Shapes[0] != w[0] || n.Mapped != w[1] {
			t.Errorf("node %s: shapes %v, mapped %q; want [%s], %q", n.Name, n.Shapes, n.Mapped, w[0], w[1])
		}
	}
	if len(want) > 0 {
		t.Errorf("nodes not found: %v", want)
	}
	if got := m.Net.NumParams(); got != 627 {
		t.Errorf("NumParams = %d, want 627", got)
	}
}

// TestMergedBatchRefused edits the mha_tiny export into graphs that mix the
// samples of a batch, or apply operators to a merged batch axis that they
// do not support there: each is refused in one line naming the node.
func TestMergedBatchRefused(t *testing.T) {
	cases := []struct {
		name, node, want string
		edit             func(t *testing.T, m *pb.ModelProto)
	}{
		{"sequence-first attention on batch-first data (attention across the batch)", "/enc/self_attn/MatMul_1", "batch axes at different positions",
			func(t *testing.T, m *pb.ModelProto) {
				nodeNamed(t, m, "/enc/self_attn/Transpose").Attribute = []*pb.AttributeProto{intsAttr("perm", 0, 1, 2)}
			}},
		{"rows T·N read as N·T", "/enc/self_attn/Reshape_4", "mix the values of different samples",
			func(t *testing.T, m *pb.ModelProto) {
				in := nodeNamed(t, m, "/enc/self_attn/Concat_4").Input
				in[0], in[1] = in[1], in[0]
			}},
		{"softmax over the merged axis", "/enc/self_attn/Softmax", "merges the batch with per-sample axes",
			func(t *testing.T, m *pb.ModelProto) {
				nodeNamed(t, m, "/enc/self_attn/Softmax").Attribute = []*pb.AttributeProto{intAttr("axis", 0)}
			}},
		{"an operator without merged-axis support", "/enc/self_attn/Softmax", "Flatten is supported only on inputs whose batch axis is an axis of its own",
			func(t *testing.T, m *pb.ModelProto) {
				n := nodeNamed(t, m, "/enc/self_attn/Softmax")
				n.OpType = proto.String("Flatten")
				n.Attribute = []*pb.AttributeProto{intAttr("axis", 1)}
			}},
		{"mean over the batch", "/ReduceMean", "batch axis",
			func(t *testing.T, m *pb.ModelProto) {
				nodeNamed(t, m, "/ReduceMean").Attribute = []*pb.AttributeProto{intsAttr("axes", 0), intAttr("keepdims", 0)}
			}},
		{"the batch size times itself", "/enc/self_attn/Mul_3", "batch size",
			func(t *testing.T, m *pb.ModelProto) {
				nodeNamed(t, m, "/enc/self_attn/Mul_3").Input[1] = "/enc/self_attn/Gather_1_output_0"
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := mhaTiny(t)
			tc.edit(t, m)
			data, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Read(data, nil)
			if err == nil || !errors.Is(err, ErrUnsupported) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line of ErrUnsupported", err)
			}
			t.Log(err)
			if msg := err.Error(); !strings.Contains(msg, "node "+tc.node+" (") || !strings.Contains(msg, tc.want) {
				t.Errorf("err = %v, want it to name node %s and say %q", err, tc.node, tc.want)
			}
		})
	}
}

func TestFoldSym(t *testing.T) {
	n := func(k int64) int64 { return symN(k) }
	cases := []struct {
		op   string
		x, y int64
		want int64
		ok   bool
	}{
		{"mul", n(1), 2, n(2), true},
		{"mul", 4, n(1), n(4), true},
		{"div", n(6), 3, n(2), true},
		{"div", n(6), 4, 0, false},
		{"div", n(6), n(2), 3, true},
		{"add", n(2), n(3), n(5), true},
		{"add", n(2), 0, n(2), true},
		{"add", n(2), 1, 0, false},
		{"sub", n(3), n(3), 0, true},
		{"sub", n(2), n(3), 0, false},
		{"mul", n(1), n(1), 0, false},
		{"mul", n(1), 0, 0, false},
		{"mul", n(1), -1, 0, false},
		{"mul", n(1 << 30), 1 << 20, 0, false},
	}
	for _, c := range cases {
		got, ok := foldSym(c.op, c.x, c.y)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%s %s %s = %s, %v; want %s, %v", formatDim(c.x), c.op, formatDim(c.y), formatDim(got), ok, formatDim(c.want), c.ok)
		}
	}
	if s := formatInts([]int64{4, n(1), n(12), -1}); s != "[4 N 12N -1]" {
		t.Errorf("formatInts = %s", s)
	}
}

// TestMergedBatchPermutations reads mha_tiny with the inputs of each shape
// Concat and the perm of each activation Transpose permuted every way:
// every variant is read or refused in one line, never a panic, and the
// unedited order is read.
func TestMergedBatchPermutations(t *testing.T) {
	perms := func(n int) [][]int {
		var out [][]int
		var rec func(p []int, used []bool)
		rec = func(p []int, used []bool) {
			if len(p) == n {
				out = append(out, append([]int(nil), p...))
				return
			}
			for i := range n {
				if !used[i] {
					used[i] = true
					rec(append(p, i), used)
					used[i] = false
				}
			}
		}
		rec(nil, make([]bool, n))
		return out
	}
	read, refused := 0, 0
	for _, n := range mhaTiny(t).GetGraph().GetNode() {
		name := n.GetName()
		var edits []func(*pb.NodeProto)
		switch {
		case n.GetOpType() == "Concat" && strings.HasPrefix(name, "/enc/self_attn/"):
			for _, p := range perms(len(n.GetInput())) {
				edits = append(edits, func(m *pb.NodeProto) {
					in := append([]string(nil), m.Input...)
					for i, j := range p {
						m.Input[i] = in[j]
					}
				})
			}
		case n.GetOpType() == "Transpose" && len(n.GetAttribute()) == 1 && len(n.GetAttribute()[0].GetInts()) == 3:
			for _, p := range perms(3) {
				edits = append(edits, func(m *pb.NodeProto) {
					m.Attribute = []*pb.AttributeProto{intsAttr("perm", int64(p[0]), int64(p[1]), int64(p[2]))}
				})
			}
		}
		for _, edit := range edits {
			m := mhaTiny(t)
			edit(nodeNamed(t, m, name))
			data, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Read(data, nil)
			switch {
			case err == nil:
				read++
			case !errors.Is(err, ErrUnsupported) || strings.Contains(err.Error(), "\n"):
				t.Errorf("%s edited: err = %v, want one line of ErrUnsupported", name, err)
			default:
				refused++
			}
		}
	}
	if read == 0 || refused == 0 {
		t.Errorf("%d variants read, %d refused; want some of each", read, refused)
	}
	t.Logf("%d variants read, %d refused", read, refused)
}

// TestTrilu folds Trilu on a constant [2, 3, 3] (upper and lower, several
// diagonals) against numpy's triu/tril.
func TestTrilu(t *testing.T) {
	x := &tensorData{shape: []int{2, 3, 3}, dtype: "FLOAT"}
	for i := range 18 {
		x.f = append(x.f, float64(i+1))
	}
	cases := []struct {
		upper, k int64
		want     []float64 // first matrix; the second follows the same pattern
	}{
		{1, 0, []float64{1, 2, 3, 0, 5, 6, 0, 0, 9}},
		{1, 1, []float64{0, 2, 3, 0, 0, 6, 0, 0, 0}},
		{1, -1, []float64{1, 2, 3, 4, 5, 6, 0, 8, 9}},
		{0, 0, []float64{1, 0, 0, 4, 5, 0, 7, 8, 9}},
		{0, -1, []float64{0, 0, 0, 4, 0, 0, 7, 8, 0}},
	}
	for _, tc := range cases {
		c := &converter{curInfo: &NodeInfo{}}
		n := &pb.NodeProto{Attribute: []*pb.AttributeProto{intAttr("upper", tc.upper)}}
		k := value{kind: constant, c: &tensorData{i: []int64{tc.k}, isInt: true, dtype: "INT64"}}
		out, err := opTrilu(c, n, []value{{kind: constant, c: x}, k})
		if err != nil {
			t.Fatal(err)
		}
		got := out[0].c.f
		for i, w := range tc.want {
			w2 := 0.0
			if w != 0 {
				w2 = w + 9
			}
			if got[i] != w || got[9+i] != w2 {
				t.Errorf("upper %d, k %d: got %v, want %v then its +9", tc.upper, tc.k, got, tc.want)
				break
			}
		}
		if x.f[1] != 2 {
			t.Fatal("Trilu changed its input")
		}
	}
}

// TestFoldInfinity checks that an infinity passes through folded
// arithmetic (a −∞ mask times 1) but does not arise from finite values.
func TestFoldInfinity(t *testing.T) {
	inf := &tensorData{shape: []int{2}, f: []float64{math.Inf(-1), 0}, dtype: "FLOAT"}
	one := &tensorData{f: []float64{1}, dtype: "FLOAT"}
	v, err := foldArith("mul", inf, one)
	if err != nil || !math.IsInf(v.c.f[0], -1) || v.c.f[1] != 0 {
		t.Errorf("−∞·1: %v, %v", v.c, err)
	}
	big := &tensorData{f: []float64{math.MaxFloat64}, dtype: "FLOAT"}
	if _, err := foldArith("mul", big, &tensorData{f: []float64{2}, dtype: "FLOAT"}); err == nil {
		t.Error("an overflow to +∞ is folded")
	}
	if _, err := foldArith("div", one, &tensorData{f: []float64{0}, dtype: "FLOAT"}); err == nil {
		t.Error("1/0 is folded")
	}
	if _, err := foldArith("add", inf, &tensorData{f: []float64{math.Inf(1)}, dtype: "FLOAT"}); err == nil {
		t.Error("−∞ + ∞ is folded")
	}
}

// TestFoldBroadcast checks the shapes folded arithmetic gives: a scalar
// broadcasts to the other operand, an empty one included, and equal sizes
// keep the higher rank.
func TestFoldBroadcast(t *testing.T) {
	ints := func(shape []int, v ...int64) *tensorData {
		return &tensorData{shape: shape, i: v, isInt: true, dtype: "INT64"}
	}
	for _, c := range []struct {
		a, b  *tensorData
		shape []int
		want  []int64
	}{
		{ints(nil, 2), ints([]int{3}, 1, 2, 3), []int{3}, []int64{3, 4, 5}},
		{ints([]int{3}, 1, 2, 3), ints(nil, 2), []int{3}, []int64{3, 4, 5}},
		{ints(nil, 2), ints([]int{0}), []int{0}, nil},
		{ints([]int{0}), ints([]int{1}, 2), []int{0}, nil},
		{ints([]int{0}), ints([]int{0}), []int{0}, nil},
		{ints([]int{1}, 2), ints([]int{1, 1}, 5), []int{1, 1}, []int64{7}},
	} {
		v, err := foldArith("add", c.a, c.b)
		if err != nil || !slices.Equal(v.c.shape, c.shape) || !slices.Equal(v.c.i, c.want) {
			t.Errorf("%v + %v = %v %v (err %v), want %v %v", c.a.shape, c.b.shape, v.c.shape, v.c.i, err, c.shape, c.want)
		}
	}
}

// TestDropBatchOnes checks which constants broadcast the same way against
// every sample once their unit axes up to the batch axis are dropped.
func TestDropBatchOnes(t *testing.T) {
	plain := value{kind: activation, shape: []int{-1, 3, 4}}                         // [N 3 4]
	heads := value{kind: activation, shape: []int{-1, 2, 3, 3}, inner: 1}            // [2N 3 3]
	tokens := value{kind: activation, shape: []int{4, -1, 2, 4}, batch: 1, inner: 1} // [4 2N 4]
	cases := []struct {
		x     value
		shape []int
		want  []int
	}{
		{plain, []int{1, 3, 4}, []int{3, 4}},
		{plain, []int{3, 4}, []int{3, 4}},
		{plain, []int{1, 1, 3, 4}, []int{1, 1, 3, 4}}, // would add an axis
		{heads, []int{1, 3, 3}, []int{3, 3}},
		{heads, []int{2, 3, 3}, []int{2, 3, 3}},
		{tokens, []int{1, 1, 4}, []int{4}},
		{tokens, []int{4, 1, 4}, []int{4, 1, 4}},
		{tokens, []int{1, 4}, []int{4}},
	}
	for _, c := range cases {
		k := &tensorData{shape: c.shape, f: make([]float64, model.Numel(c.shape))}
		if got := dropBatchOnes(c.x, k).shape; !slices.Equal(got, c.want) {
			t.Errorf("%v against %s: %v, want %v", c.shape, c.x.format(), got, c.want)
		}
	}
}
