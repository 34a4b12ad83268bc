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

const eigenSummary = `Top-k eigenvalues and eigenvectors of the generalized Gauss-Newton matrix
(GGN) of the batch loss, computed through the small Gram matrix of its
low-rank factor. With --directional, also the per-sample directional
derivatives gamma and lambda along each eigenvector (see 'vivit directional').`

const eigenExamples = `  vivit eigen --k 5
  vivit eigen --model model.safetensors --data batch.safetensors --k 10 --format json
  vivit eigen --model model.pt --arch arch.json --inputs X.npy --targets y.npy --k 10
  vivit eigen --model model.safetensors --data batch.safetensors --k 10 --mc 1 --seed 3 --groups layer
  vivit eigen --model model.safetensors --data batch.safetensors --k 10 --eigvecs top10.safetensors
`

const directionalSummary = `Per-sample directional derivatives along the top-k GGN eigenvectors e_k:
the slope gamma_nk = e_kᵀ∇ℓ_n and the curvature lambda_nk = e_kᵀ G_n e_k of
each sample's loss ℓ_n, and, per direction, their mean, variance and
signal-to-noise ratio over the batch (ViViT, section 4).`

const directionalExamples = `  vivit directional --k 5
  vivit directional --k 5 --plot directional.png
  vivit directional --model model.safetensors --data batch.safetensors --k 10 --format json
  vivit directional --model model.safetensors --data batch.safetensors --k 10 --format csv --out gamma_lambda.csv
`

// eigenJSON is the JSON form of 'vivit eigen' and 'vivit directional'.
type eigenJSON struct {
	NumParams        int              `json:"num_params"`
	BatchSize        int              `json:"batch_size"`
	CurvatureSamples int              `json:"curvature_samples"`
	Columns          int              `json:"columns_per_sample"`
	MCSamples        int              `json:"mc_samples"`
	Precision        string           `json:"precision,omitempty"`
	Loss             float64          `json:"loss"`
	Side             string           `json:"side,omitempty"`
	K                int              `json:"k"`
	Rank             *int             `json:"rank,omitempty"`
	Trace            *float64         `json:"trace,omitempty"` // of a data set's GGN (--batch-size)
	Eigenvalues      []float64        `json:"eigenvalues,omitempty"`
	Gamma            [][]float64      `json:"gamma,omitempty"`
	Lambda           [][]float64      `json:"lambda,omitempty"`
	Directions       []directionStats `json:"directions,omitempty"`
	Groups           []eigenGroup     `json:"groups,omitempty"`
	Warnings         []string         `json:"warnings,omitempty"`
	Seconds          *timingSeconds   `json:"seconds,omitempty"`
}

type eigenGroup struct {
	Name        string           `json:"name"`
	Params      []string         `json:"params"`
	Rank        *int             `json:"rank,omitempty"`
	Trace       *float64         `json:"trace,omitempty"`
	Eigenvalues []float64        `json:"eigenvalues"`
	Gamma       [][]float64      `json:"gamma,omitempty"`
	Lambda      [][]float64      `json:"lambda,omitempty"`
	Directions  []directionStats `json:"directions,omitempty"`
}

// directionStats are the statistics over the batch of γ_nk and λ_nk for
// one direction k.
type directionStats struct {
	K              int      `json:"k"`
	Eigenvalue     float64  `json:"eigenvalue"`
	GammaMean      float64  `json:"gamma_mean"`
	GammaVariance  float64  `json:"gamma_variance"`
	GammaSNR       *float64 `json:"gamma_snr"`
	LambdaMean     float64  `json:"lambda_mean"`
	LambdaVariance float64  `json:"lambda_variance"`
	LambdaSNR      *float64 `json:"lambda_snr"`
}

func directions(blk vivit.Block) []directionStats {
	if blk.Gamma == nil {
		return nil
	}
	g, l := summarize(blk.Gamma), summarize(blk.Lambda)
	ds := make([]directionStats, len(blk.Values))
	for j, v := range blk.Values {
		ds[j] = directionStats{K: j + 1, Eigenvalue: v,
			GammaMean: g.mean[j], GammaVariance: g.variance[j], GammaSNR: jsonFloat(g.snr[j]),
			LambdaMean: l.mean[j], LambdaVariance: l.variance[j], LambdaSNR: jsonFloat(l.snr[j])}
	}
	return ds
}

func runEigen(args []string, stdout, stderr io.Writer) error {
	return runTop("eigen", eigenSummary, eigenExamples, false, args, stdout, stderr)
}

func runDirectional(args []string, stdout, stderr io.Writer) error {
	return runTop("directional", directionalSummary, directionalExamples, true, args, stdout, stderr)
}

// runTop runs 'eigen' (dirCmd false) or 'directional'.
func runTop(name, summary, examples string, dirCmd bool, args []string, stdout, stderr io.Writer) error {
	c := newCommon(name, summary, examples, stdout, stderr, withKnobs)
	k := c.fs.Int("k", 10, "number `K` of leading eigenpairs")
	c.add("k", "")
	dir := &dirCmd
	if !dirCmd {
		dir = c.fs.Bool("directional", false, "also compute the per-sample directional derivatives gamma and lambda (as 'vivit directional')")
		c.add("directional", "")
	}
	noVecs := c.fs.Bool("no-vectors", false, "do not form the eigenvectors in parameter space (saves the map-back and k×P memory); gamma's sign then follows the Gram eigenvectors' convention, its square and lambda are unchanged")
	c.add("no-vectors", groupKnobs)
	vecs := c.fs.String("eigvecs", "", "write the eigenvectors to `FILE`: .npy ([k, P] float64, state_dict order), or .safetensors / .pt (one [k, ...shape] float64 tensor per parameter, under its own name)")
	c.add("eigvecs", groupOutput)
	var plotFile *string
	if dirCmd {
		plotFile = c.fs.String("plot", "", "draw the distributions of gamma and lambda over the samples, per direction, to a PNG `FILE`")
		c.add("plot", groupOutput)
	}
	ds := &dataSetFlags{method: "auto"}
	if !dirCmd {
		ds = addDataSetFlags(c)
	}
	if err := c.parse(args); err != nil {
		return err
	}
	defer c.progress.done() // also on errors, before run prints them
	if err := c.needBatch(); err != nil {
		return err
	}
	if ds.on() && *dir {
		return usagef("--batch-size streams the data set for eigenvalues and vectors; the directional derivatives (--directional) need one batch")
	}
	if *k < 1 {
		return usagef("--k must be at least 1, got %d", *k)
	}
	if err := checkExt("eigvecs", *vecs, eigvecsExts...); err != nil {
		return err
	}
	if *noVecs && *vecs != "" {
		return usagef("--eigvecs %s needs the eigenvectors: drop --no-vectors", *vecs)
	}
	if ext := extOf(*vecs); ext == ".npy" && c.groupsBy == "layer" {
		return usagef("--eigvecs %s: a .npy file holds whole-network eigenvectors; with --groups layer write .safetensors or .pt", *vecs)
	}
	if plotFile != nil {
		if err := checkExt("plot", *plotFile, ".png"); err != nil {
			return err
		}
	}
	m, b, opts, err := c.loadWithOptions()
	if err != nil {
		return err
	}
	opts.SkipVectors = *noVecs
	if err := ds.apply(opts); err != nil {
		return err
	}
	compute := vivit.TopEigen
	if *dir {
		compute = vivit.Directional
	}
	var res *vivit.Result
	var data *vivit.DataSetResult // with --batch-size
	if ds.on() {
		if data, err = ds.topEigen(c, m, b, *k, opts); err == nil {
			res = &data.Result
		}
	} else {
		res, err = compute(m, b, *k, opts)
	}
	if err != nil {
		return err
	}
	if res.Plan != nil && res.Plan.Chunked() {
		c.note("memory plan: " + res.Plan.String())
	}
	var warnings []string
	for _, blk := range res.Blocks {
		if len(blk.Values) < *k {
			w := fmt.Sprintf("asked for %d eigenpairs but the GGN has rank %d: returning %d", *k, len(blk.Values), len(blk.Values))
			if blk.Name != "" {
				w = fmt.Sprintf("group %s: %s", blk.Name, w)
			}
			warnings = append(warnings, w)
			c.warn("%s", w)
		}
	}
	if *vecs != "" {
		if err := writeEigvecs(*vecs, res, c.groupsBy == "layer"); err != nil {
			return err
		}
	}
	if plotFile != nil && *plotFile != "" {
		if err := directionalPlot(*plotFile, res, c.mc); err != nil {
			return err
		}
	}
	err = c.writeResult(func(w io.Writer) error {
		switch c.format {
		case "json":
			return c.writeEigenJSON(w, res, *k, warnings, data)
		case "csv":
			return writeEigenCSV(w, res, *dir)
		}
		if dirCmd {
			return writeDirectionalTable(w, res, c.mc)
		}
		return writeEigenTable(w, res, *dir, c.mc, data)
	})
	if err == nil {
		c.timing(res.Timing)
	}
	return err
}

// writeEigenJSON writes the result as JSON; data, if not nil, is the data
// set run that res belongs to (its GGN's traces are written too).
func (c *common) writeEigenJSON(w io.Writer, res *vivit.Result, k int, warnings []string, data *vivit.DataSetResult) error {
	out := eigenJSON{
		NumParams: res.NumParams, BatchSize: res.BatchSize, CurvatureSamples: res.CurvatureSamples,
		Columns: res.Columns, MCSamples: c.mc, Precision: c.precisionField(), Loss: res.Loss, Side: res.Side, K: k, Warnings: warnings, Seconds: c.seconds(res.Timing),
	}
	rank := func(blk vivit.Block) *int {
		if blk.Rank < 0 {
			return nil
		}
		r := blk.Rank
		return &r
	}
	trace := func(i int) *float64 {
		if data == nil {
			return nil
		}
		return &data.Trace[i]
	}
	if c.groupsBy == "layer" {
		for i, blk := range res.Blocks {
			out.Groups = append(out.Groups, eigenGroup{Name: blk.Name, Params: blk.Layout.Names, Rank: rank(blk), Trace: trace(i),
				Eigenvalues: nonNil(blk.Values), Gamma: rows(blk.Gamma), Lambda: rows(blk.Lambda), Directions: directions(blk)})
		}
	} else {
		blk := res.Blocks[0]
		out.Trace = trace(0)
		out.Eigenvalues = nonNil(blk.Values)
		out.Rank = rank(blk)
		out.Gamma, out.Lambda, out.Directions = rows(blk.Gamma), rows(blk.Lambda), directions(blk)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// curvatureNote describes where the curvature comes from, and when the
// parameter side was used (Result.Side); data, if not nil, is the data set
// run that res belongs to.
func curvatureNote(res *vivit.Result, mc int, data *vivit.DataSetResult) string {
	side := ""
	switch {
	case data != nil && data.Method == vivit.MethodLanczos.String():
		// Lanczos multiplies by the GGN batch by batch.
		side = "; block Lanczos on the parameter side, no D×D matrix"
	case res.Side == "parameters":
		side = "; solved on the parameter side, D×D"
	case res.Side == "mixed":
		side = "; some blocks solved on the parameter side, D×D"
	}
	if mc > 0 {
		return fmt.Sprintf("Monte-Carlo curvature from %d sample%s, %d sampled column%s each%s", res.CurvatureSamples, plural(res.CurvatureSamples), mc, plural(mc), side)
	}
	return fmt.Sprintf("exact curvature from %d sample%s, %d factor column%s each%s", res.CurvatureSamples, plural(res.CurvatureSamples), res.Columns, plural(res.Columns), side)
}

// writeEigenTable writes the table of eigenvalues; data, if not nil, is the
// data set run that res belongs to.
func writeEigenTable(w io.Writer, res *vivit.Result, dir bool, mc int, data *vivit.DataSetResult) error {
	if dir {
		return writeDirectionalTable(w, res, mc)
	}
	if data != nil {
		var tr float64
		for _, t := range data.Trace {
			tr += t
		}
		fmt.Fprintf(w, "GGN top eigenvalues: %d parameters, data set of %d, loss %.6g, tr(G) %.6g\n(%s)\n\n",
			res.NumParams, res.BatchSize, res.Loss, tr, curvatureNote(res, mc, data))
	} else {
		fmt.Fprintf(w, "GGN top eigenvalues: %d parameters, batch of %d, loss %.6g\n(%s)\n\n",
			res.NumParams, res.BatchSize, res.Loss, curvatureNote(res, mc, nil))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "group\tk\teigenvalue\t")
	for _, blk := range res.Blocks {
		for j, v := range blk.Values {
			fmt.Fprintf(tw, "%s\t%d\t%.6e\t\n", blockName(blk.Name), j+1, v)
		}
	}
	return tw.Flush()
}

func writeDirectionalTable(w io.Writer, res *vivit.Result, mc int) error {
	fmt.Fprintf(w, "GGN directional derivatives: %d parameters, batch of %d, loss %.6g\n(%s)\n\n",
		res.NumParams, res.BatchSize, res.Loss, curvatureNote(res, mc, nil))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "group\tk\teigenvalue\tmean γ\tvar γ\tSNR(γ)\tmean λ\tvar λ\tSNR(λ)\t")
	for _, blk := range res.Blocks {
		for _, d := range directions(blk) {
			fmt.Fprintf(tw, "%s\t%d\t%.6e\t%.4e\t%.4e\t%s\t%.4e\t%.4e\t%s\t\n", blockName(blk.Name), d.K, d.Eigenvalue,
				d.GammaMean, d.GammaVariance, snrText(d.GammaSNR), d.LambdaMean, d.LambdaVariance, snrText(d.LambdaSNR))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprint(w, `
γ_nk = e_kᵀ∇ℓ_n (slope) and λ_nk = e_kᵀG_n e_k (curvature) of each sample's loss
along eigenvector e_k; mean and population variance over the batch, SNR =
mean²/variance (docs/maths.md; N·SNR is the SNR of the batch mean).
Per-sample values: --format json or csv.
`)
	return err
}

func snrText(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.4g", *v)
}

func writeEigenCSV(w io.Writer, res *vivit.Result, dir bool) error {
	cw := csv.NewWriter(w)
	if dir {
		cw.Write([]string{"group", "k", "eigenvalue", "sample", "gamma", "lambda"})
	} else {
		cw.Write([]string{"group", "k", "eigenvalue"})
	}
	for _, blk := range res.Blocks {
		for j, v := range blk.Values {
			if !dir {
				cw.Write([]string{blockName(blk.Name), strconv.Itoa(j + 1), csvFloat(v)})
				continue
			}
			n, _ := blk.Gamma.Dims()
			for i := 0; i < n; i++ {
				cw.Write([]string{blockName(blk.Name), strconv.Itoa(j + 1), csvFloat(v), strconv.Itoa(i), csvFloat(blk.Gamma.At(i, j)), csvFloat(blk.Lambda.At(i, j))})
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
