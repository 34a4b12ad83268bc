package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/checkpoint"
	"github.com/vivit-go/vivit/internal/atomicfile"
)

var errHelp = errors.New("help requested")

// Flag groups, in the order --help lists them.
const (
	groupInput  = "Input"
	groupKnobs  = "Approximation"
	groupOutput = "Output"
)

// common holds the flags the commands share and the parsing around them.
type common struct {
	name     string
	summary  string
	examples string
	fs       *flag.FlagSet
	stdout   io.Writer
	stderr   io.Writer
	order    []string          // flag names in the order of definition
	groups   map[string]string // flag name → group
	formats  []string          // accepted --format values

	// input
	model, arch, data, inputs, targets, loss string
	renames                                  []checkpoint.Rename
	// approximation knobs (computing commands)
	mc        int
	seed      uint64
	subbatch  string
	groupsBy  string
	precision string
	memory    string
	// output
	format   string
	out      string
	quiet    bool
	noTiming bool

	progress *progress
}

// knobs says whether a command takes the approximation knobs.
type knobs bool

const (
	withKnobs    knobs = true
	withoutKnobs knobs = false
)

func newCommon(name, summary, examples string, stdout, stderr io.Writer, k knobs) *common {
	c := &common{
		name: name, summary: summary, examples: examples,
		fs:     flag.NewFlagSet("vivit "+name, flag.ContinueOnError),
		stdout: stdout, stderr: stderr, groups: map[string]string{},
		formats:  []string{"table", "json", "csv"},
		progress: &progress{},
	}
	c.fs.SetOutput(io.Discard) // errors are reported by run, help by parse
	c.fs.Usage = func() {}
	c.str(&c.model, "model", "", groupInput, "model `FILE`: an ONNX graph (.onnx, exported as docs/formats.md says), a .safetensors checkpoint (architecture in its metadata, or --arch) or a PyTorch .pt/.pth state_dict (needs --arch); also accepted as the one argument without a flag (vivit inspect net.onnx); default: the embedded example")
	c.fs.Func("rename", "rename checkpoint tensors `OLD=NEW`: replace the name prefix OLD by NEW before matching the architecture (module.= strips nn.DataParallel's prefix); repeatable", func(v string) error {
		r, err := checkpoint.ParseRename(v)
		if err != nil {
			return err
		}
		c.renames = append(c.renames, r)
		return nil
	})
	c.add("rename", groupInput)
	c.str(&c.loss, "loss", "", groupInput, "the loss `TYPE[:REDUCTION]`: cross_entropy or mse, mean (default) or sum; default: the model's own (an architecture's loss, an ONNX model's metadata vivit.loss), else cross_entropy:mean")
	c.str(&c.arch, "arch", "", groupInput, "architecture JSON `FILE` (docs/formats.md), for checkpoints saved without it; overrides the checkpoint's own")
	c.str(&c.data, "data", "", groupInput, "batch `FILE`: .safetensors (or .pt) with tensors \"inputs\" and \"targets\"")
	c.str(&c.inputs, "inputs", "", groupInput, "batch inputs as a .npy (or .pt) `FILE` of shape [N, ...input_shape], or flattened per sample; with --targets")
	c.str(&c.targets, "targets", "", groupInput, "batch targets as a .npy (or .pt) `FILE`: integer class indices [N] (cross_entropy) or floats [N, C] (mse)")
	if k {
		c.fs.IntVar(&c.mc, "mc", 0, "Monte-Carlo samples `M` of the loss Hessian per sample (0 = exact GGN)")
		c.add("mc", groupKnobs)
		c.fs.Uint64Var(&c.seed, "seed", 0, "`SEED` of the Monte-Carlo draws (needs --mc)")
		c.add("seed", groupKnobs)
		c.str(&c.subbatch, "subbatch", "", groupKnobs, "curvature from these samples only: comma-separated 0-based `INDICES` and inclusive ranges, e.g. 0-31,40,50-59 (gradients still use the whole batch)")
		c.str(&c.groupsBy, "groups", "full", groupKnobs, "parameter blocks `MODE`: full (one GGN for the whole network) or layer (block-diagonal, one block per layer)")
		c.str(&c.memory, "memory", "", groupKnobs, "memory `SIZE` (2GiB, 512MiB, bytes) for the whole run: activations, factors, Gram matrix, eigensolver, outputs; large batches are then processed in chunks of samples, and a run that cannot fit is refused up front with the memory it needs (docs/scaling.md); also the Go runtime's memory limit; default: three quarters of the physical memory, or of the cgroup's memory limit (a container's, a batch job's) when smaller, or GOMEMLIMIT when lower still")
		c.str(&c.precision, "precision", "float64", groupKnobs, "`TYPE` of the largest products (the convolutions' backward pass, the Gram matrices, the eigenvectors' map-back): float64, or float32 (about twice as fast on those products, errors of float32 rounding: about 1e-6 of the largest eigenvalue)")
	}
	c.str(&c.format, "format", "table", groupOutput, "output `FORMAT`: table, json or csv")
	c.str(&c.out, "out", "", groupOutput, "write the results to `FILE` instead of standard output")
	c.fs.BoolVar(&c.quiet, "quiet", false, "no progress, timings or warnings on standard error (progress is off anyway when it is not a terminal)")
	c.add("quiet", groupOutput)
	if k {
		c.fs.BoolVar(&c.noTiming, "no-timing", false, "leave wall-clock timings out of the output (for reproducible output)")
		c.add("no-timing", groupOutput)
	}
	return c
}

// hide leaves a flag out of the command's help: for knobs that mean
// nothing to the command, which refuses them with a reason.
func (c *common) hide(name string) {
	for i, n := range c.order {
		if n == name {
			c.order = append(c.order[:i], c.order[i+1:]...)
			return
		}
	}
}

func (c *common) add(name, group string) {
	c.order = append(c.order, name)
	c.groups[name] = group
}

func (c *common) str(p *string, name, def, group, usage string) {
	c.fs.StringVar(p, name, def, usage)
	c.add(name, group)
}

// parseFlags parses args, flags and operands in any order (the flag
// package alone stops at the first operand: "vivit inspect net.onnx
// --data b.safetensors" would leave --data unparsed), and returns the
// operands; everything after "--" is an operand.
func (c *common) parseFlags(args []string) ([]string, error) {
	var operands []string
	for {
		if err := c.fs.Parse(args); err != nil {
			return nil, err
		}
		rest := c.fs.Args()
		if len(rest) == 0 {
			return operands, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(operands, rest...), nil
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
}

// help writes the command's usage to w.
func (c *common) help(w io.Writer) {
	fmt.Fprintf(w, "Usage: vivit %s [flags] [MODEL]\n\n%s\n", c.name, c.summary)
	for _, g := range []string{"", groupInput, groupKnobs, groupOutput} {
		first := true
		for _, name := range c.order {
			if c.groups[name] != g {
				continue
			}
			if first {
				title := g + " flags"
				if g == "" {
					title = "Command flags"
				}
				fmt.Fprintf(w, "\n%s:\n", title)
				first = false
			}
			f := c.fs.Lookup(name)
			arg, usage := flag.UnquoteUsage(f)
			head := "  --" + name
			if arg != "" {
				head += " " + arg
			}
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
				usage += fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "%s\n%s", head, wrap(usage, "      ", 80))
		}
	}
	fmt.Fprintf(w, "\nExamples:\n%s", c.examples)
}

// set reports whether the flag was given on the command line.
func (c *common) set(name string) bool {
	found := false
	c.fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}

func (c *common) parse(args []string) error {
	operands, err := c.parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.help(c.stdout)
			return errHelp
		}
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
			msg = "unknown flag --" + strings.TrimPrefix(name, "-")
		}
		msg = strings.ReplaceAll(msg, "for flag -", "for flag --")
		return usagef("%s (see 'vivit %s --help')", msg, c.name)
	}
	c.progress = newProgress(c.stderr, c.quiet)
	switch {
	case len(operands) > 1:
		return usagef("unexpected argument %q: the one argument without a flag is the model file (flags start with --; see 'vivit %s --help')", operands[1], c.name)
	case len(operands) == 1 && c.set("model"):
		return usagef("the model is given twice, by --model %s and as the argument %q", c.model, operands[0])
	case len(operands) == 1:
		c.model = operands[0]
	}
	if !contains(c.formats, c.format) {
		return usagef("--format must be %s, got %q", orList(c.formats), c.format)
	}
	if c.data != "" && (c.inputs != "" || c.targets != "") {
		return usagef("--data and --inputs/--targets are alternatives: give one batch")
	}
	if (c.inputs == "") != (c.targets == "") {
		return usagef("--inputs and --targets go together")
	}
	if c.arch != "" && c.model == "" {
		return usagef("--arch needs --model")
	}
	if c.model == "" && c.batchGiven() {
		return usagef("a batch (--data or --inputs) needs --model; without both, commands use the embedded example")
	}
	if c.mc < 0 {
		return usagef("--mc must be ≥ 0, got %d", c.mc)
	}
	if c.set("seed") && c.mc == 0 {
		return usagef("--seed needs --mc (it seeds the Monte-Carlo draws; the exact GGN is not random)")
	}
	if c.groupsBy != "" && c.groupsBy != "full" && c.groupsBy != "layer" {
		return usagef("--groups must be full or layer, got %q", c.groupsBy)
	}
	return nil
}

// needBatch checks that a batch is given along with --model.
func (c *common) needBatch() error {
	if c.model != "" && !c.batchGiven() {
		return usagef("--model needs a batch: --data FILE, or --inputs X.npy --targets Y.npy")
	}
	return nil
}

func (c *common) batchGiven() bool { return c.data != "" || c.inputs != "" }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// orList spells a list as "a, b or c".
func orList(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// loadWithOptions reads the model and batch (see load) and turns the knobs
// into engine options for them.
func (c *common) loadWithOptions() (*vivit.Model, *vivit.Batch, *vivit.Options, error) {
	m, b, err := c.load()
	if err != nil {
		return nil, nil, nil, err
	}
	opts, err := c.options(m, b.Len())
	if err != nil {
		return nil, nil, nil, err
	}
	return m, b, opts, nil
}

// options turns the knobs into engine options for m and a batch of n.
func (c *common) options(m *vivit.Model, n int) (*vivit.Options, error) {
	o := &vivit.Options{MCSamples: c.mc, Seed: c.seed, Progress: c.progress.stage, Context: runContext}
	if c.subbatch != "" {
		idx, err := parseIndices(c.subbatch, n)
		if err != nil {
			return nil, err
		}
		o.SubBatch = idx
	}
	if c.groupsBy == "layer" {
		o.Groups = vivit.LayerGroups(m)
	}
	if err := c.applyMemory(o); err != nil {
		return nil, err
	}
	switch c.precision {
	case "float64", "":
	case "float32":
		o.Precision = vivit.Float32
	default:
		return nil, usagef("--precision: %q is not float64 or float32", c.precision)
	}
	return o, nil
}

// precisionField is the JSON "precision" of a run: set for float32 only,
// so that float64 outputs stay as they were.
func (c *common) precisionField() string {
	if c.precision == "float32" {
		return "float32"
	}
	return ""
}

// writeResult writes the results with write, to stdout or --out. --out is
// replaced whole or not at all (internal/atomicfile), like every file the
// command writes.
func (c *common) writeResult(write func(io.Writer) error) error {
	c.progress.done()
	if c.out == "" {
		return write(c.stdout)
	}
	return atomicfile.Write(c.out, write)
}

// warn prints a warning on standard error unless --quiet.
func (c *common) warn(format string, args ...any) {
	if c.quiet {
		return
	}
	c.progress.done()
	fmt.Fprintf(c.stderr, "vivit: warning: "+format+"\n", args...)
}

// timing prints the stage timings on standard error (table output), unless
// --quiet or --no-timing.
func (c *common) timing(t vivit.Timing) {
	if c.quiet || c.noTiming || c.format != "table" {
		return
	}
	if c.name == "stats" {
		// ComputeStats records its gradient pass under Directional.
		fmt.Fprintf(c.stderr, "vivit: %.3fs (forward %.3fs, factor backprop %.3fs, gradients and statistics %.3fs)\n",
			t.Total().Seconds(), t.Forward.Seconds(), t.Backprop.Seconds(), t.Directional.Seconds())
		return
	}
	fmt.Fprintf(c.stderr, "vivit: %.3fs (forward %.3fs, backprop %.3fs, Gram %.3fs, eigensolve %.3fs, map-back %.3fs, directional %.3fs)\n",
		t.Total().Seconds(), t.Forward.Seconds(), t.Backprop.Seconds(), t.Gram.Seconds(), t.Eigen.Seconds(), t.MapBack.Seconds(), t.Directional.Seconds())
}

// checkExt checks a file flag's extension against the accepted ones.
func checkExt(flagName, path string, exts ...string) error {
	if path == "" {
		return nil
	}
	if !contains(exts, extOf(path)) {
		return usagef("--%s %s: the file name must end in %s", flagName, path, orList(exts))
	}
	return nil
}

// extOf returns the lower-case extension of a path.
func extOf(path string) string { return strings.ToLower(filepath.Ext(path)) }

// wrap breaks text into lines of at most width columns, each starting
// with indent.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(text) {
		if len([]rune(line))+1+len([]rune(word)) > width && line != indent {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
	return b.String()
}

// parseIndices reads --subbatch: comma-separated 0-based sample indices and
// inclusive ranges (0-31,40,50-59), each in [0, n) and none repeated.
func parseIndices(s string, n int) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || lo == "" {
			return nil, usagef("--subbatch: %q is not an index or a range FIRST-LAST", f)
		}
		if b < a {
			return nil, usagef("--subbatch: range %q ends before it starts", f)
		}
		if a < 0 || b >= n {
			return nil, usagef("--subbatch: %q is out of range for a batch of %d samples (indices 0 to %d)", f, n, n-1)
		}
		for i := a; i <= b; i++ {
			if seen[i] {
				return nil, usagef("--subbatch: index %d is repeated", i)
			}
			seen[i] = true
			out = append(out, i)
		}
	}
	return out, nil
}
