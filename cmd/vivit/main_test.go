package main

// The tests build the vivit binary once (TestMain) and run it as a user
// would, on the reference fixtures and on files they write themselves in
// every input format, checking the numbers it prints in every output
// format.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vivit-go/vivit/internal/fixture"
	"github.com/vivit-go/vivit/npy"
	"github.com/vivit-go/vivit/safetensors"
	"github.com/vivit-go/vivit/torchpt"
)

var cliPath string // path of the built binary

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vivit-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cliPath = filepath.Join(dir, "vivit")
	build := exec.Command("go", "build", "-tags", testBuildTags, "-o", cliPath, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building vivit:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what a run of the binary gave.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the binary in dir (the current directory if "") with args.
func cli(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(cliPath, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("running vivit %v: %v", args, err)
	}
	if strings.Contains(r.stderr, "vivit: vivit:") {
		t.Errorf("vivit %v: a message names the program twice:\n%s", args, r.stderr)
	}
	return r
}

// ok runs the binary and fails the test unless it exits with 0.
func ok(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := cli(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("vivit %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

func load(t *testing.T, name string) *fixture.Case {
	t.Helper()
	c, err := fixture.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// relClose reports whether got is within tol of want relative to |want|;
// false whenever either is NaN or infinite.
func relClose(got, want, tol float64) bool {
	return !math.IsInf(want, 0) && math.Abs(got-want) <= tol*math.Max(math.Abs(want), 1e-300)
}

// checkValues compares got with want to tol relative to the largest |want|.
func checkValues(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var scale float64
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	if math.IsInf(scale, 0) || math.IsNaN(scale) {
		t.Fatalf("%s: reference values are not finite: %v", what, want)
	}
	for i := range want {
		if !(math.Abs(got[i]-want[i]) <= tol*scale) {
			t.Fatalf("%s[%d] = %.15g, want %.15g", what, i, got[i], want[i])
		}
	}
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, s)
	}
}

// caseFiles are the files written for one fixture in every input format.
type caseFiles struct {
	dir                  string
	model, batch, arch   string // the fixture's safetensors files and its architecture as JSON
	plain                string // the checkpoint without metadata
	pt, pth              string // the checkpoint as torch.save writes it (.pt and .pth)
	batchPT              string // the batch as a .pt dict
	inputsNPY, targetNPY string
	inputsPT, targetPT   string
}

// float32s returns a safetensors tensor's values as float32 (F32 tensors
// exactly as stored).
func float32s(t *testing.T, f *safetensors.File, name string) ([]float32, []int) {
	t.Helper()
	b, info, err := f.Bytes(name)
	if err != nil {
		t.Fatal(err)
	}
	if info.DType != safetensors.F32 {
		t.Fatalf("%s: dtype %s, want F32", name, info.DType)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, info.Shape
}

// writeCase writes the fixture's checkpoint and batch in every format the
// command reads.
func writeCase(t *testing.T, c *fixture.Case) *caseFiles {
	t.Helper()
	dir := t.TempDir()
	cf := &caseFiles{dir: dir, model: c.Model(), batch: c.Batch(),
		arch: filepath.Join(dir, "arch.json"), plain: filepath.Join(dir, "plain.safetensors"),
		pt: filepath.Join(dir, "model.pt"), pth: filepath.Join(dir, "model.pth"), batchPT: filepath.Join(dir, "batch.pt"),
		inputsNPY: filepath.Join(dir, "X.npy"), targetNPY: filepath.Join(dir, "y.npy"),
		inputsPT: filepath.Join(dir, "X.pt"), targetPT: filepath.Join(dir, "y.pt")}
	mf, err := safetensors.Open(c.Model())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cf.arch, []byte(mf.Metadata["architecture"]), 0o644); err != nil {
		t.Fatal(err)
	}
	var sts []safetensors.Tensor
	var pts []torchpt.Tensor
	for _, name := range mf.Names() {
		v, shape := float32s(t, mf, name)
		sts = append(sts, safetensors.Tensor{Name: name, Shape: shape, F32: v})
		pts = append(pts, torchpt.Tensor{Name: name, Shape: shape, F32: v})
	}
	if err := safetensors.WriteFile(cf.plain, sts, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{cf.pt, cf.pth} {
		if err := torchpt.WriteFile(p, pts); err != nil {
			t.Fatal(err)
		}
	}
	bf, err := safetensors.Open(c.Batch())
	if err != nil {
		t.Fatal(err)
	}
	x, xs := float32s(t, bf, "inputs")
	xt := torchpt.Tensor{Name: "inputs", Shape: xs, F32: x}
	var yt torchpt.Tensor
	var ynpy *npy.Array
	if y, ys, err := bf.Int64s("targets"); err == nil {
		yt = torchpt.Tensor{Name: "targets", Shape: ys, I64: y}
		writeInt64NPY(t, cf.targetNPY, y)
	} else {
		y, ys := float32s(t, bf, "targets")
		yt = torchpt.Tensor{Name: "targets", Shape: ys, F32: y}
		f := make([]float64, len(y))
		for i, v := range y {
			f[i] = float64(v)
		}
		ynpy = &npy.Array{Shape: ys, Data: f}
	}
	if err := torchpt.WriteFile(cf.batchPT, []torchpt.Tensor{xt, yt}); err != nil {
		t.Fatal(err)
	}
	xf := make([]float64, len(x))
	for i, v := range x {
		xf[i] = float64(v)
	}
	if err := npy.WriteFile(cf.inputsNPY, &npy.Array{Shape: xs, Data: xf}); err != nil {
		t.Fatal(err)
	}
	if ynpy != nil {
		if err := npy.WriteFile(cf.targetNPY, ynpy); err != nil {
			t.Fatal(err)
		}
	}
	xt.Name, yt.Name = "", ""
	if err := writeOnePT(cf.inputsPT, xt); err != nil {
		t.Fatal(err)
	}
	if err := writeOnePT(cf.targetPT, yt); err != nil {
		t.Fatal(err)
	}
	return cf
}

// writeOnePT writes a .pt file holding one tensor in a dict (torchpt
// writes state_dicts; a one-entry dict reads the same as torch.save(x)).
func writeOnePT(path string, t torchpt.Tensor) error {
	t.Name = "x"
	return torchpt.WriteFile(path, []torchpt.Tensor{t})
}

// writeInt64NPY writes a 1-D int64 array as numpy.save does.
func writeInt64NPY(t *testing.T, path string, v []int64) {
	t.Helper()
	header := fmt.Sprintf("{'descr': '<i8', 'fortran_order': False, 'shape': (%d,), }", len(v))
	pad := 64 - (10+len(header)+1)%64
	header += strings.Repeat(" ", pad%64) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	b.WriteString(header)
	binary.Write(&b, binary.LittleEndian, v)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
