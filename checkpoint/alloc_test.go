package checkpoint

import (
	"fmt"
	"math/bits"
	"runtime"
	"testing"
)

// allocated returns the bytes f allocates (runtime.MemStats.TotalAlloc,
// which counts every allocation whether or not it is freed since).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestMistypedArchitectureAllocatesNothing builds architectures whose
// first layers are as large as Build allows and whose last layer has a
// wrong shape: each is refused, naming the last layer, with under 100 MB
// allocated (building the first layers alone would take gigabytes).
func TestMistypedArchitectureAllocatesNothing(t *testing.T) {
	const bound = 100 << 20
	// The first layer's outputs: 2²⁸ − 1 (805 M parameters, 6.4 GB of
	// weights); 4·10⁷ within 32-bit platforms' smaller MaxParams.
	wide := 268435455
	if bits.UintSize == 32 {
		wide = 40000000
	}
	for _, tc := range []struct {
		name, arch, want string
		first            string // the same layers without the mistake
	}{
		{
			name:  "linear",
			first: fmt.Sprintf(`{"input_shape":[3],"layers":[{"type":"linear","in":3,"out":%d},{"type":"linear","in":%[1]d,"out":2}],"loss":{"type":"mse","reduction":"sum"}}`, wide),
			arch:  fmt.Sprintf(`{"input_shape":[3],"layers":[{"type":"linear","in":3,"out":%d},{"type":"tanh"},{"type":"linear","in":4,"out":2}],"loss":{"type":"mse","reduction":"sum"}}`, wide),
			want:  fmt.Sprintf("architecture: layer 2 (linear): expects input of shape [4], but the previous layer gives [%d]", wide),
		},
		{
			// A patch table of 2²⁸ entries (1 GiB) and 2²⁶ max-pool windows.
			name:  "conv and pool",
			first: `{"input_shape":[1,16384,16384],"layers":[{"type":"conv2d","in_channels":1,"out_channels":1,"kernel_size":1},{"type":"maxpool2d","kernel_size":2},{"type":"flatten"}],"loss":{"type":"mse","reduction":"sum"}}`,
			arch:  `{"input_shape":[1,16384,16384],"layers":[{"type":"conv2d","in_channels":1,"out_channels":1,"kernel_size":1},{"type":"maxpool2d","kernel_size":2},{"type":"linear","in":4,"out":2}],"loss":{"type":"mse","reduction":"sum"}}`,
			want:  "architecture: layer 2 (linear): expects input of shape [4], but the previous layer gives [1 8192 8192] (add a flatten layer?)",
		},
		{
			name:  "no vector for the loss",
			first: `{"input_shape":[1,16384,16384],"layers":[{"type":"conv2d","in_channels":1,"out_channels":1,"kernel_size":1},{"type":"avgpool2d","kernel_size":2},{"type":"flatten"}],"loss":{"type":"mse","reduction":"sum"}}`,
			arch:  `{"input_shape":[1,16384,16384],"layers":[{"type":"conv2d","in_channels":1,"out_channels":1,"kernel_size":1},{"type":"avgpool2d","kernel_size":2}],"loss":{"type":"mse","reduction":"sum"}}`,
			want:  "architecture: the last layer gives shape [1 8192 8192]; the loss needs a vector of outputs (add a flatten layer?)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseArchitecture([]byte(tc.arch))
			if err != nil {
				t.Fatal(err)
			}
			n := allocated(func() { _, err = a.Build() })
			if err == nil || (tc.want != "" && err.Error() != tc.want) {
				t.Fatalf("error %v, want %s", err, tc.want)
			}
			if !(n < bound) {
				t.Fatalf("refused after allocating %d MB, want under %d MB", n>>20, bound>>20)
			}
			t.Logf("refused after allocating %d KB: %v", n>>10, err)
			// The same large layers without the mistake pass every check,
			// and planning them allocates nothing either: the refusal came
			// from the mistake, not from their size.
			f, err := ParseArchitecture([]byte(tc.first))
			if err != nil {
				t.Fatal(err)
			}
			var plans []LayerPlan
			n = allocated(func() { _, plans, _, err = f.plan(MaxParams) })
			if err != nil || len(plans) != len(f.Layers) {
				t.Fatalf("the large layers alone: %v", err)
			}
			if !(n < bound) {
				t.Fatalf("planning the large layers allocated %d MB", n>>20)
			}
		})
	}
}
