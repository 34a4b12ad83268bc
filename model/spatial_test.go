package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestSpatialFD checks the backward of the pooling, padding, reducing and
// reshaping layers against finite differences.
func TestSpatialFD(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 51))
	must := func(l Layer, err error) Layer {
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	for _, l := range []Layer{
		must(NewGlobalAvgPool([]int{2, 3, 4})),
		must(NewGlobalAvgPool([]int{3, 5})),
		must(NewPad([]int{2, 3, 2}, []int{0, 1, 2}, []int{1, 0, 1})),
		must(NewPad([]int{3}, []int{0}, []int{0})),
		must(NewReduceMean([]int{2, 3, 4}, []int{1}, true)),
		must(NewReduceMean([]int{2, 3, 4}, []int{0, 2}, false)),
		must(NewReduceMean([]int{2, 3}, []int{0, 1}, false)),
		must(NewReshape([]int{2, 3, 2}, []int{6, 2})),
		NewIdentity([]int{2, 3}),
		must(NewMaxPool2d([]int{2, 5, 5}, [2]int{3, 3}, [2]int{2, 2}, [2]int{1, 1}, [2]int{1, 1})),
		must(NewAvgPool2d([]int{2, 5, 5}, [2]int{3, 3}, [2]int{2, 2}, [2]int{1, 1}, false)),
	} {
		t.Run(fmt.Sprintf("%s/%v", l.Type(), l.InShape()), func(t *testing.T) {
			const n, cols = 2, 3
			x := randMat(rng, n, Numel(l.InShape()))
			checkLayerFD(t, l, x, randMat(rng, n*cols, Numel(l.OutShape())), cols)
		})
	}
}

// TestSpatialValues checks the forward of the new layers against values
// computed by hand.
func TestSpatialValues(t *testing.T) {
	x := mat.NewDense(1, 12, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}) // [2, 2, 3]
	for _, tc := range []struct {
		l    Layer
		err  error
		out  []int
		want []float64
	}{
		{func() Layer { l, _ := NewGlobalAvgPool([]int{2, 2, 3}); return l }(), nil, []int{2, 1, 1}, []float64{3.5, 9.5}},
		{func() Layer { l, _ := NewReduceMean([]int{2, 2, 3}, []int{2}, false); return l }(), nil, []int{2, 2}, []float64{2, 5, 8, 11}},
		{func() Layer { l, _ := NewReduceMean([]int{2, 2, 3}, []int{0, 1}, true); return l }(), nil, []int{1, 1, 3}, []float64{5.5, 6.5, 7.5}},
		{func() Layer { l, _ := NewReduceMean([]int{2, 2, 3}, []int{0, 1, 2}, false); return l }(), nil, []int{}, []float64{6.5}},
		{func() Layer { l, _ := NewPad([]int{2, 2, 3}, []int{1, 0, 1}, []int{0, 1, 0}); return l }(), nil, []int{3, 3, 4},
			[]float64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				0, 1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0,
				0, 7, 8, 9, 0, 10, 11, 12, 0, 0, 0, 0}},
		{func() Layer { l, _ := NewReshape([]int{2, 2, 3}, []int{12}); return l }(), nil, []int{12}, x.RawRowView(0)},
		{NewIdentity([]int{2, 2, 3}), nil, []int{2, 2, 3}, x.RawRowView(0)},
	} {
		if !slices.Equal(tc.l.OutShape(), tc.out) {
			t.Errorf("%s: output shape %v, want %v", tc.l.Type(), tc.l.OutShape(), tc.out)
			continue
		}
		y := forward(tc.l, x)
		if got := y.RawRowView(0); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.l.Type(), got, tc.want)
		}
	}
}

// TestPoolConstructors checks the exported pooling constructors against
// direct implementations of PyTorch's pooling, and their errors.
func TestPoolConstructors(t *testing.T) {
	rng := rand.New(rand.NewPCG(52, 52))
	in := []int{2, 7, 5}
	mp, err := NewMaxPool2d(in, [2]int{3, 2}, [2]int{1, 2}, [2]int{1, 1}, [2]int{2, 1})
	if err != nil {
		t.Fatal(err)
	}
	ap, err := NewAvgPool2d(in, [2]int{3, 3}, [2]int{2, 2}, [2]int{1, 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		l          Layer
		g          *poolGeom
		isMax      bool
		outH, outW int
	}{
		{mp, mp.g, true, 5, 3},
		{ap, ap.g, false, 4, 3},
	} {
		if want := []int{2, tc.outH, tc.outW}; !slices.Equal(tc.l.OutShape(), want) {
			t.Fatalf("%s: output shape %v, want %v", tc.l.Type(), tc.l.OutShape(), want)
		}
		x := randMat(rng, 2, Numel(in))
		y := forward(tc.l, x)
		for i := range 2 {
			want := refPool(tc.g, x.RawRowView(i), tc.isMax, false)
			for j, w := range want {
				if got := y.At(i, j); !(math.Abs(got-w) <= 1e-13*(1+math.Abs(w))) {
					t.Fatalf("%s: output %d of sample %d = %.17g, want %.17g", tc.l.Type(), j, i, got, w)
				}
			}
		}
	}
	one := [2]int{1, 1}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{func() error { _, err := NewMaxPool2d(in, [2]int{3, 3}, one, [2]int{2, 2}, one); return err }(),
			"maxpool2d: padding [2 2] must be at most half of kernel_size [3 3]"},
		{func() error { _, err := NewMaxPool2d(in, [2]int{3, 3}, [2]int{0, 1}, one, one); return err }(),
			"maxpool2d: stride must be at least 1, got [0 1]"},
		{func() error { _, err := NewMaxPool2d([]int{2, 4}, [2]int{2, 2}, one, [2]int{0, 0}, one); return err }(),
			"maxpool2d: expects input of shape [C H W], but its input has shape [2 4]"},
		{func() error { _, err := NewAvgPool2d(in, [2]int{9, 1}, one, [2]int{0, 0}, true); return err }(),
			"avgpool2d: kernel_size [9 1] with dilation [1 1] spans 9×1, more than the padded input 7×5"},
		{func() error { _, err := NewAvgPool2d(in, [2]int{2, 2}, one, [2]int{-1, 0}, true); return err }(),
			"avgpool2d: padding must be at least 0, got [-1 0]"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("error %v, want %q", tc.err, tc.want)
		}
	}
}

// TestSpatialErrors checks the messages for bad shapes and attributes.
func TestSpatialErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{func() error { _, err := NewGlobalAvgPool([]int{4}); return err }(), "needs a channel axis and at least one spatial axis"},
		{func() error { _, err := NewPad([]int{2, 3}, []int{1}, []int{1, 1}); return err }(), "1 and 2 padding counts for 2 axes"},
		{func() error { _, err := NewPad([]int{2, 3}, []int{0, -1}, []int{1, 1}); return err }(), "padding must be non-negative"},
		{func() error { _, err := NewReduceMean([]int{2, 3}, []int{2}, true); return err }(), "axis 2 out of range"},
		{func() error { _, err := NewReduceMean([]int{2, 3}, []int{1, 0}, true); return err }(), "must be sorted and unique"},
		{func() error { _, err := NewReduceMean([]int{2, 3}, []int{1, 1}, true); return err }(), "must be sorted and unique"},
		{func() error { _, err := NewReduceMean([]int{2, 3}, nil, true); return err }(), "no axes"},
		{func() error { _, err := NewReshape([]int{2, 3}, []int{5}); return err }(), "[2 3] has 6 entries, [5] has 5"},
		{func() error { _, err := NewReshape([]int{2, 3}, []int{-1, 6}); return err }(), "dimension below 1"},
		{func() error { _, err := NewReshape([]int{1 << 20, 1 << 20}, []int{1}); return err }(), "too large"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("error %v, want %q", tc.err, tc.want)
		}
	}
}
