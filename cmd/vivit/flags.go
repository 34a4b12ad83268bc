package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/example"
	"github.com/vivit-go/vivit/model"
)

var errHelp = errors.New("help requested")

// common holds the flags every computing command shares.
type common struct {
	fs       *flag.FlagSet
	model    string
	arch     string
	data     string
	mc       int
	seed     uint64
	subbatch string
	groups   string
	format   string
	out      string
	quiet    bool
	progress *progress
}

func newCommon(name, summary, examples string, stderr io.Writer) *common {
	c := &common{fs: flag.NewFlagSet(name, flag.ContinueOnError), progress: &progress{}}
	c.fs.SetOutput(stderr)
	c.fs.StringVar(&c.model, "model", "", "checkpoint `FILE` (.safetensors with the architecture in its metadata)")
	c.fs.StringVar(&c.arch, "arch", "", "architecture JSON `FILE`, for checkpoints saved without it")
	c.fs.StringVar(&c.data, "data", "", "batch `FILE` (.safetensors with \"inputs\" and \"targets\")")
	c.fs.IntVar(&c.mc, "mc", 0, "Monte-Carlo samples `M` of the loss Hessian per sample (0 = exact)")
	c.fs.Uint64Var(&c.seed, "seed", 0, "`SEED` for the Monte-Carlo draws")
	c.fs.StringVar(&c.subbatch, "subbatch", "", "curvature from these samples only: comma-separated `INDICES` (0-based)")
	c.fs.StringVar(&c.groups, "groups", "full", "parameter blocks: full (whole network) or layer (one block per layer)")
	c.fs.StringVar(&c.format, "format", "table", "output `FORMAT`: table, json or csv")
	c.fs.StringVar(&c.out, "out", "", "write the results to `FILE` instead of standard output")
	c.fs.BoolVar(&c.quiet, "quiet", false, "no progress display on standard error (it is off anyway when standard error is not a terminal)")
	c.fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: vivit %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		c.fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nExamples:\n%s", examples)
	}
	return c
}

func (c *common) parse(args []string) error {
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return &usageError{err.Error()}
	}
	c.progress = newProgress(c.fs.Output(), c.quiet)
	if c.fs.NArg() > 0 {
		return usagef("unexpected argument %q", c.fs.Arg(0))
	}
	switch c.format {
	case "table", "json", "csv":
	default:
		return usagef("--format must be table, json or csv, got %q", c.format)
	}
	if (c.model == "") != (c.data == "") {
		return usagef("--model and --data go together (give both, or neither for the embedded example)")
	}
	if c.arch != "" && c.model == "" {
		return usagef("--arch needs --model")
	}
	if c.mc < 0 {
		return usagef("--mc must be ≥ 0, got %d", c.mc)
	}
	switch c.groups {
	case "full", "layer":
	default:
		return usagef("--groups must be full or layer, got %q", c.groups)
	}
	return nil
}

// load reads the model and batch, or the embedded example.
func (c *common) load() (*vivit.Model, *vivit.Batch, error) {
	if c.model == "" {
		return example.Load()
	}
	var arch *model.Architecture
	if c.arch != "" {
		data, err := os.ReadFile(c.arch)
		if err != nil {
			return nil, nil, err
		}
		if arch, err = model.ParseArchitecture(data); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", c.arch, err)
		}
	}
	m, err := model.LoadCheckpoint(c.model, arch)
	if err != nil {
		return nil, nil, err
	}
	b, err := model.LoadBatch(c.data, m)
	if err != nil {
		return nil, nil, err
	}
	return m, b, nil
}

// options turns the knobs into engine options for m.
func (c *common) options(m *vivit.Model, n int) (*vivit.Options, error) {
	o := &vivit.Options{MCSamples: c.mc, Seed: c.seed, Progress: c.progress.stage}
	if c.subbatch != "" {
		for _, f := range strings.Split(c.subbatch, ",") {
			i, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return nil, usagef("--subbatch: %q is not an index", f)
			}
			if i < 0 || i >= n {
				return nil, usagef("--subbatch: index %d is out of range for a batch of %d samples", i, n)
			}
			o.SubBatch = append(o.SubBatch, i)
		}
	}
	if c.groups == "layer" {
		o.Groups = vivit.LayerGroups(m)
	}
	return o, nil
}

// output opens the destination of the results.
func (c *common) output(stdout io.Writer) (io.Writer, func() error, error) {
	if c.out == "" {
		return stdout, func() error { return nil }, nil
	}
	f, err := os.Create(c.out)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}
