package bench

import (
	"path/filepath"
	"testing"

	"github.com/vivit-go/vivit"
)

// vitFiles are the committed ViT of issue 15's speed target and its batch
// (bench/reference/vit.py export).
var vitFiles = [2]string{filepath.Join("testdata", "vit.onnx"), filepath.Join("testdata", "vit_batch.safetensors")}

// loadViT reads the committed ViT and its batch of 32.
func loadViT(tb testing.TB) (*vivit.Model, *vivit.Batch) {
	tb.Helper()
	m, err := vivit.LoadModel(vitFiles[0])
	if err != nil {
		tb.Fatal(err)
	}
	b, err := vivit.LoadBatch(vitFiles[1], m)
	if err != nil {
		tb.Fatal(err)
	}
	return m, b
}

func TestViTParams(t *testing.T) {
	m, b := loadViT(t)
	if got := m.NumParams(); got != 74954 {
		t.Errorf("NumParams = %d, want 74,954", got)
	}
	if b.Len() != 32 {
		t.Errorf("batch of %d", b.Len())
	}
}

// BenchmarkViT times exact and Monte-Carlo (M=1) top-10 eigenpairs of the
// ViT of issue 15 (3×32×32 inputs, 64 tokens of width 64, 4 heads, 2
// blocks, 74,954 parameters) on its committed batch of 32, stage by stage,
// with the run as a multiple of a gradient pass. The reference it is
// compared with is bench/reference/vit.py.
func BenchmarkViT(b *testing.B) {
	for _, mc := range []int{0, 1} {
		b.Run(curvatureName("vit/N=32", mc)+"/k=10", func(b *testing.B) {
			m, batch := loadViT(b)
			sum := benchStages(b, m, batch, topEigenRun(mc))
			b.ReportMetric(float64(sum.Forward.Microseconds())/1000/float64(b.N), "ms-forward")
			b.ReportMetric(float64(sum.Gram)/float64(sum.Total()), "gram-share")
		})
	}
}
