package checkpoint

import (
	"fmt"
	"math"
	"testing"

	"github.com/vivit-go/vivit/model"
)

// TestConvPoolArchitectureErrors checks the messages for bad specs.
func TestConvPoolArchitectureErrors(t *testing.T) {
	arch := func(in string, layers ...string) string {
		ls := ""
		for i, l := range layers {
			if i > 0 {
				ls += ","
			}
			ls += l
		}
		return fmt.Sprintf(`{"input_shape":%s,"layers":[%s,{"type":"flatten"}],"loss":{"type":"mse","reduction":"sum"}}`, in, ls)
	}
	conv := `{"type":"conv2d","in_channels":1,"out_channels":2,"kernel_size":3%s}`
	for _, tc := range []struct {
		name, arch, want string
	}{
		{"conv missing kernel", arch(`[1,8,8]`, `{"type":"conv2d","in_channels":1,"out_channels":2}`),
			`architecture: layer 0 (conv2d): needs fields "in_channels", "out_channels" and "kernel_size"`},
		{"conv channels", arch(`[3,8,8]`, `{"type":"conv2d","in_channels":3,"out_channels":0,"kernel_size":3}`),
			`architecture: layer 0 (conv2d): in_channels and out_channels must be positive, got in_channels=3 out_channels=0`},
		{"conv input channels", arch(`[1,8,8]`, `{"type":"conv2d","in_channels":3,"out_channels":4,"kernel_size":3}`),
			`architecture: layer 0 (conv2d): expects input of shape [3 H W] (in_channels=3), but its input has shape [1 8 8]`},
		{"conv after flatten", `{"input_shape":[1,4,4],"layers":[{"type":"flatten"},{"type":"conv2d","in_channels":1,"out_channels":1,"kernel_size":1}],"loss":{"type":"mse","reduction":"sum"}}`,
			`architecture: layer 1 (conv2d): expects input of shape [1 H W] (in_channels=1), but its input has shape [16]`},
		{"conv kernel too large", arch(`[1,2,2]`, fmt.Sprintf(conv, `,"kernel_size":5,"padding":1`)),
			`architecture: layer 0 (conv2d): kernel_size [5 5] with dilation [1 1] spans 5×5, more than the padded input 4×4 (input shape [1 2 2], padding [1 1])`},
		{"conv dilation too large", arch(`[1,5,9]`, fmt.Sprintf(conv, `,"dilation":[3,1]`)),
			`architecture: layer 0 (conv2d): kernel_size [3 3] with dilation [3 1] spans 7×3, more than the padded input 5×9 (input shape [1 5 9], padding [0 0])`},
		{"conv groups", arch(`[1,8,8]`, fmt.Sprintf(conv, `,"groups":2`)),
			`architecture: layer 0 (conv2d): groups=2 must be positive and divide in_channels=1 and out_channels=2`},
		{"conv groups out", arch(`[4,8,8]`, `{"type":"conv2d","in_channels":4,"out_channels":6,"kernel_size":3,"groups":4}`),
			`architecture: layer 0 (conv2d): groups=4 must be positive and divide in_channels=4 and out_channels=6`},
		{"conv groups zero", arch(`[1,8,8]`, fmt.Sprintf(conv, `,"groups":0`)),
			`architecture: layer 0 (conv2d): groups=0 must be positive and divide in_channels=1 and out_channels=2`},
		{"conv padding mode", arch(`[1,8,8]`, fmt.Sprintf(conv, `,"padding_mode":"reflect"`)),
			`architecture: layer 0 (conv2d): only padding_mode "zeros" is supported, got "reflect"`},
		{"conv zero stride", arch(`[1,8,8]`, fmt.Sprintf(conv, `,"stride":[1,0]`)),
			`architecture: layer 0 (conv2d): stride must be positive, got [1 0]`},
		{"conv negative padding", arch(`[1,8,8]`, fmt.Sprintf(conv, `,"padding":-1`)),
			`architecture: layer 0 (conv2d): padding must be non-negative, got [-1 -1]`},
		{"conv zero dilation", arch(`[1,8,8]`, fmt.Sprintf(conv, `,"dilation":0`)),
			`architecture: layer 0 (conv2d): dilation must be positive, got [0 0]`},
		{"conv zero kernel", arch(`[1,8,8]`, fmt.Sprintf(conv, `,"kernel_size":[0,3]`)),
			`architecture: layer 0 (conv2d): kernel_size must be positive, got [0 3]`},
		{"conv kernel triple", arch(`[1,8,8]`, fmt.Sprintf(conv, `,"kernel_size":[3,3,3]`)),
			`architecture: layer 0 (conv2d): field "kernel_size" must be an integer or a list of two integers, got [3,3,3]`},
		{"conv unknown field", arch(`[1,8,8]`, fmt.Sprintf(conv, `,"transposed":true`)),
			`architecture: layer 0 (conv2d): unknown field "transposed" (conv2d takes: type, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode)`},
		{"pool missing kernel", arch(`[1,8,8]`, `{"type":"maxpool2d","stride":2}`),
			`architecture: layer 0 (maxpool2d): needs field "kernel_size"`},
		{"pool padding over half", arch(`[1,8,8]`, `{"type":"maxpool2d","kernel_size":3,"padding":2}`),
			`architecture: layer 0 (maxpool2d): padding [2 2] must be at most half of kernel_size [3 3]`},
		{"avgpool padding over half", arch(`[1,8,8]`, `{"type":"avgpool2d","kernel_size":[2,4],"padding":[1,3]}`),
			`architecture: layer 0 (avgpool2d): padding [1 3] must be at most half of kernel_size [2 4]`},
		{"pool ceil mode", arch(`[1,8,8]`, `{"type":"avgpool2d","kernel_size":2,"ceil_mode":true}`),
			`architecture: layer 0 (avgpool2d): only ceil_mode false is supported`},
		{"pool on vector", `{"input_shape":[16],"layers":[{"type":"maxpool2d","kernel_size":2}],"loss":{"type":"mse","reduction":"sum"}}`,
			`architecture: layer 0 (maxpool2d): expects input of shape [C H W], but its input has shape [16]`},
		{"pool window too large", arch(`[2,4,1]`, `{"type":"maxpool2d","kernel_size":2}`),
			`architecture: layer 0 (maxpool2d): kernel_size [2 2] with dilation [1 1] spans 2×2, more than the padded input 4×1 (input shape [2 4 1], padding [0 0])`},
		{"pool empty window", arch(`[1,2,2]`, `{"type":"maxpool2d","kernel_size":2,"padding":1,"dilation":3}`),
			`architecture: layer 0 (maxpool2d): padding [1 1] and dilation [3 3] leave the window of output position (0, 0) without input entries`},
		{"pool zero stride", arch(`[1,8,8]`, `{"type":"avgpool2d","kernel_size":2,"stride":0}`),
			`architecture: layer 0 (avgpool2d): stride must be positive, got [0 0]`},
		{"avgpool dilation", arch(`[1,8,8]`, `{"type":"avgpool2d","kernel_size":2,"dilation":2}`),
			`architecture: layer 0 (avgpool2d): unknown field "dilation" (avgpool2d takes: type, kernel_size, stride, padding, ceil_mode, count_include_pad)`},
		{"avgpool divisor override", arch(`[1,8,8]`, `{"type":"avgpool2d","kernel_size":2,"divisor_override":3}`),
			`architecture: layer 0 (avgpool2d): unknown field "divisor_override" (avgpool2d takes: type, kernel_size, stride, padding, ceil_mode, count_include_pad)`},
		{"softplus beta", arch(`[1,8,8]`, `{"type":"softplus","beta":0}`),
			`architecture: layer 0 (softplus): beta must be positive, got 0`},
		{"dropout p", arch(`[1,8,8]`, `{"type":"dropout","p":1.5}`),
			`architecture: layer 0 (dropout): p must be in [0, 1], got 1.5`},
		{"leaky slope type", arch(`[1,8,8]`, `{"type":"leaky_relu","negative_slope":"0.1"}`),
			`architecture: layer 0 (leaky_relu): field "negative_slope" must be a number, got "0.1"`},
		{"elu inplace type", arch(`[1,8,8]`, `{"type":"elu","inplace":1}`),
			`architecture: layer 0 (elu): field "inplace" must be true or false, got 1`},
		{"hardtanh bounds", arch(`[4]`, `{"type":"hardtanh","min_val":1,"max_val":1}`),
			`architecture: layer 0 (hardtanh): min_val must be below max_val, got 1 and 1`},
		{"relu6 bounds", arch(`[4]`, `{"type":"relu6","max_val":3}`),
			`architecture: layer 0 (relu6): unknown field "max_val" (relu6 takes: type, inplace)`},
		{"gelu approximate", arch(`[4]`, `{"type":"gelu","approximate":"fast"}`),
			`architecture: layer 0 (gelu): approximate must be "none" or "tanh", got "fast"`},
		{"hardswish inplace type", arch(`[4]`, `{"type":"hardswish","inplace":"yes"}`),
			`architecture: layer 0 (hardswish): field "inplace" must be true or false, got "yes"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseArchitecture([]byte(tc.arch))
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.Build()
			if err == nil || err.Error() != tc.want {
				t.Errorf("error\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestActivationLayers builds every activation by its PyTorch module name
// and fields and checks values on each of its pieces.
func TestActivationLayers(t *testing.T) {
	xs := []float64{-4, -2, -0.5, 0.25, 0.9, 2.5, 7}
	gelu := func(x float64) float64 { return x * (1 + math.Erf(x/math.Sqrt2)) / 2 }
	for _, tc := range []struct {
		spec, typ string
		f         func(float64) float64
	}{
		{`{"type":"ReLU6","inplace":true}`, "hardtanh", func(x float64) float64 { return min(max(x, 0), 6) }},
		{`{"type":"Hardtanh","min_val":-0.5,"max_val":2}`, "hardtanh", func(x float64) float64 { return min(max(x, -0.5), 2) }},
		{`{"type":"hardtanh"}`, "hardtanh", func(x float64) float64 { return min(max(x, -1), 1) }},
		{`{"type":"Hardswish"}`, "hard_swish", func(x float64) float64 { return x * min(max(x+3, 0), 6) / 6 }},
		{`{"type":"Hardsigmoid"}`, "hard_sigmoid", func(x float64) float64 { return min(max(x+3, 0), 6) / 6 }},
		{`{"type":"SiLU"}`, "silu", func(x float64) float64 { return x / (1 + math.Exp(-x)) }},
		{`{"type":"GELU"}`, "gelu", gelu},
		{`{"type":"gelu","approximate":"tanh"}`, "gelu_tanh", func(x float64) float64 {
			return x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))) / 2
		}},
	} {
		a, err := ParseArchitecture([]byte(fmt.Sprintf(`{"input_shape":[7],"layers":[%s],"loss":{"type":"mse","reduction":"sum"}}`, tc.spec)))
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		net, err := a.Build()
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		e, ok := net.Nodes[0].Op.(*model.Elementwise)
		if !ok || e.Type() != tc.typ {
			t.Fatalf("%s: built %T %s, want %s", tc.spec, net.Nodes[0].Op, net.Nodes[0].Op.Type(), tc.typ)
		}
		for _, x := range xs {
			if got, want := e.F(x), tc.f(x); !(math.Abs(got-want) <= 1e-15*(1+math.Abs(want))) {
				t.Errorf("%s: f(%v) = %.17g, want %.17g", tc.spec, x, got, want)
			}
		}
	}
}
