package vivit_test

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/bench"
)

// TestBitwiseAcrossProcs runs the entry points (the data set's Lanczos on
// the fixtures only) on graph fixtures (a ResNet with BatchNorm, a ViT)
// and on the benchmarks' ResNet-8 at N = 4 (large enough for the products
// that split their sums over ranges of k) at 1, 2, 3 and 8 Ps and checks
// that every number they return is bitwise the same: the work is split
// among workers, but no sum's order depends on how (docs/guide.md,
// "Reproducibility").
func TestBitwiseAcrossProcs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every entry point four times")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, name := range []string{"resnet_digits", "vit_digits", "ResNet-8"} {
		var m *vivit.Model
		var b *vivit.Batch
		if name == "ResNet-8" {
			var err error
			if m, b, err = bench.ResNet8(4, 1); err != nil {
				t.Fatal(err)
			}
		} else {
			_, m, b = loadCase(t, name)
		}
		runs := []struct {
			name string
			run  func() (uint64, error)
		}{
			{"TopEigen", func() (uint64, error) {
				r, err := vivit.TopEigen(m, b, 5, nil)
				return resultBits(r), err
			}},
			{"TopEigen float32", func() (uint64, error) {
				r, err := vivit.TopEigen(m, b, 5, &vivit.Options{Precision: vivit.Float32})
				return resultBits(r), err
			}},
			{"Directional MC layer groups", func() (uint64, error) {
				r, err := vivit.Directional(m, b, 3, &vivit.Options{MCSamples: 2, Seed: 7, Groups: vivit.LayerGroups(m)})
				return resultBits(r), err
			}},
			{"Spectrum", func() (uint64, error) {
				r, err := vivit.Spectrum(m, b, nil)
				if err != nil {
					return 0, err
				}
				var h bitHash
				for _, bl := range r.Blocks {
					h.add(bl.Values...)
					h.add(bl.Trace)
				}
				return h.sum(), nil
			}},
			{"ComputeStats", func() (uint64, error) {
				s, err := vivit.ComputeStats(m, b, nil)
				if err != nil {
					return 0, err
				}
				var h bitHash
				h.add(s.Grad...)
				h.add(s.GradVariance...)
				h.add(s.DiagGGN...)
				h.add(s.PerSampleGradNorms...)
				return h.sum(), nil
			}},
			{"DataSetTopEigen Lanczos", func() (uint64, error) {
				if name == "ResNet-8" {
					return 0, nil // many passes of 78,042 parameters: slow
				}
				o := &vivit.DataSetOptions{BatchSize: 5, Method: vivit.MethodLanczos}
				r, err := vivit.DataSetTopEigen(m, vivit.NewBatchDataSet(b), 3, o)
				if err != nil {
					return 0, err
				}
				var h bitHash
				h.add(r.Trace...)
				return h.sum() ^ resultBits(&r.Result), nil
			}},
			{"Newton", func() (uint64, error) {
				s, err := vivit.Newton(m, b, 4, vivit.Damping{}, nil)
				if err != nil {
					return 0, err
				}
				var h bitHash
				h.add(s.Step...)
				return h.sum(), nil
			}},
		}
		for _, r := range runs {
			var want uint64
			for i, procs := range []int{1, 2, 3, 8} {
				runtime.GOMAXPROCS(procs)
				got, err := r.run()
				if err != nil {
					t.Fatalf("%s %s at %d Ps: %v", name, r.name, procs, err)
				}
				if i == 0 {
					want = got
				} else if got != want {
					t.Errorf("%s %s: the results at %d Ps differ from those at 1 P", name, r.name, procs)
				}
			}
		}
	}
}

// bitHash hashes the bits of float64s, NaNs included as they are.
type bitHash struct{ buf []byte }

func (h *bitHash) add(xs ...float64) {
	for _, x := range xs {
		h.buf = binary.LittleEndian.AppendUint64(h.buf, math.Float64bits(x))
	}
}

func (h *bitHash) addDense(m *mat.Dense) {
	if m == nil {
		h.add(math.NaN())
		return
	}
	r, c := m.Dims()
	for i := range r {
		h.add(m.RawRowView(i)[:c]...)
	}
}

func (h *bitHash) sum() uint64 {
	f := fnv.New64a()
	f.Write(h.buf)
	return f.Sum64()
}

// resultBits hashes a Result's numbers: per block its eigenvalues,
// eigenvectors and directional derivatives.
func resultBits(r *vivit.Result) uint64 {
	var h bitHash
	if r == nil {
		return 0
	}
	h.add(r.Loss)
	for _, bl := range r.Blocks {
		h.add(bl.Values...)
		h.addDense(bl.Vectors)
		h.addDense(bl.Gamma)
		h.addDense(bl.Lambda)
	}
	return h.sum()
}
