package model

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/model/im2col"
)

// buildLayer builds a single layer from its spec in the architecture
// JSON format (docs/formats.md) on the given input shape, with random
// parameters. It reads the fields the test cases use and calls the
// exported constructors; package checkpoint reads the whole format and
// checks it.
func buildLayer(t *testing.T, spec string, in []int, rng *rand.Rand) Layer {
	t.Helper()
	var s struct {
		Type                      string
		InChannels                int `json:"in_channels"`
		OutChannels               int `json:"out_channels"`
		Groups                    int
		KernelSize                json.RawMessage `json:"kernel_size"`
		Stride, Padding, Dilation json.RawMessage
		Bias                      *bool
		CountIncludePad           *bool    `json:"count_include_pad"`
		NegativeSlope             *float64 `json:"negative_slope"`
		Alpha, Beta, Threshold, P *float64
	}
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		t.Fatal(err)
	}
	pair := func(raw json.RawMessage, def [2]int) [2]int {
		if len(raw) == 0 || string(raw) == "null" {
			return def
		}
		var one int
		if json.Unmarshal(raw, &one) == nil {
			return [2]int{one, one}
		}
		var two [2]int
		if err := json.Unmarshal(raw, &two); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		return two
	}
	num := func(v *float64, def float64) float64 {
		if v == nil {
			return def
		}
		return *v
	}
	flag := func(v *bool, def bool) bool {
		if v == nil {
			return def
		}
		return *v
	}
	k := pair(s.KernelSize, [2]int{})
	pad, dil := pair(s.Padding, [2]int{0, 0}), pair(s.Dilation, [2]int{1, 1})
	var l Layer
	var err error
	switch s.Type {
	case "conv2d":
		st := pair(s.Stride, [2]int{1, 1})
		groups := max(1, s.Groups)
		g := im2col.New(s.InChannels/groups, in[1], in[2], s.OutChannels/groups, k[0], k[1], st[0], st[1], pad[0], pad[1], dil[0], dil[1])
		l = NewGroupedConv2d(0, g, groups, flag(s.Bias, true))
	case "maxpool2d":
		l, err = NewMaxPool2d(in, k, pair(s.Stride, k), pad, dil)
	case "avgpool2d":
		l, err = NewAvgPool2d(in, k, pair(s.Stride, k), pad, flag(s.CountIncludePad, true))
	case "leaky_relu":
		l = NewLeakyReLU(in, num(s.NegativeSlope, 0.01))
	case "elu":
		l = NewELU(in, num(s.Alpha, 1))
	case "softplus":
		l = NewSoftplus(in, num(s.Beta, 1), num(s.Threshold, 20))
	case "dropout":
		l = NewDropout(in)
	case "relu":
		l = NewReLU(in)
	case "tanh":
		l = NewTanh(in)
	case "sigmoid":
		l = NewSigmoid(in)
	case "flatten":
		l = NewFlatten(in)
	default:
		t.Fatalf("unknown type %q", s.Type)
	}
	if err != nil {
		t.Fatal(err)
	}
	if pl, ok := l.(ParamLayer); ok {
		for _, p := range pl.Params() {
			for i := range p.Data {
				p.Data[i] = rng.NormFloat64()
			}
		}
	}
	return l
}

func randMat(rng *rand.Rand, r, c int) *mat.Dense {
	m := mat.NewDense(r, c, nil)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			m.Set(i, j, rng.NormFloat64())
		}
	}
	return m
}

func forward(l Layer, x *mat.Dense) *mat.Dense {
	n, _ := x.Dims()
	y := mat.NewDense(n, Numel(l.OutShape()), nil)
	l.Forward(y, x)
	return y
}

var layerCases = []struct {
	spec string
	in   []int
}{
	// convolutions: strides 1/2/3, paddings 0/1/2, dilation 2, odd sizes
	{`{"type":"conv2d","in_channels":2,"out_channels":3,"kernel_size":3}`, []int{2, 7, 5}},
	{`{"type":"conv2d","in_channels":2,"out_channels":3,"kernel_size":3,"stride":2,"padding":1}`, []int{2, 7, 5}},
	{`{"type":"conv2d","in_channels":1,"out_channels":2,"kernel_size":[2,3],"stride":3,"padding":2,"bias":false}`, []int{1, 7, 5}},
	{`{"type":"conv2d","in_channels":2,"out_channels":2,"kernel_size":3,"dilation":2,"padding":[1,2]}`, []int{2, 7, 5}},
	{`{"type":"conv2d","in_channels":3,"out_channels":2,"kernel_size":[3,1],"stride":[2,1],"dilation":[1,3],"padding":[0,2]}`, []int{3, 5, 7}},
	// grouped convolutions: depthwise (groups = in = out), depthwise with
	// a channel multiplier, 1 < groups < in, with strides, paddings and
	// dilations
	{`{"type":"conv2d","in_channels":3,"out_channels":3,"kernel_size":3,"padding":1,"groups":3}`, []int{3, 7, 5}},
	{`{"type":"conv2d","in_channels":2,"out_channels":4,"kernel_size":3,"stride":2,"padding":1,"groups":2,"bias":false}`, []int{2, 7, 5}},
	{`{"type":"conv2d","in_channels":4,"out_channels":6,"kernel_size":[2,3],"stride":[1,2],"dilation":[2,1],"padding":[1,2],"groups":2}`, []int{4, 7, 5}},
	// pooling: non-overlapping, overlapping, padded, dilated
	{`{"type":"maxpool2d","kernel_size":2}`, []int{2, 7, 5}},
	{`{"type":"maxpool2d","kernel_size":3,"stride":1}`, []int{2, 7, 5}},
	{`{"type":"maxpool2d","kernel_size":3,"stride":2,"padding":1}`, []int{2, 7, 5}},
	{`{"type":"maxpool2d","kernel_size":[3,2],"stride":[1,2],"padding":[1,1],"dilation":2}`, []int{2, 7, 5}},
	{`{"type":"avgpool2d","kernel_size":2}`, []int{2, 7, 5}},
	{`{"type":"avgpool2d","kernel_size":3,"stride":1,"padding":1}`, []int{2, 7, 5}},
	{`{"type":"avgpool2d","kernel_size":3,"stride":2,"padding":1,"count_include_pad":false}`, []int{2, 7, 5}},
	{`{"type":"avgpool2d","kernel_size":[2,3],"stride":[1,3],"padding":[1,1],"count_include_pad":false}`, []int{1, 5, 7}},
	// activations and shape layers
	{`{"type":"leaky_relu"}`, []int{2, 3, 3}},
	{`{"type":"leaky_relu","negative_slope":-0.3}`, []int{7}},
	{`{"type":"elu"}`, []int{2, 3, 3}},
	{`{"type":"elu","alpha":0.4}`, []int{7}},
	{`{"type":"softplus"}`, []int{2, 3, 3}},
	{`{"type":"softplus","beta":2,"threshold":1}`, []int{9}},
	{`{"type":"dropout","p":0.3}`, []int{2, 3, 3}},
	{`{"type":"relu"}`, []int{2, 3, 3}},
	{`{"type":"tanh"}`, []int{5}},
	{`{"type":"sigmoid"}`, []int{5}},
	{`{"type":"flatten"}`, []int{2, 3, 3}},
}

// TestBackwardInputFiniteDifferences checks Jᵀ s of every layer against
// central differences of ⟨s, f(x)⟩, for stacked factors with 3 columns per
// sample.
func TestBackwardInputFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const n, cols, h = 2, 3, 1e-6
	for _, tc := range layerCases {
		t.Run(tc.spec, func(t *testing.T) {
			l := buildLayer(t, tc.spec, tc.in, rng)
			fin, fout := Numel(l.InShape()), Numel(l.OutShape())
			x := randMat(rng, n, fin)
			if l.Type() == "softplus" {
				x.Scale(3, x) // reach both sides of the threshold
			}
			y := forward(l, x)
			s := randMat(rng, n*cols, fout)
			got := mat.NewDense(n*cols, fin, nil)
			got.Apply(func(_, _ int, _ float64) float64 { return math.NaN() }, got) // must be overwritten
			l.BackwardInput(got, s, x, y, cols)
			if r, ok := l.(BackwardReader); ok {
				// Without the tensors it does not read, the same numbers.
				in, out := r.BackwardReads()
				xr, yr := x, y
				if !in {
					xr = nil
				}
				if !out {
					yr = nil
				}
				again := mat.NewDense(n*cols, fin, nil)
				l.BackwardInput(again, s, xr, yr, cols)
				if !mat.Equal(again, got) {
					t.Errorf("BackwardInput without the tensors BackwardReads excludes (in %v, out %v) differs", in, out)
				}
			}
			var worst, scale float64
			for i := 0; i < n; i++ {
				for j := 0; j < fin; j++ {
					xp, xm := mat.DenseCopyOf(x.Slice(i, i+1, 0, fin)), mat.DenseCopyOf(x.Slice(i, i+1, 0, fin))
					xp.Set(0, j, x.At(i, j)+h)
					xm.Set(0, j, x.At(i, j)-h)
					yp, ym := forward(l, xp), forward(l, xm)
					for c := 0; c < cols; c++ {
						r := i*cols + c
						var d float64
						for k := 0; k < fout; k++ {
							d += s.At(r, k) * (yp.At(0, k) - ym.At(0, k))
						}
						d /= 2 * h
						worst = math.Max(worst, math.Abs(got.At(r, j)-d))
						scale = math.Max(scale, math.Abs(d))
					}
				}
			}
			if !(worst <= 1e-7*(1+scale)) {
				t.Errorf("max |Jᵀs − finite differences| = %.3g (scale %.3g)", worst, scale)
			}
		})
	}
}

// refConv is a direct implementation of PyTorch's conv2d (cross-
// correlation with zero padding) for one sample.
func refConv(l *Conv2d, x []float64) []float64 {
	g := l.Geom
	in, out := l.InShape()[0], l.OutShape()[0]
	y := make([]float64, out*g.P())
	// Output channel o reads input channels c0 … c0+InC−1 of its group.
	for o := 0; o < out; o++ {
		c0 := o / (out / l.groups()) * (in / l.groups())
		for oh := 0; oh < g.OutH; oh++ {
			for ow := 0; ow < g.OutW; ow++ {
				var sum float64
				if l.Bias != nil {
					sum = l.Bias.Data[o]
				}
				for c := 0; c < g.InC; c++ {
					for i := 0; i < g.KH; i++ {
						for j := 0; j < g.KW; j++ {
							ih, iw := oh*g.SH-g.PH+i*g.DH, ow*g.SW-g.PW+j*g.DW
							if ih >= 0 && ih < g.InH && iw >= 0 && iw < g.InW {
								sum += l.Weight.Data[((o*g.InC+c)*g.KH+i)*g.KW+j] * x[((c0+c)*g.InH+ih)*g.InW+iw]
							}
						}
					}
				}
				y[(o*g.OutH+oh)*g.OutW+ow] = sum
			}
		}
	}
	return y
}

// refPool is a direct implementation of PyTorch's max_pool2d (first
// maximum, padding −∞) and avg_pool2d (ceil_mode false) for one sample.
func refPool(g *poolGeom, x []float64, isMax, countIncludePad bool) []float64 {
	y := make([]float64, g.C*g.OutH*g.OutW)
	for c := 0; c < g.C; c++ {
		for oh := 0; oh < g.OutH; oh++ {
			for ow := 0; ow < g.OutW; ow++ {
				best, sum, cnt := math.Inf(-1), 0.0, 0
				for i := 0; i < g.KH; i++ {
					for j := 0; j < g.KW; j++ {
						ih, iw := oh*g.SH-g.PH+i*g.DH, ow*g.SW-g.PW+j*g.DW
						if ih < 0 || ih >= g.H || iw < 0 || iw >= g.W {
							continue
						}
						v := x[(c*g.H+ih)*g.W+iw]
						if v > best {
							best = v
						}
						sum += v
						cnt++
					}
				}
				out := &y[(c*g.OutH+oh)*g.OutW+ow]
				switch {
				case isMax:
					*out = best
				case countIncludePad:
					*out = sum / float64(g.KH*g.KW)
				default:
					*out = sum / float64(cnt)
				}
			}
		}
	}
	return y
}

func TestForwardMatchesDefinitions(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, tc := range layerCases {
		l := buildLayer(t, tc.spec, tc.in, rng)
		x := randMat(rng, 3, Numel(tc.in))
		y := forward(l, x)
		for i := 0; i < 3; i++ {
			var want []float64
			switch l := l.(type) {
			case *Conv2d:
				want = refConv(l, x.RawRowView(i))
			case *MaxPool2d:
				want = refPool(l.g, x.RawRowView(i), true, false)
			case *AvgPool2d:
				want = refPool(l.g, x.RawRowView(i), false, l.countIncludePad)
			default:
				continue
			}
			for j, w := range want {
				if got := y.At(i, j); !(math.Abs(got-w) <= 1e-13*(1+math.Abs(w))) {
					t.Errorf("%s: output %d of sample %d = %.17g, want %.17g", tc.spec, j, i, got, w)
					break
				}
			}
		}
	}
}

func TestOutputShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, tc := range []struct {
		spec    string
		in, out []int
	}{
		{`{"type":"conv2d","in_channels":3,"out_channels":64,"kernel_size":5}`, []int{3, 32, 32}, []int{64, 28, 28}},
		{`{"type":"maxpool2d","kernel_size":3,"stride":2,"padding":1}`, []int{64, 28, 28}, []int{64, 14, 14}},
		{`{"type":"conv2d","in_channels":96,"out_channels":128,"kernel_size":3,"padding":1}`, []int{96, 6, 6}, []int{128, 6, 6}},
		{`{"type":"maxpool2d","kernel_size":3,"stride":2,"padding":1}`, []int{128, 6, 6}, []int{128, 3, 3}},
		{`{"type":"conv2d","in_channels":1,"out_channels":1,"kernel_size":3,"stride":3,"padding":2,"dilation":2}`, []int{1, 7, 5}, []int{1, 3, 2}},
		{`{"type":"avgpool2d","kernel_size":2,"stride":null}`, []int{1, 7, 5}, []int{1, 3, 2}},
		{`{"type":"maxpool2d","kernel_size":[3,2],"stride":[1,2],"padding":[1,1],"dilation":2}`, []int{2, 7, 5}, []int{2, 5, 3}},
		{`{"type":"conv2d","in_channels":8,"out_channels":16,"kernel_size":3,"stride":2,"padding":1,"groups":4}`, []int{8, 9, 9}, []int{16, 5, 5}},
	} {
		l := buildLayer(t, tc.spec, tc.in, rng)
		if fmt.Sprint(l.OutShape()) != fmt.Sprint(tc.out) || fmt.Sprint(l.InShape()) != fmt.Sprint(tc.in) {
			t.Errorf("%s on %v: shapes %v → %v, want %v → %v", tc.spec, tc.in, l.InShape(), l.OutShape(), tc.in, tc.out)
		}
	}
	// A grouped convolution's weight is [out, in/groups, kh, kw].
	l := buildLayer(t, `{"type":"conv2d","in_channels":8,"out_channels":16,"kernel_size":[3,2],"groups":4}`, []int{8, 9, 9}, rng).(*Conv2d)
	if got := fmt.Sprint(l.Weight.Shape, l.Bias.Shape); got != "[16 2 3 2] [16]" {
		t.Errorf("grouped weight and bias shapes %s, want [16 2 3 2] [16]", got)
	}
}

// TestMaxPoolTies checks that ties go to the first maximum in scan order,
// as PyTorch's CPU kernel.
func TestMaxPoolTies(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	l := buildLayer(t, `{"type":"maxpool2d","kernel_size":2,"stride":1}`, []int{1, 2, 3}, rng)
	x := mat.NewDense(1, 6, []float64{1, 5, 5, 5, 5, 0}) // windows [1 5; 5 5] and [5 5; 5 0]
	y := forward(l, x)
	s := mat.NewDense(1, 2, []float64{10, 100})
	d := mat.NewDense(1, 6, nil)
	l.BackwardInput(d, s, x, y, 1)
	if want := []float64{0, 110, 0, 0, 0, 0}; fmt.Sprint(d.RawRowView(0)) != fmt.Sprint(want) {
		t.Errorf("factor routed to %v, want %v (first maximum of each window)", d.RawRowView(0), want)
	}
}

// TestMaxPoolArgmax checks the row-wise scan of MaxPool2d.argmax, and the
// forward pass's values (the chosen entries, bit for bit, signed zeros
// included), against the window-by-window scan of PyTorch's kernel (first
// maximum in row-major order, the last NaN if the window holds NaNs) on
// inputs with many ties,
// signed zeros, infinities and NaNs, for strides, paddings and dilations
// that leave windows of different sizes at the borders.
func TestMaxPoolArgmax(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	vals := []float64{0, math.Copysign(0, -1), 1, 1, 2, -1, math.Inf(1), math.Inf(-1), 0.5, math.NaN()}
	for _, tc := range []struct {
		in            []int
		k, s, p, d    [2]int
		nan, tiesOnly bool
	}{
		{[]int{3, 28, 28}, [2]int{3, 3}, [2]int{2, 2}, [2]int{1, 1}, [2]int{1, 1}, false, false},
		{[]int{2, 7, 5}, [2]int{3, 2}, [2]int{1, 2}, [2]int{1, 1}, [2]int{2, 1}, true, false},
		{[]int{2, 9, 8}, [2]int{2, 3}, [2]int{3, 1}, [2]int{0, 1}, [2]int{3, 2}, true, true},
		{[]int{1, 4, 6}, [2]int{4, 1}, [2]int{1, 1}, [2]int{2, 0}, [2]int{1, 1}, false, true},
		{[]int{2, 5, 5}, [2]int{5, 5}, [2]int{1, 1}, [2]int{2, 2}, [2]int{1, 1}, true, true},
	} {
		l, err := NewMaxPool2d(tc.in, tc.k, tc.s, tc.p, tc.d)
		if err != nil {
			t.Fatal(err)
		}
		g := l.g
		sc := l.newScratch().(*maxPoolScratch)
		x := make([]float64, Numel(tc.in))
		for trial := range 20 {
			for i := range x {
				switch {
				case tc.tiesOnly || trial%2 == 1:
					x[i] = vals[rng.IntN(len(vals)-btoiTest(!tc.nan))]
				default:
					x[i] = rng.NormFloat64()
				}
			}
			l.argmax(sc, x)
			y := make([]float64, g.C*g.p())
			l.maxValues(l.newScratch().(*maxPoolScratch), y, x)
			hw, np := g.H*g.W, g.p()
			wins, off := g.windows()
			for c := 0; c < g.C; c++ {
				for p := 0; p < np; p++ {
					win := wins[off[p]:off[p+1]]
					best := win[0]
					for _, ix := range win[1:] {
						if v := x[c*hw+int(ix)]; v > x[c*hw+int(best)] || math.IsNaN(v) {
							best = ix
						}
					}
					if got, want := sc.idx[c*np+p], int32(c*hw)+best; got != want {
						t.Fatalf("%+v trial %d: window (%d, %d) chose %d, want %d", tc, trial, c, p, got, want)
					}
					got, want := y[c*np+p], x[c*hw+int(best)]
					if math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
						t.Fatalf("%+v trial %d: window (%d, %d) has value %v, want %v", tc, trial, c, p, got, want)
					}
				}
			}
		}
	}
}

// TestElementwiseRows checks that the row kernels of the activations that
// have them give exactly the per-entry F and DF, special values included,
// through Forward and BackwardInput.
func TestElementwiseRows(t *testing.T) {
	x := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1),
		1e-300, -1e-300, 3.5, -2, math.MaxFloat64, -math.MaxFloat64}
	rng := rand.New(rand.NewPCG(9, 9))
	for range 21 {
		x = append(x, rng.NormFloat64())
	}
	same := func(a, b float64) bool {
		return math.Float64bits(a) == math.Float64bits(b) || (math.IsNaN(a) && math.IsNaN(b))
	}
	for _, e := range []*Elementwise{NewReLU([]int{len(x)})} {
		if e.FRows == nil || e.DFRows == nil && e.MulDFRows == nil {
			t.Fatalf("%s: no row kernels", e.Name)
		}
		in := mat.NewDense(1, len(x), x)
		out := mat.NewDense(1, len(x), nil)
		e.Forward(out, in)
		d := mat.NewDense(2, len(x), nil)
		s := mat.NewDense(2, len(x), nil)
		for j := range x {
			s.Set(0, j, 1)
			s.Set(1, j, -2)
		}
		e.BackwardInput(d, s, in, out, 2)
		for j, v := range x {
			y := e.F(v)
			if got := out.At(0, j); !same(got, y) {
				t.Errorf("%s(%v) = %v by rows, %v by entry", e.Name, v, got, y)
			}
			df := e.DF(v, y)
			if got := d.At(0, j); !same(got, df) {
				t.Errorf("%s'(%v) = %v by rows, %v by entry", e.Name, v, got, df)
			}
			if got := d.At(1, j); !same(got, -2*df) {
				t.Errorf("%s: column 2 at %v = %v, want %v", e.Name, v, got, -2*df)
			}
		}
	}
}

// TestNumelSaturates: a product beyond int saturates at math.MaxInt (on
// any word size), so that size checks refuse it rather than a wrapped
// value.
func TestNumelSaturates(t *testing.T) {
	for _, tc := range []struct {
		shape []int
		want  int
	}{
		{nil, 1},
		{[]int{3, 4}, 12},
		{[]int{0, math.MaxInt}, 0},
		{[]int{math.MaxInt, 1}, math.MaxInt},
		{[]int{1 << 16, 1 << 16, 1 << 16, 1 << 16}, math.MaxInt},
		{[]int{math.MaxInt/2 + 1, 2}, math.MaxInt},
		{[]int{math.MaxInt / 2, 2}, math.MaxInt - 1},
	} {
		if got := Numel(tc.shape); got != tc.want {
			t.Errorf("Numel(%v) = %d, want %d", tc.shape, got, tc.want)
		}
	}
}
