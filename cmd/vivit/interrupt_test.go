package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/vivit-go/vivit/bench"
	"github.com/vivit-go/vivit/checkpoint"
	"github.com/vivit-go/vivit/safetensors"
)

// writeLongCase writes the 3c3d network (895,210 parameters) and a batch
// of n samples: an exact directional run on them takes seconds.
func writeLongCase(t *testing.T, dir string, n int) (modelPath, batchPath string) {
	t.Helper()
	m, b, err := bench.ThreeC3D(n, 1)
	if err != nil {
		t.Fatal(err)
	}
	arch, err := json.Marshal(map[string]any{"input_shape": []int{3, 32, 32}, "layers": bench.ThreeC3DLayers(),
		"loss": map[string]string{"type": "cross_entropy", "reduction": "mean"}})
	if err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		ts = append(ts, safetensors.Tensor{Name: p.Name, Shape: p.Shape, F64: p.Data})
	}
	modelPath = filepath.Join(dir, "3c3d.safetensors")
	if err := safetensors.WriteFile(modelPath, ts, map[string]string{checkpoint.ArchitectureKey: string(arch)}); err != nil {
		t.Fatal(err)
	}
	y := make([]int64, n)
	for i, c := range b.Targets.Classes {
		y[i] = int64(c)
	}
	batchPath = filepath.Join(dir, "batch.safetensors")
	if err := safetensors.WriteFile(batchPath, []safetensors.Tensor{
		{Name: "inputs", Shape: []int{n, 3, 32, 32}, F64: b.Inputs.RawMatrix().Data},
		{Name: "targets", Shape: []int{n}, I64: y},
	}, nil); err != nil {
		t.Fatal(err)
	}
	return modelPath, batchPath
}

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) map[string]bool {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range es {
		names[e.Name()] = true
	}
	return names
}

// TestInterrupted sends SIGINT and SIGTERM to four commands at a fifth and
// at two fifths of their run on 3c3d (timed beforehand), each
// writing --out, --eigvecs, --plot, --diag-ggn, --grad-variance or a
// Newton step over existing files: each exits promptly (within a second,
// or a quarter of a run on a loaded machine) with 130 or 143, the files are byte for byte as they were, and no other file
// (partial or temporary) is left.
func TestInterrupted(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send")
	}
	if testing.Short() {
		t.Skip("runs 3c3d for seconds")
	}
	dir := t.TempDir()
	modelPath, batchPath := writeLongCase(t, dir, 16)
	outputs := map[string][]byte{
		"out.json":         []byte("previous results\n"),
		"vecs.npy":         []byte("previous eigenvectors\n"),
		"plot.png":         []byte("previous plot\n"),
		"diag.npy":         []byte("previous diagonal\n"),
		"gvar.npy":         []byte("previous variance\n"),
		"step.safetensors": []byte("previous step\n"),
	}
	for name, data := range outputs {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := dirNames(t, dir)
	restore := func(t *testing.T) {
		t.Helper()
		for name, data := range outputs {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(t *testing.T) {
		t.Helper()
		for name, data := range outputs {
			if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s: %q, %v; want it unchanged", name, got, err)
			}
		}
		after := dirNames(t, dir)
		for name := range after {
			if !before[name] {
				t.Errorf("left behind: %s", name)
			}
		}
	}
	data := []string{"--model", modelPath, "--data", batchPath}
	model := append([]string{"--format", "json", "--out", filepath.Join(dir, "out.json")}, data...)
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		code int
		args []string
	}{
		{"directional SIGINT", syscall.SIGINT, 130, append([]string{"directional", "--k", "10", "--plot", filepath.Join(dir, "plot.png")}, model...)},
		{"eigen SIGTERM", syscall.SIGTERM, 143, append([]string{"eigen", "--k", "10", "--directional", "--eigvecs", filepath.Join(dir, "vecs.npy")}, model...)},
		{"stats SIGINT", syscall.SIGINT, 130, append([]string{"stats", "--diag-ggn", filepath.Join(dir, "diag.npy"), "--grad-variance", filepath.Join(dir, "gvar.npy")}, model...)},
		{"newton SIGINT", syscall.SIGINT, 130, append([]string{"newton", "--k", "10", "--out", filepath.Join(dir, "step.safetensors")}, data...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Time a whole run (its outputs elsewhere; the faster of two),
			// then send the signal at a fifth and at two fifths of that
			// time, earlier if the run finishes first.
			full := min(timeWholeRun(t, tc.args, dir), timeWholeRun(t, tc.args, dir))
			// signal runs the command, sends the signal after the delay and
			// returns how the command ended and how long after the signal.
			signal := func(after time.Duration) (error, time.Duration, string) {
				cmd := exec.Command(cliPath, tc.args...)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(after)
				sent := time.Now()
				if err := cmd.Process.Signal(tc.sig); err != nil {
					t.Fatal(err)
				}
				err := cmd.Wait()
				return err, time.Since(sent), stderr.String()
			}
			for _, at := range []time.Duration{full / 5, 2 * full / 5} {
				after := at
				restore(t)
				err, took, stderr := signal(after)
				for err == nil && after > full/40 {
					// The run finished first, replacing the files: again,
					// earlier.
					restore(t)
					after /= 2
					err, took, stderr = signal(after)
				}
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != tc.code {
					t.Fatalf("signal after %v (the run takes %v): %v, want exit %d\n%s", after, full, err, tc.code, stderr)
				}
				// Promptly: within a second, or a quarter of a whole run
				// when the machine is so loaded that a run takes longer
				// than four seconds (the same load slows both).
				if limit := max(time.Second, full/4); !(took < limit) {
					t.Errorf("signal after %v: exited %v after it, want under %v (the run takes %v)", after, took, limit, full)
				}
				check(t)
				t.Logf("signal after %v: exit %d %v after it", after, tc.code, took)
			}
		})
	}
}

// timeWholeRun runs the command to its end with its outputs redirected
// from dir to a scratch directory and returns how long it took.
func timeWholeRun(t *testing.T, args []string, dir string) time.Duration {
	t.Helper()
	scratch := t.TempDir()
	moved := make([]string, len(args))
	for i, a := range args {
		moved[i] = a
		if i > 0 && (args[i-1] == "--out" || args[i-1] == "--plot" || args[i-1] == "--eigvecs" || args[i-1] == "--diag-ggn" || args[i-1] == "--grad-variance") {
			moved[i] = filepath.Join(scratch, filepath.Base(a))
		}
	}
	t0 := time.Now()
	ok(t, dir, moved...)
	return time.Since(t0)
}

// TestFailedRunKeepsOutputs: a run that fails (here on a batch of the
// wrong shape) leaves existing output files byte for byte, and a run that
// succeeds replaces them and leaves no temporary file.
func TestFailedRunKeepsOutputs(t *testing.T) {
	dir := t.TempDir()
	out, vecs := filepath.Join(dir, "out.json"), filepath.Join(dir, "vecs.npy")
	old := []byte("previous results\n")
	for _, p := range []string{out, vecs} {
		if err := os.WriteFile(p, old, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	modelPath, batchPath := writeLongCase(t, dir, 2)
	before := dirNames(t, dir)
	// A batch of 16×16 images does not fit 3c3d.
	wrong := filepath.Join(dir, "wrong.safetensors")
	if err := safetensors.WriteFile(wrong, []safetensors.Tensor{
		{Name: "inputs", Shape: []int{2, 3, 16, 16}, F64: make([]float64, 2*3*16*16)},
		{Name: "targets", Shape: []int{2}, I64: []int64{0, 1}},
	}, nil); err != nil {
		t.Fatal(err)
	}
	before = dirNames(t, dir)
	r := cli(t, dir, "eigen", "--model", modelPath, "--data", wrong, "--out", out, "--eigvecs", vecs)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	for _, p := range []string{out, vecs} {
		if got, _ := os.ReadFile(p); !bytes.Equal(got, old) {
			t.Fatalf("%s holds %q after a failed run", p, got)
		}
	}
	ok(t, dir, "eigen", "--model", modelPath, "--data", batchPath, "--k", "2", "--format", "json", "--out", out, "--eigvecs", vecs)
	for _, p := range []string{out, vecs} {
		if got, _ := os.ReadFile(p); bytes.Equal(got, old) || len(got) == 0 {
			t.Fatalf("%s was not replaced", p)
		}
	}
	for name := range dirNames(t, dir) {
		if !before[name] {
			t.Errorf("left behind: %s", name)
		}
	}
}
