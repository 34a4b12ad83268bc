package bench

import (
	"math"
	"testing"

	"github.com/vivit-go/vivit"
)

// TestResNet8ONNX checks that bench/testdata/resnet8.onnx and
// resnet8_batch.safetensors (bench/reference/resnet8.py export, for the
// side-by-side comparison with the PyTorch reference) are ResNet8(32, 1)
// rounded to float32: the same parameters in the same order, each equal
// to the Go value rounded to float32, the same batch, and the loss and
// gradient to float32 rounding.
func TestResNet8ONNX(t *testing.T) {
	m, err := vivit.LoadModel("testdata/resnet8.onnx")
	if err != nil {
		t.Fatal(err)
	}
	b, err := vivit.LoadBatch("testdata/resnet8_batch.safetensors", m)
	if err != nil {
		t.Fatal(err)
	}
	gm, gb, err := ResNet8(32, 1)
	if err != nil {
		t.Fatal(err)
	}
	ps, gps := m.Params(), gm.Params()
	if len(ps) != len(gps) || m.NumParams() != 78042 {
		t.Fatalf("%d parameter tensors, %d parameters; want %d, 78042", len(ps), m.NumParams(), len(gps))
	}
	for i, p := range ps {
		if p.Name != gps[i].Name || len(p.Data) != len(gps[i].Data) {
			t.Fatalf("parameter %d: %s (%d), want %s (%d)", i, p.Name, len(p.Data), gps[i].Name, len(gps[i].Data))
		}
		for j, v := range p.Data {
			if v != float64(float32(gps[i].Data[j])) {
				t.Fatalf("%s[%d] = %v, want float32(%v)", p.Name, j, v, gps[i].Data[j])
			}
		}
	}
	if b.Len() != gb.Len() {
		t.Fatalf("batch of %d, want %d", b.Len(), gb.Len())
	}
	for i, v := range b.Inputs.RawMatrix().Data {
		if w := gb.Inputs.RawMatrix().Data[i]; v != float64(float32(w)) {
			t.Fatalf("input %d = %v, want float32(%v)", i, v, w)
		}
	}
	for i, c := range b.Targets.Classes {
		if c != gb.Targets.Classes[i] {
			t.Fatalf("target %d = %d, want %d", i, c, gb.Targets.Classes[i])
		}
	}
	loss, grad, err := vivit.Gradient(m, b)
	if err != nil {
		t.Fatal(err)
	}
	gloss, ggrad, err := vivit.Gradient(gm, gb)
	if err != nil {
		t.Fatal(err)
	}
	if !(math.Abs(loss-gloss) <= 1e-6*gloss) {
		t.Errorf("loss %v, Go model's %v", loss, gloss)
	}
	var d, n float64
	for i := range grad {
		d = math.Max(d, math.Abs(grad[i]-ggrad[i]))
		n = math.Max(n, math.Abs(ggrad[i]))
	}
	if !(d <= 1e-5*n) {
		t.Errorf("gradients differ by %v of their largest entry %v", d/n, n)
	}
}
