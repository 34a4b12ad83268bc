package jacobians

import (
	"testing"

	"github.com/vivit-go/vivit/onnx"
)

// TestGrowWidths checks the widths of fresh factor buffers on ResNet-8,
// whose rows double at each stage from the head to the stem: a stage's
// buffers have the next stage's width, the stem's (16×32×32) their own,
// as do the head's (64 features, 10 logits), which no tensor 1.5 to 2
// times as wide follows.
func TestGrowWidths(t *testing.T) {
	m, err := onnx.ReadFile("../bench/testdata/resnet8.onnx", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &pass{nodes: m.Net.Nodes, net: m.Net, needed: m.Net.CarriesFactor()}
	want := map[int]int{64 * 8 * 8: 32 * 16 * 16, 32 * 16 * 16: 16 * 32 * 32, 16 * 32 * 32: 16 * 32 * 32, 64: 64, 10: 10}
	seen := map[int]bool{}
	for tn, g := range growWidths(p) {
		w := p.width(tn)
		if !p.needed[tn] {
			continue
		}
		seen[w] = true
		if wg, ok := want[w]; !ok || g != wg {
			t.Errorf("tensor %d of width %d: buffers of %d, want %d", tn, w, g, wg)
		}
	}
	for w := range want {
		if !seen[w] {
			t.Errorf("no tensor of width %d", w)
		}
	}
}
