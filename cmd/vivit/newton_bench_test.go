package main

import (
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/internal/fixture"
	"github.com/vivit-go/vivit/safetensors"
)

func TestNewtonCommand(t *testing.T) {
	c, m, b := fixture.MustOpen(t, "mse_regression")
	for _, damping := range []string{"constant:0.1", "shrink:0.01", "skip:0:1"} {
		d, _ := vivit.ParseDamping(damping)
		want, err := vivit.Newton(m, b, 6, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		step := filepath.Join(t.TempDir(), "step.safetensors")
		r := ok(t, "", "newton", "--model", c.Model(), "--data", c.Batch(), "--k", "6", "--damping", damping, "--out", step, "--format", "json", "--no-timing")
		var got newtonJSON
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("%s: %v\n%s", damping, err, r.stdout)
		}
		if len(got.Directions) != 6 || got.Seconds != nil {
			t.Fatalf("%s: %d directions, seconds %v", damping, len(got.Directions), got.Seconds)
		}
		for j, dir := range got.Directions {
			// Directions with λ ≈ 1e-3 λ₁ are less well conditioned: 1e-9.
			if !(math.Abs(dir.Coefficient-want.Coefficient[j]) <= 1e-9*(1e-3+math.Abs(want.Coefficient[j]))) || !(math.Abs(dir.Weight-want.Weights[j]) <= 1e-9) {
				t.Errorf("%s: direction %d: %+v, want coefficient %g weight %g", damping, j, dir, want.Coefficient[j], want.Weights[j])
			}
		}
		f, err := safetensors.Open(step)
		if err != nil {
			t.Fatal(err)
		}
		for i, name := range want.Layout.Names {
			data, shape, err := f.Float64s(name)
			if err != nil {
				t.Fatal(err)
			}
			if info, _ := f.Info(name); info.DType != "F64" || !slices.Equal(shape, want.Layout.Shapes[i]) {
				t.Fatalf("%s: tensor %s is %s %v, want F64 %v", damping, name, info.DType, shape, want.Layout.Shapes[i])
			}
			ref := want.Step[want.Layout.Offsets[i]:want.Layout.Offsets[i+1]]
			for p := range data {
				if !(math.Abs(data[p]-ref[p]) <= 1e-9*(1e-3+math.Abs(ref[p]))) {
					t.Fatalf("%s: %s[%d] = %g, want %g", damping, name, p, data[p], ref[p])
				}
			}
		}
		if f.Metadata["damping"] != damping {
			t.Errorf("metadata damping %q", f.Metadata["damping"])
		}
	}
	// The table goes to stdout when the step goes to --out.
	r := ok(t, "", "newton", "--k", "3", "--damping", "shrink:1", "--out", filepath.Join(t.TempDir(), "s.npy"))
	if !strings.Contains(r.stdout, "Damped Newton step (shrink:1)") {
		t.Errorf("table missing:\n%s", r.stdout)
	}
}

func TestBenchCommand(t *testing.T) {
	dir := t.TempDir()
	pngPath := filepath.Join(dir, "bench.png")
	r := ok(t, "", "bench", "--k", "4", "--seeds", "2", "--mc-samples", "1,8", "--subbatches", "2", "--plot", pngPath, "--format", "json")
	var got benchJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	names := []string{}
	for _, row := range got.Rows {
		names = append(names, row.Approximation)
	}
	if strings.Join(names, " ") != "exact mc=1 mc=8 sub=64 mc=1+sub=64 exact/layer mc=1/layer" {
		t.Fatalf("rows %v", names)
	}
	exact := got.Rows[0]
	if exact.EigRelError != 0 || !(math.Abs(exact.Overlap-1) <= 1e-12) || exact.Seeds != 1 || exact.SubBatch != 128 || exact.Seconds <= 0 {
		t.Errorf("exact row %+v", exact)
	}
	if got.Rows[1].Seeds != 2 || got.Rows[2].Overlap <= got.Rows[1].Overlap {
		t.Errorf("MC rows: %+v %+v (M=8 should overlap more than M=1)", got.Rows[1], got.Rows[2])
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if w, h := plotSize(1); img.Bounds().Dx() != w || img.Bounds().Dy() != h {
		t.Errorf("plot is %v", img.Bounds())
	}
	r = ok(t, "", "bench", "--k", "2", "--seeds", "1", "--mc-samples", "1", "--subbatches", "", "--no-layer", "--format", "csv", "--no-timing")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	// --no-timing leaves the times and memory out instead of writing zeros.
	if len(lines) != 3 || lines[0] != "approximation,mc_samples,subbatch,groups,seeds,eigenvalue_rel_error,eigenvalue_rel_error_std,overlap,overlap_std" ||
		!strings.HasPrefix(lines[1], "exact,0,128,full,1,0,0,") || !strings.HasPrefix(lines[2], "mc=1,1,128,full,1,") {
		t.Fatalf("csv:\n%s", r.stdout)
	}
	if f := strings.Split(lines[1], ","); len(f) != 9 {
		t.Errorf("exact row %q", lines[1])
	} else if v, err := strconv.ParseFloat(f[7], 64); err != nil || !(math.Abs(v-1) <= 1e-12) {
		t.Errorf("exact overlap %q", f[7])
	}
	r = ok(t, "", "bench", "--k", "2", "--seeds", "1", "--no-timing", "--format", "json", "--mc", "2")
	if strings.Contains(r.stdout, "seconds") || strings.Contains(r.stdout, "peak_mib") {
		t.Errorf("--no-timing JSON has timings:\n%s", r.stdout)
	}
	// A chosen approximation replaces the grid: exact and it.
	var chosen benchJSON
	if err := json.Unmarshal([]byte(r.stdout), &chosen); err != nil {
		t.Fatal(err)
	}
	if len(chosen.Rows) != 2 || chosen.Rows[1].Approximation != "mc=2" || !(chosen.Rows[1].Overlap > 0 && chosen.Rows[1].Overlap < 1) {
		t.Errorf("bench --mc 2: rows %+v", chosen.Rows)
	}
	r = ok(t, "", "bench", "--k", "2", "--subbatch", "0,1,2,3,4,5,6,7", "--precision", "float32", "--groups", "layer", "--format", "csv", "--no-timing")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[2], "samples=8/layer/float32,0,8,layer,1,") {
		t.Errorf("bench with knobs:\n%s", r.stdout)
	}
}

func TestNewtonBenchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"newton", "--damping", "levenberg:1"}, 2, `--damping: damping "levenberg:1": unknown kind "levenberg"`},
		{[]string{"newton", "--damping", "constant:-1"}, 2, "δ must be a finite number ≥ 0"},
		{[]string{"newton", "--k", "0"}, 2, "--k must be at least 1"},
		{[]string{"newton", "--out", "step.txt"}, 2, "--out step.txt: the file name must end in .safetensors, .pt or .npy"},
		{[]string{"bench", "--mc-samples", "1,x"}, 2, `--mc-samples: "x" is not a positive integer`},
		{[]string{"bench", "--subbatches", "0"}, 2, `--subbatches: "0" is not a positive integer`},
		{[]string{"bench", "--seeds", "0"}, 2, "--k and --seeds must be at least 1"},
		{[]string{"bench", "--plot", "b.svg"}, 2, "--plot b.svg: the file name must end in .png"},
		{[]string{"bench", "--mc", "1", "--seed", "1"}, 2, "--seed does not apply to bench"},
		{[]string{"bench", "--mc", "1", "--mc-samples", "2"}, 2, "give one or the other"},
	} {
		r := cli(t, t.TempDir(), tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and one line with %q", tc.args, r.code, r.stderr, tc.code, tc.msg)
		}
	}
}

// TestNewtonDefaultAndWarnings runs the cases of issue 17 with real
// numbers: on mse_regression with --k 20 the undamped step (constant:0)
// raises the batch loss from 0.545 to 2.70 while the quadratic model
// predicts a decrease, and the command says so; the default (auto) lowers
// it, and the library's result carries the same warnings.
func TestNewtonDefaultAndWarnings(t *testing.T) {
	c, m, b := fixture.MustOpen(t, "mse_regression")
	run := func(damping string) newtonJSON {
		t.Helper()
		args := []string{"newton", "--model", c.Model(), "--data", c.Batch(), "--k", "20", "--format", "json", "--no-timing", "--quiet"}
		if damping != "" {
			args = append(args, "--damping", damping)
		}
		r := ok(t, "", args...)
		var got newtonJSON
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		return got
	}
	undamped, def := run("constant:0"), run("")
	if def.Damping != "auto" {
		t.Errorf("default damping %q, want auto", def.Damping)
	}
	if !(undamped.LossAfter > undamped.Loss) || !(undamped.PredictedChange < 0) {
		t.Errorf("undamped: loss %g → %g, predicted %g: the case no longer shows the problem", undamped.Loss, undamped.LossAfter, undamped.PredictedChange)
	}
	joined := strings.Join(undamped.Warnings, "\n")
	for _, want := range []string{"the batch loss went up", "below 0.001 of the largest eigenvalue", "within its noise (batch SNR"} {
		if !strings.Contains(joined, want) {
			t.Errorf("undamped: warnings %q lack %q", undamped.Warnings, want)
		}
	}
	if !(def.LossAfter < def.Loss) || !(def.PredictedChange < 0) || strings.Contains(strings.Join(def.Warnings, " "), "went up") {
		t.Errorf("default: loss %g → %g, predicted %g, warnings %q", def.Loss, def.LossAfter, def.PredictedChange, def.Warnings)
	}
	st, err := vivit.Newton(m, b, 20, vivit.Damping{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Warnings) != len(undamped.Warnings)-1 || !strings.Contains(strings.Join(st.Warnings, " "), "below 0.001") {
		t.Errorf("library warnings %q, command's %q", st.Warnings, undamped.Warnings)
	}
	// The table shows the same warnings; stderr stays free of them.
	r := ok(t, "", "newton", "--model", c.Model(), "--data", c.Batch(), "--k", "20", "--damping", "constant:0", "--no-timing")
	if !strings.Contains(r.stdout, "warning: the batch loss went up") || strings.Contains(r.stderr, "warning") {
		t.Errorf("table:\n%s\nstderr: %s", r.stdout, r.stderr)
	}
	// Embedded example, --k 2 --mc 1: the default damps every direction.
	r = ok(t, "", "newton", "--k", "2", "--mc", "1", "--format", "json", "--no-timing")
	var mc newtonJSON
	if err := json.Unmarshal([]byte(r.stdout), &mc); err != nil {
		t.Fatal(err)
	}
	for _, d := range mc.Directions {
		if !(d.Damping > 0) || !(d.Weight < 1) {
			t.Errorf("--k 2 --mc 1: direction %+v undamped", d)
		}
	}
	if !(mc.LossAfter < mc.Loss) {
		t.Errorf("--k 2 --mc 1: loss %g → %g", mc.Loss, mc.LossAfter)
	}
}

// TestNewtonGroupsCommand checks --groups layer: one block of directions
// per layer, the step the library's block-diagonal one.
func TestNewtonGroupsCommand(t *testing.T) {
	r := ok(t, "", "newton", "--k", "2", "--groups", "layer", "--format", "csv", "--no-timing")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "group,k,eigenvalue") || !strings.HasPrefix(lines[1], "0,1,") || !strings.HasPrefix(lines[4], "2,2,") {
		t.Fatalf("csv:\n%s", r.stdout)
	}
	// The whole network's group is "all", as in eigen's and directional's CSV.
	r = ok(t, "", "newton", "--k", "2", "--format", "csv", "--no-timing")
	lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "all,1,") || !strings.HasPrefix(lines[2], "all,2,") {
		t.Fatalf("csv without groups:\n%s", r.stdout)
	}
}

func TestStatsPlot(t *testing.T) {
	pngPath := filepath.Join(t.TempDir(), "stats.png")
	ok(t, "", "stats", "--plot", pngPath, "--quiet")
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if w, h := plotSize(2); img.Bounds().Dx() != w || img.Bounds().Dy() != h {
		t.Errorf("plot is %v, want %d×%d", img.Bounds(), w, h)
	}
	if r := cli(t, "", "stats", "--plot", "s.jpg"); r.code != 2 || !strings.Contains(r.stderr, "must end in .png") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}
