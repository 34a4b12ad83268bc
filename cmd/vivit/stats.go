package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/vivit-go/vivit"
)

const statsSummary = `Loss, gradient, per-sample gradient norms, gradient variance and the
diagonal of the GGN of the batch, with gradient norms, GGN traces and
gradient signal-to-noise ratios per layer (--groups layer, the default) or
for the whole network (--groups full). SNRs as docs/maths.md defines them.`

const statsExamples = `  vivit stats
  vivit stats --model model.safetensors --data batch.safetensors --format json
  vivit stats --model model.safetensors --data batch.safetensors --mc 1 --seed 7 --diag-ggn diag.npy --grad-variance var.npy
  vivit stats --plot stats.png
  vivit stats --groups full --format csv
  vivit stats --model model.safetensors --inputs X.npy --targets y.npy --batch-size 256 --grad-variance var.npy
`

type statsJSON struct {
	Loss               float64      `json:"loss"`
	GradNorm           float64      `json:"grad_norm"`
	PerSampleGradNorms []float64    `json:"per_sample_grad_norms"`
	GGNTrace           float64      `json:"ggn_trace"`
	GradSNR            *float64     `json:"grad_snr"`
	MCSamples          int          `json:"mc_samples"`
	Groups             string       `json:"groups"`
	Layers             []statsLayer `json:"layers"`
}

type statsLayer struct {
	Layer    string   `json:"layer"`
	Params   []string `json:"params"`
	GradNorm float64  `json:"grad_norm"`
	GGNTrace float64  `json:"ggn_trace"`
	GradSNR  *float64 `json:"grad_snr"`
}

func runStats(args []string, stdout, stderr io.Writer) error {
	c := newCommon("stats", statsSummary, statsExamples, stdout, stderr, withKnobs)
	// Rows per layer by default; --groups full sums them into one. The
	// diagonal of the GGN is the same for either.
	c.groupsBy = "layer"
	g := c.fs.Lookup("groups")
	g.DefValue = "layer"
	g.Usage = "rows `MODE`: layer (one row per layer) or full (one row for the whole network); the GGN diagonal is the same for both"
	c.hide("precision")
	diag := c.fs.String("diag-ggn", "", "write the GGN diagonal to `FILE`: .npy ([P] float64, state_dict order), or .safetensors / .pt (one float64 tensor per parameter, under its own name)")
	c.add("diag-ggn", groupOutput)
	gvar := c.fs.String("grad-variance", "", "write the per-parameter gradient variance to `FILE`: .npy ([P] float64, state_dict order), or .safetensors / .pt (one float64 tensor per parameter)")
	c.add("grad-variance", groupOutput)
	plotPath := c.fs.String("plot", "", "draw the per-layer gradient norms, GGN traces and gradient SNRs, and the per-sample gradient norms, into `FILE.png`")
	c.add("plot", groupOutput)
	batchSize := c.fs.Int("batch-size", 0, "stream the data file in batches of `B` samples and compute the statistics of the whole data set: its loss, gradient, gradient variance (batch moments merged exactly) and GGN diagonal; 0 = one batch")
	c.add("batch-size", groupKnobs)
	if err := c.parse(args); err != nil {
		return err
	}
	defer c.progress.done() // also on errors, before run prints them
	if err := c.needBatch(); err != nil {
		return err
	}
	if c.set("precision") {
		return usagef("--precision does not apply to stats (its products are all float64)")
	}
	if err := checkExt("diag-ggn", *diag, paramVectorExts...); err != nil {
		return err
	}
	if err := checkExt("grad-variance", *gvar, paramVectorExts...); err != nil {
		return err
	}
	if err := checkExt("plot", *plotPath, ".png"); err != nil {
		return err
	}
	if *batchSize < 0 {
		return usagef("--batch-size must be ≥ 0, got %d", *batchSize)
	}
	if *batchSize > 0 && c.subbatch != "" {
		return usagef("--subbatch does not combine with --batch-size")
	}
	m, b, opts, err := c.loadWithOptions()
	if err != nil {
		return err
	}
	var st *vivit.Stats
	if *batchSize > 0 {
		st, err = vivit.DataSetStats(m, vivit.NewBatchDataSet(b), &vivit.DataSetOptions{Options: *opts, BatchSize: *batchSize})
		if err == nil {
			bs := min(*batchSize, b.Len())
			nb := (b.Len() + bs - 1) / bs
			c.note(fmt.Sprintf("data set of %d samples in %d batch%s of %d", b.Len(), nb, pluralES(nb), bs))
		}
	} else {
		st, err = vivit.ComputeStats(m, b, opts)
	}
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path, what string
		data       []float64
	}{{*diag, "GGN diagonal", st.DiagGGN}, {*gvar, "gradient variance", st.GradVariance}} {
		if f.path == "" {
			continue
		}
		if err := writeParamVector(f.path, st.Layout, f.data, f.what); err != nil {
			return err
		}
	}
	if *plotPath != "" {
		if err := statsPlot(*plotPath, st, c.mc); err != nil {
			return err
		}
	}
	rows := st.Layers
	if c.groupsBy == "full" {
		var params []string
		for _, l := range st.Layers {
			params = append(params, l.Params...)
		}
		rows = []vivit.LayerStats{{Params: params, GradNorm: st.GradNorm, GGNTrace: st.GGNTrace, SNR: st.GradSNR}}
	}
	err = c.writeResult(func(w io.Writer) error {
		var err error
		switch c.format {
		case "json":
			out := statsJSON{Loss: st.Loss, GradNorm: st.GradNorm, PerSampleGradNorms: st.PerSampleGradNorms,
				GGNTrace: st.GGNTrace, GradSNR: jsonFloat(st.GradSNR), MCSamples: c.mc, Groups: c.groupsBy}
			for _, l := range rows {
				out.Layers = append(out.Layers, statsLayer{Layer: blockName(l.Layer), Params: l.Params, GradNorm: l.GradNorm, GGNTrace: l.GGNTrace, GradSNR: jsonFloat(l.SNR)})
			}
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			err = enc.Encode(out)
		case "csv":
			cw := csv.NewWriter(w)
			cw.Write([]string{"layer", "params", "grad_norm", "ggn_trace", "grad_snr"})
			for _, l := range rows {
				cw.Write([]string{blockName(l.Layer), strings.Join(l.Params, " "), csvFloat(l.GradNorm), csvFloat(l.GGNTrace), csvFloat(l.SNR)})
			}
			cw.Flush()
			err = cw.Error()
		default:
			fmt.Fprintf(w, "loss %.6g, ‖∇L‖ %.6g, tr(GGN) %.6g, gradient SNR %.4g", st.Loss, st.GradNorm, st.GGNTrace, st.GradSNR)
			if c.mc > 0 {
				fmt.Fprintf(w, " (Monte-Carlo, M=%d)", c.mc)
			}
			if *batchSize > 0 {
				fmt.Fprintf(w, ", data set of %d\n\n", len(st.PerSampleLoss))
			} else {
				fmt.Fprintf(w, ", batch of %d\n\n", len(st.PerSampleLoss))
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "layer\tparams\t‖∇L‖\ttr(GGN)\tgradient SNR\t")
			for _, l := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%.4e\t%.4e\t%.4g\t\n", blockName(l.Layer), strings.Join(l.Params, ","), l.GradNorm, l.GGNTrace, l.SNR)
			}
			if err = tw.Flush(); err == nil {
				_, err = fmt.Fprint(w, `
‖∇L‖: norm of the layer's part of the batch gradient; tr(GGN): trace of the
layer's diagonal GGN block; gradient SNR: ‖mean per-sample gradient‖² over
the summed per-sample gradient variance (population, divisor N) of the
layer, the SNR of docs/maths.md. Per-sample gradient norms: --format json.
`)
			}
		}
		return err
	})
	if err == nil {
		c.timing(st.Timing)
	}
	return err
}
