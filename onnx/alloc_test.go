package onnx

import (
	"runtime"
	"strings"
	"testing"
)

// TestInvalidLastNodeAllocation: a model whose first nodes are large (a
// convolution's patch table, a transpose's index table, max pooling's
// windows on a 2²⁶-entry input: 2 GB when built) and whose last node is
// refused, for an unsupported operator (found by precheck before any node
// is built) or for a weight of the wrong shape (found when that node is
// converted: the earlier nodes' tables are built only on first use), is
// refused with under 100 MB allocated.
func TestInvalidLastNodeAllocation(t *testing.T) {
	for _, tc := range []struct {
		name string
		last func(g *graphBuilder)
		want string
	}{
		{"unsupported operator", func(g *graphBuilder) {
			g.node("Bogus", "last", []string{"f"}, []string{"out"})
		}, "Bogus"},
		{"wrong weight shape", func(g *graphBuilder) {
			g.node("Gemm", "last", []string{"f", g.init("fc.weight", 1, 0, 3, 7)}, []string{"out"}, intAttr("transB", 1))
		}, `weight "fc.weight" has shape [3 7]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGraph("input", 1, 8192, 8192)
			w := g.init("conv.weight", 1, 0, 1, 1, 1, 1)
			g.node("Conv", "conv", []string{"input", w}, []string{"c"}, intsAttr("kernel_shape", 1, 1))
			g.node("Transpose", "t", []string{"c"}, []string{"tr"}, intsAttr("perm", 0, 1, 3, 2))
			g.node("MaxPool", "pool", []string{"tr"}, []string{"p"}, intsAttr("kernel_shape", 2, 2), intsAttr("strides", 2, 2))
			g.node("Flatten", "flat", []string{"p"}, []string{"f"})
			tc.last(g)
			g.output("out")
			data := g.bytes(t)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Read(data, nil)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			n := after.TotalAlloc - before.TotalAlloc
			t.Logf("refused after allocating %d MB: %v", n>>20, err)
			if !(n < 100<<20) {
				t.Fatalf("allocated %d MB before refusing", n>>20)
			}
		})
	}
}
