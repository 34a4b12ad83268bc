package onnx

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/vivit-go/vivit/internal/quote"
	"github.com/vivit-go/vivit/model"
	pb "github.com/vivit-go/vivit/onnx/internal/onnxpb"
)

// maxFeatures bounds every per-sample activation (2²⁸ values, as the
// architecture reader does).
const maxFeatures = 1 << 28

// batchSym stands for the batch size in integer constants folded from
// Shape; batchSym−1+k stands for k times the batch size (symN, merged
// axes of exported attention).
const batchSym = math.MinInt64 + 1

type valueKind int

const (
	invalid    valueKind = iota // not computed: its node failed
	activation                  // a per-sample tensor of the network
	constant                    // a value fixed at load time
	parameter                   // a float initializer (or an alias of one)
)

// value is what a name of the ONNX graph stands for.
type value struct {
	kind valueKind
	// activation: network tensor, full shape with the batch axis at
	// position batch (its entry is -1). The ONNX tensor is this shape
	// with the outer axes before the batch axis and the inner axes after
	// it merged into one ONNX axis of size (product)·N (merged.go); with
	// outer = inner = 0 the shapes agree.
	tensor       int
	shape        []int
	batch        int
	outer, inner int
	// constant
	c *tensorData
	// parameter: its name (also the initializer of a constant, if any);
	// transposed marks Transpose(param, perm [1 0]),
	// the form in which PyTorch exports the weight of a MatMul.
	param      string
	transposed bool
}

// perSample returns an activation's shape without the batch axis.
func (v value) perSample() []int {
	s := slices.Clone(v.shape[:v.batch])
	return append(s, v.shape[v.batch+1:]...)
}

func formatShape(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		if d < 0 {
			parts[i] = "N"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// paramState is a float initializer and the node that uses it as a
// parameter.
type paramState struct {
	data   *tensorData
	usedBy string
	use    [2]int // the node that uses it and the order of its claim there
	p      *model.Param
	alias  string // the initializer it aliases (Identity), or ""
}

type converter struct {
	g       *pb.GraphProto
	m       *Model
	values  map[string]value
	params  map[string]*paramState
	inits   []string // initializer names in file order
	aliases []string
	input   string
	inShape []int
	nodes   []model.Node
	errs    []string
	// node being converted, for messages and NodeInfo, and how many
	// parameters it has claimed
	cur     *pb.NodeProto
	curInfo *NodeInfo
	curIdx  int
	claims  int
	// affine holds the constants of the affine layers made from Add, Sub,
	// Mul and Div by a scalar (fuse.go).
	affine affineOf
}

func newConverter(g *pb.GraphProto, m *Model) (*converter, error) {
	c := &converter{g: g, m: m, values: map[string]value{}, params: map[string]*paramState{}}
	for _, t := range g.GetInitializer() {
		name := t.GetName()
		if name == "" {
			return nil, fmt.Errorf("%w: an initializer has no name", ErrUnsupported)
		}
		if _, dup := c.values[name]; dup {
			return nil, fmt.Errorf("%w: initializer %q is defined twice", ErrUnsupported, name)
		}
		d, err := decodeTensor(t)
		if err != nil {
			return nil, fmt.Errorf("%w: initializer %q: %v", ErrUnsupported, name, err)
		}
		if d.isInt {
			c.values[name] = value{kind: constant, c: d, param: name}
			continue
		}
		c.values[name] = value{kind: parameter, param: name}
		c.params[name] = &paramState{data: d}
		c.inits = append(c.inits, name)
	}
	for _, name := range c.inits {
		if strings.HasPrefix(name, "onnx::") {
			c.m.Warnings = append(c.m.Warnings, fmt.Sprintf("initializer %q has an anonymous name: the model was probably exported with constant folding, which folds BatchNorm into the convolutions and renames the weights, so its parameters are not the PyTorch model's; export with do_constant_folding=False and training=TrainingMode.PRESERVE (docs/formats.md)", name))
			break
		}
	}
	var inputs []*pb.ValueInfoProto
	for _, in := range g.GetInput() {
		if _, isInit := c.values[in.GetName()]; !isInit {
			inputs = append(inputs, in)
		}
	}
	if len(inputs) != 1 {
		return nil, fmt.Errorf("%w: the graph has %d inputs besides its initializers, the engine needs exactly one (the batch)", ErrUnsupported, len(inputs))
	}
	in := inputs[0]
	c.input = in.GetName()
	tt := in.GetType().GetTensorType()
	if tt == nil || tt.GetShape() == nil {
		return nil, fmt.Errorf("%w: input %q has no tensor shape", ErrUnsupported, c.input)
	}
	switch pb.TensorProto_DataType(tt.GetElemType()) {
	case pb.TensorProto_FLOAT, pb.TensorProto_DOUBLE:
	default:
		return nil, fmt.Errorf("%w: input %q has type %s, the engine needs float or double", ErrUnsupported, c.input, pb.TensorProto_DataType(tt.GetElemType()))
	}
	dims := tt.GetShape().GetDim()
	if len(dims) < 2 {
		return nil, fmt.Errorf("%w: input %q has %d axes; it needs a batch axis and at least one more", ErrUnsupported, c.input, len(dims))
	}
	full := []int{-1}
	size := int64(1)
	for i, d := range dims[1:] {
		v := d.GetDimValue()
		if d.GetDimParam() != "" || v < 1 || v > maxFeatures {
			return nil, fmt.Errorf("%w: input %q axis %d must have a fixed positive size (only the batch axis may vary), got %q", ErrUnsupported, c.input, i+1, dimString(d))
		}
		size *= v // both at most 2²⁸: no overflow
		if size > maxFeatures {
			return nil, fmt.Errorf("%w: input %q is too large per sample", ErrUnsupported, c.input)
		}
		full = append(full, int(v))
	}
	c.inShape = full[1:]
	c.values[c.input] = value{kind: activation, tensor: 0, shape: full, batch: 0}
	return c, nil
}

func dimString(d *pb.TensorShapeProto_Dimension) string {
	if d.GetDimParam() != "" {
		return d.GetDimParam()
	}
	return fmt.Sprint(d.GetDimValue())
}

// convert maps every node, then builds the network from the part of the
// graph that computes its output.
func (c *converter) convert(loss model.Loss) (*model.Network, error) {
	produced := map[string]int{}
	for i, n := range c.g.GetNode() {
		for _, o := range n.GetOutput() {
			if o != "" {
				produced[o] = i
			}
		}
	}
	if c.precheck(produced) {
		return nil, c.failure()
	}
	for i, n := range c.g.GetNode() {
		info := NodeInfo{Name: nodeName(n, i), Op: opType(n), Inputs: n.GetInput(), Outputs: n.GetOutput()}
		c.cur, c.curInfo, c.curIdx, c.claims = n, &info, i, 0
		outs, err := c.node(n, i, produced)
		if err != nil {
			info.Problem = err.Error()
			if !errors.Is(err, errSilent) {
				c.errs = append(c.errs, fmt.Sprintf("node %s (%s): %v", info.Name, info.Op, err))
			}
		}
		for j, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			if _, dup := c.values[o]; dup {
				msg := fmt.Sprintf("node %s (%s): output %q is already defined", info.Name, info.Op, o)
				c.errs = append(c.errs, msg)
				continue
			}
			v := value{kind: invalid}
			if err == nil && j < len(outs) {
				v = outs[j]
			}
			c.values[o] = v
			if v.kind == activation {
				info.Shapes = append(info.Shapes, v.format())
			}
		}
		c.m.Nodes = append(c.m.Nodes, info)
	}
	outs := c.g.GetOutput()
	if len(outs) != 1 {
		c.errs = append(c.errs, fmt.Sprintf("the graph has %d outputs, the engine needs exactly one (the logits)", len(outs)))
	}
	if len(c.errs) > 0 {
		return nil, c.failure()
	}
	out, ok := c.values[outs[0].GetName()]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: the graph output %q is not computed by any node", ErrUnsupported, outs[0].GetName())
	case out.kind != activation:
		return nil, fmt.Errorf("%w: the graph output %q does not depend on the input", ErrUnsupported, outs[0].GetName())
	case out.batch != 0 || len(out.shape) != 2 || out.merged():
		return nil, fmt.Errorf("%w: the graph output %q has shape %s, the loss needs [N C]", ErrUnsupported, outs[0].GetName(), out.format())
	}
	if loss.Kind == model.CrossEntropy && out.shape[1] < 2 {
		return nil, fmt.Errorf("%w: cross_entropy needs at least 2 outputs, the network has %d", ErrUnsupported, out.shape[1])
	}
	nodes, keep := prune(c.nodes, out.tensor)
	nodes = c.fuse(nodes)
	order := c.paramOrder(keep)
	net, err := model.NewNetwork(slices.Clone(c.inShape), nodes, loss, order)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	if err := net.CheckFinite(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return net, nil
}

func (c *converter) failure() error {
	c.m.Problems = c.errs
	msg := strings.Join(c.errs, "; ")
	for _, e := range c.errs {
		if strings.Contains(e, "operator not supported") {
			msg += " (supported operators: " + strings.Join(SupportedOps(), ", ") + ")"
			break
		}
	}
	return fmt.Errorf("%w: %s", ErrUnsupported, msg)
}

// nodeName is how messages and listings name node i: its name, else its
// position.
func nodeName(n *pb.NodeProto, i int) string {
	if n.GetName() != "" {
		return quote.Name(n.GetName())
	}
	return fmt.Sprintf("#%d", i)
}

// opType is node n's operator as messages and listings show it.
func opType(n *pb.NodeProto) string { return quote.Name(n.GetOpType()) }

// prune keeps the nodes that the output tensor depends on and renumbers
// their tensors; keep reports which parameters survive.
func prune(nodes []model.Node, out int) ([]model.Node, map[*model.Param]bool) {
	live := make([]bool, len(nodes)+1)
	live[out] = true
	for i := len(nodes) - 1; i >= 0; i-- {
		if live[i+1] {
			for _, t := range nodes[i].Inputs {
				live[t] = true
			}
		}
	}
	id := make([]int, len(nodes)+1)
	var kept []model.Node
	keep := map[*model.Param]bool{}
	for i, nd := range nodes {
		if !live[i+1] || i+1 > out {
			continue
		}
		in := make([]int, len(nd.Inputs))
		for j, t := range nd.Inputs {
			in[j] = id[t]
		}
		nd.Inputs = in
		kept = append(kept, nd)
		id[i+1] = len(kept)
		if pl, ok := nd.Op.(model.ParamLayer); ok {
			for _, p := range pl.Params() {
				keep[p] = true
			}
		}
	}
	return kept, keep
}

// paramOrder lists the parameters in state_dict order: the initializers'
// order, and each alias (an Identity of an initializer, which the file
// does not place) right after the parameter used last before it in the
// graph, as a module's tensors are used in the order they are registered
// (a BatchNorm's weight, then its bias).
func (c *converter) paramOrder(keep map[*model.Param]bool) []*model.Param {
	var order []*paramState
	for _, name := range c.inits {
		if ps := c.params[name]; ps.p != nil && keep[ps.p] {
			order = append(order, ps)
		}
	}
	var aliases []*paramState
	for _, name := range c.aliases {
		if ps := c.params[name]; ps.p != nil && keep[ps.p] {
			aliases = append(aliases, ps)
		}
	}
	before := func(a, b [2]int) bool { return a[0] < b[0] || a[0] == b[0] && a[1] < b[1] }
	slices.SortStableFunc(aliases, func(a, b *paramState) int {
		switch {
		case before(a.use, b.use):
			return -1
		case before(b.use, a.use):
			return 1
		}
		return 0
	})
	for _, a := range aliases {
		at := -1
		for i, q := range order {
			if before(q.use, a.use) && (at < 0 || before(order[at].use, q.use)) {
				at = i
			}
		}
		order = slices.Insert(order, at+1, a)
	}
	ps := make([]*model.Param, len(order))
	for i, q := range order {
		ps[i] = q.p
	}
	return ps
}

// node converts one ONNX node into its output values.
func (c *converter) node(n *pb.NodeProto, i int, produced map[string]int) ([]value, error) {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return nil, fmt.Errorf("operator not supported (domain %q)", d)
	}
	var ins []value
	for _, name := range n.GetInput() {
		if name == "" {
			ins = append(ins, value{kind: invalid, param: ""})
			continue
		}
		v, ok := c.values[name]
		if !ok {
			if j, later := produced[name]; later && j >= i {
				return nil, fmt.Errorf("reads %q, which node %s computes later: the graph has a cycle or is not in topological order", name, nodeName(c.g.GetNode()[j], j))
			}
			return nil, fmt.Errorf("reads %q, which no node, input or initializer defines", name)
		}
		if v.kind == invalid {
			// Its producer failed and was reported.
			return nil, errSilent
		}
		ins = append(ins, v)
	}
	h, ok := handlers[n.GetOpType()]
	if !ok {
		return nil, errors.New("operator not supported")
	}
	if err := checkAttrs(n, h.attrs); err != nil {
		return nil, err
	}
	if len(ins) < h.minIn || len(ins) > h.maxIn {
		return nil, fmt.Errorf("has %d inputs, the operator takes %d to %d", len(ins), h.minIn, h.maxIn)
	}
	for i, v := range ins[:h.minIn] {
		if v.kind == invalid {
			return nil, fmt.Errorf("input %d is empty (\"\"), but the operator needs it", i)
		}
	}
	if err := checkMerged(n.GetOpType(), ins); err != nil {
		return nil, err
	}
	return h.fn(c, n, ins)
}

// errSilent marks a node that depends on a failed one: it is not reported
// again.
var errSilent = errors.New("depends on a node that cannot be analysed")

// addNode appends a network node reading the given tensors and returns its
// output as an activation with the batch axis at position batch.
func (c *converter) addNode(op model.Op, batch int, inputs ...int) (value, error) {
	out := op.OutShape()
	if model.Numel(out) > maxFeatures {
		return value{}, fmt.Errorf("its output %v is too large per sample", out)
	}
	c.nodes = append(c.nodes, model.Node{Name: c.curInfo.Name, Op: op, Inputs: inputs})
	c.curInfo.Mapped = op.Type()
	full := slices.Clone(out[:batch])
	full = append(full, -1)
	full = append(full, out[batch:]...)
	return value{kind: activation, tensor: len(c.nodes), shape: full, batch: batch}, nil
}

// claim binds the named parameter to the current node and returns its
// values; each parameter belongs to one node.
func (c *converter) claim(v value, role string) (*paramState, error) {
	if v.kind == constant && v.param != "" {
		return nil, fmt.Errorf("its %s %q has type %s; learned tensors must be float or double", role, v.param, v.c.dtype)
	}
	if v.kind != parameter {
		return nil, fmt.Errorf("its %s must be an initializer (a learned tensor)", role)
	}
	ps := c.params[v.param]
	if ps.usedBy != "" {
		return nil, fmt.Errorf("its %s %q is already used by node %s (shared parameters are not supported)", role, v.param, ps.usedBy)
	}
	ps.usedBy = c.curInfo.Name
	ps.use = [2]int{c.curIdx, c.claims}
	c.claims++
	return ps, nil
}

// bind names p after the parameter and fills it with its values.
func (c *converter) bind(ps *paramState, name string, p *model.Param) {
	p.Name = name
	copy(p.Data, ps.data.f)
	ps.p = p
}

// newParam returns the named parameter as a new model.Param of its own
// shape.
func (c *converter) newParam(ps *paramState, name string) *model.Param {
	p := &model.Param{Name: name, Shape: slices.Clone(ps.data.shape), Data: slices.Clone(ps.data.f)}
	ps.p = p
	return p
}

// constValue returns an input that must be a constant.
func constValue(v value, role string) (*tensorData, error) {
	if v.kind != constant {
		return nil, fmt.Errorf("its %s must be a constant", role)
	}
	return v.c, nil
}

// ints returns an integer constant's values.
func ints(v value, role string) ([]int64, error) {
	d, err := constValue(v, role)
	if err != nil {
		return nil, err
	}
	if !d.isInt {
		return nil, fmt.Errorf("its %s must be integers", role)
	}
	return d.i, nil
}

func act(v value, role string) (value, error) {
	if v.kind != activation {
		return v, fmt.Errorf("its %s must depend on the network input", role)
	}
	return v, nil
}

// batchFirst checks that an activation has its batch axis first.
func batchFirst(v value) error {
	if v.batch != 0 {
		return fmt.Errorf("its input %s has the batch axis at position %d; the operator needs it first", formatShape(v.shape), v.batch)
	}
	return nil
}

// axisOf normalises an ONNX axis (negative counts from the end) for a
// tensor of the given rank.
func axisOf(a int64, rank int) (int, error) {
	if a < -int64(rank) || a >= int64(rank) {
		return 0, fmt.Errorf("axis %d is out of range for %d axes", a, rank)
	}
	if a < 0 {
		a += int64(rank)
	}
	return int(a), nil
}

// axisAttr reads the node's axis attribute (def when absent) for the
// activation x and returns it as a full axis and as a per-sample axis; the
// batch axis is an error. An axis of a merged activation (merged.go) is
// an ONNX axis other than the merged one, and full is its internal axis.
func axisAttr(n *pb.NodeProto, x value, def int64) (full, sample int, err error) {
	ax, err := attrInt(n, "axis", def)
	if err != nil {
		return 0, 0, err
	}
	if full, err = axisOf(ax, x.rank()); err != nil {
		return 0, 0, err
	}
	if full, err = x.internalAxis(full); err != nil {
		return 0, 0, err
	}
	sample, err = sampleAxis(x, full)
	return full, sample, err
}

// sampleAxis maps a full axis of v to its per-sample axis; the batch axis
// itself is an error.
func sampleAxis(v value, a int) (int, error) {
	if a == v.batch {
		return 0, fmt.Errorf("it operates on the batch axis, which the engine keeps separate per sample")
	}
	if a > v.batch {
		a--
	}
	return a, nil
}
