package onnx

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	pb "github.com/vivit-go/vivit/onnx/internal/onnxpb"
)

// checkAttrs refuses attributes the handler does not know: an attribute
// the engine ignored could change the operator's meaning.
func checkAttrs(n *pb.NodeProto, allowed []string) error {
	for _, a := range n.GetAttribute() {
		if !slices.Contains(allowed, a.GetName()) {
			known := "none"
			if len(allowed) > 0 {
				s := slices.Clone(allowed)
				sort.Strings(s)
				known = strings.Join(s, ", ")
			}
			return fmt.Errorf("attribute %q is not supported (supported: %s)", a.GetName(), known)
		}
	}
	return nil
}

func attr(n *pb.NodeProto, name string) *pb.AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

func attrInt(n *pb.NodeProto, name string, def int64) (int64, error) {
	a := attr(n, name)
	if a == nil {
		return def, nil
	}
	if a.GetType() != pb.AttributeProto_INT {
		return 0, fmt.Errorf("attribute %q must be an integer", name)
	}
	return a.GetI(), nil
}

func attrFloat(n *pb.NodeProto, name string, def float64) (float64, error) {
	a := attr(n, name)
	if a == nil {
		return def, nil
	}
	if a.GetType() != pb.AttributeProto_FLOAT {
		return 0, fmt.Errorf("attribute %q must be a float", name)
	}
	// Float attributes are float32 in ONNX: epsilon 1e-5 arrives as
	// 9.99999974738e-06.
	return snap32(float64(a.GetF())), nil
}

func attrString(n *pb.NodeProto, name, def string) (string, error) {
	a := attr(n, name)
	if a == nil {
		return def, nil
	}
	if a.GetType() != pb.AttributeProto_STRING {
		return "", fmt.Errorf("attribute %q must be a string", name)
	}
	return string(a.GetS()), nil
}

// attrInts returns an integer list attribute, nil when absent.
func attrInts(n *pb.NodeProto, name string) ([]int64, error) {
	a := attr(n, name)
	if a == nil {
		return nil, nil
	}
	if a.GetType() != pb.AttributeProto_INTS {
		return nil, fmt.Errorf("attribute %q must be a list of integers", name)
	}
	return a.GetInts(), nil
}

// pair reads a 2-element integer attribute (kernel, strides, dilations),
// with def when absent.
func pair(n *pb.NodeProto, name string, def [2]int, min int64) ([2]int, error) {
	v, err := attrInts(n, name)
	if err != nil || v == nil {
		return def, err
	}
	if len(v) != 2 {
		return def, fmt.Errorf("attribute %s = %v: only 2-D windows are supported", name, v)
	}
	for _, x := range v {
		if x < min || x > 1<<20 {
			return def, fmt.Errorf("attribute %s = %v is out of range", name, v)
		}
	}
	return [2]int{int(v[0]), int(v[1])}, nil
}

// symmetricPads reads ONNX pads [top, left, bottom, right], which the
// engine's windows need symmetric (as PyTorch exports them).
func symmetricPads(n *pb.NodeProto) ([2]int, error) {
	v, err := attrInts(n, "pads")
	if err != nil || v == nil {
		return [2]int{}, err
	}
	if len(v) != 4 {
		return [2]int{}, fmt.Errorf("attribute pads = %v: only 2-D windows are supported", v)
	}
	for _, x := range v {
		if x < 0 || x > 1<<20 {
			return [2]int{}, fmt.Errorf("attribute pads = %v is out of range", v)
		}
	}
	if v[0] != v[2] || v[1] != v[3] {
		return [2]int{}, fmt.Errorf("attribute pads = %v is asymmetric (only equal padding on both sides is supported)", v)
	}
	return [2]int{int(v[0]), int(v[1])}, nil
}

func checkAutoPad(n *pb.NodeProto) error {
	ap, err := attrString(n, "auto_pad", "NOTSET")
	if err != nil {
		return err
	}
	if ap != "NOTSET" && ap != "VALID" {
		return fmt.Errorf("attribute auto_pad = %s is not supported (NOTSET or VALID; export with explicit padding)", ap)
	}
	if ap == "VALID" && attr(n, "pads") != nil {
		return fmt.Errorf("attribute auto_pad = VALID together with pads")
	}
	return nil
}
