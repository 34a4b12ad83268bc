package onnx

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/vivit-go/vivit/model"
	pb "github.com/vivit-go/vivit/onnx/internal/onnxpb"
)

// LossKey is the model metadata property that holds the loss
// ("cross_entropy:mean"); ONNX itself has no notion of a loss.
const LossKey = "vivit.loss"

// The opsets of the default domain the reader understands: the operator
// semantics it implements are those of opsets 13 to 20 (Split, Squeeze and
// Unsqueeze take their axes as inputs from 13; ReduceMean takes them as an
// input from 18).
const (
	minOpset = 13
	maxOpset = 20
)

// maxFileSize bounds the files ReadFile reads whole.
const maxFileSize = 4 << 30

// Options are the settings of Read. The zero value (or nil) reads the loss
// from the model's metadata (LossKey), defaulting to cross_entropy:mean.
type Options struct {
	// Loss overrides the loss of the metadata.
	Loss *model.Loss
}

// Model is an ONNX file read into a network, with what the reader saw.
type Model struct {
	// Net is the network; nil when the file cannot be analysed.
	Net *model.Network
	// LossSource says where the loss came from: "option", "metadata" or
	// "default".
	LossSource string
	// Opset is the version of the default operator set.
	Opset    int64
	Producer string
	// Nodes describe every node of the file's graph, in file order.
	Nodes []NodeInfo
	// Problems are why the graph cannot be analysed, one per node at
	// fault (Read's error lists them all).
	Problems []string
	// Warnings are findings that do not stop the analysis, such as
	// anonymous initializer names left by an export that folded BatchNorm
	// into the convolutions.
	Warnings []string
}

// NodeInfo describes one ONNX node and what the reader made of it.
type NodeInfo struct {
	Name, Op string
	Inputs   []string
	Outputs  []string
	// Shapes are the output shapes, with N for the batch axis (2N, 4N
	// for an axis that merges it with others, as attention's reshapes
	// do); empty for outputs that are not activations.
	Shapes []string
	// Mapped is the network operation the node became ("conv2d",
	// "batchnorm", …), "constant" for a folded constant, "alias" for a node
	// that passes its input on (Identity, Dropout, a trivial reshape), or "".
	Mapped string
	// Problem is why the node cannot be analysed; "" if it can.
	Problem string
}

// ReadFile reads an ONNX model file; see Read. Errors start with the path.
func ReadFile(path string, o *Options) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d an ONNX model may have here", path, st.Size(), int64(maxFileSize))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Read(data, o)
	if err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ErrUnsupported marks models that parse but use operators, attributes or
// tensors the engine cannot analyse.
var ErrUnsupported = errors.New("unsupported ONNX model")

// Read parses an ONNX model and builds its network. Every node is checked
// before anything is allocated beyond the file's own tensors; all problems
// are reported at once, in one line, with the node, its operator and what
// is supported. The returned Model describes the graph as far as it could
// be read even when err is not nil (nil only if the bytes are not an ONNX
// model at all).
func Read(data []byte, o *Options) (*Model, error) {
	if o == nil {
		o = &Options{}
	}
	if len(data) == 0 {
		return nil, errors.New("empty file: not an ONNX model")
	}
	var mp pb.ModelProto
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &mp); err != nil {
		return nil, fmt.Errorf("not an ONNX model (protobuf: %v)", err)
	}
	g := mp.GetGraph()
	if g == nil || len(g.GetNode()) == 0 {
		return nil, errors.New("not an ONNX model: no graph nodes")
	}
	m := &Model{Producer: strings.TrimSpace(mp.GetProducerName() + " " + mp.GetProducerVersion())}
	for _, op := range mp.GetOpsetImport() {
		switch op.GetDomain() {
		case "", "ai.onnx":
			m.Opset = op.GetVersion()
		default:
			return m, fmt.Errorf("%w: it imports operator set %q (version %d); only the default ONNX domain is supported", ErrUnsupported, op.GetDomain(), op.GetVersion())
		}
	}
	if m.Opset < minOpset || m.Opset > maxOpset {
		return m, fmt.Errorf("%w: opset %d (supported: %d to %d; export with opset_version=17)", ErrUnsupported, m.Opset, minOpset, maxOpset)
	}

	loss, src, err := chooseLoss(&mp, o)
	if err != nil {
		return m, err
	}
	m.LossSource = src
	c, err := newConverter(g, m)
	if err != nil {
		return m, err
	}
	net, err := c.convert(loss)
	if err != nil {
		return m, err
	}
	m.Net = net
	return m, nil
}

func chooseLoss(mp *pb.ModelProto, o *Options) (model.Loss, string, error) {
	if o.Loss != nil {
		if err := o.Loss.Validate(); err != nil {
			return model.Loss{}, "", err
		}
		return *o.Loss, "option", nil
	}
	for _, p := range mp.GetMetadataProps() {
		if p.GetKey() == LossKey {
			l, err := model.ParseLoss(p.GetValue())
			if err != nil {
				return model.Loss{}, "", fmt.Errorf("metadata property %s: %w", LossKey, err)
			}
			return l, "metadata", nil
		}
	}
	return model.Loss{Kind: model.CrossEntropy, Reduction: model.Mean}, "default", nil
}

// SupportedOps returns the ONNX operators the reader maps, sorted.
func SupportedOps() []string {
	ops := make([]string, 0, len(handlers))
	for op := range handlers {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}
