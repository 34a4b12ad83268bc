package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
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
