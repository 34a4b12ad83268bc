package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/vivit-go/vivit"
)

const spectrumExamples = `  vivit spectrum
  vivit spectrum --model model.safetensors --data batch.safetensors --format json
  vivit spectrum --model model.safetensors --data batch.safetensors --subbatch 0,1,2,3 --groups layer
`

type spectrumJSON struct {
	NumParams        int             `json:"num_params"`
	BatchSize        int             `json:"batch_size"`
	CurvatureSamples int             `json:"curvature_samples"`
	Columns          int             `json:"columns_per_sample"`
	Eigenvalues      []float64       `json:"eigenvalues,omitempty"`
	Trace            *float64        `json:"trace,omitempty"`
	Rank             *int            `json:"rank,omitempty"`
	Groups           []spectrumGroup `json:"groups,omitempty"`
	Seconds          timingSeconds   `json:"seconds"`
}

type spectrumGroup struct {
	Name        string    `json:"name"`
	Params      []string  `json:"params"`
	Eigenvalues []float64 `json:"eigenvalues"`
	Trace       float64   `json:"trace"`
	Rank        int       `json:"rank"`
}

func runSpectrum(args []string, stdout, stderr io.Writer) error {
	c := newCommon("spectrum", "All nonzero eigenvalues (descending) and the trace of the generalized Gauss-Newton matrix.", spectrumExamples, stderr)
	if err := c.parse(args); err != nil {
		return err
	}
	defer c.progress.done() // also on errors, before run prints them
	m, b, err := c.load()
	if err != nil {
		return err
	}
	opts, err := c.options(m, b.Len())
	if err != nil {
		return err
	}
	res, err := vivit.Spectrum(m, b, opts)
	if err != nil {
		return err
	}
	c.progress.done()
	w, closeOut, err := c.output(stdout)
	if err != nil {
		return err
	}
	switch c.format {
	case "json":
		out := spectrumJSON{NumParams: res.NumParams, BatchSize: res.BatchSize, CurvatureSamples: res.CurvatureSamples,
			Columns: res.Columns, Seconds: seconds(res.Timing)}
		if c.groups == "layer" {
			for _, blk := range res.Blocks {
				out.Groups = append(out.Groups, spectrumGroup{Name: blk.Name, Params: blk.Layout.Names,
					Eigenvalues: nonNil(blk.Values), Trace: blk.Trace, Rank: len(blk.Values)})
			}
		} else {
			blk := res.Blocks[0]
			r := len(blk.Values)
			out.Eigenvalues, out.Trace, out.Rank = nonNil(blk.Values), &blk.Trace, &r
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(out)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{"group", "index", "eigenvalue"})
		for _, blk := range res.Blocks {
			for j, v := range blk.Values {
				cw.Write([]string{groupName(vivit.Block{Name: blk.Name}), strconv.Itoa(j + 1), strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
		cw.Flush()
		err = cw.Error()
	default:
		err = writeSpectrumTable(w, res)
	}
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	return err
}

func writeSpectrumTable(w io.Writer, res *vivit.SpectrumResult) error {
	fmt.Fprintf(w, "GGN spectrum: %d parameters, batch of %d (curvature from %d samples × %d columns)\n\n",
		res.NumParams, res.BatchSize, res.CurvatureSamples, res.Columns)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "group\trank\ttrace\tλ_max\tλ_min (nonzero)\ttop-10 share of trace\t")
	for _, blk := range res.Blocks {
		name := groupName(vivit.Block{Name: blk.Name})
		if len(blk.Values) == 0 {
			fmt.Fprintf(tw, "%s\t0\t%.6e\t-\t-\t-\t\n", name, blk.Trace)
			continue
		}
		var top float64
		for j := 0; j < len(blk.Values) && j < 10; j++ {
			top += blk.Values[j]
		}
		fmt.Fprintf(tw, "%s\t%d\t%.6e\t%.6e\t%.6e\t%.1f%%\t\n", name, len(blk.Values), blk.Trace,
			blk.Values[0], blk.Values[len(blk.Values)-1], 100*top/blk.Trace)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, blk := range res.Blocks {
		fmt.Fprintf(w, "\neigenvalues (%s), descending:\n", groupName(vivit.Block{Name: blk.Name}))
		for j, v := range blk.Values {
			fmt.Fprintf(w, "%13.6e", v)
			if j%6 == 5 || j == len(blk.Values)-1 {
				fmt.Fprintln(w)
			}
		}
	}
	return nil
}
