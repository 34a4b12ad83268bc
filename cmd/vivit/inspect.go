package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/checkpoint"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/npy"
	"github.com/vivit-go/vivit/safetensors"
)

const inspectSummary = `What a model file (ONNX graph or checkpoint) holds and whether vivit can
analyse it: the nodes or layers with their input and output shapes and
parameters, the parameter count, the loss, the tensors in the file, and
every problem found (unsupported operators or layer types, missing or extra
tensors, shape mismatches, bad dtypes). A batch is optional; with one,
inspect also checks it and prints the loss. Exits with 1 when the model
cannot be analysed.`

const inspectExamples = `  vivit inspect
  vivit inspect --model model.safetensors
  vivit inspect net.onnx
  vivit inspect --model model.pt --arch arch.json --format json
  vivit inspect --model model.safetensors --data batch.safetensors
`

type inspectJSON struct {
	Model            string          `json:"model"`
	Format           string          `json:"format"`
	ArchitectureFrom string          `json:"architecture_from,omitempty"`
	InputShape       []int           `json:"input_shape,omitempty"`
	Loss             *inspectLoss    `json:"loss,omitempty"`
	NumOutputs       int             `json:"num_outputs,omitempty"`
	NumParams        int             `json:"num_params"`
	Layers           []inspectLayer  `json:"layers"`
	Tensors          []inspectTensor `json:"tensors"`
	Batch            *inspectBatch   `json:"batch,omitempty"`
	Supported        bool            `json:"supported"`
	Problems         []string        `json:"problems"`
	// SuggestedArchitecture is a starting point for --arch guessed from the
	// tensor names and shapes, when the checkpoint has no architecture.
	SuggestedArchitecture json.RawMessage `json:"suggested_architecture,omitempty"`

	// ONNX models: the operator set, the exporter, the loss's source
	// ("option", "metadata" or "default"), every node, and the reader's
	// warnings.
	Opset    int64         `json:"opset,omitempty"`
	Producer string        `json:"producer,omitempty"`
	LossFrom string        `json:"loss_from,omitempty"`
	Nodes    []inspectNode `json:"nodes,omitempty"`
	Warnings []string      `json:"warnings,omitempty"`
}

type inspectLoss struct {
	Type      string `json:"type"`
	Reduction string `json:"reduction"`
}

type inspectLayer struct {
	Index     int            `json:"index"`
	Type      string         `json:"type"`
	InShape   []int          `json:"in_shape,omitempty"`
	OutShape  []int          `json:"out_shape,omitempty"`
	Params    []inspectParam `json:"params"`
	Supported bool           `json:"supported"`
	Problem   string         `json:"problem,omitempty"`
}

type inspectParam struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	Numel int    `json:"numel"`
}

type inspectTensor struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []int  `json:"shape"`
	Numel int    `json:"numel"`
}

type inspectBatch struct {
	Size int     `json:"size"`
	Loss float64 `json:"loss"`
}

// errUnsupported is returned by inspect when the model cannot be
// analysed; the report says why.
var errUnsupported = errors.New("the model cannot be analysed")

func runInspect(args []string, stdout, stderr io.Writer) error {
	c := newCommon("inspect", inspectSummary, inspectExamples, stdout, stderr, withoutKnobs)
	c.formats = []string{"table", "json"}
	c.fs.Lookup("format").Usage = "output `FORMAT`: table or json"
	if err := c.parse(args); err != nil {
		return err
	}
	if isONNX(c.model) {
		rep, err := c.inspectONNX()
		if err != nil {
			return err
		}
		return c.report(rep)
	}
	ck, err := c.readCheckpoint()
	if err != nil {
		return err
	}
	rep := inspect(ck)
	if rep.SuggestedArchitecture != nil && c.batchGiven() {
		rep.SuggestedArchitecture = suggestArchitectureFor(ck, c.batchSampleShape())
	}
	if rep.Supported && c.model == "" {
		_, b, err := c.load()
		if err != nil {
			return err
		}
		rep.checkBatch(ck, b)
	} else if rep.Supported && c.batchGiven() {
		m, err := ck.build()
		if err == nil {
			var b *vivit.Batch
			if b, err = c.loadBatch(m); err == nil {
				rep.checkBatch(ck, b)
			}
		}
		if err != nil {
			rep.problem("%v", err)
		}
	}
	return c.report(rep)
}

// report writes inspect's report and fails when the model cannot be
// analysed.
func (c *common) report(rep *inspectJSON) error {
	err := c.writeResult(func(w io.Writer) error {
		if c.format == "json" {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		}
		if rep.Format == "onnx" {
			return rep.onnxTable(w)
		}
		return rep.table(w)
	})
	if err == nil && !rep.Supported {
		return fmt.Errorf("%w: %d problem%s, listed in the report", errUnsupported, len(rep.Problems), plural(len(rep.Problems)))
	}
	return err
}

func (r *inspectJSON) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	r.Supported = false
}

func (r *inspectJSON) checkBatch(ck *checkpointFile, b *vivit.Batch) {
	m, err := ck.build()
	if err != nil {
		r.problem("%v", err)
		return
	}
	loss, _, err := vivit.Gradient(m, b)
	if err != nil {
		r.problem("batch: %v", err)
		return
	}
	r.Batch = &inspectBatch{Size: b.Len(), Loss: loss}
}

// inspect analyses a checkpoint layer by layer, collecting every problem
// rather than stopping at the first.
func inspect(ck *checkpointFile) *inspectJSON {
	r := &inspectJSON{Model: ck.path, Format: ck.format, ArchitectureFrom: ck.archFrom,
		Layers: []inspectLayer{}, Problems: []string{}, Supported: true}
	for _, t := range ck.file.Tensors {
		r.Tensors = append(r.Tensors, inspectTensor{Name: t.Name, DType: ck.dtypes[t.Name], Shape: nonNilInts(t.Shape), Numel: t.NumElements()})
	}
	if ck.arch == nil {
		r.problem("%v", ck.archErr)
		r.SuggestedArchitecture = suggestArchitecture(ck)
		return r
	}
	a := ck.arch
	r.InputShape = a.InputShape
	r.Loss = &inspectLoss{Type: a.Loss.Type, Reduction: a.Loss.Reduction}
	if err := (model.Loss{Kind: model.LossKind(a.Loss.Type), Reduction: model.Reduction(a.Loss.Reduction)}).Validate(); err != nil {
		r.problem("loss: %v", err)
	}
	known := map[string]bool{}
	for _, t := range checkpoint.LayerTypes() {
		known[t] = true
	}
	params := map[string]*model.Param{} // parameters of the layers that build
	var order []string
	broken := -1 // first layer that did not build
	for i, raw := range a.Layers {
		l := inspectLayer{Index: i, Type: checkpoint.CanonicalLayerType(layerType(raw)), Params: []inspectParam{}}
		switch {
		case !known[l.Type]:
			l.Problem = fmt.Sprintf("unknown layer type %q (supported: %s)", l.Type, strings.Join(checkpoint.LayerTypes(), ", "))
		case broken >= 0:
			l.Problem = fmt.Sprintf("not checked: its input shape depends on layer %d, which failed", broken)
		default:
			layer, err := buildPrefix(a, i)
			if err != nil {
				// The table names the layer: drop the message's own prefix.
				l.Problem = strings.TrimPrefix(err.Error(), "architecture: ")
				l.Problem = strings.TrimPrefix(l.Problem, fmt.Sprintf("layer %d (%s): ", i, l.Type))
				break
			}
			l.InShape, l.OutShape = layer.InShape(), layer.OutShape()
			if pl, ok := layer.(model.ParamLayer); ok {
				for _, p := range pl.Params() {
					l.Params = append(l.Params, inspectParam{Name: p.Name, Shape: p.Shape, Numel: len(p.Data)})
					params[p.Name] = p
					order = append(order, p.Name)
					r.NumParams += len(p.Data)
				}
			}
		}
		l.Supported = l.Problem == ""
		if !l.Supported {
			if broken < 0 {
				broken = i
			}
			r.problem("layer %d (%s): %s", i, l.Type, l.Problem)
		}
		r.Layers = append(r.Layers, l)
	}
	if len(a.Layers) == 0 {
		r.problem("the architecture has no layers")
	}
	if broken < 0 && len(a.Layers) > 0 {
		if net, err := a.Build(); err != nil {
			r.problem("%s", strings.TrimPrefix(err.Error(), "architecture: "))
		} else {
			r.NumOutputs = net.NumOutputs()
		}
	}
	// Tensors against parameters.
	inFile := map[string]bool{}
	for _, t := range ck.file.Tensors {
		inFile[t.Name] = true
		p, ok := params[t.Name]
		if !ok {
			if broken < 0 {
				r.problem("tensor %q is not a parameter of the architecture", t.Name)
			}
			continue
		}
		if !slices.Equal(t.Shape, p.Shape) {
			r.problem("tensor %q has shape %v, the architecture needs %v", t.Name, t.Shape, p.Shape)
		}
		if t.DType != "F32" && t.DType != "F64" {
			r.problem("tensor %q has dtype %s; vivit reads float32 and float64", t.Name, ck.dtypes[t.Name])
		}
	}
	var missing, extra []string
	for _, name := range order {
		if !inFile[name] {
			r.problem("tensor %q is missing (needed by the architecture)", name)
			missing = append(missing, name)
		}
	}
	if broken < 0 {
		for _, t := range ck.file.Tensors {
			if _, ok := params[t.Name]; !ok {
				extra = append(extra, t.Name)
			}
		}
	}
	if p := commonPrefix(extra, missing); p != "" {
		r.problem("every tensor name carries the prefix %q that the architecture's lack (nn.DataParallel saves \"module.\"): pass --rename %s= to strip it; for custom modules, export to ONNX (docs/formats.md)", p, p)
	}
	if r.Supported {
		if _, err := ck.build(); err != nil {
			r.problem("%v", err)
		}
	}
	return r
}

// commonPrefix returns the prefix p such that the names in extra are
// exactly p + the names in missing ("module." for a DataParallel
// state_dict), or "" if there is none.
func commonPrefix(extra, missing []string) string {
	if len(extra) == 0 || len(extra) != len(missing) {
		return ""
	}
	want := map[string]bool{}
	for _, m := range missing {
		want[m] = true
	}
	prefix := ""
	for _, m := range missing {
		if strings.HasSuffix(extra[0], m) {
			prefix = strings.TrimSuffix(extra[0], m)
			break
		}
	}
	if prefix == "" {
		return ""
	}
	for _, e := range extra {
		rest, ok := strings.CutPrefix(e, prefix)
		if !ok || !want[rest] {
			return ""
		}
	}
	return prefix
}

func nonNilInts(v []int) []int {
	if v == nil {
		return []int{}
	}
	return v
}

func layerType(raw json.RawMessage) string {
	var spec struct {
		Type any `json:"type"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		return "?"
	}
	if s, ok := spec.Type.(string); ok {
		return s
	}
	return "?"
}

// buildPrefix builds layers 0..i of a (then a flatten, so that any output
// shape suits the loss) and returns layer i.
func buildPrefix(a *checkpoint.Architecture, i int) (model.Layer, error) {
	b := *a
	b.Layers = append(append([]json.RawMessage{}, a.Layers[:i+1]...), json.RawMessage(`{"type": "flatten"}`))
	b.Loss.Type, b.Loss.Reduction = "mse", "mean"
	net, err := b.Build()
	if err != nil {
		return nil, err
	}
	return net.Nodes[i].Op.(model.Layer), nil
}

var paramName = regexp.MustCompile(`^(\d+)\.(weight|bias)$`)

// suggestArchitecture guesses an architecture from tensor names and shapes
// ("<index>.weight" [out, in] is a linear layer, [out, in, kh, kw] a
// conv2d), leaving the parameter-free layers in between as "?".
func suggestArchitecture(ck *checkpointFile) json.RawMessage { return suggestArchitectureFor(ck, nil) }

// batchSampleShape returns the per-sample shape of the inputs of the batch
// given on the command line (safetensors "inputs" or an .npy file), or nil
// when there is none or it cannot be read.
func (c *common) batchSampleShape() []int {
	var shape []int
	switch {
	case c.data != "" && extOf(c.data) == ".safetensors":
		f, err := safetensors.Open(c.data)
		if err != nil {
			return nil
		}
		info, ok := f.Info("inputs")
		if !ok {
			return nil
		}
		shape = info.Shape
	case c.inputs != "" && extOf(c.inputs) == ".npy":
		a, err := npy.ReadFile(c.inputs)
		if err != nil {
			return nil
		}
		shape = a.Shape
	}
	if len(shape) < 2 {
		return nil
	}
	return shape[1:]
}

// suggestArchitectureFor is suggestArchitecture with the per-sample input
// shape of a batch, when one is given, in place of the guess from the
// first layer (whose spatial size a conv2d weight does not tell).
func suggestArchitectureFor(ck *checkpointFile, batchShape []int) json.RawMessage {
	type layer struct {
		weight []int
		bias   bool
	}
	layers := map[int]*layer{}
	last := -1
	for _, t := range ck.file.Tensors {
		m := paramName.FindStringSubmatch(t.Name)
		if m == nil {
			return nil
		}
		i, _ := strconv.Atoi(m[1])
		if layers[i] == nil {
			layers[i] = &layer{}
		}
		if m[2] == "weight" {
			layers[i].weight = t.Shape
		} else {
			layers[i].bias = true
		}
		last = max(last, i)
	}
	if last < 0 {
		return nil
	}
	var specs []string
	var input []int
	for i := 0; i <= last; i++ {
		l := layers[i]
		switch {
		case l == nil:
			specs = append(specs, `{"type": "?"}`)
		case len(l.weight) == 2:
			if input == nil {
				input = []int{l.weight[1]}
			}
			specs = append(specs, fmt.Sprintf(`{"type": "linear", "in": %d, "out": %d, "bias": %t}`, l.weight[1], l.weight[0], l.bias))
		case len(l.weight) == 4:
			if input == nil {
				input = []int{l.weight[1], 0, 0}
			}
			specs = append(specs, fmt.Sprintf(`{"type": "conv2d", "in_channels": %d, "out_channels": %d, "kernel_size": [%d, %d], "bias": %t}`,
				l.weight[1], l.weight[0], l.weight[2], l.weight[3], l.bias))
		default:
			return nil
		}
	}
	if len(batchShape) == len(input) && (len(input) == 1 || batchShape[0] == input[0]) {
		input = batchShape
	}
	in, _ := json.Marshal(input)
	return json.RawMessage(fmt.Sprintf("{\"input_shape\": %s,\n \"layers\": [%s],\n \"loss\": {\"type\": \"cross_entropy\", \"reduction\": \"mean\"}}",
		in, strings.Join(specs, ",\n            ")))
}

func shapeText(s []int) string {
	if s == nil {
		return "-"
	}
	return model.FormatShape(s) // [a b c], as in every message
}

func (r *inspectJSON) table(w io.Writer) error {
	kind := "safetensors"
	if r.Format == "pytorch" {
		kind = "PyTorch state_dict"
	}
	fmt.Fprintf(w, "checkpoint: %s (%s, %d tensors)\n", r.Model, kind, len(r.Tensors))
	if r.Loss == nil {
		fmt.Fprintln(w, "architecture: none")
	} else {
		from := r.ArchitectureFrom
		if from != "metadata" {
			from = "--arch " + from
		}
		fmt.Fprintf(w, "architecture (%s): input %s, loss %s (%s)", from, shapeText(r.InputShape), r.Loss.Type, r.Loss.Reduction)
		if r.NumOutputs > 0 {
			fmt.Fprintf(w, ", %d outputs, %d parameters", r.NumOutputs, r.NumParams)
		}
		fmt.Fprintln(w)
	}
	if len(r.Layers) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "layer\ttype\tinput\toutput\tparameters\tsupported")
		for _, l := range r.Layers {
			var ps []string
			for _, p := range l.Params {
				ps = append(ps, p.Name+" "+shapeText(p.Shape))
			}
			if len(ps) == 0 {
				ps = []string{"-"}
			}
			ok := "yes"
			if !l.Supported {
				ok = "NO"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", l.Index, l.Type, shapeText(l.InShape), shapeText(l.OutShape), strings.Join(ps, ", "), ok)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "tensor\tdtype\tshape")
		for _, t := range r.Tensors {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.DType, shapeText(t.Shape))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if r.Batch != nil {
		fmt.Fprintf(w, "\nbatch: %d samples, loss %.6g\n", r.Batch.Size, r.Batch.Loss)
	}
	if r.Supported {
		_, err := fmt.Fprintln(w, "\nsupported: yes")
		return err
	}
	fmt.Fprintf(w, "\nsupported: no\n")
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
	if r.SuggestedArchitecture != nil {
		fmt.Fprintf(w, "\nA starting point for --arch, guessed from the tensors (replace each \"?\" by the\nparameter-free layer at that index of your nn.Sequential, check input_shape and loss):\n%s\n", r.SuggestedArchitecture)
	}
	return nil
}
