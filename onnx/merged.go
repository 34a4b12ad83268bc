package onnx

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/vivit-go/vivit/model"
)

// Merged batch axes. PyTorch's attention (nn.MultiheadAttention, hence
// nn.TransformerEncoderLayer) works sequence-first and reshapes its
// activations so that the batch axis shares one ONNX axis with the heads
// ([T, N·H, d/H], the batch outer) or with the tokens ([T·N, D] before
// the output projection, the tokens outer). Such a value is kept as an
// ordinary per-sample tensor with the batch axis on its own (value.shape,
// value.batch: [T, N, H, d/H] or [T, N, D]) and the number of its axes
// merged with the batch axis into one ONNX axis, before (value.outer) and
// after it (value.inner). Since the merged axes are adjacent in row-major
// order, the ONNX tensor and the internal one hold the same values in the
// same order; each ONNX operator maps its axes onto the internal ones:
//
//   - Reshape splits and merges axes by matching the products of the
//     sizes before and after the batch size in the target shape (with the
//     batch size symbolic, symN) against those of the input;
//   - Transpose moves the merged axes together;
//   - MatMul batched over leading axes, Softmax, LayerNormalization, Gemm
//     (a token-wise linear layer over the rows T·N), entrywise operators,
//     and Add, Sub, Mul, Div with a scalar, a tensor that does not reach
//     the merged axis (once its unit axes there are dropped: a mask
//     [1, T, T] on scores [N·H, T, T]) or an activation of the same
//     layout, act on axes other than the merged one, each of which is one
//     internal axis.
//
// Every other operator refuses a merged input, naming the node
// (checkMerged). Per sample, the network sees the ordinary tensors; the
// engine needs nothing else.

// mergeAware lists the operators that handle merged inputs.
var mergeAware = map[string]bool{
	"Reshape": true, "Transpose": true, "Shape": true, "MatMul": true, "Gemm": true,
	"Softmax": true, "LayerNormalization": true,
	"Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true,
	"Relu": true, "Tanh": true, "Sigmoid": true, "Erf": true, "Sqrt": true,
	"LeakyRelu": true, "Elu": true, "Softplus": true, "Clip": true,
	"HardSigmoid": true, "HardSwish": true, "Gelu": true,
	"Identity": true, "Dropout": true, "Cast": true,
}

// checkMerged refuses a merged input of an operator that does not handle
// one.
func checkMerged(op string, ins []value) error {
	if mergeAware[op] {
		return nil
	}
	for _, v := range ins {
		if v.kind == activation && v.merged() {
			return fmt.Errorf("its input %s has the batch merged with per-sample axes in axis %d (a Reshape of attention heads or tokens); %s is supported only on inputs whose batch axis is an axis of its own", v.format(), v.batchAxis(), op)
		}
	}
	return nil
}

// maxSymFactor bounds k in the symbolic k·N.
const maxSymFactor = 1 << 40

// symN returns the symbolic integer k·N (1 ≤ k ≤ maxSymFactor).
func symN(k int64) int64 { return math.MinInt64 + k }

// symFactor returns k if x is the symbolic k·N.
func symFactor(x int64) (int64, bool) {
	if x > math.MinInt64 && x <= math.MinInt64+maxSymFactor {
		return x - math.MinInt64, true
	}
	return 0, false
}

// foldSym evaluates op on integers of which at least one is symbolic:
// sums and differences of multiples of N, multiples and exact quotients
// by positive integers, and quotients of two multiples of N. ok is false
// for anything else.
func foldSym(op string, x, y int64) (r int64, ok bool) {
	kx, sx := symFactor(x)
	ky, sy := symFactor(y)
	sym := func(k int64) (int64, bool) {
		if k < 1 || k > maxSymFactor {
			return 0, false
		}
		return symN(k), true
	}
	switch {
	case sx && sy:
		switch op {
		case "add":
			return sym(kx + ky)
		case "sub":
			if kx == ky {
				return 0, true
			}
			return sym(kx - ky)
		case "div":
			if kx%ky == 0 {
				return kx / ky, true
			}
		}
	case sx:
		switch {
		case (op == "add" || op == "sub") && y == 0:
			return x, true
		case op == "mul" && y >= 1 && kx <= maxSymFactor/y:
			return sym(kx * y)
		case op == "div" && y >= 1 && kx%y == 0:
			return sym(kx / y)
		}
	case sy:
		switch {
		case op == "add" && x == 0:
			return y, true
		case op == "mul" && x >= 1 && ky <= maxSymFactor/x:
			return sym(ky * x)
		}
	}
	return 0, false
}

// formatDim writes an integer of a shape: k·N as "kN".
func formatDim(d int64) string {
	if k, ok := symFactor(d); ok {
		if k == 1 {
			return "N"
		}
		return fmt.Sprintf("%dN", k)
	}
	return fmt.Sprint(d)
}

func formatInts(v []int64) string {
	parts := make([]string, len(v))
	for i, d := range v {
		parts[i] = formatDim(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// merged reports whether the batch shares its ONNX axis with other axes.
func (v value) merged() bool { return v.outer+v.inner > 0 }

// rank is the number of ONNX axes of an activation.
func (v value) rank() int { return len(v.shape) - v.outer - v.inner }

// batchAxis is the ONNX axis of an activation that holds the batch.
func (v value) batchAxis() int { return v.batch - v.outer }

// internalAxis maps an ONNX axis of an activation other than the merged
// one to its internal axis.
func (v value) internalAxis(a int) (int, error) {
	switch b := v.batchAxis(); {
	case a == b && v.merged():
		return 0, fmt.Errorf("it operates on axis %d of %s, which merges the batch with per-sample axes", a, v.format())
	case a < b:
		return a, nil
	case a == b:
		return v.batch, nil
	}
	return a + v.outer + v.inner, nil
}

// dims returns the ONNX shape of an activation, the batch axis as the
// symbolic k·N.
func (v value) dims() []int64 {
	out := make([]int64, 0, v.rank())
	for _, d := range v.shape[:v.batch-v.outer] {
		out = append(out, int64(d))
	}
	k := model.Numel(v.shape[v.batch-v.outer:v.batch]) * model.Numel(v.shape[v.batch+1:v.batch+1+v.inner])
	out = append(out, symN(int64(k)))
	for _, d := range v.shape[v.batch+1+v.inner:] {
		out = append(out, int64(d))
	}
	return out
}

// format writes the ONNX shape of an activation.
func (v value) format() string { return formatInts(v.dims()) }

// addLike appends a network node whose output has the layout of x (the
// batch axis at the same position, merged with the same axes).
func (c *converter) addLike(op model.Op, x value, inputs ...int) (value, error) {
	v, err := c.addNode(op, x.batch, inputs...)
	v.outer, v.inner = x.outer, x.inner
	return v, err
}

// sameLayout reports whether two activations have their batch axes at the
// same position from the end, merged with axes of the same sizes: then
// their ONNX axes after the batch axis are the same internal axes, and
// broadcasting them per sample is broadcasting them in ONNX.
func sameLayout(a, b value) bool {
	if len(a.shape)-a.batch != len(b.shape)-b.batch || a.outer != b.outer || a.inner != b.inner {
		return false
	}
	return slices.Equal(a.shape[a.batch-a.outer:a.batch+1+a.inner], b.shape[b.batch-b.outer:b.batch+1+b.inner])
}

// reshapeAct reshapes an activation to an ONNX target shape (0 copies an
// input axis unless allowZero, one −1 is inferred). The target must hold
// the batch size in exactly one axis, k·N (symbolic, or the inferred
// axis); the sizes before that axis must split the axes before the input's
// batch axis (and their product be a divisor), and likewise after: the
// batch axis then merges with the axes left over on either side (the
// quotients, whose product must be k). Any other target would mix the
// values of different samples.
func (c *converter) reshapeAct(v value, target []int64, allowZero bool) (value, error) {
	if len(target) == 0 {
		return value{}, fmt.Errorf("reshapes to a scalar")
	}
	in := v.dims()
	out := make([]int64, len(target))
	infer, at := -1, -1
	for i, t := range target {
		_, sym := symFactor(t)
		switch {
		case t == 0 && !allowZero:
			if i >= len(in) {
				return value{}, fmt.Errorf("target shape %s copies axis %d, which the input %s lacks", formatInts(target), i, v.format())
			}
			out[i] = in[i]
		case t == -1:
			if infer >= 0 {
				return value{}, fmt.Errorf("target shape %s has two -1", formatInts(target))
			}
			infer = i
			continue
		case sym:
			out[i] = t
		case t < 1 || t > maxFeatures:
			return value{}, fmt.Errorf("target shape %s has an invalid size %s", formatInts(target), formatDim(t))
		default:
			out[i] = t
		}
		if _, sym := symFactor(out[i]); sym {
			if at >= 0 {
				return value{}, fmt.Errorf("target shape %s holds the batch size in two axes", formatInts(target))
			}
			at = i
		}
	}
	size := int64(model.Numel(v.perSample()))
	if at >= 0 {
		if k, _ := symFactor(out[at]); k > size {
			return value{}, fmt.Errorf("target shape %s does not fit the %d values per sample of %s", formatInts(target), size, v.format())
		}
	}
	rest := int64(1)
	for i, d := range out {
		if i != infer && i != at {
			if rest *= d; rest > size {
				return value{}, fmt.Errorf("target shape %s does not fit the %d values per sample of %s", formatInts(target), size, v.format())
			}
		}
	}
	switch {
	case at < 0 && infer < 0:
		return value{}, fmt.Errorf("target shape %s fixes the batch size; the batch axis must stay dynamic (shape[0] from Shape, 0 or -1)", formatInts(target))
	case at < 0:
		// The −1 holds the batch.
		if size%rest != 0 {
			return value{}, fmt.Errorf("target shape %s does not fit the %d values per sample of %s", formatInts(target), size, v.format())
		}
		out[infer], at = symN(size/rest), infer
	case infer >= 0:
		k, _ := symFactor(out[at])
		if size%(rest*k) != 0 {
			return value{}, fmt.Errorf("target shape %s does not fit the %d values per sample of %s", formatInts(target), size, v.format())
		}
		out[infer] = size / (rest * k)
	default:
		if k, _ := symFactor(out[at]); rest*k != size {
			return value{}, fmt.Errorf("cannot reshape %s to %s", v.format(), formatInts(target))
		}
	}
	before, after := int64(model.Numel(v.shape[:v.batch])), int64(model.Numel(v.shape[v.batch+1:]))
	pa, pb := int64(1), int64(1)
	for _, d := range out[:at] {
		pa *= d
	}
	for _, d := range out[at+1:] {
		pb *= d
	}
	k, _ := symFactor(out[at])
	if before%pa != 0 || after%pb != 0 || (before/pa)*(after/pb) != k {
		return value{}, fmt.Errorf("reshaping %s to %s would mix the values of different samples (the batch can only merge with or split from the axes next to it)", v.format(), formatInts(out))
	}
	o, i := int(before/pa), int(after/pb)
	var ps []int
	for _, d := range out[:at] {
		ps = append(ps, int(d))
	}
	r := value{outer: b2i(o > 1), inner: b2i(i > 1)}
	if o > 1 {
		ps = append(ps, o)
	}
	batch := len(ps)
	if i > 1 {
		ps = append(ps, i)
	}
	for _, d := range out[at+1:] {
		ps = append(ps, int(d))
	}
	res, err := c.reshapeTo(v, ps, batch)
	res.outer, res.inner = r.outer, r.inner
	return res, err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// hasSym reports whether an integer constant holds the symbolic batch
// size.
func hasSym(d *tensorData) bool {
	for _, x := range d.i {
		if _, ok := symFactor(x); ok {
			return true
		}
	}
	return false
}

// dropBatchOnes removes the leading axes of a constant that, broadcast
// against the activation x from the right, reach x's batch axis, if they
// all have size 1 (an attention mask [1, T, T] added to scores
// [N·H, T, T]): the constant is then the same for every sample. A
// constant of more axes than x, which would add axes to the result, is
// left as it is.
func dropBatchOnes(x value, k *tensorData) *tensorData {
	drop := len(k.shape) - (x.rank() - x.batchAxis() - 1)
	if drop <= 0 || len(k.shape) > x.rank() {
		return k
	}
	for _, d := range k.shape[:drop] {
		if d != 1 {
			return k
		}
	}
	out := *k
	out.shape = k.shape[drop:]
	return &out
}
