package onnx

import (
	"fmt"
	"math"
	"slices"

	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/model/im2col"
	pb "github.com/vivit-go/vivit/onnx/internal/onnxpb"
)

// maxPatchTable bounds a convolution's unfolded input per sample (positions
// × patch length): 2²⁶ entries, a 256 MiB index table.
const maxPatchTable = 1 << 26

type handler struct {
	minIn, maxIn int
	attrs        []string
	fn           func(c *converter, n *pb.NodeProto, in []value) ([]value, error)
}

// handlers maps the supported ONNX operators.
var handlers = map[string]handler{
	"Conv":               {2, 3, []string{"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"}, opConv},
	"Gemm":               {2, 3, []string{"alpha", "beta", "transA", "transB"}, opGemm},
	"MatMul":             {2, 2, nil, opMatMul},
	"BatchNormalization": {5, 5, []string{"epsilon", "momentum", "training_mode", "spatial"}, opBatchNorm},
	"LayerNormalization": {2, 3, []string{"axis", "epsilon", "stash_type"}, opLayerNorm},

	"Relu":      {1, 1, nil, unary(func(s []int, _ *pb.NodeProto) (model.Layer, error) { return model.NewReLU(s), nil })},
	"Tanh":      {1, 1, nil, unary(func(s []int, _ *pb.NodeProto) (model.Layer, error) { return model.NewTanh(s), nil })},
	"Sigmoid":   {1, 1, nil, unary(func(s []int, _ *pb.NodeProto) (model.Layer, error) { return model.NewSigmoid(s), nil })},
	"Erf":       {1, 1, nil, unary(func(s []int, _ *pb.NodeProto) (model.Layer, error) { return model.NewErf(s), nil })},
	"Sqrt":      {1, 1, nil, unary(func(s []int, _ *pb.NodeProto) (model.Layer, error) { return model.NewSqrt(s), nil })},
	"LeakyRelu": {1, 1, []string{"alpha"}, unary(newLeakyReLU)},
	"Elu":       {1, 1, []string{"alpha"}, unary(newELU)},
	// PyTorch's Softplus is linear above a threshold of 20, which its
	// ONNX export drops; the engine keeps PyTorch's values.
	"Softplus": {1, 1, nil, unary(func(s []int, _ *pb.NodeProto) (model.Layer, error) { return model.NewSoftplus(s, 1, 20), nil })},
	"Softmax":  {1, 1, []string{"axis"}, opSoftmax},
	// nn.ReLU6 and nn.Hardtanh export as Clip with constant bounds.
	"Clip":        {1, 3, nil, opClip},
	"HardSigmoid": {1, 1, []string{"alpha", "beta"}, unary(newHardSigmoid)},
	"HardSwish":   {1, 1, nil, unary(func(s []int, _ *pb.NodeProto) (model.Layer, error) { return model.NewHardSwish(s), nil })},
	// Gelu is an operator from opset 20; earlier opsets get the Erf
	// pattern, fused in fuse.go.
	"Gelu": {1, 1, []string{"approximate"}, unary(newGELU)},

	"Add": {2, 2, nil, arith("add")},
	"Sub": {2, 2, nil, arith("sub")},
	"Mul": {2, 2, nil, arith("mul")},
	"Div": {2, 2, nil, arith("div")},
	"Pow": {2, 2, nil, opPow},

	"MaxPool":           {1, 1, []string{"kernel_shape", "strides", "pads", "dilations", "ceil_mode", "storage_order", "auto_pad"}, opMaxPool},
	"AveragePool":       {1, 1, []string{"kernel_shape", "strides", "pads", "ceil_mode", "count_include_pad", "auto_pad"}, opAvgPool},
	"GlobalAveragePool": {1, 1, nil, opGlobalAvgPool},
	"ReduceMean":        {1, 2, []string{"axes", "keepdims", "noop_with_empty_axes"}, opReduceMean},
	"Pad":               {2, 4, []string{"mode"}, opPad},

	"Identity":  {1, 1, nil, opIdentity},
	"Dropout":   {1, 3, []string{"seed", "ratio"}, opDropout},
	"Cast":      {1, 1, []string{"to", "saturate"}, opCast},
	"Flatten":   {1, 1, []string{"axis"}, opFlatten},
	"Reshape":   {2, 2, []string{"allowzero"}, opReshape},
	"Transpose": {1, 1, []string{"perm"}, opTranspose},
	"Squeeze":   {1, 2, nil, opSqueeze},
	"Unsqueeze": {2, 2, nil, opUnsqueeze},
	"Split":     {1, 2, []string{"axis", "num_outputs"}, opSplit},
	"Slice":     {3, 5, nil, opSlice},
	"Gather":    {2, 2, []string{"axis"}, opGather},
	"Concat":    {1, 1 << 16, []string{"axis"}, opConcat},
	"Expand":    {2, 2, nil, opExpand},

	"Constant": {0, 0, []string{"value", "value_float", "value_floats", "value_int", "value_ints"}, opConstant},
	"Shape":    {1, 1, []string{"start", "end"}, opShape},
	// Shape arithmetic on constants (expand(B, -1, -1) of a class token).
	"ConstantOfShape": {1, 1, []string{"value"}, opConstantOfShape},
	"Equal":           {2, 2, nil, opEqual},
	"Where":           {3, 3, nil, opWhere},
	// A causal attention mask built in the model's forward.
	"Trilu": {1, 2, []string{"upper"}, opTrilu},
}

func one(v value, err error) ([]value, error) {
	if err != nil {
		return nil, err
	}
	return []value{v}, nil
}

// unary maps an operator applied entrywise to one activation.
func unary(build func(shape []int, n *pb.NodeProto) (model.Layer, error)) func(*converter, *pb.NodeProto, []value) ([]value, error) {
	return func(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
		x, err := act(in[0], "input")
		if err != nil {
			return nil, err
		}
		l, err := build(x.perSample(), n)
		if err != nil {
			return nil, err
		}
		return one(c.addLike(l, x, x.tensor))
	}
}

func newLeakyReLU(s []int, n *pb.NodeProto) (model.Layer, error) {
	a, err := attrFloat(n, "alpha", 0.01)
	if err != nil {
		return nil, err
	}
	return model.NewLeakyReLU(s, a), nil
}

func newELU(s []int, n *pb.NodeProto) (model.Layer, error) {
	a, err := attrFloat(n, "alpha", 1)
	if err != nil {
		return nil, err
	}
	return model.NewELU(s, a), nil
}

func newHardSigmoid(s []int, n *pb.NodeProto) (model.Layer, error) {
	a, err := attrFloat(n, "alpha", 0.2)
	if err != nil {
		return nil, err
	}
	b, err := attrFloat(n, "beta", 0.5)
	if err != nil {
		return nil, err
	}
	return model.NewHardSigmoid(s, a, b), nil
}

func newGELU(s []int, n *pb.NodeProto) (model.Layer, error) {
	switch a, err := attrString(n, "approximate", "none"); {
	case err != nil:
		return nil, err
	case a == "none":
		return model.NewGELU(s), nil
	case a == "tanh":
		return model.NewGELUTanh(s), nil
	default:
		return nil, fmt.Errorf("attribute approximate = %q: supported are \"none\" and \"tanh\"", a)
	}
}

// opClip reads Clip(x, min, max) with constant bounds (either may be
// omitted) as a Hardtanh.
func opClip(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	x, err := act(in[0], "input")
	if err != nil {
		return nil, err
	}
	bounds := [2]float64{math.Inf(-1), math.Inf(1)}
	for i, role := range []string{"min", "max"} {
		if i+1 >= len(in) || in[i+1].kind == invalid {
			continue // omitted
		}
		b, err := constValue(in[i+1], role)
		if err != nil {
			return nil, err
		}
		if b.numel() != 1 || b.isInt {
			return nil, fmt.Errorf("its %s must be a float scalar", role)
		}
		if math.IsNaN(b.f[0]) {
			return nil, fmt.Errorf("its %s is NaN", role)
		}
		bounds[i] = b.f[0]
	}
	if !(bounds[0] <= bounds[1]) {
		return nil, fmt.Errorf("its min %v exceeds its max %v", bounds[0], bounds[1])
	}
	return one(c.addLike(model.NewHardtanh(x.perSample(), bounds[0], bounds[1]), x, x.tensor))
}

func opConv(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	x, err := act(in[0], "input")
	if err != nil {
		return nil, err
	}
	if err := batchFirst(x); err != nil {
		return nil, err
	}
	if len(x.shape) != 4 {
		return nil, fmt.Errorf("input %s: only 2-D convolutions ([N C H W]) are supported", formatShape(x.shape))
	}
	groups, err := attrInt(n, "group", 1)
	if err != nil {
		return nil, err
	}
	if groups < 1 || groups > int64(x.shape[1]) || x.shape[1]%int(groups) != 0 {
		return nil, fmt.Errorf("attribute group = %d must be positive and divide the %d input channels of %s", groups, x.shape[1], formatShape(x.shape))
	}
	ng := int(groups)
	cin := x.shape[1] / ng // input channels per group
	if err := checkAutoPad(n); err != nil {
		return nil, err
	}
	w, err := c.claim(in[1], "weight")
	if err != nil {
		return nil, err
	}
	ws := w.data.shape
	if len(ws) != 4 || ws[1] != cin || ws[0] < 1 || ws[2] < 1 || ws[3] < 1 {
		if ng > 1 {
			return nil, fmt.Errorf("weight %q has shape %v, the input %s with group = %d needs [out %d kh kw]", in[1].param, ws, formatShape(x.shape), ng, cin)
		}
		return nil, fmt.Errorf("weight %q has shape %v, the input %s needs [out %d kh kw]", in[1].param, ws, formatShape(x.shape), cin)
	}
	if ws[0]%ng != 0 {
		return nil, fmt.Errorf("weight %q has %d output channels, not a multiple of group = %d", in[1].param, ws[0], ng)
	}
	k, err := pair(n, "kernel_shape", [2]int{ws[2], ws[3]}, 1)
	if err != nil {
		return nil, err
	}
	if k != [2]int{ws[2], ws[3]} {
		return nil, fmt.Errorf("attribute kernel_shape %v does not match weight %q of shape %v", k, in[1].param, ws)
	}
	s, err := pair(n, "strides", [2]int{1, 1}, 1)
	if err != nil {
		return nil, err
	}
	d, err := pair(n, "dilations", [2]int{1, 1}, 1)
	if err != nil {
		return nil, err
	}
	p, err := symmetricPads(n)
	if err != nil {
		return nil, err
	}
	h, wd := x.shape[2], x.shape[3]
	oh, ow := im2col.OutSize(h, k[0], s[0], p[0], d[0]), im2col.OutSize(wd, k[1], s[1], p[1], d[1])
	if oh < 1 || ow < 1 {
		return nil, fmt.Errorf("the %dx%d window does not fit the padded %dx%d input", k[0], k[1], h, wd)
	}
	// The geometry keeps a table of P·K patch indices.
	if pk := int64(oh) * int64(ow) * int64(ws[1]*k[0]*k[1]); pk > maxPatchTable {
		return nil, fmt.Errorf("its unfolded input has %d entries per sample, more than the %d the engine allows", pk, maxPatchTable)
	}
	var b *paramState
	if len(in) == 3 {
		if b, err = c.claim(in[2], "bias"); err != nil {
			return nil, err
		}
		if !slices.Equal(b.data.shape, []int{ws[0]}) {
			return nil, fmt.Errorf("bias %q has shape %v, the weight needs [%d]", in[2].param, b.data.shape, ws[0])
		}
	}
	g := im2col.New(cin, h, wd, ws[0]/ng, k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1])
	l := model.NewGroupedConv2d(0, g, ng, b != nil)
	c.bind(w, in[1].param, l.Weight)
	if b != nil {
		c.bind(b, in[2].param, l.Bias)
	}
	return one(c.addNode(l, 0, x.tensor))
}

func opGemm(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	x, err := act(in[0], "input A")
	if err != nil {
		return nil, err
	}
	if x.rank() != 2 || x.batchAxis() != 0 {
		return nil, fmt.Errorf("input %s: Gemm needs [N features] (or rows merging the batch with tokens, [T·N features])", x.format())
	}
	for _, a := range []struct {
		name string
		want float64
	}{{"alpha", 1}, {"beta", 1}} {
		if v, err := attrFloat(n, a.name, 1); err != nil || v != a.want {
			if err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("attribute %s = %g: only 1 is supported", a.name, v)
		}
	}
	if v, err := attrInt(n, "transA", 0); err != nil || v != 0 {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("attribute transA = %d: only 0 is supported", v)
	}
	transB, err := attrInt(n, "transB", 0)
	if err != nil {
		return nil, err
	}
	if transB != 1 {
		return nil, fmt.Errorf("attribute transB = %d: only transB = 1 (PyTorch's nn.Linear, weight [out in]) is supported", transB)
	}
	w, err := c.claim(in[1], "weight B")
	if err != nil {
		return nil, err
	}
	ws, feat := w.data.shape, x.shape[len(x.shape)-1]
	if len(ws) != 2 || ws[1] != feat || ws[0] < 1 {
		return nil, fmt.Errorf("weight %q has shape %v, the input %s needs [out %d]", in[1].param, ws, x.format(), feat)
	}
	var b *paramState
	if len(in) == 3 && in[2].kind != invalid {
		if b, err = c.claim(in[2], "bias C"); err != nil {
			return nil, err
		}
		if !slices.Equal(b.data.shape, []int{ws[0]}) {
			return nil, fmt.Errorf("bias %q has shape %v, the weight needs [%d]", in[2].param, b.data.shape, ws[0])
		}
	}
	if x.merged() {
		// Rows T·N: the same linear layer on every token.
		var bp *model.Param
		if b != nil {
			bp = c.newParam(b, in[2].param)
		}
		l, err := model.NewTokenLinear(x.perSample(), c.newParam(w, in[1].param), bp)
		if err != nil {
			return nil, err
		}
		return one(c.addLike(l, x, x.tensor))
	}
	l := model.NewLinear(0, ws[1], ws[0], b != nil)
	c.bind(w, in[1].param, l.Weight)
	if b != nil {
		c.bind(b, in[2].param, l.Bias)
	}
	return one(c.addNode(l, 0, x.tensor))
}

func opMatMul(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	a, err := act(in[0], "first input")
	if err != nil {
		return nil, err
	}
	switch b := in[1]; b.kind {
	case parameter:
		if !b.transposed {
			return nil, fmt.Errorf("its weight %q is used untransposed ([in out]); the engine takes PyTorch's [out in] layout, exported as Transpose(weight) (export with do_constant_folding=False)", b.param)
		}
		if a.batchAxis() == a.rank()-1 {
			return nil, fmt.Errorf("input %s: the batch axis is the contracted one", a.format())
		}
		w, err := c.claim(b, "weight")
		if err != nil {
			return nil, err
		}
		if len(w.data.shape) != 2 || w.data.shape[1] != a.shape[len(a.shape)-1] {
			return nil, fmt.Errorf("weight %q has shape %v, the input %s needs [out %d]", b.param, w.data.shape, a.format(), a.shape[len(a.shape)-1])
		}
		l, err := model.NewTokenLinear(a.perSample(), c.newParam(w, b.param), nil)
		if err != nil {
			return nil, err
		}
		return one(c.addLike(l, a, a.tensor))
	case activation:
		if !sameLayout(a, b) {
			if a.merged() || b.merged() {
				return nil, fmt.Errorf("inputs %s and %s merge the batch with different axes", a.format(), b.format())
			}
			return nil, fmt.Errorf("inputs %s and %s have their batch axes at different positions", a.format(), b.format())
		}
		if a.batchAxis() >= a.rank()-2 || b.batchAxis() >= b.rank()-2 {
			return nil, fmt.Errorf("inputs %s and %s: the batch axis is one of the multiplied axes", a.format(), b.format())
		}
		l, err := model.NewMatMul(a.perSample(), b.perSample())
		if err != nil {
			return nil, err
		}
		// The batch axis keeps its position from the end.
		x := a
		if b.batch > a.batch {
			x = b
		}
		return one(c.addLike(l, x, a.tensor, b.tensor))
	default:
		return nil, fmt.Errorf("its second input must be a weight (Transpose of an initializer) or an activation")
	}
}

func opBatchNorm(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	x, err := act(in[0], "input")
	if err != nil {
		return nil, err
	}
	if err := batchFirst(x); err != nil {
		return nil, err
	}
	if tm, err := attrInt(n, "training_mode", 0); err != nil || tm != 0 {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("training_mode = 1: training-mode BatchNorm couples the samples of a batch and has no per-sample curvature; export with model.eval() and training=TrainingMode.PRESERVE")
	}
	if len(n.GetOutput()) > 1 {
		for _, o := range n.GetOutput()[1:] {
			if o != "" {
				return nil, fmt.Errorf("it has training outputs (running statistics); export in inference mode (model.eval())")
			}
		}
	}
	eps, err := attrFloat(n, "epsilon", 1e-5)
	if err != nil {
		return nil, err
	}
	if len(x.shape) < 2 {
		return nil, fmt.Errorf("input %s has no channel axis", formatShape(x.shape))
	}
	ch := x.shape[1]
	var stats [2][]float64
	for i, role := range []string{"running mean", "running variance"} {
		v := in[3+i]
		var d *tensorData
		switch v.kind {
		case parameter:
			// Running statistics are initializers but not parameters.
			ps := c.params[v.param]
			if ps.usedBy != "" {
				return nil, fmt.Errorf("its %s %q is already used by node %s", role, v.param, ps.usedBy)
			}
			ps.usedBy = c.curInfo.Name
			d = ps.data
		case constant:
			d = v.c
		default:
			return nil, fmt.Errorf("its %s must be an initializer", role)
		}
		if d.isInt || !slices.Equal(d.shape, []int{ch}) {
			return nil, fmt.Errorf("its %s has shape %v, the input %s needs [%d] floats", role, d.shape, formatShape(x.shape), ch)
		}
		stats[i] = d.f
	}
	for i, v := range stats[1] {
		if !(v+eps > 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("running variance %v of channel %d is not a positive number", v, i)
		}
	}
	for i, v := range stats[0] {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("running mean %v of channel %d is not finite", v, i)
		}
	}
	var wb [2]*model.Param
	for i, role := range []string{"scale", "bias"} {
		ps, err := c.claim(in[1+i], role)
		if err != nil {
			return nil, err
		}
		if !slices.Equal(ps.data.shape, []int{ch}) {
			return nil, fmt.Errorf("%s %q has shape %v, the input %s needs [%d]", role, in[1+i].param, ps.data.shape, formatShape(x.shape), ch)
		}
		wb[i] = c.newParam(ps, in[1+i].param)
	}
	l, err := model.NewBatchNorm(x.perSample(), wb[0], wb[1], stats[0], stats[1], eps)
	if err != nil {
		return nil, err
	}
	return one(c.addNode(l, 0, x.tensor))
}

func opLayerNorm(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	x, err := act(in[0], "input")
	if err != nil {
		return nil, err
	}
	axis, err := attrInt(n, "axis", -1)
	if err != nil {
		return nil, err
	}
	a, err := axisOf(axis, x.rank())
	if err != nil {
		return nil, err
	}
	if a != x.rank()-1 || a == x.batchAxis() {
		return nil, fmt.Errorf("attribute axis = %d: only normalisation over the last axis (not the batch axis) is supported", axis)
	}
	for _, o := range n.GetOutput()[1:] {
		if o != "" {
			return nil, fmt.Errorf("its mean and inverse standard deviation outputs are not supported")
		}
	}
	eps, err := attrFloat(n, "epsilon", 1e-5)
	if err != nil {
		return nil, err
	}
	width := x.shape[len(x.shape)-1]
	var wb [2]*model.Param
	for i, role := range []string{"scale", "bias"} {
		if 1+i >= len(in) || in[1+i].kind == invalid {
			continue
		}
		ps, err := c.claim(in[1+i], role)
		if err != nil {
			return nil, err
		}
		if !slices.Equal(ps.data.shape, []int{width}) {
			return nil, fmt.Errorf("%s %q has shape %v, the input %s needs [%d]", role, in[1+i].param, ps.data.shape, formatShape(x.shape), width)
		}
		wb[i] = c.newParam(ps, in[1+i].param)
	}
	l, err := model.NewLayerNorm(x.perSample(), wb[0], wb[1], eps)
	if err != nil {
		return nil, err
	}
	return one(c.addLike(l, x, x.tensor))
}

func opSoftmax(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	x, err := act(in[0], "input")
	if err != nil {
		return nil, err
	}
	_, sa, err := axisAttr(n, x, -1)
	if err != nil {
		return nil, err
	}
	l, err := model.NewSoftmax(x.perSample(), sa)
	if err != nil {
		return nil, err
	}
	return one(c.addLike(l, x, x.tensor))
}

// arith maps Add, Sub, Mul and Div: of two activations, of an activation
// and a constant, of an activation and a learned bias (Add), or of two
// constants (folded).
func arith(op string) func(*converter, *pb.NodeProto, []value) ([]value, error) {
	return func(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
		a, b := in[0], in[1]
		switch {
		case a.kind == constant && b.kind == constant:
			c.curInfo.Mapped = "constant"
			return one(foldArith(op, a.c, b.c))
		case a.kind == activation && b.kind == activation:
			if !sameLayout(a, b) {
				if a.merged() || b.merged() {
					return nil, fmt.Errorf("inputs %s and %s merge the batch with different axes", a.format(), b.format())
				}
				return nil, fmt.Errorf("inputs %s and %s have their batch axes at different positions", a.format(), b.format())
			}
			if op == "add" && slices.Equal(a.shape, b.shape) {
				return one(c.addLike(model.NewAdd(a.perSample(), 2), a, a.tensor, b.tensor))
			}
			l, err := model.NewBinary(op, a.perSample(), b.perSample())
			if err != nil {
				return nil, err
			}
			if b.batch > a.batch {
				a = b
			}
			return one(c.addLike(l, a, in[0].tensor, in[1].tensor))
		}
		x, other, constFirst := a, b, false
		if b.kind == activation {
			x, other, constFirst = b, a, true
		}
		if x.kind != activation {
			return nil, fmt.Errorf("needs an activation among its inputs")
		}
		switch other.kind {
		case parameter:
			// A learned bias (Add) or scale (Mul, as in a LayerNorm that
			// an exporter decomposed); a learned tensor subtracted or
			// divided by has no such form.
			if op != "add" && op != "mul" {
				return nil, fmt.Errorf("a learned %s (initializer %q) is not supported, only a learned bias (Add) or scale (Mul)", op, other.param)
			}
			if other.transposed {
				return nil, fmt.Errorf("uses a transposed initializer %q", other.param)
			}
			role := map[string]string{"add": "bias", "mul": "scale"}[op]
			ps, err := c.claim(other, role)
			if err != nil {
				return nil, err
			}
			if err := reachesBatch(x, len(ps.data.shape)); err != nil {
				return nil, err
			}
			p := c.newParam(ps, other.param)
			var l model.Layer
			if op == "add" {
				l, err = model.NewBiasAdd(x.perSample(), p)
			} else {
				l, err = model.NewScale(x.perSample(), p)
			}
			if err != nil {
				return nil, err
			}
			return one(c.addLike(l, x, x.tensor))
		case constant:
			k := other.c
			if k.isInt {
				if hasSym(k) {
					return nil, fmt.Errorf("uses the batch size as a number")
				}
				k = asFloat(k)
			}
			var l model.Layer
			if k.numel() == 1 && len(k.shape) <= x.rank() {
				v := k.f[0]
				switch {
				case op == "add":
					l = model.NewAffine(x.perSample(), 1, v)
				case op == "sub" && !constFirst:
					l = model.NewAffine(x.perSample(), 1, -v)
				case op == "sub":
					l = model.NewAffine(x.perSample(), -1, v)
				case op == "mul":
					l = model.NewAffine(x.perSample(), v, 0)
				case op == "div" && !constFirst:
					if v == 0 {
						return nil, fmt.Errorf("divides by the constant 0")
					}
					l = model.NewAffine(x.perSample(), 1/v, 0)
				}
				if l != nil {
					c.recordAffine(l, op, v, constFirst)
				}
			}
			if l == nil {
				k = dropBatchOnes(x, k)
				if err := reachesBatch(x, len(k.shape)); err != nil {
					return nil, err
				}
				var err error
				if l, err = model.NewConstOp(op, x.perSample(), k.f, k.shape, constFirst); err != nil {
					return nil, err
				}
			}
			return one(c.addLike(l, x, x.tensor))
		}
		return nil, fmt.Errorf("unsupported combination of inputs")
	}
}

// reachesBatch checks that a tensor of the given rank, broadcast against
// the activation x from the right, spans at most x's batch axis as its
// leading axis (not a merged one): then it broadcasts the same way
// against every sample.
func reachesBatch(x value, rank int) error {
	if (x.batch == 0 && !x.merged()) || rank < x.rank()-x.batchAxis() {
		return nil
	}
	return fmt.Errorf("its input %s has the batch axis at position %d, which a tensor of %d axes would broadcast against", x.format(), x.batchAxis(), rank)
}

func asFloat(d *tensorData) *tensorData {
	f := make([]float64, len(d.i))
	for i, v := range d.i {
		f[i] = float64(v)
	}
	return &tensorData{shape: d.shape, f: f, dtype: "FLOAT"}
}

func opPow(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	if in[0].kind == constant && in[1].kind == constant {
		b, e := in[0].c, in[1].c
		if b.isInt {
			b = asFloat(b)
		}
		if e.isInt {
			e = asFloat(e)
		}
		k, at, err := broadcast1(b, e)
		if err != nil {
			return nil, err
		}
		out := &tensorData{shape: shapeOf(b, e), dtype: b.dtype}
		for i := range k {
			v := math.Pow(b.f[at(b, i)], e.f[at(e, i)])
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("folding gives %v", v)
			}
			out.f = append(out.f, v)
		}
		return folded(c, out)
	}
	x, err := act(in[0], "base")
	if err != nil {
		return nil, err
	}
	e, err := constValue(in[1], "exponent")
	if err != nil {
		return nil, err
	}
	if e.numel() != 1 {
		return nil, fmt.Errorf("its exponent must be a scalar constant")
	}
	if e.isInt {
		e = asFloat(e)
	}
	return one(c.addLike(model.NewPowConst(x.perSample(), e.f[0]), x, x.tensor))
}

// window2d reads the geometry of MaxPool and AveragePool on [N C H W].
func window2d(n *pb.NodeProto, x value) (k, s, p [2]int, err error) {
	if err = batchFirst(x); err != nil {
		return
	}
	if len(x.shape) != 4 {
		err = fmt.Errorf("input %s: only 2-D pooling ([N C H W]) is supported", formatShape(x.shape))
		return
	}
	if err = checkAutoPad(n); err != nil {
		return
	}
	if cm, e := attrInt(n, "ceil_mode", 0); e != nil || cm != 0 {
		if err = e; err == nil {
			err = fmt.Errorf("attribute ceil_mode = 1 is not supported")
		}
		return
	}
	if attr(n, "kernel_shape") == nil {
		err = fmt.Errorf("attribute kernel_shape is missing")
		return
	}
	if k, err = pair(n, "kernel_shape", [2]int{}, 1); err != nil {
		return
	}
	if s, err = pair(n, "strides", [2]int{1, 1}, 1); err != nil {
		return
	}
	p, err = symmetricPads(n)
	return
}

func opMaxPool(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	x, err := act(in[0], "input")
	if err != nil {
		return nil, err
	}
	if len(n.GetOutput()) > 1 && n.GetOutput()[1] != "" {
		return nil, fmt.Errorf("its indices output is not supported")
	}
	k, s, p, err := window2d(n, x)
	if err != nil {
		return nil, err
	}
	if so, err := attrInt(n, "storage_order", 0); err != nil || so != 0 {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("attribute storage_order = %d is not supported", so)
	}
	d, err := pair(n, "dilations", [2]int{1, 1}, 1)
	if err != nil {
		return nil, err
	}
	l, err := model.NewMaxPool2d(x.perSample(), k, s, p, d)
	if err != nil {
		return nil, err
	}
	return one(c.addNode(l, 0, x.tensor))
}

func opAvgPool(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	x, err := act(in[0], "input")
	if err != nil {
		return nil, err
	}
	k, s, p, err := window2d(n, x)
	if err != nil {
		return nil, err
	}
	cip, err := attrInt(n, "count_include_pad", 0)
	if err != nil {
		return nil, err
	}
	l, err := model.NewAvgPool2d(x.perSample(), k, s, p, cip != 0)
	if err != nil {
		return nil, err
	}
	return one(c.addNode(l, 0, x.tensor))
}

func opGlobalAvgPool(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	x, err := act(in[0], "input")
	if err != nil {
		return nil, err
	}
	if err := batchFirst(x); err != nil {
		return nil, err
	}
	l, err := model.NewGlobalAvgPool(x.perSample())
	if err != nil {
		return nil, err
	}
	return one(c.addNode(l, 0, x.tensor))
}

func opReduceMean(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	x, err := act(in[0], "input")
	if err != nil {
		return nil, err
	}
	keep, err := attrInt(n, "keepdims", 1)
	if err != nil {
		return nil, err
	}
	axes, err := attrInts(n, "axes")
	if err != nil {
		return nil, err
	}
	if len(in) == 2 && in[1].kind != invalid {
		if axes, err = ints(in[1], "axes"); err != nil {
			return nil, err
		}
	}
	if len(axes) == 0 {
		return nil, fmt.Errorf("it reduces over every axis, including the batch axis")
	}
	var sa []int
	shift := 0
	for _, ax := range axes {
		a, err := axisOf(ax, len(x.shape))
		if err != nil {
			return nil, err
		}
		s, err := sampleAxis(x, a)
		if err != nil {
			return nil, err
		}
		if a < x.batch {
			shift++
		}
		sa = append(sa, s)
	}
	slices.Sort(sa)
	l, err := model.NewReduceMean(x.perSample(), slices.Compact(sa), keep != 0)
	if err != nil {
		return nil, err
	}
	batch := x.batch
	if keep == 0 {
		batch -= shift
	}
	return one(c.addNode(l, batch, x.tensor))
}

func opPad(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	x, err := act(in[0], "input")
	if err != nil {
		return nil, err
	}
	mode, err := attrString(n, "mode", "constant")
	if err != nil {
		return nil, err
	}
	if mode != "constant" {
		return nil, fmt.Errorf("attribute mode = %s: only constant (zero) padding is supported", mode)
	}
	pads, err := ints(in[1], "pads")
	if err != nil {
		return nil, err
	}
	if len(in) > 2 && in[2].kind != invalid {
		v, err := constValue(in[2], "constant value")
		if err != nil {
			return nil, err
		}
		if v.numel() != 1 || (!v.isInt && v.f[0] != 0) || (v.isInt && v.i[0] != 0) {
			return nil, fmt.Errorf("only padding with zeros is supported")
		}
	}
	r := len(x.shape)
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if len(in) > 3 && in[3].kind != invalid {
		as, err := ints(in[3], "axes")
		if err != nil {
			return nil, err
		}
		axes = axes[:0]
		for _, a := range as {
			ax, err := axisOf(a, r)
			if err != nil {
				return nil, err
			}
			axes = append(axes, ax)
		}
	}
	if len(pads) != 2*len(axes) {
		return nil, fmt.Errorf("pads has %d entries, %d axes need %d", len(pads), len(axes), 2*len(axes))
	}
	before, after := make([]int, r-1), make([]int, r-1)
	for i, a := range axes {
		pb, pa := pads[i], pads[i+len(axes)]
		if pb < 0 || pa < 0 || pb > 1<<20 || pa > 1<<20 {
			return nil, fmt.Errorf("pads %v: only non-negative padding is supported", pads)
		}
		if a == x.batch {
			if pb != 0 || pa != 0 {
				return nil, fmt.Errorf("it pads the batch axis")
			}
			continue
		}
		s, _ := sampleAxis(x, a)
		before[s], after[s] = int(pb), int(pa)
	}
	l, err := model.NewPad(x.perSample(), before, after)
	if err != nil {
		return nil, err
	}
	return one(c.addNode(l, x.batch, x.tensor))
}

// opIdentity passes its input on. An Identity of an initializer is how
// exporters write a parameter equal to an earlier one: the output is a
// parameter of its own, with its own name.
func opIdentity(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	v := in[0]
	c.curInfo.Mapped = "alias"
	if v.kind == parameter && !v.transposed {
		name := n.GetOutput()[0]
		if _, dup := c.params[name]; dup {
			return nil, fmt.Errorf("output %q is already an initializer", name)
		}
		src := c.params[v.param]
		c.params[name] = &paramState{data: src.data, alias: v.param}
		c.aliases = append(c.aliases, name)
		c.curInfo.Mapped = "parameter"
		return []value{{kind: parameter, param: name}}, nil
	}
	return []value{v}, nil
}

func opDropout(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	if len(in) == 3 && in[2].kind != invalid {
		tm, err := constValue(in[2], "training_mode")
		if err != nil {
			return nil, err
		}
		if tm.numel() != 1 || (tm.isInt && tm.i[0] != 0) || (!tm.isInt && tm.f[0] != 0) {
			return nil, fmt.Errorf("training-mode dropout is random; export with model.eval()")
		}
	}
	if len(n.GetOutput()) > 1 && n.GetOutput()[1] != "" {
		return nil, fmt.Errorf("its mask output is not supported")
	}
	c.curInfo.Mapped = "alias"
	return []value{in[0]}, nil
}

func opCast(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	to, err := attrInt(n, "to", 0)
	if err != nil {
		return nil, err
	}
	dt := pb.TensorProto_DataType(to)
	isFloat := dt == pb.TensorProto_FLOAT || dt == pb.TensorProto_DOUBLE
	switch v := in[0]; v.kind {
	case constant:
		c.curInfo.Mapped = "constant"
		d := v.c
		switch {
		case isFloat && d.isInt:
			if hasSym(d) {
				return nil, fmt.Errorf("casts the batch size to %s", dt)
			}
			return []value{{kind: constant, c: asFloat(d)}}, nil
		case !isFloat && !d.isInt:
			out := &tensorData{shape: d.shape, isInt: true, i: make([]int64, len(d.f)), dtype: dt.String()}
			for i, f := range d.f {
				out.i[i] = int64(f)
			}
			return []value{{kind: constant, c: out}}, nil
		}
		return []value{v}, nil
	case activation:
		if !isFloat {
			return nil, fmt.Errorf("casts an activation to %s", dt)
		}
		c.curInfo.Mapped = "alias"
		return []value{v}, nil
	}
	return nil, fmt.Errorf("casts a parameter")
}

func opConstant(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	a := n.GetAttribute()
	if len(a) != 1 {
		return nil, fmt.Errorf("needs exactly one value attribute")
	}
	var d *tensorData
	switch a[0].GetName() {
	case "value":
		t, err := decodeTensor(a[0].GetT())
		if err != nil {
			return nil, fmt.Errorf("value: %v", err)
		}
		d = t
		if pb.TensorProto_DataType(a[0].GetT().GetDataType()) == pb.TensorProto_FLOAT {
			for i, v := range d.f {
				d.f[i] = snap32(v)
			}
		}
	case "value_float":
		d = &tensorData{f: []float64{snap32(float64(a[0].GetF()))}, dtype: "FLOAT"}
	case "value_floats":
		d = &tensorData{shape: []int{len(a[0].GetFloats())}, dtype: "FLOAT"}
		for _, f := range a[0].GetFloats() {
			d.f = append(d.f, snap32(float64(f)))
		}
	case "value_int":
		d = &tensorData{i: []int64{a[0].GetI()}, isInt: true, dtype: "INT64"}
	case "value_ints":
		d = &tensorData{shape: []int{len(a[0].GetInts())}, i: slices.Clone(a[0].GetInts()), isInt: true, dtype: "INT64"}
	}
	c.curInfo.Mapped = "constant"
	return []value{{kind: constant, c: d}}, nil
}
