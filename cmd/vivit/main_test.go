package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vivit-go/vivit/internal/fixture"
	"github.com/vivit-go/vivit/npy"
)

// runCLI runs the command line in-process.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func relClose(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(math.Abs(want), 1e-300)
}

func TestEigenJSONFixture(t *testing.T) {
	c, err := fixture.Load("digits_mlp")
	if err != nil {
		t.Fatal(err)
	}
	vecs := filepath.Join(t.TempDir(), "v.npy")
	code, out, stderr := runCLI(t, "eigen", "--model", c.Model(), "--data", c.Batch(), "--k", "10",
		"--directional", "--eigvecs", vecs, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		NumParams   int         `json:"num_params"`
		BatchSize   int         `json:"batch_size"`
		Eigenvalues []float64   `json:"eigenvalues"`
		Gamma       [][]float64 `json:"gamma"`
		Lambda      [][]float64 `json:"lambda"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, out)
	}
	e := c.Expected
	if got.NumParams != e.NumParams || got.BatchSize != e.BatchSize {
		t.Errorf("num_params, batch_size = %d, %d, want %d, %d", got.NumParams, got.BatchSize, e.NumParams, e.BatchSize)
	}
	for j, v := range e.TopEigenvalues {
		if !relClose(got.Eigenvalues[j], v, 1e-10) {
			t.Errorf("eigenvalue %d = %.15g, want %.15g", j, got.Eigenvalues[j], v)
		}
	}
	if len(got.Gamma) != e.BatchSize || len(got.Lambda) != e.BatchSize || len(got.Gamma[0]) != 10 {
		t.Fatalf("gamma/lambda shapes wrong")
	}
	for n := range e.Gamma {
		for k := range e.Gamma[n] {
			if math.Abs(got.Gamma[n][k]-e.Gamma[n][k]) > 1e-9 || math.Abs(got.Lambda[n][k]-e.Lambda[n][k]) > 1e-9 {
				t.Fatalf("gamma/lambda[%d][%d] = %g/%g, want %g/%g", n, k, got.Gamma[n][k], got.Lambda[n][k], e.Gamma[n][k], e.Lambda[n][k])
			}
		}
	}
	arr, err := npy.ReadFile(vecs)
	if err != nil {
		t.Fatal(err)
	}
	want, err := c.Array("eigvecs")
	if err != nil {
		t.Fatal(err)
	}
	if len(arr.Shape) != 2 || arr.Shape[0] != 10 || arr.Shape[1] != e.NumParams {
		t.Fatalf("eigvecs shape %v", arr.Shape)
	}
	for i, v := range want.Data {
		if math.Abs(arr.Data[i]-v) > 1e-9 {
			t.Fatalf("eigvecs[%d] = %g, want %g", i, arr.Data[i], v)
		}
	}
}

func TestEigenGroupsJSON(t *testing.T) {
	c, err := fixture.Load("mse_regression")
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, "eigen", "--model", c.Model(), "--data", c.Batch(), "--k", "10", "--groups", "layer", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Groups []struct {
			Params      []string  `json:"params"`
			Eigenvalues []float64 `json:"eigenvalues"`
		} `json:"groups"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Groups) != len(c.Expected.PerLayer) {
		t.Fatalf("%d groups, want %d", len(got.Groups), len(c.Expected.PerLayer))
	}
	for i, want := range c.Expected.PerLayer {
		if strings.Join(got.Groups[i].Params, ",") != strings.Join(want.Params, ",") {
			t.Errorf("group %d params %v, want %v", i, got.Groups[i].Params, want.Params)
		}
		for j, v := range want.TopEigenvalues {
			if !relClose(got.Groups[i].Eigenvalues[j], v, 1e-9) {
				t.Errorf("group %d eigenvalue %d = %.15g, want %.15g", i, j, got.Groups[i].Eigenvalues[j], v)
			}
		}
	}
}

func TestSpectrumJSONFixture(t *testing.T) {
	c, err := fixture.Load("mse_regression")
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, "spectrum", "--model", c.Model(), "--data", c.Batch(), "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Eigenvalues []float64 `json:"eigenvalues"`
		Trace       float64   `json:"trace"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Eigenvalues) != c.Expected.Rank {
		t.Fatalf("%d eigenvalues, want %d", len(got.Eigenvalues), c.Expected.Rank)
	}
	for j, v := range c.Expected.Eigenvalues {
		if math.Abs(got.Eigenvalues[j]-v) > 1e-12*c.Expected.Eigenvalues[0] {
			t.Errorf("eigenvalue %d = %.15g, want %.15g", j, got.Eigenvalues[j], v)
		}
	}
	if !relClose(got.Trace, c.Expected.Stats.GGNTrace, 1e-12) {
		t.Errorf("trace %.15g, want %.15g", got.Trace, c.Expected.Stats.GGNTrace)
	}
}

func TestStatsJSONFixture(t *testing.T) {
	c, err := fixture.Load("digits_mlp")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	diag, gvar := filepath.Join(dir, "d.npy"), filepath.Join(dir, "v.npy")
	code, out, stderr := runCLI(t, "stats", "--model", c.Model(), "--data", c.Batch(), "--format", "json", "--diag-ggn", diag, "--grad-variance", gvar)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Loss               float64   `json:"loss"`
		GradNorm           float64   `json:"grad_norm"`
		PerSampleGradNorms []float64 `json:"per_sample_grad_norms"`
		GGNTrace           float64   `json:"ggn_trace"`
		Layers             []struct {
			Params   []string `json:"params"`
			GradNorm float64  `json:"grad_norm"`
			GGNTrace float64  `json:"ggn_trace"`
			SNR      *float64 `json:"snr"`
		} `json:"layers"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	s := c.Expected.Stats
	if !relClose(got.Loss, s.Loss, 1e-12) || !relClose(got.GradNorm, s.GradNorm, 1e-12) || !relClose(got.GGNTrace, s.GGNTrace, 1e-12) {
		t.Errorf("loss, grad_norm, ggn_trace = %g, %g, %g, want %g, %g, %g", got.Loss, got.GradNorm, got.GGNTrace, s.Loss, s.GradNorm, s.GGNTrace)
	}
	for i, v := range s.PerSampleGradNorms {
		if !relClose(got.PerSampleGradNorms[i], v, 1e-11) {
			t.Errorf("per-sample grad norm %d = %g, want %g", i, got.PerSampleGradNorms[i], v)
		}
	}
	for i, l := range s.Layers {
		g := got.Layers[i]
		if !relClose(g.GradNorm, l.GradNorm, 1e-11) || !relClose(g.GGNTrace, l.GGNTrace, 1e-11) || g.SNR == nil || !relClose(*g.SNR, *l.SNR, 1e-9) {
			t.Errorf("layer %d: got %+v, want %+v", i, g, l)
		}
	}
	for _, f := range []struct{ path, ref string }{{diag, "diag_ggn"}, {gvar, "grad_variance"}} {
		a, err := npy.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := c.Array(f.ref)
		if err != nil {
			t.Fatal(err)
		}
		var scale float64
		for _, v := range want.Data {
			scale = math.Max(scale, math.Abs(v))
		}
		for i, v := range want.Data {
			if math.Abs(a.Data[i]-v) > 1e-11*scale {
				t.Fatalf("%s[%d] = %g, want %g", f.ref, i, a.Data[i], v)
			}
		}
	}
}

func TestDefaultExample(t *testing.T) {
	for _, cmd := range [][]string{{"eigen"}, {"eigen", "--directional", "--k", "3"}, {"spectrum"}, {"stats"}, {"eigen", "--format", "csv", "--k", "2"}} {
		code, out, stderr := runCLI(t, cmd...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", cmd, code, stderr)
		}
		if len(out) == 0 {
			t.Errorf("%v: no output", cmd)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	c, err := fixture.Load("digits_mlp")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	badArch := filepath.Join(dir, "arch.json")
	os.WriteFile(badArch, []byte(`{"input_shape": [64], "layers": [{"type": "conv9d"}], "loss": {"type": "mse", "reduction": "mean"}}`), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "Usage"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"eigen", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"eigen", "--k", "0"}, 2, "--k must be at least 1"},
		{[]string{"eigen", "--k", "x"}, 2, "invalid value"},
		{[]string{"eigen", "--format", "xml"}, 2, "--format must be table, json or csv"},
		{[]string{"eigen", "--model", c.Model()}, 2, "--model and --data go together"},
		{[]string{"eigen", "--mc", "-1"}, 2, "--mc must be ≥ 0"},
		{[]string{"eigen", "--groups", "pairs"}, 2, "--groups must be full or layer"},
		{[]string{"eigen", "--subbatch", "1,x"}, 2, `--subbatch: "x" is not an index`},
		{[]string{"eigen", "--subbatch", "1,100000"}, 2, "out of range"},
		{[]string{"eigen", "--subbatch", "1,1"}, 1, "repeated"},
		{[]string{"eigen", "--groups", "layer", "--eigvecs", "x.npy"}, 2, "cannot be combined"},
		{[]string{"stats", "--groups", "layer"}, 2, "--groups does not apply"},
		{[]string{"eigen", "stray"}, 2, `unexpected argument "stray"`},
		{[]string{"eigen", "--model", filepath.Join(dir, "missing.safetensors"), "--data", c.Batch()}, 1, "missing.safetensors"},
		{[]string{"eigen", "--model", c.Model(), "--data", filepath.Join(dir, "nope.safetensors")}, 1, "nope.safetensors"},
		{[]string{"eigen", "--model", c.Model(), "--data", c.Batch(), "--arch", badArch}, 1, `unknown type "conv9d"`},
		{[]string{"eigen", "--model", c.Model(), "--data", c.Model()}, 1, `no tensor "inputs"`},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.msg)
		}
	}
}

func TestKLargerThanRank(t *testing.T) {
	c, err := fixture.Load("mse_regression")
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, "eigen", "--model", c.Model(), "--data", c.Batch(), "--k", "200", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "warning") || !strings.Contains(stderr, "rank 137") {
		t.Errorf("no rank warning on stderr: %q", stderr)
	}
	var got struct {
		Eigenvalues []float64 `json:"eigenvalues"`
		Warnings    []string  `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Eigenvalues) != 137 || len(got.Warnings) != 1 {
		t.Errorf("%d eigenvalues and %d warnings, want 137 and 1", len(got.Eigenvalues), len(got.Warnings))
	}
}
