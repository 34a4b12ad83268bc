package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/onnx"
)

// inspectNode is one node of an ONNX graph in inspect's report.
type inspectNode struct {
	Name    string   `json:"name"`
	Op      string   `json:"op"`
	Inputs  []string `json:"inputs"`
	Outputs []string `json:"outputs"`
	// Shapes are the output shapes, N for the batch axis.
	Shapes []string `json:"shapes,omitempty"`
	// Mapped is the network operation the node became, "constant" or
	// "alias"; empty when the node cannot be analysed.
	Mapped  string `json:"mapped,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// inspectONNX reads an ONNX model as far as it can and reports its graph,
// its parameters and every problem at once.
func (c *common) inspectONNX() (*inspectJSON, error) {
	loss, err := c.lossOption()
	if err != nil {
		return nil, err
	}
	r := &inspectJSON{Model: c.model, Format: "onnx", Layers: []inspectLayer{}, Tensors: []inspectTensor{}, Problems: []string{}, Supported: true}
	om, err := onnx.ReadFile(c.model, &onnx.Options{Loss: loss})
	if om == nil {
		// Not an ONNX model at all: nothing to describe.
		return nil, err
	}
	r.Opset, r.Producer, r.Warnings = om.Opset, om.Producer, om.Warnings
	for _, n := range om.Nodes {
		r.Nodes = append(r.Nodes, inspectNode{Name: n.Name, Op: n.Op, Inputs: n.Inputs, Outputs: n.Outputs, Shapes: n.Shapes, Mapped: n.Mapped, Problem: n.Problem})
	}
	if err != nil {
		problems := om.Problems
		if len(problems) == 0 {
			problems = []string{strings.TrimPrefix(err.Error(), c.model+": ")}
		}
		for _, p := range problems {
			r.problem("%s", p)
		}
		return r, nil
	}
	m := om.Net
	r.ArchitectureFrom = "onnx"
	r.InputShape = m.InputShape
	r.Loss = &inspectLoss{Type: string(m.Loss.Kind), Reduction: string(m.Loss.Reduction)}
	r.LossFrom = om.LossSource
	r.NumOutputs = m.NumOutputs()
	r.NumParams = m.NumParams()
	for _, p := range m.Params() {
		r.Tensors = append(r.Tensors, inspectTensor{Name: p.Name, DType: "parameter", Shape: p.Shape, Numel: len(p.Data)})
	}
	if c.batchGiven() {
		b, err := c.loadBatch(m)
		if err == nil {
			var l float64
			if l, _, err = vivit.Gradient(m, b); err == nil {
				r.Batch = &inspectBatch{Size: b.Len(), Loss: l}
			}
		}
		if err != nil {
			r.problem("%v", err)
		}
	}
	return r, nil
}

// onnxTable writes the report of an ONNX model.
func (r *inspectJSON) onnxTable(w io.Writer) error {
	fmt.Fprintf(w, "ONNX model: %s (opset %d, %s, %d nodes)\n", r.Model, r.Opset, r.Producer, len(r.Nodes))
	if r.Loss != nil {
		fmt.Fprintf(w, "network: input %s, %d outputs, %d parameters, loss %s:%s (%s)\n",
			model.FormatShape(r.InputShape), r.NumOutputs, r.NumParams, r.Loss.Type, r.Loss.Reduction, r.LossFrom)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "node\top\tbecomes\toutput shape\tproblem")
	for _, n := range r.Nodes {
		mapped := n.Mapped
		if mapped == "" {
			mapped = "-"
		}
		shape := strings.Join(n.Shapes, ", ")
		if shape == "" {
			shape = "-"
		}
		problem := n.Problem
		if problem == "" {
			problem = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Name, n.Op, mapped, shape, problem)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Tensors) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "parameter\tshape\tvalues")
		for _, t := range r.Tensors {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", t.Name, model.FormatShape(t.Shape), t.Numel)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(w, "\nwarning: %s\n", wn)
	}
	if r.Batch != nil {
		fmt.Fprintf(w, "\nbatch: %d samples, loss %.6g (compare it with PyTorch's on the same batch)\n", r.Batch.Size, r.Batch.Loss)
	}
	if r.Supported {
		_, err := fmt.Fprintln(w, "\nsupported: yes")
		return err
	}
	fmt.Fprintf(w, "\nsupported: no\n")
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
	return nil
}
