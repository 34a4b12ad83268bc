package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/vivit-go/vivit"
)

const spectrumSummary = `All nonzero eigenvalues of the generalized Gauss-Newton matrix (GGN), in
descending order, its numerical rank and its trace. Eigenvalues at or below
1e-10·λ_max count as zero. The table summarises the spectrum (largest
eigenvalues and a histogram by decade); --format json or csv lists all.`

const spectrumExamples = `  vivit spectrum
  vivit spectrum --plot spectrum.png
  vivit spectrum --model model.safetensors --data batch.safetensors --format json --out spectrum.json
  vivit spectrum --model model.safetensors --data batch.safetensors --subbatch 0,1,2,3 --groups layer
`

type spectrumJSON struct {
	NumParams        int             `json:"num_params"`
	BatchSize        int             `json:"batch_size"`
	CurvatureSamples int             `json:"curvature_samples"`
	Columns          int             `json:"columns_per_sample"`
	MCSamples        int             `json:"mc_samples"`
	Precision        string          `json:"precision,omitempty"`
	Loss             float64         `json:"loss"`
	Eigenvalues      []float64       `json:"eigenvalues,omitempty"`
	Trace            *float64        `json:"trace,omitempty"`
	Rank             *int            `json:"rank,omitempty"`
	Groups           []spectrumGroup `json:"groups,omitempty"`
	Seconds          *timingSeconds  `json:"seconds,omitempty"`
}

type spectrumGroup struct {
	Name        string    `json:"name"`
	Params      []string  `json:"params"`
	Eigenvalues []float64 `json:"eigenvalues"`
	Trace       float64   `json:"trace"`
	Rank        int       `json:"rank"`
}

func runSpectrum(args []string, stdout, stderr io.Writer) error {
	c := newCommon("spectrum", spectrumSummary, spectrumExamples, stdout, stderr, withKnobs)
	plotFile := c.fs.String("plot", "", "draw the spectrum (eigenvalues by rank on a log scale, and the density of log10 λ) to a PNG `FILE`")
	c.add("plot", groupOutput)
	ds := addDataSetFlags(c)
	if err := c.parse(args); err != nil {
		return err
	}
	defer c.progress.done() // also on errors, before run prints them
	if err := c.needBatch(); err != nil {
		return err
	}
	if err := checkExt("plot", *plotFile, ".png"); err != nil {
		return err
	}
	m, b, opts, err := c.loadWithOptions()
	if err != nil {
		return err
	}
	if err := ds.apply(opts); err != nil {
		return err
	}
	var res *vivit.SpectrumResult
	if ds.on() {
		res, err = ds.spectrum(c, m, b, opts)
	} else {
		res, err = vivit.Spectrum(m, b, opts)
	}
	if err != nil {
		return err
	}
	if *plotFile != "" {
		if err := spectrumPlot(*plotFile, res, c.mc); err != nil {
			return err
		}
	}
	err = c.writeResult(func(w io.Writer) error {
		switch c.format {
		case "json":
			out := spectrumJSON{NumParams: res.NumParams, BatchSize: res.BatchSize, CurvatureSamples: res.CurvatureSamples,
				Columns: res.Columns, MCSamples: c.mc, Precision: c.precisionField(), Loss: res.Loss, Seconds: c.seconds(res.Timing)}
			if c.groupsBy == "layer" {
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
			return enc.Encode(out)
		case "csv":
			cw := csv.NewWriter(w)
			cw.Write([]string{"group", "k", "eigenvalue"})
			for _, blk := range res.Blocks {
				for j, v := range blk.Values {
					cw.Write([]string{blockName(blk.Name), strconv.Itoa(j + 1), csvFloat(v)})
				}
			}
			cw.Flush()
			return cw.Error()
		}
		return writeSpectrumTable(w, res, c.mc)
	})
	if err == nil {
		c.timing(res.Timing)
	}
	return err
}

func writeSpectrumTable(w io.Writer, res *vivit.SpectrumResult, mc int) error {
	note := curvatureNote(&vivit.Result{CurvatureSamples: res.CurvatureSamples, Columns: res.Columns}, mc, nil)
	fmt.Fprintf(w, "GGN spectrum: %d parameters, batch of %d, loss %.6g\n(%s)\n\n", res.NumParams, res.BatchSize, res.Loss, note)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "group\trank\ttrace\tλ_max\tλ_min (nonzero)\ttop-10 share of trace\t")
	for _, blk := range res.Blocks {
		name := blockName(blk.Name)
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
		if len(blk.Values) == 0 {
			continue
		}
		name := blockName(blk.Name)
		fmt.Fprintf(w, "\nlargest eigenvalues (%s):\n", name)
		for j, v := range blk.Values[:min(len(blk.Values), 10)] {
			fmt.Fprintf(w, "%13.6e", v)
			if j%5 == 4 || j == min(len(blk.Values), 10)-1 {
				fmt.Fprintln(w)
			}
		}
		fmt.Fprintf(w, "\neigenvalues by decade (%s):\n", name)
		writeDecades(w, blk.Values)
	}
	_, err := fmt.Fprintln(w, "\nAll eigenvalues: --format json or csv.")
	return err
}

// writeDecades prints a text histogram of the eigenvalues by power of ten.
func writeDecades(w io.Writer, vals []float64) {
	hi := int(math.Floor(math.Log10(vals[0])))
	lo := int(math.Floor(math.Log10(vals[len(vals)-1])))
	counts := make([]int, hi-lo+1)
	for _, v := range vals {
		d := int(math.Floor(math.Log10(v)))
		counts[min(max(d, lo), hi)-lo]++
	}
	most := 0
	for _, n := range counts {
		most = max(most, n)
	}
	for d := hi; d >= lo; d-- {
		n := counts[d-lo]
		bar := strings.Repeat("█", (n*40+most-1)/most)
		fmt.Fprintf(w, "  [1e%+03d, 1e%+03d) %5d  %s\n", d, d+1, n, bar)
	}
}
