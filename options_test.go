package vivit_test

import (
	"strings"
	"testing"

	"github.com/vivit-go/vivit"
)

func TestOptionErrors(t *testing.T) {
	_, m, b := loadCase(t, "mse_regression")
	for _, tc := range []struct {
		name string
		k    int
		opts *vivit.Options
		want string
	}{
		{"k zero", 0, nil, "k must be at least 1, got 0"},
		{"k negative", -3, nil, "k must be at least 1"},
		{"negative MC", 3, &vivit.Options{MCSamples: -1}, "MCSamples must be ≥ 0"},
		{"empty sub-batch", 3, &vivit.Options{SubBatch: []int{}}, "empty sub-batch"},
		{"sub-batch out of range", 3, &vivit.Options{SubBatch: []int{0, 50}}, "sub-batch index 50 is out of range [0, 50)"},
		{"negative sub-batch index", 3, &vivit.Options{SubBatch: []int{-1}}, "sub-batch index -1 is out of range"},
		{"repeated sub-batch index", 3, &vivit.Options{SubBatch: []int{3, 1, 3}}, "sub-batch index 3 is repeated"},
		{"unknown group parameter", 3, &vivit.Options{Groups: []vivit.Group{{Name: "g", Params: []string{"9.weight"}}}}, `group "g": unknown parameter "9.weight"`},
		{"empty group", 3, &vivit.Options{Groups: []vivit.Group{{Name: "g"}}}, `group 0 ("g") has no parameters`},
		{"parameter twice", 3, &vivit.Options{Groups: []vivit.Group{{Name: "g", Params: []string{"0.bias", "0.bias"}}}}, `lists "0.bias" twice`},
		{"bad rank tolerance", 3, &vivit.Options{RankTol: 2}, "RankTol must be in [0, 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := vivit.TopEigen(m, b, tc.k, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := vivit.TopEigen(nil, b, 1, nil); err == nil {
		t.Error("nil model accepted")
	}
	if _, err := vivit.Spectrum(m, &vivit.Batch{}, nil); err == nil || !strings.Contains(err.Error(), "no inputs") {
		t.Errorf("empty batch: %v", err)
	}
}

// TestKBeyondRank checks that asking for more pairs than the rank returns
// the rank's worth, never a numerically zero eigenvalue.
func TestKBeyondRank(t *testing.T) {
	c, m, b := loadCase(t, "mse_regression")
	res, err := vivit.Directional(m, b, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	blk := res.Blocks[0]
	if len(blk.Values) != c.Expected.Rank || blk.Rank != c.Expected.Rank {
		t.Fatalf("%d values, rank %d; want %d", len(blk.Values), blk.Rank, c.Expected.Rank)
	}
	if r, _ := blk.Gamma.Dims(); r != b.Len() {
		t.Errorf("gamma has %d rows", r)
	}
	if err := maxRelErr(blk.Values, c.Expected.Eigenvalues); !(err <= 1e-11) {
		t.Errorf("all eigenvalues: max rel error %.3g", err)
	}
}
