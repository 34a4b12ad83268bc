package checkpoint

import (
	"github.com/vivit-go/vivit/model"
	"strings"
	"testing"
)

// TestArchitecturePyTorchNames checks that PyTorch's class names (any
// letter case) and nn.Linear's argument names build the same network as
// the architecture's own names, and that field errors list the fields.
func TestArchitecturePyTorchNames(t *testing.T) {
	build := func(layers string) (*model.Network, error) {
		a, err := ParseArchitecture([]byte(`{"input_shape":[1,6,6],"layers":[` + layers + `],"loss":{"type":"cross_entropy","reduction":"mean"}}`))
		if err != nil {
			t.Fatal(err)
		}
		return a.Build()
	}
	own, err := build(`{"type":"conv2d","in_channels":1,"out_channels":2,"kernel_size":3},{"type":"leaky_relu"},{"type":"maxpool2d","kernel_size":2},{"type":"flatten"},{"type":"linear","in":8,"out":3}`)
	if err != nil {
		t.Fatal(err)
	}
	torch, err := build(`{"type":"Conv2d","in_channels":1,"out_channels":2,"kernel_size":3},{"type":"LeakyReLU"},{"type":"MaxPool2D","kernel_size":2},{"type":"Flatten"},{"type":"Linear","in_features":8,"out_features":3}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(own.Nodes) != len(torch.Nodes) || own.NumParams() != torch.NumParams() {
		t.Fatalf("PyTorch names built %d nodes, %d parameters; own names %d, %d", len(torch.Nodes), torch.NumParams(), len(own.Nodes), own.NumParams())
	}
	for i := range own.Nodes {
		if own.Nodes[i].Op.Type() != torch.Nodes[i].Op.Type() {
			t.Errorf("node %d: %s, want %s", i, torch.Nodes[i].Op.Type(), own.Nodes[i].Op.Type())
		}
	}
	for _, tc := range []struct{ layers, want string }{
		{`{"type":"flatten"},{"type":"linear","in":36,"out":3,"in_features":36}`, `fields "in" and "in_features" are the same; give one`},
		{`{"type":"flatten"},{"type":"Linear","in_features":36,"out_features":3,"bias_init":0}`, `unknown field "bias_init" (linear takes: type, in, out, bias (or in_features for in, out_features for out))`},
		{`{"type":"relu","inplace":true}`, `layer 0 (relu): unknown field "inplace" (relu takes: no fields besides "type")`},
		{`{"type":"Conv3d"}`, `unknown type "Conv3d" (supported: `},
	} {
		_, err := build(tc.layers)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.layers, err, tc.want)
		}
	}
}
