package main

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vivit-go/vivit/npy"
)

// TestBatchSize checks --batch-size on the embedded example (128 samples):
// every method gives the eigenvalues and spectrum of the one-batch run,
// the method is reported on standard error, and bad values are refused.
func TestBatchSize(t *testing.T) {
	type eig struct {
		Eigenvalues []float64 `json:"eigenvalues"`
		Loss        float64   `json:"loss"`
		Side        string    `json:"side"`
	}
	parse := func(r result) eig {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var e eig
		if err := json.Unmarshal([]byte(r.stdout), &e); err != nil {
			t.Fatalf("%v in %s", err, r.stdout)
		}
		return e
	}
	want := parse(cli(t, "", "eigen", "--k", "4", "--format", "json"))
	for _, tc := range []struct{ method, note string }{
		{"auto", "method lanczos"}, // D = 2,410 > 60·k: cheaper than the D×D accumulation
		{"parameters", "method parameters"},
		{"lanczos", "method lanczos"},
	} {
		r := cli(t, "", "eigen", "--k", "4", "--format", "json", "--batch-size", "48", "--method", tc.method, "--memory", "256MiB")
		got := parse(r)
		if !strings.Contains(r.stderr, tc.note) || !strings.Contains(r.stderr, "3 batches of 48") {
			t.Errorf("--method %s: stderr %q, want it to name %q and the batches", tc.method, r.stderr, tc.note)
		}
		tol := 1e-12
		if tc.method != "parameters" {
			tol = 1e-9
		}
		if len(got.Eigenvalues) != len(want.Eigenvalues) {
			t.Fatalf("--method %s: %d eigenvalues, want %d", tc.method, len(got.Eigenvalues), len(want.Eigenvalues))
		}
		for i := range want.Eigenvalues {
			if e := math.Abs(got.Eigenvalues[i]-want.Eigenvalues[i]) / want.Eigenvalues[0]; !(e <= tol) {
				t.Errorf("--method %s: eigenvalue %d = %.17g, want %.17g", tc.method, i, got.Eigenvalues[i], want.Eigenvalues[i])
			}
		}
		if !(math.Abs(got.Loss-want.Loss) <= 1e-12*want.Loss) || got.Side != "parameters" {
			t.Errorf("--method %s: loss %v (want %v), side %q", tc.method, got.Loss, want.Loss, got.Side)
		}
		// The table's header says whether a D×D matrix was formed.
		header := "solved on the parameter side, D×D)"
		if tc.note == "method lanczos" {
			header = "block Lanczos on the parameter side, no D×D matrix)"
		}
		if r := cli(t, "", "eigen", "--k", "4", "--batch-size", "48", "--method", tc.method); !strings.Contains(r.stdout, header) {
			t.Errorf("--method %s: table %q, want its header to end in %q", tc.method, r.stdout, header)
		}
	}
	type spec struct {
		Eigenvalues []float64 `json:"eigenvalues"`
		Trace       float64   `json:"trace"`
	}
	var s1, s2 spec
	for i, args := range [][]string{{"spectrum", "--format", "json"}, {"spectrum", "--format", "json", "--batch-size", "50"}} {
		r := cli(t, "", args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		if err := json.Unmarshal([]byte(r.stdout), []*spec{&s1, &s2}[i]); err != nil {
			t.Fatal(err)
		}
	}
	if len(s1.Eigenvalues) != len(s2.Eigenvalues) || !(math.Abs(s1.Trace-s2.Trace) <= 1e-12*s1.Trace) {
		t.Errorf("spectrum --batch-size 50: %d values, trace %v; want %d, %v", len(s2.Eigenvalues), s2.Trace, len(s1.Eigenvalues), s1.Trace)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"eigen", "--batch-size", "-2"}, "--batch-size"},
		{[]string{"eigen", "--batch-size", "8", "--memory", "lots"}, "--memory"},
		{[]string{"eigen", "--batch-size", "8", "--method", "magic"}, "--method"},
		{[]string{"eigen", "--method", "lanczos"}, "needs --batch-size"},
		{[]string{"eigen", "--batch-size", "8", "--subbatch", "1,2"}, "--subbatch"},
		{[]string{"eigen", "--directional", "--batch-size", "8"}, "one batch"},
		{[]string{"spectrum", "--batch-size", "8", "--method", "lanczos"}, "spectrum"},
	} {
		r := cli(t, "", tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error naming %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for s, want := range map[string]int64{"256MiB": 256 << 20, "2GiB": 2 << 30, "1000": 1000, "1.5 KiB": 1536, "3MB": 3e6} {
		if got, err := parseByteSize(s); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "-1MiB", "0", "MiB", "1XB", "NaN"} {
		if _, err := parseByteSize(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

// TestStatsBatchSize checks 'stats --batch-size' on the embedded example
// (128 samples in batches of 50, 50 and 28): the statistics of the whole
// data set equal those of the one-batch run to 1e-12, exact and
// Monte-Carlo, in JSON and in the per-parameter files.
func TestStatsBatchSize(t *testing.T) {
	type layer struct {
		GradNorm float64  `json:"grad_norm"`
		GGNTrace float64  `json:"ggn_trace"`
		SNR      *float64 `json:"grad_snr"`
	}
	type stats struct {
		Loss     float64   `json:"loss"`
		GradNorm float64   `json:"grad_norm"`
		Norms    []float64 `json:"per_sample_grad_norms"`
		Trace    float64   `json:"ggn_trace"`
		SNR      *float64  `json:"grad_snr"`
		Layers   []layer   `json:"layers"`
	}
	dir := t.TempDir()
	close := func(what string, got, want float64) {
		t.Helper()
		if !(math.Abs(got-want) <= 1e-12*math.Abs(want)) {
			t.Errorf("%s: %.17g, want %.17g", what, got, want)
		}
	}
	for _, mc := range [][]string{nil, {"--mc", "1", "--seed", "3"}} {
		var runs [2]stats
		var vecs [2][2][]float64
		for i, bs := range []string{"0", "50"} {
			files := []string{filepath.Join(dir, "diag"+bs+".npy"), filepath.Join(dir, "var"+bs+".npy")}
			args := append([]string{"stats", "--format", "json", "--batch-size", bs, "--diag-ggn", files[0], "--grad-variance", files[1]}, mc...)
			r := ok(t, "", args...)
			if err := json.Unmarshal([]byte(r.stdout), &runs[i]); err != nil {
				t.Fatalf("%v in %s", err, r.stdout)
			}
			if bs == "50" && !strings.Contains(r.stderr, "128 samples in 3 batches of 50") {
				t.Errorf("stderr %q, want the batches named", r.stderr)
			}
			for j, f := range files {
				a, err := npy.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				vecs[i][j] = a.Data
			}
		}
		one, st := runs[0], runs[1]
		close("loss", st.Loss, one.Loss)
		close("gradient norm", st.GradNorm, one.GradNorm)
		close("trace", st.Trace, one.Trace)
		close("SNR", *st.SNR, *one.SNR)
		if len(st.Norms) != 128 || len(st.Layers) != len(one.Layers) {
			t.Fatalf("%d per-sample norms, %d layers", len(st.Norms), len(st.Layers))
		}
		for i, v := range one.Norms {
			close(fmt.Sprintf("per-sample gradient norm %d", i), st.Norms[i], v)
		}
		for i, l := range one.Layers {
			close("layer gradient norm", st.Layers[i].GradNorm, l.GradNorm)
			close("layer trace", st.Layers[i].GGNTrace, l.GGNTrace)
			close("layer SNR", *st.Layers[i].SNR, *l.SNR)
		}
		for j, what := range []string{"GGN diagonal", "gradient variance"} {
			var scale float64
			for _, v := range vecs[0][j] {
				scale = math.Max(scale, math.Abs(v))
			}
			for i, v := range vecs[0][j] {
				if !(math.Abs(vecs[1][j][i]-v) <= 1e-12*scale) {
					t.Errorf("%v %s[%d]: %.17g, want %.17g", mc, what, i, vecs[1][j][i], v)
					break
				}
			}
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"stats", "--batch-size", "-1"}, "--batch-size must be ≥ 0"},
		{[]string{"stats", "--batch-size", "8", "--subbatch", "1,2"}, "--subbatch does not combine with --batch-size"},
		{[]string{"stats", "--batch-size", "128", "--memory", "100KiB"}, "batches of 128"},
	} {
		r := cli(t, "", tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error naming %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
