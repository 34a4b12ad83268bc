package onnx

import (
	"fmt"
	"math"
	"slices"

	"github.com/vivit-go/vivit/model"
	pb "github.com/vivit-go/vivit/onnx/internal/onnxpb"
)

// The tensor plumbing of exported graphs. On activations these operators
// become network nodes (or nothing, when the per-sample storage does not
// change); on constants, such as the shape arithmetic exporters write for
// a dynamic batch size, they are evaluated at load time with the batch
// size kept symbolic (batchSym).

func folded(c *converter, d *tensorData) ([]value, error) {
	c.curInfo.Mapped = "constant"
	return []value{{kind: constant, c: d}}, nil
}

// reshapeTo returns x with per-sample shape out and the batch axis at
// position batch: no node when the storage is unchanged.
func (c *converter) reshapeTo(x value, out []int, batch int) (value, error) {
	if model.Numel(out) != model.Numel(x.perSample()) {
		return value{}, fmt.Errorf("cannot reshape %s to %v per sample", formatShape(x.shape), out)
	}
	if slices.Equal(out, x.perSample()) {
		c.curInfo.Mapped = "alias"
		full := slices.Clone(out[:batch])
		full = append(full, -1)
		full = append(full, out[batch:]...)
		return value{kind: activation, tensor: x.tensor, shape: full, batch: batch}, nil
	}
	l, err := model.NewReshape(x.perSample(), out)
	if err != nil {
		return value{}, err
	}
	return c.addNode(l, batch, x.tensor)
}

func opFlatten(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	ax, err := attrInt(n, "axis", 1)
	if err != nil {
		return nil, err
	}
	switch v := in[0]; v.kind {
	case activation:
		if err := batchFirst(v); err != nil {
			return nil, err
		}
		a, err := axisOf(ax, len(v.shape)+1)
		if err != nil {
			return nil, err
		}
		if a != 1 {
			return nil, fmt.Errorf("attribute axis = %d: only axis 1 (keep the batch axis, flatten the rest) is supported", ax)
		}
		return one(c.reshapeTo(v, []int{model.Numel(v.perSample())}, 0))
	case constant:
		a, err := axisOf(ax, len(v.c.shape)+1)
		if err != nil {
			return nil, err
		}
		d := *v.c
		d.shape = []int{model.Numel(v.c.shape[:a]), model.Numel(v.c.shape[a:])}
		return folded(c, &d)
	}
	return nil, fmt.Errorf("flattens a parameter")
}

func opReshape(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	target, err := ints(in[1], "shape")
	if err != nil {
		return nil, err
	}
	allowZero, err := attrInt(n, "allowzero", 0)
	if err != nil {
		return nil, err
	}
	switch v := in[0]; v.kind {
	case activation:
		return one(c.reshapeAct(v, target, allowZero != 0))
	case constant:
		d := *v.c
		shape := make([]int, len(target))
		infer := -1
		for i, t := range target {
			switch {
			case t == 0 && allowZero == 0 && i < len(d.shape):
				shape[i] = d.shape[i]
			case t == -1 && infer < 0:
				infer = i
			case t < 0 || t > maxElements:
				return nil, fmt.Errorf("target shape %s is invalid for a constant", formatInts(target))
			default:
				shape[i] = int(t)
			}
		}
		if infer >= 0 {
			shape[infer] = 1
			if r := model.Numel(shape); r > 0 {
				shape[infer] = d.numel() / r
			}
		}
		if model.Numel(shape) != d.numel() {
			return nil, fmt.Errorf("cannot reshape a constant %v to %s", d.shape, formatInts(target))
		}
		d.shape = shape
		return folded(c, &d)
	}
	return nil, fmt.Errorf("reshapes a parameter")
}

func opTranspose(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	perm, err := attrInts(n, "perm")
	if err != nil {
		return nil, err
	}
	v := in[0]
	rank := v.rank()
	if v.kind == constant {
		rank = len(v.c.shape)
	}
	if v.kind == parameter {
		rank = len(c.params[v.param].data.shape)
	}
	if perm == nil {
		for i := rank - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	p := make([]int, len(perm))
	seen := make([]bool, rank)
	if len(perm) != rank {
		return nil, fmt.Errorf("perm %v does not fit %d axes", perm, rank)
	}
	for i, a := range perm {
		if a < 0 || a >= int64(rank) || seen[a] {
			return nil, fmt.Errorf("perm %v is not a permutation of %d axes", perm, rank)
		}
		seen[a] = true
		p[i] = int(a)
	}
	switch v.kind {
	case parameter:
		if rank != 2 || p[0] != 1 || v.transposed {
			return nil, fmt.Errorf("only the transpose of a 2-D weight (perm [1 0]) is supported on parameters")
		}
		c.curInfo.Mapped = "alias"
		return []value{{kind: parameter, param: v.param, transposed: true}}, nil
	case constant:
		d := v.c
		shape := make([]int, rank)
		for i, a := range p {
			shape[i] = d.shape[a]
		}
		out := &tensorData{shape: shape, isInt: d.isInt, dtype: d.dtype}
		if d.isInt {
			out.i = make([]int64, len(d.i))
		} else {
			out.f = make([]float64, len(d.f))
		}
		strides := make([]int, rank)
		s := 1
		for i := rank - 1; i >= 0; i-- {
			strides[i] = s
			s *= d.shape[i]
		}
		idx := make([]int, rank)
		for k := 0; k < d.numel(); k++ {
			src := 0
			for i, a := range p {
				src += idx[i] * strides[a]
			}
			if d.isInt {
				out.i[k] = d.i[src]
			} else {
				out.f[k] = d.f[src]
			}
			for i := rank - 1; i >= 0; i-- {
				idx[i]++
				if idx[i] < shape[i] {
					break
				}
				idx[i] = 0
			}
		}
		return folded(c, out)
	}
	if v.merged() {
		// The merged axes move together.
		var ip []int
		for _, a := range p {
			lo := a
			if a > v.batchAxis() {
				lo += v.outer + v.inner
			}
			hi := lo + 1
			if a == v.batchAxis() {
				hi += v.outer + v.inner
			}
			for j := lo; j < hi; j++ {
				ip = append(ip, j)
			}
		}
		p = ip
	}
	nb := slices.Index(p, v.batch)
	var sp []int
	for _, a := range p {
		if a == v.batch {
			continue
		}
		if a > v.batch {
			a--
		}
		sp = append(sp, a)
	}
	identity := true
	for i, a := range sp {
		identity = identity && a == i
	}
	ps := v.perSample()
	var out value
	if identity {
		out, err = c.reshapeTo(v, ps, nb)
	} else {
		var l model.Layer
		if l, err = model.NewTranspose(ps, sp); err != nil {
			return nil, err
		}
		out, err = c.addNode(l, nb, v.tensor)
	}
	out.outer, out.inner = v.outer, v.inner
	return one(out, err)
}

// plainShape returns the full shape of an activation or a constant; verb
// names the operation in the error for a parameter.
func plainShape(v value, verb string) ([]int, error) {
	switch v.kind {
	case constant:
		return v.c.shape, nil
	case activation:
		return v.shape, nil
	}
	return nil, fmt.Errorf("%s a parameter", verb)
}

// reshaped returns v with the full shape out, its batch axis (for an
// activation) at position batch: a folded constant, or the activation
// reshaped per sample.
func reshaped(c *converter, v value, out []int, batch int) ([]value, error) {
	if v.kind == constant {
		d := *v.c
		d.shape = out
		return folded(c, &d)
	}
	ps := slices.Delete(slices.Clone(out), batch, batch+1)
	return one(c.reshapeTo(v, ps, batch))
}

// axesInput reads Squeeze's and Unsqueeze's axes: an input from opset 13.
func axesInput(in []value) ([]int64, error) {
	if len(in) < 2 || in[1].kind == invalid {
		return nil, nil
	}
	return ints(in[1], "axes")
}

func opSqueeze(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	axes, err := axesInput(in)
	if err != nil {
		return nil, err
	}
	v := in[0]
	shape, err := plainShape(v, "squeezes")
	if err != nil {
		return nil, err
	}
	drop := make([]bool, len(shape))
	if axes == nil {
		for i, d := range shape {
			drop[i] = d == 1 && (v.kind == constant || i != v.batch)
		}
	}
	for _, a := range axes {
		ax, err := axisOf(a, len(shape))
		if err != nil {
			return nil, err
		}
		if v.kind == activation && ax == v.batch {
			return nil, fmt.Errorf("it squeezes the batch axis")
		}
		if shape[ax] != 1 {
			return nil, fmt.Errorf("axis %d of %s has size %d, not 1", a, formatShape(shape), shape[ax])
		}
		drop[ax] = true
	}
	var out []int
	batch := v.batch
	for i, d := range shape {
		if drop[i] {
			if i < v.batch {
				batch--
			}
			continue
		}
		out = append(out, d)
	}
	return reshaped(c, v, out, batch)
}

func opUnsqueeze(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	axes, err := axesInput(in)
	if err != nil {
		return nil, err
	}
	v := in[0]
	shape, err := plainShape(v, "unsqueezes")
	if err != nil {
		return nil, err
	}
	r := len(shape) + len(axes)
	insert := make([]bool, r)
	for _, a := range axes {
		ax, err := axisOf(a, r)
		if err != nil {
			return nil, err
		}
		if insert[ax] {
			return nil, fmt.Errorf("axes %v repeat an axis", axes)
		}
		insert[ax] = true
	}
	out := make([]int, 0, r)
	batch, j := -1, 0
	for i := 0; i < r; i++ {
		if insert[i] {
			out = append(out, 1)
			continue
		}
		if v.kind == activation && j == v.batch {
			batch = i
		}
		out = append(out, shape[j])
		j++
	}
	return reshaped(c, v, out, batch)
}

func opSplit(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	x, err := act(in[0], "input")
	if err != nil {
		return nil, err
	}
	a, sa, err := axisAttr(n, x, 0)
	if err != nil {
		return nil, err
	}
	outs := len(n.GetOutput())
	var sizes []int64
	if len(in) == 2 && in[1].kind != invalid {
		if sizes, err = ints(in[1], "split"); err != nil {
			return nil, err
		}
	} else {
		if outs < 1 || x.shape[a]%outs != 0 {
			return nil, fmt.Errorf("cannot split axis %d of %s into %d equal parts", a, formatShape(x.shape), outs)
		}
		for range outs {
			sizes = append(sizes, int64(x.shape[a]/outs))
		}
	}
	if len(sizes) != outs {
		return nil, fmt.Errorf("split %v has %d sizes for %d outputs", sizes, len(sizes), outs)
	}
	var total int64
	for _, s := range sizes {
		if s < 0 || s > int64(x.shape[a]) {
			return nil, fmt.Errorf("split %v has a size outside [0, %d]", sizes, x.shape[a])
		}
		total += s
	}
	if total != int64(x.shape[a]) {
		return nil, fmt.Errorf("split %v does not add up to axis %d of %s", sizes, a, formatShape(x.shape))
	}
	var vs []value
	start := 0
	for _, s := range sizes {
		l, err := model.NewSlice(x.perSample(), sa, start, start+int(s), 1)
		if err != nil {
			return nil, err
		}
		v, err := c.addNode(l, x.batch, x.tensor)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
		start += int(s)
	}
	return vs, nil
}

// clampSlice applies ONNX Slice's clamping to one axis of size dim (step
// > 0).
func clampSlice(start, end int64, dim int) (int, int) {
	d := int64(dim)
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	start = max(0, min(start, d))
	end = max(0, min(end, d))
	return int(start), int(end)
}

func opSlice(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	starts, err := ints(in[1], "starts")
	if err != nil {
		return nil, err
	}
	ends, err := ints(in[2], "ends")
	if err != nil {
		return nil, err
	}
	v := in[0]
	shape := v.shape
	switch v.kind {
	case constant:
		shape = v.c.shape
	case activation:
	default:
		return nil, fmt.Errorf("slices a parameter")
	}
	var axes, steps []int64
	if len(in) > 3 && in[3].kind != invalid {
		if axes, err = ints(in[3], "axes"); err != nil {
			return nil, err
		}
	} else {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if len(in) > 4 && in[4].kind != invalid {
		if steps, err = ints(in[4], "steps"); err != nil {
			return nil, err
		}
	} else {
		for range starts {
			steps = append(steps, 1)
		}
	}
	if len(ends) != len(starts) || len(axes) != len(starts) || len(steps) != len(starts) {
		return nil, fmt.Errorf("starts, ends, axes and steps have different lengths")
	}
	cur := v
	for i := range starts {
		a, err := axisOf(axes[i], len(shape))
		if err != nil {
			return nil, err
		}
		if steps[i] < 1 {
			return nil, fmt.Errorf("step %d: only positive steps are supported", steps[i])
		}
		s, e := clampSlice(starts[i], ends[i], shape[a])
		// A step past the axis takes its first entry, as one of the
		// axis's length does (and fits an int on any platform).
		step := int(min(steps[i], int64(max(shape[a], 1))))
		if e <= s {
			return nil, fmt.Errorf("the slice [%d:%d] of axis %d is empty", starts[i], ends[i], axes[i])
		}
		if v.kind == constant {
			if len(shape) != 1 {
				return nil, fmt.Errorf("slices a constant of %d axes", len(shape))
			}
			d := cur.c
			out := &tensorData{isInt: d.isInt, dtype: d.dtype}
			for k := s; k < e; k += step {
				if d.isInt {
					out.i = append(out.i, d.i[k])
				} else {
					out.f = append(out.f, d.f[k])
				}
			}
			out.shape = []int{max(len(out.i), len(out.f))}
			cur = value{kind: constant, c: out}
			c.curInfo.Mapped = "constant"
			continue
		}
		if a == cur.batch {
			if s != 0 || e != shape[a] || steps[i] != 1 {
				return nil, fmt.Errorf("it slices the batch axis")
			}
			continue
		}
		sa, _ := sampleAxis(cur, a)
		if s == 0 && e == shape[a] && step == 1 {
			continue
		}
		l, err := model.NewSlice(cur.perSample(), sa, s, e, step)
		if err != nil {
			return nil, err
		}
		if cur, err = c.addNode(l, cur.batch, cur.tensor); err != nil {
			return nil, err
		}
	}
	if cur.kind == activation && cur.tensor == v.tensor {
		c.curInfo.Mapped = "alias"
	}
	return []value{cur}, nil
}

func opGather(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	idx, err := ints(in[1], "indices")
	if err != nil {
		return nil, err
	}
	ax, err := attrInt(n, "axis", 0)
	if err != nil {
		return nil, err
	}
	ishape := in[1].c.shape
	v := in[0]
	switch v.kind {
	case constant:
		d := v.c
		if len(d.shape) != 1 || ax != 0 {
			return nil, fmt.Errorf("gathers from a constant of %d axes", len(d.shape))
		}
		out := &tensorData{shape: ishape, isInt: d.isInt, dtype: d.dtype}
		for _, i := range idx {
			if i < 0 {
				i += int64(d.shape[0])
			}
			if i < 0 || i >= int64(d.shape[0]) {
				return nil, fmt.Errorf("index %d is out of range for %d entries", i, d.shape[0])
			}
			if d.isInt {
				out.i = append(out.i, d.i[i])
			} else {
				out.f = append(out.f, d.f[i])
			}
		}
		return folded(c, out)
	case activation:
		a, err := axisOf(ax, len(v.shape))
		if err != nil {
			return nil, err
		}
		sa, err := sampleAxis(v, a)
		if err != nil {
			return nil, err
		}
		is := make([]int, len(idx))
		for k, i := range idx {
			if i < 0 {
				i += int64(v.shape[a])
			}
			if i < 0 || i >= int64(v.shape[a]) {
				return nil, fmt.Errorf("index %d is out of range for axis %d of %s", idx[k], ax, formatShape(v.shape))
			}
			is[k] = int(i)
		}
		l, err := model.NewGather(v.perSample(), sa, is, ishape)
		if err != nil {
			return nil, err
		}
		batch := v.batch
		if a < v.batch {
			batch += len(ishape) - 1
		}
		return one(c.addNode(l, batch, v.tensor))
	}
	return nil, fmt.Errorf("gathers from a parameter (embeddings are not supported)")
}

func opConcat(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	ax, err := attrInt(n, "axis", 0)
	if err != nil {
		return nil, err
	}
	allConst := true
	for _, v := range in {
		allConst = allConst && v.kind == constant
	}
	if allConst {
		out := &tensorData{isInt: in[0].c.isInt, dtype: in[0].c.dtype}
		for _, v := range in {
			if len(v.c.shape) > 1 || v.c.isInt != out.isInt {
				return nil, fmt.Errorf("concatenates constants of several axes or types")
			}
			out.i = append(out.i, v.c.i...)
			out.f = append(out.f, v.c.f...)
		}
		out.shape = []int{max(len(out.i), len(out.f))}
		return folded(c, out)
	}
	var shapes [][]int
	var tensors []int
	batch := -1
	var a int
	for _, v := range in {
		if v.kind != activation {
			return nil, fmt.Errorf("concatenates an activation with a constant or parameter (a class token must go through Expand)")
		}
		if batch < 0 {
			batch = v.batch
			if a, err = axisOf(ax, len(v.shape)); err != nil {
				return nil, err
			}
		}
		if v.batch != batch || len(v.shape) != len(in[0].shape) {
			return nil, fmt.Errorf("concatenates tensors with the batch axis at different positions")
		}
		shapes = append(shapes, v.perSample())
		tensors = append(tensors, v.tensor)
	}
	sa, err := sampleAxis(in[0], a)
	if err != nil {
		return nil, err
	}
	l, err := model.NewConcat(shapes, sa)
	if err != nil {
		return nil, err
	}
	return one(c.addNode(l, batch, tensors...))
}

// opExpand broadcasts a learned tensor over the batch (a class token) or
// leaves an activation that already has the target shape as it is.
func opExpand(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	target, err := ints(in[1], "shape")
	if err != nil {
		return nil, err
	}
	switch v := in[0]; v.kind {
	case parameter:
		ps, err := c.claim(v, "tensor")
		if err != nil {
			return nil, err
		}
		shape := ps.data.shape
		if len(target) != len(shape) || len(shape) < 2 || shape[0] != 1 || (target[0] != batchSym && target[0] != -1) {
			return nil, fmt.Errorf("expands parameter %q of shape %v to %s; only a broadcast over the batch axis ([1 …] to [N …]) is supported", v.param, shape, formatInts(target))
		}
		out := slices.Clone(shape[1:])
		for i, t := range target[1:] {
			if t != 1 && t != -1 && t != int64(out[i]) {
				return nil, fmt.Errorf("expands parameter %q beyond the batch axis", v.param)
			}
		}
		l, err := model.NewParamSource(slices.Clone(c.inShape), c.newParam(ps, v.param), out)
		if err != nil {
			return nil, err
		}
		return one(c.addNode(l, 0, 0))
	case activation:
		if len(target) > len(v.shape) {
			return nil, fmt.Errorf("expands %s to %s", formatShape(v.shape), formatInts(target))
		}
		off := len(v.shape) - len(target)
		for i, t := range target {
			d := v.shape[off+i]
			if t != 1 && t != batchSym && t != -1 && t != int64(d) {
				return nil, fmt.Errorf("expands %s to %s: only a target it already has is supported", formatShape(v.shape), formatInts(target))
			}
		}
		c.curInfo.Mapped = "alias"
		return []value{v}, nil
	}
	return nil, fmt.Errorf("expands a constant")
}

func opShape(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	v := in[0]
	var shape []int64
	switch v.kind {
	case activation:
		shape = v.dims()
	case constant:
		for _, d := range v.c.shape {
			shape = append(shape, int64(d))
		}
	default:
		for _, d := range c.params[v.param].data.shape {
			shape = append(shape, int64(d))
		}
	}
	r := int64(len(shape))
	start, err := attrInt(n, "start", 0)
	if err != nil {
		return nil, err
	}
	end, err := attrInt(n, "end", r)
	if err != nil {
		return nil, err
	}
	s, e := clampSlice(start, end, int(r))
	if e < s {
		e = s
	}
	out := slices.Clone(shape[s:e])
	return folded(c, &tensorData{shape: []int{len(out)}, i: out, isInt: true, dtype: "INT64"})
}

// foldArith evaluates Add, Sub, Mul and Div on constants with numpy
// broadcasting of a scalar or equal shapes. Symbolic multiples of the
// batch size take the arithmetic of foldSym.
func foldArith(op string, a, b *tensorData) (value, error) {
	if a.isInt != b.isInt {
		if a.isInt {
			a = asFloat(a)
		} else {
			b = asFloat(b)
		}
	}
	na, nb := a.numel(), b.numel()
	if na != nb && na != 1 && nb != 1 {
		return value{}, fmt.Errorf("folds constants of shapes %v and %v (only equal shapes or a scalar)", a.shape, b.shape)
	}
	// A scalar broadcasts to the other operand, empty or not.
	shape, n := a.shape, na
	if (na == 1 && nb != 1) || (na == nb && len(b.shape) > len(a.shape)) {
		shape, n = b.shape, nb
	}
	out := &tensorData{shape: slices.Clone(shape), isInt: a.isInt, dtype: a.dtype}
	at := func(i, n int) int {
		if n == 1 {
			return 0
		}
		return i
	}
	for i := range n {
		if a.isInt {
			x, y := a.i[at(i, na)], b.i[at(i, nb)]
			_, sx := symFactor(x)
			_, sy := symFactor(y)
			if sx || sy {
				r, ok := foldSym(op, x, y)
				if !ok {
					sign := map[string]string{"add": "+", "sub": "-", "mul": "*", "div": "/"}[op]
					return value{}, fmt.Errorf("the arithmetic %s %s %s on the batch size is not supported", formatDim(x), sign, formatDim(y))
				}
				out.i = append(out.i, r)
				continue
			}
			var r int64
			switch op {
			case "add":
				r = x + y
			case "sub":
				r = x - y
			case "mul":
				r = x * y
			case "div":
				if y == 0 {
					return value{}, fmt.Errorf("integer division by zero")
				}
				r = x / y
			}
			out.i = append(out.i, r)
			continue
		}
		x, y := a.f[at(i, na)], b.f[at(i, nb)]
		var r float64
		switch op {
		case "add":
			r = x + y
		case "sub":
			r = x - y
		case "mul":
			r = x * y
		case "div":
			r = x / y
		}
		// An infinity may pass through (an attention mask of −∞ times 1),
		// not arise.
		if math.IsNaN(r) || math.IsInf(r, 0) && !math.IsInf(x, 0) && !math.IsInf(y, 0) {
			return value{}, fmt.Errorf("folding %s gives %v", op, r)
		}
		out.f = append(out.f, r)
	}
	return value{kind: constant, c: out}, nil
}

// opConstantOfShape makes a constant filled with the value attribute (a
// float 0 by default), for the shape arithmetic of expand(B, -1, -1).
func opConstantOfShape(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	dims, err := ints(in[0], "shape")
	if err != nil {
		return nil, err
	}
	shape := make([]int, len(dims))
	total := int64(1)
	for i, d := range dims {
		if d < 0 || d > maxFeatures || total*max(d, 1) > maxFeatures {
			return nil, fmt.Errorf("shape %s is invalid or too large for a constant", formatInts(dims))
		}
		shape[i] = int(d)
		total *= d
	}
	fill := &tensorData{f: []float64{0}, dtype: "FLOAT"}
	if a := attr(n, "value"); a != nil {
		if fill, err = decodeTensor(a.GetT()); err != nil {
			return nil, fmt.Errorf("value: %v", err)
		}
		if fill.numel() != 1 {
			return nil, fmt.Errorf("value must hold one element")
		}
	}
	out := &tensorData{shape: shape, isInt: fill.isInt, dtype: fill.dtype}
	for range total {
		if fill.isInt {
			out.i = append(out.i, fill.i[0])
		} else {
			out.f = append(out.f, fill.f[0])
		}
	}
	return folded(c, out)
}

// broadcast1 returns the length of an elementwise operation on constants
// of n entries each (all equal, or 1) and the index into each.
func broadcast1(ds ...*tensorData) (int, func(d *tensorData, i int) int, error) {
	n := 1
	for _, d := range ds {
		if k := d.numel(); k != 1 {
			if n != 1 && n != k {
				return 0, nil, fmt.Errorf("folds constants of %d and %d entries (only equal sizes or scalars)", n, k)
			}
			n = k
		}
	}
	return n, func(d *tensorData, i int) int {
		if d.numel() == 1 {
			return 0
		}
		return i
	}, nil
}

func shapeOf(ds ...*tensorData) []int {
	for _, d := range ds {
		if d.numel() != 1 {
			return d.shape
		}
	}
	return ds[0].shape
}

// opEqual compares constants entrywise; the symbolic batch size equals only
// itself.
func opEqual(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	a, err := constValue(in[0], "first input")
	if err != nil {
		return nil, err
	}
	b, err := constValue(in[1], "second input")
	if err != nil {
		return nil, err
	}
	if a.isInt != b.isInt {
		if a.isInt {
			a = asFloat(a)
		} else {
			b = asFloat(b)
		}
	}
	k, at, err := broadcast1(a, b)
	if err != nil {
		return nil, err
	}
	out := &tensorData{shape: shapeOf(a, b), isInt: true, dtype: "BOOL"}
	for i := range k {
		eq := false
		if a.isInt {
			eq = a.i[at(a, i)] == b.i[at(b, i)]
		} else {
			eq = a.f[at(a, i)] == b.f[at(b, i)]
		}
		out.i = append(out.i, map[bool]int64{false: 0, true: 1}[eq])
	}
	return folded(c, out)
}

// opWhere selects entrywise between two constants.
func opWhere(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	cond, err := ints(in[0], "condition")
	if err != nil {
		return nil, err
	}
	x, err := constValue(in[1], "first choice")
	if err != nil {
		return nil, err
	}
	y, err := constValue(in[2], "second choice")
	if err != nil {
		return nil, err
	}
	if x.isInt != y.isInt {
		return nil, fmt.Errorf("chooses between constants of different types")
	}
	cd := in[0].c
	k, at, err := broadcast1(cd, x, y)
	if err != nil {
		return nil, err
	}
	out := &tensorData{shape: shapeOf(cd, x, y), isInt: x.isInt, dtype: x.dtype}
	for i := range k {
		src := y
		if cond[at(cd, i)] != 0 {
			src = x
		}
		if x.isInt {
			out.i = append(out.i, src.i[at(src, i)])
		} else {
			out.f = append(out.f, src.f[at(src, i)])
		}
	}
	return folded(c, out)
}

// opTrilu keeps the upper (upper = 1) or lower triangle of the last two
// axes of a constant, from diagonal k: a causal attention mask.
func opTrilu(c *converter, n *pb.NodeProto, in []value) ([]value, error) {
	d, err := constValue(in[0], "input")
	if err != nil {
		return nil, err
	}
	if len(d.shape) < 2 {
		return nil, fmt.Errorf("its input has %d axes, it needs at least 2", len(d.shape))
	}
	var k int64
	if len(in) == 2 && in[1].kind != invalid {
		ks, err := ints(in[1], "diagonal k")
		if err != nil {
			return nil, err
		}
		if len(ks) != 1 {
			return nil, fmt.Errorf("its diagonal k must be a scalar")
		}
		k = ks[0]
	}
	upper, err := attrInt(n, "upper", 1)
	if err != nil {
		return nil, err
	}
	rows, cols := d.shape[len(d.shape)-2], d.shape[len(d.shape)-1]
	out := &tensorData{shape: slices.Clone(d.shape), isInt: d.isInt, dtype: d.dtype, f: slices.Clone(d.f), i: slices.Clone(d.i)}
	for e := range d.numel() {
		i, j := int64(e/cols%rows), int64(e%cols)
		keep := j-i >= k
		if upper == 0 {
			keep = j-i <= k
		}
		if !keep {
			if d.isInt {
				out.i[e] = 0
			} else {
				out.f[e] = 0
			}
		}
	}
	return folded(c, out)
}
