package main

import (
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/vivit-go/vivit"
)

// dataSetFlags are the flags that stream the data file in batches
// (--batch-size) and bound the memory (--memory, --method), shared by
// 'eigen' and 'spectrum'.
type dataSetFlags struct {
	batchSize int
	memory    string
	method    string
}

// addDataSetFlags registers the data-set flags on c.
func addDataSetFlags(c *common) *dataSetFlags {
	f := &dataSetFlags{}
	c.fs.IntVar(&f.batchSize, "batch-size", 0, "stream the data file in batches of `B` samples and compute the curvature of the whole data set's loss (docs/scaling.md); 0 = one batch")
	c.add("batch-size", groupKnobs)
	if c.fs.Lookup("memory") == nil {
		c.str(&f.memory, "memory", "", groupKnobs, "memory `SIZE` (2GiB, 512MiB, bytes) for the data set's D×D blocks, Lanczos basis and cached factors, and for the factors' scratch; default 1GiB")
	}
	c.str(&f.method, "method", "auto", groupKnobs, "with --batch-size, how to compute the data set's curvature `METHOD`: auto, batch, parameters (D×D GGN summed over batches) or lanczos (streaming block Lanczos)")
	return f
}

// on reports whether the data set is streamed.
func (f *dataSetFlags) on() bool { return f.batchSize > 0 }

// apply checks the flags and sets the memory budget of o.
func (f *dataSetFlags) apply(o *vivit.Options) error {
	if f.batchSize < 0 {
		return usagef("--batch-size must be ≥ 0, got %d", f.batchSize)
	}
	if f.memory != "" {
		b, err := parseByteSize(f.memory)
		if err != nil {
			return usagef("--memory: %v", err)
		}
		o.MemoryBudget = b
	}
	if _, err := vivit.ParseDataSetMethod(f.method); err != nil {
		return usagef("--method: %q is not auto, batch, parameters or lanczos", f.method)
	}
	if f.method != "auto" && !f.on() {
		return usagef("--method %s needs --batch-size", f.method)
	}
	return nil
}

// options returns the data-set options around o.
func (f *dataSetFlags) options(o *vivit.Options) (*vivit.DataSetOptions, error) {
	if o.SubBatch != nil {
		return nil, usagef("--subbatch does not combine with --batch-size")
	}
	method, _ := vivit.ParseDataSetMethod(f.method)
	return &vivit.DataSetOptions{Options: *o, BatchSize: f.batchSize, Method: method}, nil
}

// topEigen runs DataSetTopEigen on the batch b as a data set, reports
// the method on standard error, and returns the result (with each
// block's trace, the GGN's diagonal summed over the batches).
func (f *dataSetFlags) topEigen(c *common, m *vivit.Model, b *vivit.Batch, k int, o *vivit.Options) (*vivit.DataSetResult, error) {
	do, err := f.options(o)
	if err != nil {
		return nil, err
	}
	res, err := vivit.DataSetTopEigen(m, vivit.NewBatchDataSet(b), k, do)
	if err != nil {
		return nil, err
	}
	c.note(dataSetNote(res))
	return res, nil
}

// spectrum runs DataSetSpectrum on the batch b as a data set.
func (f *dataSetFlags) spectrum(c *common, m *vivit.Model, b *vivit.Batch, o *vivit.Options) (*vivit.SpectrumResult, error) {
	do, err := f.options(o)
	if err != nil {
		return nil, err
	}
	return vivit.DataSetSpectrum(m, vivit.NewBatchDataSet(b), do)
}

// dataSetNote describes how a data set's curvature was computed.
func dataSetNote(res *vivit.DataSetResult) string {
	s := fmt.Sprintf("data set of %d samples in %d batch%s of %d: method %s, %d pass%s",
		res.CurvatureSamples, res.Batches, pluralES(res.Batches), res.BatchSize, res.Method, res.Passes, pluralES(res.Passes))
	var worst float64
	for _, rs := range res.Residuals {
		for _, r := range rs {
			worst = max(worst, r)
		}
	}
	if res.Residuals != nil {
		s += fmt.Sprintf(", max residual %.2g·λ₁", worst)
	}
	return s
}

func pluralES(n int) string {
	if n == 1 {
		return ""
	}
	return "es"
}

// note prints an informational line on standard error unless --quiet.
func (c *common) note(msg string) {
	if c.quiet {
		return
	}
	c.progress.done()
	fmt.Fprintf(c.stderr, "vivit: %s\n", msg)
}

// parseByteSize parses a memory size: bytes, or a number with a unit
// KiB, MiB, GiB, TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000).
func parseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !(v > 0) || v*mult > 1<<62 {
		return 0, fmt.Errorf("%q is not a memory size such as 512MiB or 2GiB", s)
	}
	return int64(v * mult), nil
}

// applyMemory sets the run's memory budget from --memory (default: the
// library's, a share of the memory available to the process) and ties
// the Go runtime's memory limit to it, so that the collector reclaims
// garbage before the heap outgrows the budget. The library leaves the
// limit alone; the CLI owns its process.
func (c *common) applyMemory(o *vivit.Options) error {
	budget := vivit.DefaultMemoryBudget()
	if c.memory != "" {
		b, err := parseByteSize(c.memory)
		if err != nil {
			return usagef("--memory: %v", err)
		}
		budget = b
		o.MemoryBudget = b
	}
	debug.SetMemoryLimit(budget)
	return nil
}
