package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/vivit-go/vivit/internal/quote"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/model/im2col"
)

// Builders of the convolutional layers and of the activations with
// hyper-parameters; registered in builders (arch.go).

// pairOrNull is LayerSpec.Pair, also returning def for an explicit null
// (PyTorch's stride=None of the pooling layers).
func pairOrNull(s LayerSpec, name string, def [2]int) ([2]int, error) {
	if raw, ok := s.Fields[name]; ok && string(bytes.TrimSpace(raw)) == "null" {
		return def, nil
	}
	return s.Pair(name, def)
}

func (s LayerSpec) str(name, def string) (string, error) {
	raw, ok := s.Fields[name]
	if !ok {
		return def, nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", s.errorf("field %q must be a string, got %s", name, quote.Name(string(raw)))
	}
	return v, nil
}

// window holds the parsed kernel_size, stride, padding and dilation of a
// convolution or pooling layer.
type window struct {
	k, s, p, d [2]int
}

// parseWindow reads kernel_size (required), stride (default strideDef, or
// kernel_size if strideDef is nil), padding (default 0) and dilation
// (default 1, only if withDilation) and checks their signs.
func parseWindow(s LayerSpec, strideDef *[2]int, withDilation bool) (window, error) {
	var w window
	if _, ok := s.Fields["kernel_size"]; !ok {
		return w, s.errorf("needs field \"kernel_size\"")
	}
	var err error
	if w.k, err = s.Pair("kernel_size", [2]int{}); err != nil {
		return w, err
	}
	if w.k[0] < 1 || w.k[1] < 1 {
		return w, s.errorf("kernel_size must be positive, got %v", w.k)
	}
	def := w.k
	if strideDef != nil {
		def = *strideDef
	}
	if w.s, err = pairOrNull(s, "stride", def); err != nil {
		return w, err
	}
	if w.s[0] < 1 || w.s[1] < 1 {
		return w, s.errorf("stride must be positive, got %v", w.s)
	}
	if w.p, err = s.Pair("padding", [2]int{0, 0}); err != nil {
		return w, err
	}
	if w.p[0] < 0 || w.p[1] < 0 {
		return w, s.errorf("padding must be non-negative, got %v", w.p)
	}
	w.d = [2]int{1, 1}
	if withDilation {
		if w.d, err = s.Pair("dilation", w.d); err != nil {
			return w, err
		}
		if w.d[0] < 1 || w.d[1] < 1 {
			return w, s.errorf("dilation must be positive, got %v", w.d)
		}
	}
	// Bound every entry so that the products below cannot overflow.
	for _, f := range []struct {
		name string
		v    [2]int
	}{{"kernel_size", w.k}, {"stride", w.s}, {"padding", w.p}, {"dilation", w.d}} {
		if f.v[0] > maxFeatures || f.v[1] > maxFeatures {
			return w, s.errorf("%s %v is too large", f.name, f.v)
		}
	}
	return w, nil
}

// fits reports an error unless the dilated window fits into the padded
// input of shape in ([C, H, W]).
func (w window) fits(s LayerSpec, in []int) error {
	if err := w.fitErr(in); err != nil {
		return s.errorf("%v", err)
	}
	return nil
}

// fitErr is fits without the layer's name.
func (w window) fitErr(in []int) error {
	eh, ew := w.d[0]*(w.k[0]-1)+1, w.d[1]*(w.k[1]-1)+1
	ph, pw := in[1]+2*w.p[0], in[2]+2*w.p[1]
	if eh > ph || ew > pw {
		return fmt.Errorf("kernel_size %v with dilation %v spans %d×%d, more than the padded input %d×%d (input shape %v, padding %v)",
			w.k, w.d, eh, ew, ph, pw, in, w.p)
	}
	return nil
}

func buildConv2d(s LayerSpec, in []int) (LayerPlan, error) {
	cin, okIn, err := s.Int("in_channels")
	if err != nil {
		return LayerPlan{}, err
	}
	cout, okOut, err := s.Int("out_channels")
	if err != nil {
		return LayerPlan{}, err
	}
	if _, okK := s.Fields["kernel_size"]; !okIn || !okOut || !okK {
		return LayerPlan{}, s.errorf("needs fields \"in_channels\", \"out_channels\" and \"kernel_size\"")
	}
	if cin < 1 || cout < 1 {
		return LayerPlan{}, s.errorf("in_channels and out_channels must be positive, got in_channels=%d out_channels=%d", cin, cout)
	}
	w, err := parseWindow(s, &[2]int{1, 1}, true)
	if err != nil {
		return LayerPlan{}, err
	}
	groups, ok, err := s.Int("groups")
	if err != nil {
		return LayerPlan{}, err
	}
	if !ok {
		groups = 1
	}
	if groups < 1 || cin%groups != 0 || cout%groups != 0 {
		return LayerPlan{}, s.errorf("groups=%d must be positive and divide in_channels=%d and out_channels=%d", groups, cin, cout)
	}
	if mode, err := s.str("padding_mode", "zeros"); err != nil {
		return LayerPlan{}, err
	} else if mode != "zeros" {
		return LayerPlan{}, s.errorf("only padding_mode \"zeros\" is supported, got %q", mode)
	}
	bias, err := s.Bool("bias", true)
	if err != nil {
		return LayerPlan{}, err
	}
	if len(in) != 3 || in[0] != cin {
		return LayerPlan{}, s.errorf("expects input of shape [%d H W] (in_channels=%d), but its input has shape %v", cin, cin, in)
	}
	if err := w.fits(s, in); err != nil {
		return LayerPlan{}, err
	}
	// The unfolded input of a sample (P×K) and the output are bounded like
	// every other per-sample tensor; the parameters by Reserve.
	oh := im2col.OutSize(in[1], w.k[0], w.s[0], w.p[0], w.d[0])
	ow := im2col.OutSize(in[2], w.k[1], w.s[1], w.p[1], w.d[1])
	kk := w.k[0] * w.k[1]                // < 2⁵⁷ after parseWindow
	gin, gout := cin/groups, cout/groups // one group's channels
	if kk > maxFeatures/gin || oh*ow > maxFeatures/(gin*kk) {
		return LayerPlan{}, s.errorf("unfolded input [%d %d] is too large", oh*ow, gin*kk)
	}
	if cout > maxFeatures/(oh*ow) {
		return LayerPlan{}, s.errorf("output [%d %d %d] is too large", cout, oh, ow)
	}
	n := -1 // overflow: Reserve rejects it
	if k := gin * kk; cout <= (math.MaxInt-cout)/k {
		n = cout * k
		if bias {
			n += cout
		}
	}
	if err := s.Reserve(n); err != nil {
		return LayerPlan{}, err
	}
	return LayerPlan{Out: []int{cout, oh, ow}, Make: func() model.Layer {
		g := im2col.New(gin, in[1], in[2], gout, w.k[0], w.k[1], w.s[0], w.s[1], w.p[0], w.p[1], w.d[0], w.d[1])
		return model.NewGroupedConv2d(s.Index, g, groups, bias)
	}}, nil
}

// buildPool parses and checks the fields shared by the pooling layers.
func buildPool(s LayerSpec, withDilation bool) (window, error) {
	w, err := parseWindow(s, nil, withDilation)
	if err != nil {
		return w, err
	}
	if ceil, err := s.Bool("ceil_mode", false); err != nil {
		return w, err
	} else if ceil {
		return w, s.errorf("only ceil_mode false is supported")
	}
	return w, nil
}

// poolErr names the layer in an error of model's pooling constructors,
// which wrap their geometry's error with their own type name.
func poolErr(s LayerSpec, err error) error {
	if inner := errors.Unwrap(err); inner != nil {
		err = inner
	}
	return s.errorf("%v", err)
}

func buildMaxPool2d(s LayerSpec, in []int) (LayerPlan, error) {
	w, err := buildPool(s, true)
	if err != nil {
		return LayerPlan{}, err
	}
	out, err := model.Pool2dOutShape("maxpool2d", in, w.k, w.s, w.p, w.d)
	if err != nil {
		return LayerPlan{}, poolErr(s, err)
	}
	return LayerPlan{Out: out, Make: func() model.Layer { return mustLayer(model.NewMaxPool2d(in, w.k, w.s, w.p, w.d)) }}, nil
}

func buildAvgPool2d(s LayerSpec, in []int) (LayerPlan, error) {
	w, err := buildPool(s, false)
	if err != nil {
		return LayerPlan{}, err
	}
	cip, err := s.Bool("count_include_pad", true)
	if err != nil {
		return LayerPlan{}, err
	}
	out, err := model.Pool2dOutShape("avgpool2d", in, w.k, w.s, w.p, [2]int{1, 1})
	if err != nil {
		return LayerPlan{}, poolErr(s, err)
	}
	return LayerPlan{Out: out, Make: func() model.Layer { return mustLayer(model.NewAvgPool2d(in, w.k, w.s, w.p, cip)) }}, nil
}

// mustLayer returns the layer of a constructor whose checks the plan has
// already made; an error here is a bug of the plan.
func mustLayer[L model.Layer](l L, err error) model.Layer {
	if err != nil {
		panic(fmt.Sprintf("checkpoint: a checked layer failed to build: %v", err))
	}
	return l
}

// ignoreInplace accepts PyTorch's "inplace" flag, which does not change
// the function.
func ignoreInplace(s LayerSpec) error {
	_, err := s.Bool("inplace", false)
	return err
}

func buildLeakyReLU(s LayerSpec, in []int) (LayerPlan, error) {
	slope, err := s.Float("negative_slope", 0.01)
	if err != nil {
		return LayerPlan{}, err
	}
	if err := ignoreInplace(s); err != nil {
		return LayerPlan{}, err
	}
	return same(in, func() model.Layer { return model.NewLeakyReLU(in, slope) }), nil
}

func buildELU(s LayerSpec, in []int) (LayerPlan, error) {
	alpha, err := s.Float("alpha", 1)
	if err != nil {
		return LayerPlan{}, err
	}
	if err := ignoreInplace(s); err != nil {
		return LayerPlan{}, err
	}
	return same(in, func() model.Layer { return model.NewELU(in, alpha) }), nil
}

func buildSoftplus(s LayerSpec, in []int) (LayerPlan, error) {
	beta, err := s.Float("beta", 1)
	if err != nil {
		return LayerPlan{}, err
	}
	if beta <= 0 {
		return LayerPlan{}, s.errorf("beta must be positive, got %v", beta)
	}
	threshold, err := s.Float("threshold", 20)
	if err != nil {
		return LayerPlan{}, err
	}
	return same(in, func() model.Layer { return model.NewSoftplus(in, beta, threshold) }), nil
}

func buildDropout(s LayerSpec, in []int) (LayerPlan, error) {
	p, err := s.Float("p", 0.5)
	if err != nil {
		return LayerPlan{}, err
	}
	if p < 0 || p > 1 {
		return LayerPlan{}, s.errorf("p must be in [0, 1], got %v", p)
	}
	if err := ignoreInplace(s); err != nil {
		return LayerPlan{}, err
	}
	// Curvature is taken in evaluation mode, where dropout is the identity.
	return same(in, func() model.Layer { return model.NewDropout(in) }), nil
}
