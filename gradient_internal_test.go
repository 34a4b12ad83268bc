package vivit

import (
	"errors"
	"math"
	"testing"

	"github.com/vivit-go/vivit/internal/fixture"
)

// TestGradientChunked runs gradient within budgets that let through the
// whole batch, a few samples and one sample at a time: the loss and the
// gradient equal the fixtures' (float64 autograd) every time, and a
// budget below one sample's needs is a *MemoryError.
func TestGradientChunked(t *testing.T) {
	for _, name := range []string{"resnet_digits", "vit_digits", "digits_cnn", "mse_regression"} {
		c, m, b := fixture.MustOpen(t, name)
		want, err := c.Array("grad")
		if err != nil {
			t.Fatal(err)
		}
		s := sizesOf(m)
		perSample := s.acts + s.factors + s.maxT + 8*int64(m.NumOutputs())
		n := b.Len()
		for _, chunk := range []int{n, 5, 1} {
			// The budget whose chunks hold exactly chunk samples.
			fixed := 8*int64(m.NumParams()) + 4<<20 // the least scratch share
			budget := (fixed + int64(chunk)*perSample) * headroom / (headroom - 1)
			for budget-budget/headroom-fixed < int64(chunk)*perSample {
				budget++
			}
			if chunk == n {
				budget = 1 << 40
			}
			if got, err := gradientChunk(m, n, budget); got != chunk || err != nil {
				t.Fatalf("%s: budget %d gives chunks of %d (%v), want %d", name, budget, got, err, chunk)
			}
			loss, grad, err := gradient(m, b, budget)
			if err != nil {
				t.Fatalf("%s, chunks of %d: %v", name, chunk, err)
			}
			if e := math.Abs(loss-c.Expected.Loss) / math.Abs(c.Expected.Loss); !(e <= 1e-12) {
				t.Errorf("%s, chunks of %d: loss %v, want %v", name, chunk, loss, c.Expected.Loss)
			}
			scale := 0.0
			for _, v := range want.Data {
				scale = max(scale, math.Abs(v))
			}
			worst := 0.0
			for i, v := range grad {
				worst = max(worst, math.Abs(v-want.Data[i])/scale)
			}
			if !(worst <= 1e-12) || len(grad) != len(want.Data) {
				t.Errorf("%s, chunks of %d: gradient differs by %.3g of its largest entry", name, chunk, worst)
			}
		}
		var me *MemoryError
		if _, _, err := gradient(m, b, 1<<20); !errors.As(err, &me) || me.Needed <= 1<<20 {
			t.Errorf("%s, 1 MiB budget: %v, want a *MemoryError needing more", name, err)
		}
	}
}
