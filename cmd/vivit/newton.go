package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/npy"
	"github.com/vivit-go/vivit/safetensors"
	"github.com/vivit-go/vivit/torchpt"
)

const newtonSummary = `A damped Newton step for the batch loss in the top-k eigenbasis of its GGN,
s = −Σ_k ρ_k (e_kᵀ∇L)/(λ_k + δ) e_k, written as tensors with the
checkpoint's own names and shapes. Damping: constant:δ (ρ_k = 1),
shrink:δ (ρ_k = snr_k/(1+snr_k), snr_k the gradient signal-to-noise ratio
of direction k) or skip:δ:τ (ρ_k = 0 where snr_k < τ). docs/approximations.md
explains the choices.`

const newtonExamples = `  vivit newton --k 5 --damping shrink:1 --out step.safetensors
  vivit newton --model model.safetensors --data batch.safetensors --k 10 --damping constant:0.1 --out step.safetensors
  vivit newton --model model.safetensors --data batch.safetensors --k 10 --damping skip:0.01:2 --format json
`

type newtonJSON struct {
	K               int             `json:"k"`
	Damping         string          `json:"damping"`
	Loss            float64         `json:"loss"`
	StepNorm        float64         `json:"step_norm"`
	PredictedChange float64         `json:"predicted_change"`
	Directions      []newtonDirJSON `json:"directions"`
	Seconds         *timingSeconds  `json:"seconds,omitempty"`
}

type newtonDirJSON struct {
	Eigenvalue  float64  `json:"eigenvalue"`
	GradProj    float64  `json:"grad_projection"`
	GradSNR     *float64 `json:"grad_snr"`
	CurvSNR     *float64 `json:"curvature_snr"`
	Weight      float64  `json:"weight"`
	Coefficient float64  `json:"coefficient"`
}

func runNewton(args []string, stdout, stderr io.Writer) error {
	c := newCommon("newton", newtonSummary, newtonExamples, stdout, stderr, withKnobs)
	k := c.fs.Int("k", 10, "number `K` of leading eigendirections")
	c.add("k", "")
	damping := c.fs.String("damping", "constant:0", "`CHOICE`: constant:δ, shrink:δ or skip:δ:τ")
	c.add("damping", "")
	// --out is the step itself here; the table always goes to stdout.
	c.fs.Lookup("out").Usage = "write the step to `FILE`: .safetensors or .pt (one float64 tensor per parameter, under its own name and shape) or .npy ([P], state_dict order)"
	if err := c.parse(args); err != nil {
		return err
	}
	stepPath := &c.out
	defer func() { c.out = "" }()
	defer c.progress.done()
	if err := c.needBatch(); err != nil {
		return err
	}
	if *k < 1 {
		return usagef("--k must be at least 1, got %d", *k)
	}
	d, err := vivit.ParseDamping(*damping)
	if err != nil {
		return usagef("--damping: %v", err)
	}
	if c.groupsBy != "full" {
		return usagef("--groups does not apply to newton (the step uses the whole network's eigenbasis)")
	}
	if err := checkExt("out", *stepPath, ".safetensors", ".pt", ".npy"); err != nil {
		return err
	}
	m, b, opts, err := c.loadWithOptions()
	if err != nil {
		return err
	}
	st, err := vivit.Newton(m, b, *k, d, opts)
	if err != nil {
		return err
	}
	if n := len(st.Values); n < *k {
		c.warn("asked for %d directions but the GGN has rank %d: the step uses %d", *k, n, n)
	}
	if *stepPath != "" {
		if err := writeStep(*stepPath, st, *damping); err != nil {
			return err
		}
		c.out = ""
	}
	// The quadratic model's change along the step: Σ_k c_k g_k + ½ λ_k c_k².
	var predicted, norm2 float64
	for j, lam := range st.Values {
		cj := st.Coefficient[j]
		predicted += cj*st.GradProj[j] + 0.5*lam*cj*cj
		norm2 += cj * cj
	}
	err = c.writeResult(func(w io.Writer) error {
		switch c.format {
		case "json":
			out := newtonJSON{K: *k, Damping: *damping, Loss: st.Result.Loss, StepNorm: math.Sqrt(norm2), PredictedChange: predicted, Seconds: c.seconds(st.Result.Timing)}
			for j, lam := range st.Values {
				out.Directions = append(out.Directions, newtonDirJSON{Eigenvalue: lam, GradProj: st.GradProj[j],
					GradSNR: jsonFloat(st.GradSNR[j]), CurvSNR: jsonFloat(st.CurvSNR[j]), Weight: st.Weights[j], Coefficient: st.Coefficient[j]})
			}
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		case "csv":
			cw := csv.NewWriter(w)
			cw.Write([]string{"k", "eigenvalue", "grad_projection", "grad_snr", "curvature_snr", "weight", "coefficient"})
			for j, lam := range st.Values {
				cw.Write([]string{strconv.Itoa(j + 1), csvFloat(lam), csvFloat(st.GradProj[j]), csvFloat(st.GradSNR[j]), csvFloat(st.CurvSNR[j]), csvFloat(st.Weights[j]), csvFloat(st.Coefficient[j])})
			}
			cw.Flush()
			return cw.Error()
		}
		fmt.Fprintf(w, "Damped Newton step (%s) in the top-%d GGN eigenbasis: loss %.6g, ‖s‖ = %.4e, quadratic model change %.4e\n\n",
			*damping, len(st.Values), st.Result.Loss, math.Sqrt(norm2), predicted)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "k\tλ_k\te_kᵀ∇L\tgradient SNR\tcurvature SNR\tρ_k\tstep along e_k\t")
		for j, lam := range st.Values {
			fmt.Fprintf(tw, "%d\t%.6e\t%.4e\t%.4g\t%.4g\t%.3f\t%.4e\t\n", j+1, lam, st.GradProj[j], st.GradSNR[j], st.CurvSNR[j], st.Weights[j], st.Coefficient[j])
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err := fmt.Fprint(w, `
SNR: squared mean over the samples' variance/N of γ_nk (gradient) and λ_nk
(curvature), i.e. how far the batch-mean directional slope and curvature
stand above their noise. ρ_k: the damping's weight of direction k.
`)
		return err
	})
	if err == nil {
		c.timing(st.Result.Timing)
	}
	return err
}

// writeStep writes the step in the format its extension names.
func writeStep(path string, st *vivit.NewtonStep, damping string) error {
	switch extOf(path) {
	case ".npy":
		return npy.WriteFile(path, &npy.Array{Shape: []int{len(st.Step)}, Data: st.Step})
	case ".pt":
		var ts []torchpt.Tensor
		for i, name := range st.Layout.Names {
			ts = append(ts, torchpt.Tensor{Name: name, Shape: st.Layout.Shapes[i], F64: st.Step[st.Layout.Offsets[i]:st.Layout.Offsets[i+1]]})
		}
		return torchpt.WriteFile(path, ts)
	}
	var ts []safetensors.Tensor
	for i, name := range st.Layout.Names {
		ts = append(ts, safetensors.Tensor{Name: name, Shape: st.Layout.Shapes[i], F64: st.Step[st.Layout.Offsets[i]:st.Layout.Offsets[i+1]]})
	}
	return safetensors.WriteFile(path, ts, map[string]string{
		"format":  "vivit damped Newton step: add it to the parameters of the same name",
		"damping": damping,
		"k":       strconv.Itoa(len(st.Values)),
	})
}
