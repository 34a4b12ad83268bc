package main

import (
	"regexp"
	"strings"
	"testing"
)

// helpFlag matches a flag line of a command's --help.
var helpFlag = regexp.MustCompile(`(?m)^  --([a-z0-9-]+)`)

// TestHelpFlagsAccepted parses every command's --help and runs the command
// with each flag it lists, given a cheap valid value: every flag help
// offers must be accepted (exit 0) and mean something to that command.
func TestHelpFlagsAccepted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every command once per flag")
	}
	dir := docsDir(t)
	// flagArgs gives the arguments that exercise a flag (with the flags it
	// needs); out is the file --out writes for the command.
	flagArgs := func(cmd, name string) ([]string, bool) {
		switch name {
		case "model", "data":
			return []string{"--model", "model.safetensors", "--data", "batch.safetensors"}, true
		case "arch":
			return []string{"--model", "model.pt", "--arch", "arch.json", "--data", "batch.safetensors"}, true
		case "inputs", "targets":
			return []string{"--model", "model.safetensors", "--inputs", "X.npy", "--targets", "y.npy"}, true
		case "loss":
			return []string{"--loss", "cross_entropy:sum"}, true
		case "rename":
			return []string{"--model", "model.safetensors", "--rename", "0.=0.", "--data", "batch.safetensors"}, true
		case "mc":
			return []string{"--mc", "1"}, true
		case "seed":
			return []string{"--mc", "1", "--seed", "3"}, true
		case "subbatch":
			return []string{"--subbatch", "0,5,9,17"}, true
		case "groups":
			return []string{"--groups", "layer"}, true
		case "precision":
			return []string{"--precision", "float32"}, true
		case "format":
			return []string{"--format", "json"}, true
		case "out":
			if cmd == "newton" {
				return []string{"--out", "step.npy"}, true
			}
			return []string{"--out", cmd + "-out.txt"}, true
		case "quiet", "no-timing", "directional", "no-vectors", "no-layer":
			return []string{"--" + name}, true
		case "k":
			return []string{"--k", "2"}, true
		case "eigvecs":
			return []string{"--eigvecs", cmd + "-vecs.npy"}, true
		case "plot":
			return []string{"--plot", cmd + ".png"}, true
		case "diag-ggn", "grad-variance":
			return []string{"--" + name, name + ".npy"}, true
		case "damping":
			return []string{"--damping", "skip:0.1:1"}, true
		case "seeds":
			return []string{"--seeds", "1"}, true
		case "mc-samples":
			return []string{"--mc-samples", "1"}, true
		case "subbatches":
			return []string{"--subbatches", "2"}, true
		case "batch-size":
			if cmd == "bench" {
				return []string{"--dataset", "--batch-sizes", "32", "--batch-size", "64"}, true
			}
			return []string{"--batch-size", "64"}, true
		case "memory":
			return []string{"--memory", "256MiB"}, true
		case "method":
			if cmd == "bench" {
				return []string{"--dataset", "--batch-sizes", "32", "--method", "auto"}, true
			}
			return []string{"--method", "auto"}, true
		case "dataset", "batch-sizes":
			return []string{"--dataset", "--batch-sizes", "32"}, true
		}
		return nil, false
	}
	for _, cmd := range []string{"eigen", "spectrum", "directional", "stats", "newton", "bench", "inspect"} {
		help := ok(t, dir, cmd, "--help").stdout
		flags := helpFlag.FindAllStringSubmatch(help, -1)
		if len(flags) < 5 {
			t.Fatalf("%s --help lists %d flags:\n%s", cmd, len(flags), help)
		}
		for _, f := range flags {
			name := f[1]
			args, known := flagArgs(cmd, name)
			if !known {
				t.Errorf("%s --help lists --%s, which this test does not know: add a cheap valid value", cmd, name)
				continue
			}
			full := append([]string{cmd}, args...)
			if cmd == "bench" {
				full = append(full, "--k", "2", "--seeds", "1")
				switch name {
				case "mc", "subbatch", "groups", "precision", "mc-samples", "subbatches", "no-layer", "seeds", "k":
				default: // the smallest grid
					full = append(full, "--mc-samples", "1", "--subbatches", "", "--no-layer")
				}
			}
			if r := cli(t, dir, full...); r.code != 0 {
				t.Errorf("vivit %s: %s --help lists --%s, but the command exits %d: %s", strings.Join(full, " "), cmd, name, r.code, r.stderr)
			}
		}
	}
}
