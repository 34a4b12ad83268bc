package onnx

import (
	"runtime"
	"strings"
	"testing"
)

// TestInvalidLastNodeAllocation: a model whose first nodes are large (a
// convolution's patch table, a transpose's index table, max pooling's
// windows on a 2²⁶-entry input: 2 GB when built) and whose last node has
// an unsupported operator is refused with under 100 MB allocated, the
// problem found by precheck before any node is built.
func TestInvalidLastNodeAllocation(t *testing.T) {
	g := newGraph("input", 1, 8192, 8192)
	w := g.init("conv.weight", 1, 0, 1, 1, 1, 1)
	g.node("Conv", "conv", []string{"input", w}, []string{"c"}, intsAttr("kernel_shape", 1, 1))
	g.node("Transpose", "t", []string{"c"}, []string{"tr"}, intsAttr("perm", 0, 1, 3, 2))
	g.node("MaxPool", "pool", []string{"tr"}, []string{"p"}, intsAttr("kernel_shape", 2, 2), intsAttr("strides", 2, 2))
	g.node("Flatten", "flat", []string{"p"}, []string{"f"})
	g.node("Bogus", "last", []string{"f"}, []string{"out"})
	g.output("out")
	data := g.bytes(t)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Read(data, nil)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "Bogus") {
		t.Fatalf("error %v", err)
	}
	n := after.TotalAlloc - before.TotalAlloc
	t.Logf("refused after allocating %d MB: %v", n>>20, err)
	if !(n < 100<<20) {
		t.Fatalf("allocated %d MB before refusing", n>>20)
	}
}
