package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vivit-go/vivit/npy"
	"github.com/vivit-go/vivit/safetensors"
)

// TestONNXCommands runs the commands on the graph fixtures as a user
// would: eigenvectors by parameter name and the statistics' per-parameter
// files against PyTorch's, --loss from the command line, layer groups by
// module.
func TestONNXCommands(t *testing.T) {
	for _, name := range []string{"resnet_digits", "vit_digits"} {
		t.Run(name, func(t *testing.T) {
			c := load(t, name)
			e := c.Expected
			model, batch := c.Model(), c.Batch()
			dir := t.TempDir()
			loss := e.LossSpec.Type + ":" + e.LossSpec.Reduction
			vecs := filepath.Join(dir, "vecs.safetensors")
			r := ok(t, "", "eigen", "--model", model, "--data", batch, "--loss", loss, "--k", fmt.Sprint(e.K), "--format", "json", "--quiet", "--eigvecs", vecs)
			var got struct {
				Eigenvalues []float64 `json:"eigenvalues"`
			}
			decodeJSON(t, r.stdout, &got)
			checkValues(t, "eigenvalues", got.Eigenvalues, e.TopEigenvalues, 1e-10)

			want, err := c.Array("eigvecs")
			if err != nil {
				t.Fatal(err)
			}
			f, err := safetensors.Open(vecs)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range e.ParamLayout {
				data, shape, err := f.Float64s(p.Name)
				if err != nil {
					t.Fatalf("%s: %v", p.Name, err)
				}
				if len(shape) != len(p.Shape)+1 || shape[0] != e.K {
					t.Fatalf("%s: shape %v, want [%d %v]", p.Name, shape, e.K, p.Shape)
				}
				for j := 0; j < e.K; j++ {
					ref := want.Data[j*e.NumParams+p.Offset : j*e.NumParams+p.Offset+p.Numel]
					checkValues(t, fmt.Sprintf("eigenvector %d, %s", j, p.Name), data[j*p.Numel:(j+1)*p.Numel], ref, 1e-8)
				}
			}

			diag := filepath.Join(dir, "diag.safetensors")
			gvar := filepath.Join(dir, "var.npy")
			ok(t, "", "stats", "--model", model, "--data", batch, "--loss", loss, "--quiet", "--diag-ggn", diag, "--grad-variance", gvar)
			wantDiag, err := c.Array("diag_ggn")
			if err != nil {
				t.Fatal(err)
			}
			if f, err = safetensors.Open(diag); err != nil {
				t.Fatal(err)
			}
			for _, p := range e.ParamLayout {
				data, _, err := f.Float64s(p.Name)
				if err != nil {
					t.Fatalf("%s: %v", p.Name, err)
				}
				checkValues(t, "diagonal "+p.Name, data, wantDiag.Data[p.Offset:p.Offset+p.Numel], 1e-10)
			}
			v, err := npy.ReadFile(gvar)
			if err != nil {
				t.Fatal(err)
			}
			wantVar, err := c.Array("grad_variance")
			if err != nil {
				t.Fatal(err)
			}
			checkValues(t, "gradient variance", v.Data, wantVar.Data, 1e-10)

			r = ok(t, "", "eigen", "--model", model, "--data", batch, "--loss", loss, "--k", "3", "--groups", "layer", "--format", "csv", "--quiet")
			for _, pl := range e.PerLayer {
				if !strings.Contains(r.stdout, "\n"+string(pl.Layer)+",") {
					t.Errorf("no rows for module %s in\n%s", pl.Layer, r.stdout)
				}
			}
		})
	}
}

// TestONNXRefusals checks the one-line refusals of the command line: an
// unsupported model exits 1 naming the node, and --arch with an ONNX
// model is a usage error.
func TestONNXRefusals(t *testing.T) {
	r := cli(t, "", "eigen", "--model", filepath.Join("..", "..", "onnx", "testdata", "hostile", "unsupported_op_hardmax.onnx"), "--data", filepath.Join("..", "..", "testdata", "fixtures", "resnet_digits", "batch.safetensors"))
	if r.code != 1 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "(Hardmax): operator not supported") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	c := load(t, "resnet_digits")
	r = cli(t, "", "eigen", "--model", c.Model(), "--arch", "x.json", "--data", c.Batch())
	if r.code != 2 || !strings.Contains(r.stderr, "--arch") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = cli(t, "", "eigen", "--model", c.Model(), "--loss", "hinge", "--data", c.Batch())
	if r.code != 2 || !strings.Contains(r.stderr, "--loss") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}
