package main

import (
	"bytes"
	"flag"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vivit-go/vivit/checkpoint"
	"github.com/vivit-go/vivit/example"
	"github.com/vivit-go/vivit/npy"
	"github.com/vivit-go/vivit/safetensors"
	"github.com/vivit-go/vivit/torchpt"
)

var update = flag.Bool("update", false, "rewrite docs/examples and the example blocks of docs/guide.md from the command's output")

// docExample is a command shown in the docs with its output.
type docExample struct {
	name  string   // docs/examples/<name>.txt
	args  string   // the command line after "vivit", run in the docs directory
	code  int      // expected exit code
	files []string // pictures it writes, copied to docs/examples with -update
}

// docExamples are the commands the guide shows. They run in a directory
// holding the files the guide's export section describes, made from the
// embedded example: model.safetensors, batch.safetensors, arch.json,
// plain.safetensors (no metadata), model.pt, X.npy and y.npy; and the
// resnet_digits fixture as resnet.onnx and resnet-batch.safetensors. Timings go
// to standard error, which the docs leave out (except for failures), so
// the outputs are deterministic.
var docExamples = []docExample{
	{name: "inspect", args: "inspect"},
	{name: "eigen", args: "eigen --k 5"},
	{name: "eigen-json", args: "eigen --k 3 --format json --no-timing"},
	{name: "eigen-csv", args: "eigen --k 3 --format csv"},
	{name: "eigen-groups", args: "eigen --k 3 --groups layer"},
	{name: "eigen-mc", args: "eigen --k 3 --mc 1 --seed 7"},
	{name: "spectrum", args: "spectrum --plot spectrum.png", files: []string{"spectrum.png"}},
	{name: "directional", args: "directional --k 5 --plot directional.png", files: []string{"directional.png"}},
	{name: "stats", args: "stats"},
	{name: "stats-dataset", args: "stats --batch-size 50"},
	{name: "newton", args: "newton --k 5 --out step.safetensors"},
	{name: "bench-dataset", args: "bench --dataset --batch-sizes 16,32,64 --k 5 --mc-samples 1,5 --subbatches 4 --no-layer --plot bench-dataset.png", files: []string{"bench-dataset.png"}},
	{name: "pytorch", args: "eigen --model model.pt --arch arch.json --inputs X.npy --targets y.npy --k 3"},
	{name: "inspect-pytorch", args: "inspect --model model.pt --arch arch.json --data batch.safetensors"},
	{name: "inspect-noarch", args: "inspect --model plain.safetensors", code: 1},
	{name: "inspect-onnx", args: "inspect --model resnet.onnx --data resnet-batch.safetensors"},
	{name: "eigen-onnx", args: "eigen --model resnet.onnx --data resnet-batch.safetensors --k 3 --groups layer --loss cross_entropy:mean"},
	{name: "usage-error", args: "eigen --k 0", code: 2},
	{name: "help-eigen", args: "eigen --help"},
}

// docsDir writes the example files into a temporary directory.
func docsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("model.safetensors", example.ModelFile())
	write("batch.safetensors", example.BatchFile())
	mf, err := safetensors.Parse(example.ModelFile())
	if err != nil {
		t.Fatal(err)
	}
	write("arch.json", []byte(mf.Metadata[checkpoint.ArchitectureKey]+"\n"))
	var sts []safetensors.Tensor
	var pts []torchpt.Tensor
	for _, name := range mf.Names() {
		v, shape := float32s(t, mf, name)
		sts = append(sts, safetensors.Tensor{Name: name, Shape: shape, F32: v})
		pts = append(pts, torchpt.Tensor{Name: name, Shape: shape, F32: v})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "plain.safetensors"), sts, nil); err != nil {
		t.Fatal(err)
	}
	if err := torchpt.WriteFile(filepath.Join(dir, "model.pt"), pts); err != nil {
		t.Fatal(err)
	}
	bf, err := safetensors.Parse(example.BatchFile())
	if err != nil {
		t.Fatal(err)
	}
	x, xs, err := bf.Float64s("inputs")
	if err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(filepath.Join(dir, "X.npy"), &npy.Array{Shape: xs, Data: x}); err != nil {
		t.Fatal(err)
	}
	y, _, err := bf.Int64s("targets")
	if err != nil {
		t.Fatal(err)
	}
	writeInt64NPY(t, filepath.Join(dir, "y.npy"), y)
	for from, to := range map[string]string{"model.onnx": "resnet.onnx", "batch.safetensors": "resnet-batch.safetensors"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fixtures", "resnet_digits", from))
		if err != nil {
			t.Fatal(err)
		}
		write(to, data)
	}
	return dir
}

// transcript is what the docs show for a run: the command line, standard
// output, and standard error when the command fails.
func transcript(ex docExample, r result) string {
	s := "$ vivit " + ex.args + "\n" + r.stdout
	if ex.code != 0 {
		s += r.stderr
	}
	return s
}

// TestDocs runs every documented command and compares its output with
// docs/examples/<name>.txt and with the guide's copy of it. Regenerate
// both with: go test ./cmd/vivit -run TestDocs -update
func TestDocs(t *testing.T) {
	dir := docsDir(t)
	examples := filepath.Join("..", "..", "docs", "examples")
	guidePath := filepath.Join("..", "..", "docs", "guide.md")
	outputs := map[string]string{}
	for _, ex := range docExamples {
		r := cli(t, dir, strings.Fields(ex.args)...)
		if r.code != ex.code {
			t.Fatalf("vivit %s: exit %d, want %d\n%s", ex.args, r.code, ex.code, r.stderr)
		}
		got := transcript(ex, r)
		outputs[ex.name] = got
		file := filepath.Join(examples, ex.name+".txt")
		for _, pic := range ex.files {
			checkPNG(t, filepath.Join(dir, pic))
		}
		if *update {
			if err := os.MkdirAll(examples, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, pic := range ex.files {
				data, err := os.ReadFile(filepath.Join(dir, pic))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(examples, pic), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (regenerate with -update)", err)
		}
		if err := sameOutput(got, string(want)); err != nil {
			t.Errorf("vivit %s differs from %s: %v\n(regenerate with go test ./cmd/vivit -run TestDocs -update)", ex.args, file, err)
		}
		for _, pic := range ex.files {
			checkPNG(t, filepath.Join(examples, pic))
		}
	}

	// The guide embeds each transcript between <!-- example NAME --> and
	// <!-- /example --> in a fenced block.
	guide, err := os.ReadFile(guidePath)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	var bad []string
	newGuide := exampleBlock.ReplaceAllStringFunc(string(guide), func(block string) string {
		name := exampleBlock.FindStringSubmatch(block)[1]
		out, ok := outputs[name]
		if !ok {
			bad = append(bad, "unknown example "+name)
			return block
		}
		used[name] = true
		fresh := fmt.Sprintf("<!-- example %s -->\n```text\n%s```\n<!-- /example -->", name, out)
		if !*update {
			inner := exampleBlock.FindStringSubmatch(block)[2]
			if err := sameOutput(out, inner); err != nil {
				bad = append(bad, fmt.Sprintf("example %s: %v", name, err))
			}
		}
		return fresh
	})
	for _, ex := range docExamples {
		if !used[ex.name] {
			bad = append(bad, "example "+ex.name+" is not in the guide")
		}
	}
	if *update {
		if err := os.WriteFile(guidePath, []byte(newGuide), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range bad {
		t.Errorf("docs/guide.md: %s (regenerate with go test ./cmd/vivit -run TestDocs -update)", b)
	}
}

var exampleBlock = regexp.MustCompile("(?s)<!-- example ([a-z0-9-]+) -->\n```text\n(.*?)```\n<!-- /example -->")

func checkPNG(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if w, h := plotSize(1); img.Bounds().Dx() != w || img.Bounds().Dy() != h {
		t.Errorf("%s: %v, want %d×%d", path, img.Bounds(), w, h)
	}
}

var number = regexp.MustCompile(`[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?`)

// sameOutput compares two transcripts field by field, allowing numbers
// that are not integers to differ by one unit in their last printed digit
// or 1e-6 relative (eigensolvers may change the last bits), and ignoring
// alignment.
func sameOutput(got, want string) error {
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	if len(gl) != len(wl) {
		return fmt.Errorf("%d lines, want %d", len(gl), len(wl))
	}
	for i := range gl {
		gf, wf := strings.Fields(gl[i]), strings.Fields(wl[i])
		if len(gf) != len(wf) {
			return fmt.Errorf("line %d: %q, want %q", i+1, gl[i], wl[i])
		}
		for j := range gf {
			if !sameField(gf[j], wf[j]) {
				return fmt.Errorf("line %d: %q, want %q", i+1, gl[i], wl[i])
			}
		}
	}
	return nil
}

func sameField(got, want string) bool {
	if got == want {
		return true
	}
	gn, wn := number.FindAllStringIndex(got, -1), number.FindAllStringIndex(want, -1)
	if len(gn) != len(wn) || len(gn) == 0 {
		return false
	}
	gs, ws := number.Split(got, -1), number.Split(want, -1)
	for i := range gs {
		if gs[i] != ws[i] {
			return false
		}
	}
	for i := range gn {
		g, w := got[gn[i][0]:gn[i][1]], want[wn[i][0]:wn[i][1]]
		if g == w {
			continue
		}
		if !strings.ContainsAny(w, ".eE") || !strings.ContainsAny(g, ".eE") {
			return false // integers must agree
		}
		gv, err1 := strconv.ParseFloat(g, 64)
		wv, err2 := strconv.ParseFloat(w, 64)
		if err1 != nil || err2 != nil || !(math.Abs(gv-wv) <= math.Max(1e-6*math.Abs(wv), 1.5*lastDigit(w))) {
			return false
		}
	}
	return true
}

// lastDigit returns the value of one unit in the last printed digit of a
// number such as "1.2345e-03" (1e-7) or "80.6" (0.1).
func lastDigit(s string) float64 {
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		exp, _ = strconv.Atoi(s[i+1:])
	}
	decimals := 0
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		decimals = len(mant) - i - 1
	}
	return math.Pow(10, float64(exp-decimals))
}

func TestSameOutput(t *testing.T) {
	for _, tc := range []struct {
		got, want string
		same      bool
	}{
		{"a 1.234567e+00 b", "a   1.234568e+00 b", true},
		{"a 1.234567e+00", "a 1.234569e+00", false},
		{"rank 953", "rank 954", false},
		{"80.6%", "80.7%", true},
		{"80.6%", "80.9%", false},
		{`"loss": 0.32833915948867798,`, `"loss": 0.3283391594886781,`, true},
		{"x\ny", "x", false},
		{"γ 1.0", "λ 1.0", false},
	} {
		if err := sameOutput(tc.got, tc.want); (err == nil) != tc.same {
			t.Errorf("sameOutput(%q, %q) = %v", tc.got, tc.want, err)
		}
	}
}
