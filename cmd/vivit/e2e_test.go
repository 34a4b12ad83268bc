package main

import (
	"encoding/csv"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/internal/backend"
	"github.com/vivit-go/vivit/npy"
	"github.com/vivit-go/vivit/safetensors"
	"github.com/vivit-go/vivit/torchpt"
)

// TestInputFormats runs eigen on the fixtures given in every input format
// and checks the eigenvalues against PyTorch's.
func TestInputFormats(t *testing.T) {
	for _, name := range []string{"digits_mlp", "mse_regression"} {
		t.Run(name, func(t *testing.T) {
			c := load(t, name)
			f := writeCase(t, c)
			for _, in := range [][]string{
				{"--model", f.model, "--data", f.batch},
				{"--model", f.plain, "--arch", f.arch, "--data", f.batch},
				{"--model", f.pt, "--arch", f.arch, "--data", f.batch},
				{"--model", f.pth, "--arch", f.arch, "--data", f.batchPT},
				{"--model", f.pt, "--arch", f.arch, "--inputs", f.inputsNPY, "--targets", f.targetNPY},
				{"--model", f.model, "--inputs", f.inputsPT, "--targets", f.targetPT},
			} {
				args := append([]string{"eigen", "--k", "10", "--format", "json", "--quiet"}, in...)
				r := ok(t, "", args...)
				if r.stderr != "" {
					t.Errorf("%v: stderr %q with --quiet", in, r.stderr)
				}
				var got struct {
					NumParams   int       `json:"num_params"`
					BatchSize   int       `json:"batch_size"`
					Eigenvalues []float64 `json:"eigenvalues"`
				}
				decodeJSON(t, r.stdout, &got)
				if got.NumParams != c.Expected.NumParams || got.BatchSize != c.Expected.BatchSize {
					t.Errorf("%v: num_params %d, batch_size %d", in, got.NumParams, got.BatchSize)
				}
				checkValues(t, fmt.Sprint(in), got.Eigenvalues, c.Expected.TopEigenvalues, 1e-10)
			}
		})
	}
}

// TestInputShapes checks that inputs are accepted as [N, ...input_shape]
// and flattened as [N, prod(input_shape)], on digits_mlp rewritten with an
// 8×8 input and a flatten layer.
func TestInputShapes(t *testing.T) {
	c := load(t, "digits_mlp")
	f := writeCase(t, c)
	dir := t.TempDir()
	arch := filepath.Join(dir, "arch.json")
	os.WriteFile(arch, []byte(`{"input_shape": [8, 8], "layers": [{"type": "flatten"},
		{"type": "linear", "in": 64, "out": 32}, {"type": "tanh"}, {"type": "linear", "in": 32, "out": 10}],
		"loss": {"type": "cross_entropy", "reduction": "mean"}}`), 0o644)
	mf, err := safetensors.Open(c.Model())
	if err != nil {
		t.Fatal(err)
	}
	var pts []torchpt.Tensor
	for _, name := range mf.Names() {
		v, shape := float32s(t, mf, name)
		i, _ := strconv.Atoi(name[:1])
		pts = append(pts, torchpt.Tensor{Name: fmt.Sprintf("%d%s", i+1, name[1:]), Shape: shape, F32: v})
	}
	model := filepath.Join(dir, "model.pt")
	if err := torchpt.WriteFile(model, pts); err != nil {
		t.Fatal(err)
	}
	x, err := npy.ReadFile(f.inputsNPY)
	if err != nil {
		t.Fatal(err)
	}
	x3 := filepath.Join(dir, "X3.npy")
	npy.WriteFile(x3, &npy.Array{Shape: []int{x.Shape[0], 8, 8}, Data: x.Data})
	for _, in := range []string{f.inputsNPY, x3} {
		r := ok(t, "", "eigen", "--model", model, "--arch", arch, "--inputs", in, "--targets", f.targetNPY, "--k", "10", "--format", "csv")
		recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
		if err != nil || len(recs) != 11 {
			t.Fatalf("csv: %v, %d records\n%s", err, len(recs), r.stdout)
		}
		for j, want := range c.Expected.TopEigenvalues {
			v, _ := strconv.ParseFloat(recs[j+1][2], 64)
			if !relClose(v, want, 1e-10) {
				t.Errorf("inputs %s: eigenvalue %d = %g, want %g", in, j, v, want)
			}
		}
	}
}

// tableRows returns the whitespace-separated fields of the lines of a
// table whose first field is first.
func tableRows(out, first string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == first {
			rows = append(rows, f)
		}
	}
	return rows
}

func parse(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return v
}

func TestEigenOutputs(t *testing.T) {
	c := load(t, "digits_mlp")
	e := c.Expected
	dir := t.TempDir()

	// table (6 significant digits)
	r := ok(t, "", "eigen", "--model", c.Model(), "--data", c.Batch(), "--k", "10")
	rows := tableRows(r.stdout, "all")
	if len(rows) != 10 {
		t.Fatalf("table has %d rows:\n%s", len(rows), r.stdout)
	}
	for j, row := range rows {
		if row[1] != strconv.Itoa(j+1) || !relClose(parse(t, row[2]), e.TopEigenvalues[j], 1e-6) {
			t.Errorf("table row %v, want eigenvalue %g", row, e.TopEigenvalues[j])
		}
	}
	if !strings.Contains(r.stderr, "eigensolve") {
		t.Errorf("no timing on stderr for a table: %q", r.stderr)
	}

	// CSV (full precision), to --out
	out := filepath.Join(dir, "top.csv")
	r = ok(t, "", "eigen", "--model", c.Model(), "--data", c.Batch(), "--k", "10", "--format", "csv", "--out", out)
	if r.stdout != "" {
		t.Errorf("stdout %q with --out", r.stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil || len(recs) != 11 || strings.Join(recs[0], ",") != "group,k,eigenvalue" {
		t.Fatalf("csv: %v\n%s", err, data)
	}
	for j, rec := range recs[1:] {
		if !relClose(parse(t, rec[2]), e.TopEigenvalues[j], 1e-10) {
			t.Errorf("csv row %v, want %g", rec, e.TopEigenvalues[j])
		}
	}

	// JSON with the sub-batch
	sub := make([]string, len(e.SubBatch.Indices))
	for i, v := range e.SubBatch.Indices {
		sub[i] = strconv.Itoa(v)
	}
	k := len(e.SubBatch.Eigenvalues)
	r = ok(t, "", "eigen", "--model", c.Model(), "--data", c.Batch(), "--k", strconv.Itoa(k), "--subbatch", strings.Join(sub, ","), "--format", "json", "--no-timing")
	var got struct {
		CurvatureSamples int       `json:"curvature_samples"`
		Eigenvalues      []float64 `json:"eigenvalues"`
		Seconds          any       `json:"seconds"`
	}
	decodeJSON(t, r.stdout, &got)
	if got.CurvatureSamples != len(sub) || got.Seconds != nil {
		t.Errorf("curvature_samples %d, seconds %v", got.CurvatureSamples, got.Seconds)
	}
	checkValues(t, "sub-batch eigenvalues", got.Eigenvalues, e.SubBatch.Eigenvalues, 1e-10)

	// JSON in float32: recorded, and within float32 rounding (float64
	// runs leave the field out).
	r = ok(t, "", "eigen", "--model", c.Model(), "--data", c.Batch(), "--k", "10", "--precision", "float32", "--format", "json", "--no-timing")
	var got32 struct {
		Precision   *string   `json:"precision"`
		Eigenvalues []float64 `json:"eigenvalues"`
	}
	decodeJSON(t, r.stdout, &got32)
	if got32.Precision == nil || *got32.Precision != "float32" {
		t.Errorf("precision %v, want float32", got32.Precision)
	}
	checkValues(t, "float32 eigenvalues", got32.Eigenvalues, e.TopEigenvalues, 1e-5)
	r = ok(t, "", "spectrum", "--model", c.Model(), "--data", c.Batch(), "--format", "json", "--no-timing")
	if strings.Contains(r.stdout, "precision") {
		t.Errorf("float64 spectrum output mentions the precision:\n%s", r.stdout)
	}
}

func TestEigenvectorFiles(t *testing.T) {
	c := load(t, "digits_mlp")
	e := c.Expected
	want, err := c.Array("eigvecs")
	if err != nil {
		t.Fatal(err)
	}
	p := e.NumParams
	dir := t.TempDir()
	npyFile, stFile, ptFile := filepath.Join(dir, "v.npy"), filepath.Join(dir, "v.safetensors"), filepath.Join(dir, "v.pt")
	for _, f := range []string{npyFile, stFile, ptFile} {
		ok(t, "", "eigen", "--model", c.Model(), "--data", c.Batch(), "--k", "10", "--eigvecs", f, "--quiet")
	}
	arr, err := npy.ReadFile(npyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(arr.Shape) != 2 || arr.Shape[0] != 10 || arr.Shape[1] != p {
		t.Fatalf(".npy shape %v", arr.Shape)
	}
	checkValues(t, ".npy eigenvectors", arr.Data, want.Data, 1e-9)

	// Per-tensor files: tensor [k, ...shape]; entry j is eigenvector j's part.
	st, err := safetensors.Open(stFile)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := torchpt.Open(ptFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Metadata["eigenvalues"] == "" {
		t.Error("no eigenvalues in the safetensors metadata")
	}
	for _, l := range e.ParamLayout {
		wantShape := append([]int{10}, l.Shape...)
		sv, shape, err := st.Float64s(l.Name)
		if err != nil || fmt.Sprint(shape) != fmt.Sprint(wantShape) {
			t.Fatalf("safetensors %s: shape %v, %v; want %v", l.Name, shape, err, wantShape)
		}
		tt, found := pt.Lookup(l.Name)
		if !found || fmt.Sprint(tt.Shape) != fmt.Sprint(wantShape) || tt.DType != torchpt.Float64 {
			t.Fatalf(".pt %s: %v", l.Name, tt)
		}
		for j := 0; j < 10; j++ {
			ref := want.Data[j*p+l.Offset : j*p+l.Offset+l.Numel]
			checkValues(t, l.Name+" (.safetensors)", sv[j*l.Numel:(j+1)*l.Numel], ref, 1e-9)
			checkValues(t, l.Name+" (.pt)", tt.F64[j*l.Numel:(j+1)*l.Numel], ref, 1e-9)
		}
	}
}

func TestDirectionalOutputs(t *testing.T) {
	c := load(t, "digits_mlp")
	e := c.Expected
	k := len(e.Gamma[0])
	for _, cmd := range [][]string{{"directional"}, {"eigen", "--directional"}} {
		args := append(cmd, "--model", c.Model(), "--data", c.Batch(), "--k", strconv.Itoa(k), "--format", "json")
		r := ok(t, "", args...)
		var got struct {
			Eigenvalues []float64   `json:"eigenvalues"`
			Gamma       [][]float64 `json:"gamma"`
			Lambda      [][]float64 `json:"lambda"`
			Directions  []struct {
				K              int      `json:"k"`
				Eigenvalue     float64  `json:"eigenvalue"`
				GammaMean      float64  `json:"gamma_mean"`
				GammaVariance  float64  `json:"gamma_variance"`
				GammaSNR       *float64 `json:"gamma_snr"`
				LambdaMean     float64  `json:"lambda_mean"`
				LambdaVariance float64  `json:"lambda_variance"`
				LambdaSNR      *float64 `json:"lambda_snr"`
			} `json:"directions"`
		}
		decodeJSON(t, r.stdout, &got)
		if len(got.Gamma) != e.BatchSize || len(got.Directions) != k {
			t.Fatalf("%v: %d gamma rows, %d directions", cmd, len(got.Gamma), len(got.Directions))
		}
		for n := range e.Gamma {
			checkValues(t, fmt.Sprintf("gamma[%d]", n), got.Gamma[n], e.Gamma[n], 1e-9)
			checkValues(t, fmt.Sprintf("lambda[%d]", n), got.Lambda[n], e.Lambda[n], 1e-9)
		}
		// Summaries of the reference values: mean, population variance, SNR.
		for j, d := range got.Directions {
			var gm, lm, gv, lv float64
			for n := range e.Gamma {
				gm += e.Gamma[n][j] / float64(e.BatchSize)
				lm += e.Lambda[n][j] / float64(e.BatchSize)
			}
			for n := range e.Gamma {
				gv += math.Pow(e.Gamma[n][j]-gm, 2) / float64(e.BatchSize)
				lv += math.Pow(e.Lambda[n][j]-lm, 2) / float64(e.BatchSize)
			}
			if d.K != j+1 || !relClose(d.Eigenvalue, e.TopEigenvalues[j], 1e-10) ||
				!(math.Abs(d.GammaMean-gm) <= 1e-9) || !relClose(d.GammaVariance, gv, 1e-8) || !relClose(*d.GammaSNR, gm*gm/gv, 1e-6) ||
				!relClose(d.LambdaMean, lm, 1e-8) || !relClose(d.LambdaVariance, lv, 1e-8) || !relClose(*d.LambdaSNR, lm*lm/lv, 1e-6) {
				t.Errorf("direction %d: %+v; want γ %g %g, λ %g %g", j+1, d, gm, gv, lm, lv)
			}
			// mean reduction: the batch mean of λ_nk is λ_k
			if !relClose(d.LambdaMean, d.Eigenvalue, 1e-9) {
				t.Errorf("direction %d: mean λ %g ≠ eigenvalue %g", j+1, d.LambdaMean, d.Eigenvalue)
			}
		}
	}

	// CSV: one row per (k, sample)
	r := ok(t, "", "directional", "--model", c.Model(), "--data", c.Batch(), "--k", strconv.Itoa(k), "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(recs) != 1+k*e.BatchSize || strings.Join(recs[0], ",") != "group,k,eigenvalue,sample,gamma,lambda" {
		t.Fatalf("csv: %v, %d records", err, len(recs))
	}
	for _, rec := range recs[1:] {
		j, _ := strconv.Atoi(rec[1])
		n, _ := strconv.Atoi(rec[3])
		if !(math.Abs(parse(t, rec[4])-e.Gamma[n][j-1]) <= 1e-9) || !(math.Abs(parse(t, rec[5])-e.Lambda[n][j-1]) <= 1e-9) {
			t.Fatalf("csv row %v, want γ %g λ %g", rec, e.Gamma[n][j-1], e.Lambda[n][j-1])
		}
	}

	// table: eigenvalue and mean λ columns
	r = ok(t, "", "directional", "--model", c.Model(), "--data", c.Batch(), "--k", "3")
	rows := tableRows(r.stdout, "all")
	if len(rows) != 3 {
		t.Fatalf("table:\n%s", r.stdout)
	}
	for j, row := range rows {
		if !relClose(parse(t, row[2]), e.TopEigenvalues[j], 1e-6) || !relClose(parse(t, row[6]), e.TopEigenvalues[j], 1e-4) {
			t.Errorf("table row %v", row)
		}
	}
}

func TestSpectrumOutputs(t *testing.T) {
	c := load(t, "mse_regression")
	e := c.Expected
	r := ok(t, "", "spectrum", "--model", c.Model(), "--data", c.Batch(), "--format", "json")
	var got struct {
		Eigenvalues []float64 `json:"eigenvalues"`
		Trace       float64   `json:"trace"`
		Rank        int       `json:"rank"`
		Seconds     *struct {
			Total float64 `json:"total"`
		} `json:"seconds"`
	}
	decodeJSON(t, r.stdout, &got)
	if got.Rank != e.Rank || got.Seconds == nil {
		t.Errorf("rank %d, want %d; seconds %v", got.Rank, e.Rank, got.Seconds)
	}
	checkValues(t, "spectrum", got.Eigenvalues, e.Eigenvalues, 1e-12)
	if !relClose(got.Trace, e.Stats.GGNTrace, 1e-12) {
		t.Errorf("trace %.15g, want %.15g", got.Trace, e.Stats.GGNTrace)
	}

	d := load(t, "digits_mlp")
	r = ok(t, "", "spectrum", "--model", d.Model(), "--data", d.Batch(), "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(recs) != 1+d.Expected.Rank {
		t.Fatalf("csv: %v, %d records, want %d", err, len(recs), 1+d.Expected.Rank)
	}
	vals := make([]float64, len(recs)-1)
	for i, rec := range recs[1:] {
		vals[i] = parse(t, rec[2])
	}
	checkValues(t, "spectrum csv", vals, d.Expected.Eigenvalues, 1e-12)

	r = ok(t, "", "spectrum", "--model", d.Model(), "--data", d.Batch())
	rows := tableRows(r.stdout, "all")
	if len(rows) != 1 || rows[0][1] != strconv.Itoa(d.Expected.Rank) || !relClose(parse(t, rows[0][2]), d.Expected.Stats.GGNTrace, 1e-6) ||
		!relClose(parse(t, rows[0][3]), d.Expected.Eigenvalues[0], 1e-6) {
		t.Errorf("table rows %v\n%s", rows, r.stdout)
	}
}

func TestGroupsJSON(t *testing.T) {
	c := load(t, "mse_regression")
	r := ok(t, "", "eigen", "--model", c.Model(), "--data", c.Batch(), "--k", "10", "--groups", "layer", "--format", "json")
	var got struct {
		Groups []struct {
			Params      []string  `json:"params"`
			Eigenvalues []float64 `json:"eigenvalues"`
		} `json:"groups"`
	}
	decodeJSON(t, r.stdout, &got)
	if len(got.Groups) != len(c.Expected.PerLayer) {
		t.Fatalf("%d groups, want %d", len(got.Groups), len(c.Expected.PerLayer))
	}
	for i, want := range c.Expected.PerLayer {
		if strings.Join(got.Groups[i].Params, ",") != strings.Join(want.Params, ",") {
			t.Errorf("group %d params %v, want %v", i, got.Groups[i].Params, want.Params)
		}
		checkValues(t, fmt.Sprintf("group %d", i), got.Groups[i].Eigenvalues, want.TopEigenvalues, 1e-9)
	}
}

func TestStatsOutputs(t *testing.T) {
	c := load(t, "digits_mlp")
	s := c.Expected.Stats
	dir := t.TempDir()
	diag, gvar := filepath.Join(dir, "d.npy"), filepath.Join(dir, "v.npy")
	r := ok(t, "", "stats", "--model", c.Model(), "--data", c.Batch(), "--format", "json", "--diag-ggn", diag, "--grad-variance", gvar)
	var got struct {
		Loss               float64   `json:"loss"`
		GradNorm           float64   `json:"grad_norm"`
		PerSampleGradNorms []float64 `json:"per_sample_grad_norms"`
		GGNTrace           float64   `json:"ggn_trace"`
		Layers             []struct {
			Params   []string `json:"params"`
			GradNorm float64  `json:"grad_norm"`
			GGNTrace float64  `json:"ggn_trace"`
			SNR      *float64 `json:"grad_snr"`
		} `json:"layers"`
	}
	decodeJSON(t, r.stdout, &got)
	if !relClose(got.Loss, s.Loss, 1e-12) || !relClose(got.GradNorm, s.GradNorm, 1e-12) || !relClose(got.GGNTrace, s.GGNTrace, 1e-12) {
		t.Errorf("loss, grad_norm, ggn_trace = %g, %g, %g, want %g, %g, %g", got.Loss, got.GradNorm, got.GGNTrace, s.Loss, s.GradNorm, s.GGNTrace)
	}
	checkValues(t, "per-sample gradient norms", got.PerSampleGradNorms, s.PerSampleGradNorms, 1e-11)
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
		checkValues(t, f.ref, a.Data, want.Data, 1e-11)
	}

	r = ok(t, "", "stats", "--model", c.Model(), "--data", c.Batch(), "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(recs) != 1+len(s.Layers) {
		t.Fatalf("csv: %v\n%s", err, r.stdout)
	}
	for i, l := range s.Layers {
		rec := recs[i+1]
		if rec[1] != strings.Join(l.Params, " ") || !relClose(parse(t, rec[2]), l.GradNorm, 1e-11) || !relClose(parse(t, rec[3]), l.GGNTrace, 1e-11) {
			t.Errorf("csv row %v, want %+v", rec, l)
		}
	}
	r = ok(t, "", "stats", "--model", c.Model(), "--data", c.Batch())
	if !strings.HasPrefix(r.stdout, fmt.Sprintf("loss %.6g,", s.Loss)) {
		t.Errorf("table starts %q, want loss %.6g", r.stdout[:40], s.Loss)
	}
}

// TestPlots decodes the PNG files and checks their size.
func TestPlots(t *testing.T) {
	c := load(t, "digits_mlp")
	m := load(t, "mse_regression")
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		rows int
	}{
		{[]string{"spectrum", "--model", c.Model(), "--data", c.Batch()}, 1},
		{[]string{"spectrum", "--model", m.Model(), "--data", m.Batch(), "--groups", "layer"}, 1},
		{[]string{"directional", "--model", c.Model(), "--data", c.Batch(), "--k", "4"}, 1},
		{[]string{"directional", "--model", m.Model(), "--data", m.Batch(), "--k", "3", "--groups", "layer"}, 3},
	} {
		file := filepath.Join(dir, "plot.png")
		ok(t, "", append(tc.args, "--plot", file, "--quiet")...)
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		w, h := plotSize(tc.rows)
		if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
			t.Errorf("%v: image %v, want %d×%d", tc.args, b, w, h)
		}
		// Not blank: many distinct colours.
		colours := map[[4]uint32]bool{}
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y += 3 {
			for x := b.Min.X; x < b.Max.X; x += 3 {
				r, g, bb, a := img.At(x, y).RGBA()
				colours[[4]uint32{r, g, bb, a}] = true
			}
		}
		if len(colours) < 20 {
			t.Errorf("%v: only %d colours", tc.args, len(colours))
		}
	}
}

func TestKLargerThanRank(t *testing.T) {
	c := load(t, "mse_regression")
	r := ok(t, "", "eigen", "--model", c.Model(), "--data", c.Batch(), "--k", "200", "--format", "json")
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 ||
		!strings.Contains(r.stderr, "vivit: warning: asked for 200 eigenpairs but the GGN has rank 137: returning 137") {
		t.Errorf("stderr %q", r.stderr)
	}
	var got struct {
		Eigenvalues []float64 `json:"eigenvalues"`
		Rank        *int      `json:"rank"`
		Warnings    []string  `json:"warnings"`
	}
	decodeJSON(t, r.stdout, &got)
	if len(got.Eigenvalues) != 137 || len(got.Warnings) != 1 || got.Rank == nil || *got.Rank != 137 {
		t.Errorf("%d eigenvalues, rank %v, %d warnings; want 137, 137, 1", len(got.Eigenvalues), got.Rank, len(got.Warnings))
	}
	checkValues(t, "eigenvalues", got.Eigenvalues, c.Expected.Eigenvalues, 1e-10)
}

func TestInspect(t *testing.T) {
	c := load(t, "digits_mlp")
	f := writeCase(t, c)
	r := ok(t, "", "inspect")
	for _, want := range []string{"2410 parameters", "loss cross_entropy (mean)", "0.weight [32 64]", "batch: 128 samples", "supported: yes"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect: no %q in\n%s", want, r.stdout)
		}
	}
	r = ok(t, "", "inspect", "--model", f.pt, "--arch", f.arch, "--data", f.batchPT, "--format", "json")
	var got inspectJSON
	decodeJSON(t, r.stdout, &got)
	if !got.Supported || got.NumParams != c.Expected.NumParams || got.Format != "pytorch" || len(got.Layers) != 3 ||
		got.Batch == nil || got.Batch.Size != 64 || !relClose(got.Batch.Loss, c.Expected.Loss, 1e-12) || got.Tensors[0].DType != "float32" {
		t.Errorf("inspect json: %+v", got)
	}

	// The model as the one argument without a flag, with flags on either
	// side of it (vivit inspect net.onnx, as the docs write it), is --model.
	for _, args := range [][]string{
		{"inspect", f.pt, "--arch", f.arch, "--data", f.batchPT, "--format", "json"},
		{"inspect", "--arch", f.arch, f.pt, "--data", f.batchPT, "--format", "json"},
		{"inspect", "--arch", f.arch, "--data", f.batchPT, "--format", "json", "--", f.pt},
	} {
		if o := ok(t, "", args...); o.stdout != r.stdout {
			t.Errorf("%q prints\n%s\nwant, as with --model,\n%s", args, o.stdout, r.stdout)
		}
	}

	// Unsupported layer, extra and missing tensors, wrong shape: all listed.
	bad := filepath.Join(f.dir, "bad.json")
	os.WriteFile(bad, []byte(`{"input_shape": [64], "layers": [{"type": "linear", "in": 64, "out": 16},
		{"type": "lstm", "hidden": 3}, {"type": "linear", "in": 32, "out": 10}],
		"loss": {"type": "cross_entropy", "reduction": "mean"}}`), 0o644)
	r = cli(t, "", "inspect", "--model", f.pt, "--arch", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "the model cannot be analysed: 4 problems") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{
		`layer 1 (lstm): unknown layer type "lstm" (supported: `,
		`layer 2 (linear): not checked: its input shape depends on layer 1, which failed`,
		`tensor "0.weight" has shape [32 64], the architecture needs [16 64]`,
		"supported: no",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("no %q in\n%s", want, r.stdout)
		}
	}

	// No architecture: the tensors and a suggested architecture.
	r = cli(t, "", "inspect", "--model", f.plain)
	if r.code != 1 || !strings.Contains(r.stdout, `no "architecture" in the safetensors metadata`) ||
		!strings.Contains(r.stdout, `{"type": "linear", "in": 64, "out": 32, "bias": true}`) || !strings.Contains(r.stdout, `{"type": "?"}`) {
		t.Errorf("exit %d\n%s", r.code, r.stdout)
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, cmd := range []string{"eigen", "spectrum", "directional", "stats", "inspect"} {
		for _, args := range [][]string{{cmd, "--help"}, {cmd, "-h"}, {"help", cmd}} {
			r := ok(t, "", args...)
			if !strings.HasPrefix(r.stdout, "Usage: vivit "+cmd) || !strings.Contains(r.stdout, "\nExamples:\n  vivit "+cmd) || r.stderr != "" {
				t.Errorf("%v: stdout %q, stderr %q", args, r.stdout, r.stderr)
			}
		}
	}
	r := ok(t, "", "help")
	for _, cmd := range []string{"eigen", "spectrum", "directional", "stats", "inspect", "version"} {
		if !strings.Contains(r.stdout, "\n  "+cmd+" ") {
			t.Errorf("help does not list %s", cmd)
		}
	}
	r = ok(t, "", "version")
	if !strings.HasPrefix(r.stdout, "vivit v") || !strings.Contains(r.stdout, "gonum.org/v1/gonum") {
		t.Errorf("version: %q", r.stdout)
	}
	// The machine's part: the child reads the same machine as this test.
	// Its kernels are those of its own build, which lacks the purego tag
	// this test's build may have.
	if ok, _ := regexp.MatchString(`\nbuild:  `+regexp.QuoteMeta(backend.Build)+`, (AVX-512|AVX2/FMA|portable Go) kernels\n`, r.stdout); !ok {
		t.Errorf("version: %q lacks the build line (%s, kernels)", r.stdout, backend.Build)
	}
	m, source := vivit.AvailableMemory()
	budget := vivit.FormatBytes(vivit.DefaultMemoryBudget())
	if vivit.DefaultMemoryBudget() == debug.SetMemoryLimit(-1) {
		// GOMEMLIMIT in the environment, which the child inherits.
		budget += " (the Go memory limit, GOMEMLIMIT)"
	}
	for _, want := range []string{
		fmt.Sprintf("\ncores:  %d (GOMAXPROCS ", runtime.NumCPU()),
		fmt.Sprintf("\nmemory: %s (%s); default budget %s\n", vivit.FormatBytes(m), source, budget),
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("version: %q lacks %q", r.stdout, want)
		}
	}
}

// TestStderr: no progress drawing when stderr is not a terminal; --quiet
// silences the timings too.
func TestStderr(t *testing.T) {
	r := ok(t, "", "eigen", "--k", "2")
	if strings.Contains(r.stderr, "\r") || !strings.HasPrefix(r.stderr, "vivit: ") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr %q", r.stderr)
	}
	r = ok(t, "", "eigen", "--k", "2", "--quiet")
	if r.stderr != "" {
		t.Errorf("stderr %q with --quiet", r.stderr)
	}

	// --arch over a checkpoint's own architecture: silent when they agree,
	// a warning when they differ.
	c := load(t, "digits_mlp")
	f := writeCase(t, c)
	r = ok(t, "", "eigen", "--model", c.Model(), "--arch", f.arch, "--data", c.Batch(), "--k", "2", "--format", "json")
	if r.stderr != "" {
		t.Errorf("same --arch: stderr %q", r.stderr)
	}
	sum := filepath.Join(f.dir, "sum.json")
	arch, _ := os.ReadFile(f.arch)
	os.WriteFile(sum, []byte(strings.Replace(string(arch), `"mean"`, `"sum"`, 1)), 0o644)
	r = ok(t, "", "eigen", "--model", c.Model(), "--arch", sum, "--data", c.Batch(), "--k", "2", "--format", "json")
	if !strings.Contains(r.stderr, "vivit: warning: --arch "+sum+" overrides the different architecture in the metadata of ") {
		t.Errorf("different --arch: stderr %q", r.stderr)
	}
}
