package onnx

import (
	"errors"
	"fmt"

	pb "github.com/vivit-go/vivit/onnx/internal/onnxpb"
)

// precheck makes the checks of every node that need no shapes (operator
// and domain supported, attributes known, input count, every input defined
// by the graph input, an initializer or an earlier node, no output defined
// twice, one graph output) before any node is built, so that the reasons
// a model is refused are all found in one cheap pass. It reports whether it found a problem; then the model's nodes
// and problems are recorded as convert records them, without building
// anything, and convert returns c.failure().
func (c *converter) precheck(produced map[string]int) bool {
	defined := map[string]bool{}
	for name := range c.values {
		defined[name] = true
	}
	var infos []NodeInfo
	var errs []string
	for i, n := range c.g.GetNode() {
		info := NodeInfo{Name: nodeName(n, i), Op: opType(n), Inputs: n.GetInput(), Outputs: n.GetOutput()}
		if err := c.precheckNode(n, i, defined, produced); err != nil {
			info.Problem = err.Error()
			errs = append(errs, fmt.Sprintf("node %s (%s): %v", info.Name, info.Op, err))
		}
		for _, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			if defined[o] {
				errs = append(errs, fmt.Sprintf("node %s (%s): output %q is already defined", info.Name, info.Op, o))
			}
			defined[o] = true
		}
		infos = append(infos, info)
	}
	if outs := c.g.GetOutput(); len(outs) != 1 {
		errs = append(errs, fmt.Sprintf("the graph has %d outputs, the engine needs exactly one (the logits)", len(outs)))
	}
	if len(errs) == 0 {
		return false
	}
	c.m.Nodes = append(c.m.Nodes, infos...)
	c.errs = append(c.errs, errs...)
	return true
}

// precheckNode is the part of converter.node that needs no shapes.
func (c *converter) precheckNode(n *pb.NodeProto, i int, defined map[string]bool, produced map[string]int) error {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return fmt.Errorf("operator not supported (domain %q)", d)
	}
	for _, name := range n.GetInput() {
		if name == "" || defined[name] {
			continue
		}
		if j, later := produced[name]; later && j >= i {
			return fmt.Errorf("reads %q, which node %s computes later: the graph has a cycle or is not in topological order", name, nodeName(c.g.GetNode()[j], j))
		}
		return fmt.Errorf("reads %q, which no node, input or initializer defines", name)
	}
	h, ok := handlers[n.GetOpType()]
	if !ok {
		return errors.New("operator not supported")
	}
	if err := checkAttrs(n, h.attrs); err != nil {
		return err
	}
	if k := len(n.GetInput()); k < h.minIn || k > h.maxIn {
		return fmt.Errorf("has %d inputs, the operator takes %d to %d", k, h.minIn, h.maxIn)
	}
	return nil
}
