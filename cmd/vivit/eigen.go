package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/npy"
)

const eigenExamples = `  vivit eigen --k 5
  vivit eigen --model model.safetensors --data batch.safetensors --k 10 --format json
  vivit eigen --model model.safetensors --data batch.safetensors --k 10 --mc 1 --seed 3 --groups layer
  vivit eigen --model model.safetensors --data batch.safetensors --k 10 --directional --eigvecs top10.npy
`

// eigenJSON is the JSON form of 'vivit eigen'.
type eigenJSON struct {
	NumParams        int           `json:"num_params"`
	BatchSize        int           `json:"batch_size"`
	CurvatureSamples int           `json:"curvature_samples"`
	Columns          int           `json:"columns_per_sample"`
	Loss             float64       `json:"loss"`
	K                int           `json:"k"`
	Eigenvalues      []float64     `json:"eigenvalues,omitempty"`
	Gamma            [][]float64   `json:"gamma,omitempty"`
	Lambda           [][]float64   `json:"lambda,omitempty"`
	Groups           []eigenGroup  `json:"groups,omitempty"`
	Warnings         []string      `json:"warnings,omitempty"`
	Seconds          timingSeconds `json:"seconds"`
}

type eigenGroup struct {
	Name        string      `json:"name"`
	Params      []string    `json:"params"`
	Eigenvalues []float64   `json:"eigenvalues"`
	Gamma       [][]float64 `json:"gamma,omitempty"`
	Lambda      [][]float64 `json:"lambda,omitempty"`
}

func runEigen(args []string, stdout, stderr io.Writer) error {
	c := newCommon("eigen", "Top-k eigenvalues (and eigenvectors) of the generalized Gauss-Newton matrix of the batch loss.", eigenExamples, stderr)
	k := c.fs.Int("k", 10, "number `K` of leading eigenpairs")
	dir := c.fs.Bool("directional", false, "also compute per-sample directional derivatives gamma and lambda")
	vecs := c.fs.String("eigvecs", "", "write the eigenvectors as a [k, P] float64 .npy `FILE` in state_dict order (whole network only)")
	if err := c.parse(args); err != nil {
		return err
	}
	defer c.progress.done() // also on errors, before run prints them
	if *k < 1 {
		return usagef("--k must be at least 1, got %d", *k)
	}
	if *vecs != "" && c.groups != "full" {
		return usagef("--eigvecs writes whole-network eigenvectors; it cannot be combined with --groups %s", c.groups)
	}
	m, b, err := c.load()
	if err != nil {
		return err
	}
	opts, err := c.options(m, b.Len())
	if err != nil {
		return err
	}
	compute := vivit.TopEigen
	if *dir {
		compute = vivit.Directional
	}
	res, err := compute(m, b, *k, opts)
	if err != nil {
		return err
	}
	var warnings []string
	for _, blk := range res.Blocks {
		if len(blk.Values) < *k {
			w := fmt.Sprintf("asked for %d eigenpairs but the GGN has rank %d: returning %d", *k, len(blk.Values), len(blk.Values))
			if blk.Name != "" {
				w = fmt.Sprintf("group %s: %s", blk.Name, w)
			}
			warnings = append(warnings, w)
			fmt.Fprintln(stderr, "vivit: warning:", w)
		}
	}
	if *vecs != "" {
		blk := res.Blocks[0]
		r, cols := blk.Vectors.Dims()
		if r == 0 {
			cols = blk.Layout.Size()
		}
		data := make([]float64, 0, r*cols)
		for j := 0; j < r; j++ {
			data = append(data, blk.Vector(j)...)
		}
		if err := npy.WriteFile(*vecs, &npy.Array{Shape: []int{r, cols}, Data: data}); err != nil {
			return err
		}
	}
	c.progress.done()
	w, closeOut, err := c.output(stdout)
	if err != nil {
		return err
	}
	switch c.format {
	case "json":
		err = writeEigenJSON(w, res, *k, c.groups == "layer", warnings)
	case "csv":
		err = writeEigenCSV(w, res, *dir)
	default:
		err = writeEigenTable(w, res, *dir)
	}
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	return err
}

func rows(m interface {
	Dims() (int, int)
	At(int, int) float64
}) [][]float64 {
	if m == nil {
		return nil
	}
	r, c := m.Dims()
	out := make([][]float64, r)
	for i := range out {
		out[i] = make([]float64, c)
		for j := range out[i] {
			out[i][j] = m.At(i, j)
		}
	}
	return out
}

func matRows(blk vivit.Block) (gamma, lambda [][]float64) {
	if blk.Gamma != nil {
		gamma = rows(blk.Gamma)
	}
	if blk.Lambda != nil {
		lambda = rows(blk.Lambda)
	}
	return gamma, lambda
}

func writeEigenJSON(w io.Writer, res *vivit.Result, k int, grouped bool, warnings []string) error {
	out := eigenJSON{
		NumParams: res.NumParams, BatchSize: res.BatchSize, CurvatureSamples: res.CurvatureSamples,
		Columns: res.Columns, Loss: res.Loss, K: k, Warnings: warnings, Seconds: seconds(res.Timing),
	}
	if grouped {
		for _, blk := range res.Blocks {
			g := eigenGroup{Name: blk.Name, Params: blk.Layout.Names, Eigenvalues: nonNil(blk.Values)}
			g.Gamma, g.Lambda = matRows(blk)
			out.Groups = append(out.Groups, g)
		}
	} else {
		blk := res.Blocks[0]
		out.Eigenvalues = nonNil(blk.Values)
		out.Gamma, out.Lambda = matRows(blk)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func nonNil(v []float64) []float64 {
	if v == nil {
		return []float64{}
	}
	return v
}

func groupName(blk vivit.Block) string {
	if blk.Name == "" {
		return "all"
	}
	return blk.Name
}

func writeEigenTable(w io.Writer, res *vivit.Result, dir bool) error {
	fmt.Fprintf(w, "GGN top eigenvalues: %d parameters, batch of %d (curvature from %d samples × %d columns), loss %.6g\n\n",
		res.NumParams, res.BatchSize, res.CurvatureSamples, res.Columns, res.Loss)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if dir {
		fmt.Fprintln(tw, "group\tk\teigenvalue\tmean γ\tvar γ\tSNR γ\tmean λ\tvar λ\tSNR λ\t")
	} else {
		fmt.Fprintln(tw, "group\tk\teigenvalue\t")
	}
	for _, blk := range res.Blocks {
		var gs, ls summary
		if dir && blk.Gamma != nil {
			gs, ls = summarize(blk.Gamma), summarize(blk.Lambda)
		}
		for j, v := range blk.Values {
			if dir {
				fmt.Fprintf(tw, "%s\t%d\t%.6e\t%.4e\t%.4e\t%.4g\t%.4e\t%.4e\t%.4g\t\n", groupName(blk), j+1, v,
					gs.mean[j], gs.variance[j], gs.snr[j], ls.mean[j], ls.variance[j], ls.snr[j])
			} else {
				fmt.Fprintf(tw, "%s\t%d\t%.6e\t\n", groupName(blk), j+1, v)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if dir {
		fmt.Fprintln(w, "\nγ_nk = e_kᵀ∇ℓ_n and λ_nk = e_kᵀG_n e_k over the samples n: mean, population variance, SNR = mean²/variance.")
	}
	t := res.Timing
	fmt.Fprintf(w, "\ntime: %.3fs (forward %.3fs, backprop %.3fs, Gram %.3fs, eigensolve %.3fs, map-back %.3fs, directional %.3fs)\n",
		t.Total().Seconds(), t.Forward.Seconds(), t.Backprop.Seconds(), t.Gram.Seconds(), t.Eigen.Seconds(), t.MapBack.Seconds(), t.Directional.Seconds())
	return nil
}

func writeEigenCSV(w io.Writer, res *vivit.Result, dir bool) error {
	cw := csv.NewWriter(w)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	if dir {
		cw.Write([]string{"group", "k", "eigenvalue", "sample", "gamma", "lambda"})
	} else {
		cw.Write([]string{"group", "k", "eigenvalue"})
	}
	for _, blk := range res.Blocks {
		for j, v := range blk.Values {
			if !dir {
				cw.Write([]string{groupName(blk), strconv.Itoa(j + 1), f(v)})
				continue
			}
			n, _ := blk.Gamma.Dims()
			for i := 0; i < n; i++ {
				cw.Write([]string{groupName(blk), strconv.Itoa(j + 1), f(v), strconv.Itoa(i), f(blk.Gamma.At(i, j)), f(blk.Lambda.At(i, j))})
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
