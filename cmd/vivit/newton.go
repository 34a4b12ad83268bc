package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"gonum.org/v1/gonum/floats"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/npy"
	"github.com/vivit-go/vivit/safetensors"
	"github.com/vivit-go/vivit/torchpt"
)

const newtonSummary = `A damped Newton step for the batch loss in the top-k eigenbasis of its GGN,
s = −Σ_k ρ_k (e_kᵀ∇L)/(λ_k + δ_k) e_k, written as tensors with the
checkpoint's own names and shapes; with --groups layer, the sum of one such
step per layer's GGN block. Damping: auto (the default: noise-aware,
ρ_k = b_k/(1+b_k) with b_k = N·SNR(γ_k) the batch SNR of the slope, and
δ_k = 3λ_k/(N·SNR(λ_k)) from the noise of the curvature; auto:δ adds δ),
constant:δ (ρ_k = 1), shrink:δ (ρ_k as in auto, δ_k = δ) or skip:δ:τ
(ρ_k = 0 where b_k < τ). SNRs as docs/maths.md defines them. The command
evaluates the batch loss after the step and warns when the quadratic
model's prediction is not trustworthy. docs/approximations.md explains the
choices.`

const newtonExamples = `  vivit newton --k 5 --out step.safetensors
  vivit newton --model model.safetensors --data batch.safetensors --k 10 --damping constant:0.1 --out step.safetensors
  vivit newton --model model.safetensors --data batch.safetensors --k 10 --damping skip:0.01:2 --format json
  vivit newton --k 3 --groups layer
`

type newtonJSON struct {
	K               int             `json:"k"`
	Damping         string          `json:"damping"`
	Groups          string          `json:"groups"`
	Loss            float64         `json:"loss"`
	LossAfter       float64         `json:"loss_after"`
	StepNorm        float64         `json:"step_norm"`
	PredictedChange float64         `json:"predicted_change"`
	Warnings        []string        `json:"warnings"`
	Directions      []newtonDirJSON `json:"directions"`
	Seconds         *timingSeconds  `json:"seconds,omitempty"`
}

type newtonDirJSON struct {
	Group         string   `json:"group,omitempty"`
	K             int      `json:"k"`
	Eigenvalue    float64  `json:"eigenvalue"`
	GradProj      float64  `json:"grad_projection"`
	GammaSNR      *float64 `json:"gamma_snr"`
	GammaBatchSNR *float64 `json:"gamma_batch_snr"`
	LambdaSNR     *float64 `json:"lambda_snr"`
	Damping       float64  `json:"damping"`
	Weight        float64  `json:"weight"`
	Coefficient   float64  `json:"coefficient"`
}

func runNewton(args []string, stdout, stderr io.Writer) error {
	c := newCommon("newton", newtonSummary, newtonExamples, stdout, stderr, withKnobs)
	k := c.fs.Int("k", 10, "number `K` of leading eigendirections (per group with --groups layer)")
	c.add("k", "")
	damping := c.fs.String("damping", "auto", "`CHOICE`: auto, auto:δ, constant:δ, shrink:δ or skip:δ:τ (constant:0 is the undamped step)")
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
	if pl := st.Result.Plan; pl != nil && pl.Chunked() {
		c.note("memory plan: " + pl.String())
	}
	if n := len(st.Values); n < *k && c.groupsBy == "full" {
		c.warn("asked for %d directions but the GGN has rank %d: the step uses %d", *k, n, n)
	}
	if *stepPath != "" {
		if err := writeStep(*stepPath, st, *damping); err != nil {
			return err
		}
		c.out = ""
	}
	norm := floats.Norm(st.Step, 2)
	chunk := b.Len()
	if pl := st.Result.Plan; pl != nil {
		chunk = pl.Chunk
	}
	lossAfter, err := lossAfterStep(m, b, st.Step, chunk)
	if err != nil {
		return err
	}
	warnings := append([]string(nil), st.Warnings...)
	if change := lossAfter - st.Result.Loss; change > 0 && st.PredictedChange < 0 {
		warnings = append(warnings, fmt.Sprintf("the batch loss went up by %.4g although the quadratic model predicted %.4g: the step is too long for the model (increase δ, e.g. --damping auto:%.3g, or lower --k)", change, st.PredictedChange, st.Values[0]/10))
	}
	if c.format != "table" { // the table prints them itself
		for _, w := range warnings {
			c.warn("%s", w)
		}
	}
	// groupOf is direction j's group: "" for the whole network.
	groupOf := func(j int) string { return st.Result.Blocks[st.Block[j]].Name }
	dirIndex := func(j int) int { // 1-based index of direction j within its block
		i := 1
		for q := j - 1; q >= 0 && st.Block[q] == st.Block[j]; q-- {
			i++
		}
		return i
	}
	err = c.writeResult(func(w io.Writer) error {
		switch c.format {
		case "json":
			out := newtonJSON{K: *k, Damping: *damping, Groups: c.groupsBy, Loss: st.Result.Loss, LossAfter: lossAfter, StepNorm: norm,
				PredictedChange: st.PredictedChange, Warnings: warnings, Seconds: c.seconds(st.Result.Timing)}
			if out.Warnings == nil {
				out.Warnings = []string{}
			}
			for j, lam := range st.Values {
				out.Directions = append(out.Directions, newtonDirJSON{Group: groupOf(j), K: dirIndex(j), Eigenvalue: lam, GradProj: st.GradProj[j],
					GammaSNR: jsonFloat(st.GradSNR[j]), GammaBatchSNR: jsonFloat(st.GradBatchSNR[j]), LambdaSNR: jsonFloat(st.CurvSNR[j]),
					Damping: st.Damping[j], Weight: st.Weights[j], Coefficient: st.Coefficient[j]})
			}
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		case "csv":
			cw := csv.NewWriter(w)
			cw.Write([]string{"group", "k", "eigenvalue", "grad_projection", "gamma_snr", "gamma_batch_snr", "lambda_snr", "damping", "weight", "coefficient"})
			for j, lam := range st.Values {
				cw.Write([]string{blockName(groupOf(j)), strconv.Itoa(dirIndex(j)), csvFloat(lam), csvFloat(st.GradProj[j]), csvFloat(st.GradSNR[j]), csvFloat(st.GradBatchSNR[j]),
					csvFloat(st.CurvSNR[j]), csvFloat(st.Damping[j]), csvFloat(st.Weights[j]), csvFloat(st.Coefficient[j])})
			}
			cw.Flush()
			return cw.Error()
		}
		basis := fmt.Sprintf("top-%d GGN eigenbasis", len(st.Values))
		if c.groupsBy == "layer" {
			basis = fmt.Sprintf("top-%d eigenbasis of each layer's GGN block", *k)
		}
		fmt.Fprintf(w, "Damped Newton step (%s) in the %s: ‖s‖ = %.4e\n", *damping, basis, norm)
		fmt.Fprintf(w, "batch loss %.6g → %.6g after the step (change %.4e; the quadratic model predicted %.4e)\n\n",
			st.Result.Loss, lossAfter, lossAfter-st.Result.Loss, st.PredictedChange)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		head := "k\tλ_k\te_kᵀ∇L\tSNR(γ)\tN·SNR(γ)\tSNR(λ)\tδ_k\tρ_k\tstep along e_k\t"
		if c.groupsBy == "layer" {
			head = "group\t" + head
		}
		fmt.Fprintln(tw, head)
		for j, lam := range st.Values {
			if c.groupsBy == "layer" {
				fmt.Fprintf(tw, "%s\t", groupOf(j))
			}
			fmt.Fprintf(tw, "%d\t%.6e\t%.4e\t%.4g\t%.4g\t%.4g\t%.3e\t%.3f\t%.4e\t\n", dirIndex(j), lam, st.GradProj[j], st.GradSNR[j], st.GradBatchSNR[j], st.CurvSNR[j], st.Damping[j], st.Weights[j], st.Coefficient[j])
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, warning := range warnings {
			fmt.Fprintf(w, "\nwarning: %s\n", warning)
		}
		_, err := fmt.Fprint(w, `
SNR(x) = mean²/variance of the per-sample values x_n (docs/maths.md): γ_nk
the slope and λ_nk the curvature of sample n along e_k. N·SNR(γ) is the
batch SNR of e_kᵀ∇L: below 1, the batch slope is within its noise. δ_k, ρ_k:
the damping and weight of direction k.
`)
		return err
	})
	if err == nil {
		c.timing(st.Result.Timing)
	}
	return err
}

// lossAfterStep returns the batch loss at θ + step: one forward pass with
// the step added to m's parameters, which are restored before it returns,
// over chunks of chunk samples (the run's memory plan), each chunk's
// activations released before the next.
func lossAfterStep(m *vivit.Model, b *vivit.Batch, step []float64, chunk int) (float64, error) {
	params := m.Params()
	saved := make([][]float64, len(params))
	off := 0
	for i, p := range params {
		saved[i] = append([]float64(nil), p.Data...)
		floats.Add(p.Data, step[off:off+len(p.Data)])
		off += len(p.Data)
	}
	defer func() {
		for i, p := range params {
			copy(p.Data, saved[i])
		}
	}()
	if err := b.Check(m); err != nil {
		return 0, err
	}
	n := b.Len()
	total := 0.0
	for lo := 0; lo < n; lo += chunk {
		sub := vivit.SliceBatch(b, lo, min(lo+chunk, n))
		acts, _ := m.ForwardKeep(context.Background(), sub.Inputs, nil)
		for _, l := range m.Loss.PerSample(acts[len(acts)-1], sub.Targets) {
			total += l
		}
		model.ReleaseActivations(acts)
	}
	return m.Loss.Weight(n) * total, nil
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
