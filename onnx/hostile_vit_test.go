package onnx

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestHostileViTFiles checks that the hostile files built from the bench
// ViT (bench/reference/vit.py hostile; README.md of testdata/hostile) are
// refused in one line for the reason their change introduces, naming the
// node.
func TestHostileViTFiles(t *testing.T) {
	want := map[string][]string{
		"vit_reshape_fixed_batch.onnx":   {"/blocks.0/attn/Reshape", "batch"},
		"vit_softmax_batch_axis.onnx":    {"/blocks.0/attn/Softmax", "batch axis"},
		"vit_matmul_batch_contract.onnx": {"/blocks.0/attn/MatMul", "batch axes"},
		"vit_gather_out_of_range.onnx":   {"/blocks.0/attn/Gather_5", "out of range"},
		"vit_softmax_axis_range.onnx":    {"/blocks.0/attn/Softmax", "out of range"},
	}
	if _, err := ReadFile(filepath.Join("testdata", "hostile", "vit_valid.onnx"), nil); err != nil {
		t.Errorf("the unedited small ViT: %v", err)
	}
	for name, subs := range want {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "hostile", name)
			m, err := ReadFile(path, nil)
			if err == nil {
				t.Fatalf("accepted (%d nodes)", len(m.Net.Nodes))
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans several lines: %q", msg)
			}
			for _, s := range subs {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not contain %q", msg, s)
				}
			}
		})
	}
}
