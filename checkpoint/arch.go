package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/vivit-go/vivit/internal/quote"
	"github.com/vivit-go/vivit/model"
)

// Architecture is the JSON description of a network stored in a
// checkpoint's metadata under "architecture" (see docs/formats.md).
type Architecture struct {
	InputShape []int             `json:"input_shape"`
	Layers     []json.RawMessage `json:"layers"`
	Loss       struct {
		Type      string `json:"type"`
		Reduction string `json:"reduction"`
	} `json:"loss"`
}

// LayerSpec is one entry of Architecture.Layers: its type and its other
// fields, still encoded.
type LayerSpec struct {
	Index  int
	Type   string
	Fields map[string]json.RawMessage

	budget *int // parameters the remaining layers may still allocate
	limit  int  // the whole budget, for messages
}

// Reserve claims n parameters for the layer before it allocates them, so
// that a crafted architecture cannot make Build allocate without bound:
// builders of parameter layers must call it first.
func (s LayerSpec) Reserve(n int) error {
	if n < 0 || n > *s.budget {
		if n < 0 {
			return fmt.Errorf("%w: %w", s.errorf("its parameter count overflows"), ErrTooLarge)
		}
		return fmt.Errorf("%w: %w", s.errorf("needs %d parameters, but only %d of the %d allowed remain", n, *s.budget, s.limit), ErrTooLarge)
	}
	*s.budget -= n
	return nil
}

// Int decodes an integer field; ok is false if the field is absent.
func (s LayerSpec) Int(name string) (v int, ok bool, err error) {
	raw, ok := s.Fields[name]
	if !ok {
		return 0, false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, true, s.errorf("field %q must be an integer, got %s", name, quote.Name(string(raw)))
	}
	return v, true, nil
}

// Bool decodes a boolean field, returning def if it is absent.
func (s LayerSpec) Bool(name string, def bool) (bool, error) {
	raw, ok := s.Fields[name]
	if !ok {
		return def, nil
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, s.errorf("field %q must be true or false, got %s", name, quote.Name(string(raw)))
	}
	return v, nil
}

// Float decodes a number field, returning def if it is absent.
func (s LayerSpec) Float(name string, def float64) (float64, error) {
	raw, ok := s.Fields[name]
	if !ok {
		return def, nil
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, s.errorf("field %q must be a number, got %s", name, quote.Name(string(raw)))
	}
	return v, nil
}

// Pair decodes a field that is an integer or a list of two integers (as
// PyTorch accepts for kernel sizes, strides and paddings), returning def if
// it is absent.
func (s LayerSpec) Pair(name string, def [2]int) ([2]int, error) {
	raw, ok := s.Fields[name]
	if !ok {
		return def, nil
	}
	var one int
	if err := json.Unmarshal(raw, &one); err == nil {
		return [2]int{one, one}, nil
	}
	var two []int
	if err := json.Unmarshal(raw, &two); err != nil || len(two) != 2 {
		return def, s.errorf("field %q must be an integer or a list of two integers, got %s", name, quote.Name(string(raw)))
	}
	return [2]int{two[0], two[1]}, nil
}

func (s LayerSpec) errorf(format string, args ...any) error {
	return fmt.Errorf("architecture: layer %d (%s): %s", s.Index, s.Type, fmt.Sprintf(format, args...))
}

// Builder checks a layer's spec against its per-sample input shape and
// plans the layer.
type Builder struct {
	Fields []string // accepted fields besides "type"
	// Build makes every check of the layer, reserves its parameters
	// (LayerSpec.Reserve) and returns its plan, allocating nothing in
	// proportion to the layer's size: BuildLimited plans every layer
	// before it allocates any.
	Build func(s LayerSpec, in []int) (LayerPlan, error)
}

// LayerPlan is a layer that has passed its checks but is not allocated
// yet.
type LayerPlan struct {
	Out  []int              // the per-sample output shape
	Make func() model.Layer // allocates the layer (zero parameters)
}

// builders maps architecture type names to layer builders.
var builders = map[string]Builder{
	"linear":  {Fields: []string{"in", "out", "bias"}, Build: buildLinear},
	"relu":    {Build: elementwise(model.NewReLU)},
	"tanh":    {Build: elementwise(model.NewTanh)},
	"sigmoid": {Build: elementwise(model.NewSigmoid)},
	"flatten": {Fields: []string{"start_dim", "end_dim"}, Build: buildFlatten},

	"conv2d":     {Fields: []string{"in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias", "padding_mode"}, Build: buildConv2d},
	"maxpool2d":  {Fields: []string{"kernel_size", "stride", "padding", "dilation", "ceil_mode"}, Build: buildMaxPool2d},
	"avgpool2d":  {Fields: []string{"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"}, Build: buildAvgPool2d},
	"leaky_relu": {Fields: []string{"negative_slope", "inplace"}, Build: buildLeakyReLU},
	"elu":        {Fields: []string{"alpha", "inplace"}, Build: buildELU},
	"softplus":   {Fields: []string{"beta", "threshold"}, Build: buildSoftplus},
	"dropout":    {Fields: []string{"p", "inplace"}, Build: buildDropout},

	// More of PyTorch's activations (activations.go).
	"relu6":       {Fields: []string{"inplace"}, Build: buildHardtanh(0, 6, false)},
	"hardtanh":    {Fields: []string{"min_val", "max_val", "inplace"}, Build: buildHardtanh(-1, 1, true)},
	"hardswish":   {Fields: []string{"inplace"}, Build: inplaceOnly(model.NewHardSwish)},
	"hardsigmoid": {Fields: []string{"inplace"}, Build: inplaceOnly(func(in []int) *model.Elementwise { return model.NewHardSigmoid(in, 1.0/6, 0.5) })},
	"silu":        {Fields: []string{"inplace"}, Build: inplaceOnly(model.NewSiLU)},
	"gelu":        {Fields: []string{"approximate"}, Build: buildGELU},
}

// LayerTypes returns the supported layer type names, sorted.
func LayerTypes() []string {
	var ts []string
	for t := range builders {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

func elementwise(f func([]int) *model.Elementwise) func(LayerSpec, []int) (LayerPlan, error) {
	return func(_ LayerSpec, in []int) (LayerPlan, error) {
		return same(in, func() model.Layer { return f(in) }), nil
	}
}

// same is the plan of a layer that keeps its input's shape.
func same(in []int, make func() model.Layer) LayerPlan {
	return LayerPlan{Out: append([]int(nil), in...), Make: make}
}

func buildLinear(s LayerSpec, in []int) (LayerPlan, error) {
	nin, okIn, err := s.Int("in")
	if err != nil {
		return LayerPlan{}, err
	}
	nout, okOut, err := s.Int("out")
	if err != nil {
		return LayerPlan{}, err
	}
	if !okIn || !okOut {
		return LayerPlan{}, s.errorf("needs fields \"in\" and \"out\" (or PyTorch's \"in_features\" and \"out_features\")")
	}
	if nin < 1 || nout < 1 {
		return LayerPlan{}, s.errorf("in and out must be positive, got in=%d out=%d", nin, nout)
	}
	if len(in) != 1 {
		return LayerPlan{}, s.errorf("expects input of shape [%d], but the previous layer gives %v (add a flatten layer?)", nin, in)
	}
	if in[0] != nin {
		return LayerPlan{}, s.errorf("expects input of shape [%d], but the previous layer gives %v", nin, in)
	}
	bias, err := s.Bool("bias", true)
	if err != nil {
		return LayerPlan{}, err
	}
	n := -1 // overflow: Reserve rejects it
	if nin <= (math.MaxInt-nout)/nout {
		n = nin * nout
		if bias {
			n += nout
		}
	}
	if err := s.Reserve(n); err != nil {
		return LayerPlan{}, err
	}
	return LayerPlan{Out: []int{nout}, Make: func() model.Layer { return model.NewLinear(s.Index, nin, nout, bias) }}, nil
}

func buildFlatten(s LayerSpec, in []int) (LayerPlan, error) {
	start, ok, err := s.Int("start_dim")
	if err != nil {
		return LayerPlan{}, err
	}
	if ok && start != 1 {
		return LayerPlan{}, s.errorf("only start_dim 1 is supported, got %d", start)
	}
	end, ok, err := s.Int("end_dim")
	if err != nil {
		return LayerPlan{}, err
	}
	if ok && end != -1 {
		return LayerPlan{}, s.errorf("only end_dim -1 is supported, got %d", end)
	}
	return LayerPlan{Out: []int{model.Numel(in)}, Make: func() model.Layer { return model.NewFlatten(in) }}, nil
}

// ErrTooLarge marks architectures that ask for more parameters than allowed.
var ErrTooLarge = errors.New("architecture too large")

// MaxParams bounds the parameters Build allocates: 2³¹ (16 GiB of
// float64), or on 32-bit platforms the float64 entries an int can address
// in bytes (2²⁸ − 1, 2 GiB).
const MaxParams = min(1<<31, math.MaxInt/8)

// Build makes an untrained network (zero parameters) from an architecture.
func (a *Architecture) Build() (*model.Network, error) {
	return a.BuildLimited(MaxParams)
}

// BuildLimited is Build for at most maxParams parameters; it fails before
// allocating anything larger. Loaders pass the number of values the
// checkpoint actually holds, so memory is bounded by the file's real size.
func (a *Architecture) BuildLimited(maxParams int) (*model.Network, error) {
	inShape, plans, loss, err := a.plan(maxParams)
	if err != nil {
		return nil, err
	}
	layers := make([]model.Layer, len(plans))
	for i, p := range plans {
		layers[i] = p.Make()
		if !slices.Equal(layers[i].OutShape(), p.Out) {
			panic(fmt.Sprintf("checkpoint: layer %d planned with output shape %v, built with %v", i, p.Out, layers[i].OutShape()))
		}
	}
	return model.NewSequential(inShape, layers, loss)
}

// plan checks the whole architecture, its shapes and its parameter count
// (at most maxParams), and plans every layer, allocating nothing in
// proportion to the network's size.
func (a *Architecture) plan(maxParams int) (inShape []int, plans []LayerPlan, loss model.Loss, err error) {
	budget := min(maxParams, MaxParams)
	if len(a.InputShape) == 0 {
		return nil, nil, loss, fmt.Errorf("architecture: input_shape is missing or empty")
	}
	total := 1
	for _, d := range a.InputShape {
		if d < 1 {
			return nil, nil, loss, fmt.Errorf("architecture: input_shape %v has a non-positive dimension", a.InputShape)
		}
		if total > maxFeatures/d {
			return nil, nil, loss, fmt.Errorf("architecture: input_shape %v is too large", a.InputShape)
		}
		total *= d
	}
	if len(a.Layers) == 0 {
		return nil, nil, loss, fmt.Errorf("architecture: no layers")
	}
	loss = model.Loss{Kind: model.LossKind(a.Loss.Type), Reduction: model.Reduction(a.Loss.Reduction)}
	if err := loss.Validate(); err != nil {
		return nil, nil, loss, fmt.Errorf("architecture: loss: %v", err)
	}
	inShape = append([]int(nil), a.InputShape...)
	shape := inShape
	// Check every layer and count its parameters before allocating any, so
	// that a mistake in a late layer costs nothing.
	for i, raw := range a.Layers {
		spec, err := parseLayerSpec(i, raw)
		if err != nil {
			return nil, nil, loss, err
		}
		spec.budget, spec.limit = &budget, min(maxParams, MaxParams)
		b, ok := builders[spec.Type]
		if !ok {
			return nil, nil, loss, fmt.Errorf("architecture: layer %d: unknown type %q (supported: %s, in any letter case, or PyTorch's class names such as Linear and LeakyReLU)", i, spec.Type, strings.Join(LayerTypes(), ", "))
		}
		if err := spec.applyAliases(); err != nil {
			return nil, nil, loss, err
		}
		allowed := map[string]bool{"type": true}
		for _, f := range b.Fields {
			allowed[f] = true
		}
		var unknown []string
		for f := range spec.Fields {
			if !allowed[f] {
				unknown = append(unknown, fmt.Sprintf("%q", f))
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return nil, nil, loss, spec.errorf("unknown field %s (%s takes: %s)", strings.Join(unknown, ", "), spec.Type, fieldList(spec.Type, b.Fields))
		}
		p, err := b.Build(spec, shape)
		if err != nil {
			return nil, nil, loss, err
		}
		if model.Numel(p.Out) < 1 || model.Numel(p.Out) > maxFeatures {
			return nil, nil, loss, spec.errorf("output shape %v is empty or too large", p.Out)
		}
		plans = append(plans, p)
		shape = p.Out
	}
	if len(shape) != 1 {
		return nil, nil, loss, fmt.Errorf("architecture: the last layer gives shape %v; the loss needs a vector of outputs (add a flatten layer?)", shape)
	}
	if loss.Kind == model.CrossEntropy && shape[0] < 2 {
		return nil, nil, loss, fmt.Errorf("architecture: cross_entropy needs at least 2 outputs, the network has %d", shape[0])
	}
	return inShape, plans, loss, nil
}

// maxFeatures bounds every per-sample tensor so that a crafted architecture
// cannot ask for unbounded memory.
const maxFeatures = 1 << 28

func parseLayerSpec(i int, raw json.RawMessage) (LayerSpec, error) {
	spec := LayerSpec{Index: i}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&spec.Fields); err != nil || spec.Fields == nil {
		return spec, fmt.Errorf("architecture: layer %d is not a JSON object", i)
	}
	t, ok := spec.Fields["type"]
	if !ok {
		return spec, fmt.Errorf("architecture: layer %d has no \"type\"", i)
	}
	if err := json.Unmarshal(t, &spec.Type); err != nil {
		return spec, fmt.Errorf("architecture: layer %d: \"type\" must be a string, got %s", i, t)
	}
	spec.Type = canonicalType(spec.Type)
	return spec, nil
}

// CanonicalLayerType returns the architecture's name for a layer type
// given in any letter case or as PyTorch's class name ("Linear",
// "LeakyReLU", "leaky_relu" → "linear", "leaky_relu"); an unknown type is
// returned unchanged.
func CanonicalLayerType(t string) string { return canonicalType(t) }

// canonicalType maps a layer type in any letter case, with or without
// underscores ("Linear", "LeakyReLU", "leaky_relu", "MaxPool2d"), to its
// architecture name; unknown types are returned unchanged.
func canonicalType(t string) string {
	key := strings.ReplaceAll(strings.ToLower(t), "_", "")
	for name := range builders {
		if strings.ReplaceAll(name, "_", "") == key {
			return name
		}
	}
	return t
}

// fieldAliases are PyTorch's constructor argument names accepted for a
// layer type's fields: nn.Linear(in_features, out_features).
var fieldAliases = map[string]map[string]string{
	"linear": {"in_features": "in", "out_features": "out"},
}

// applyAliases renames PyTorch's field names to the architecture's.
func (s *LayerSpec) applyAliases() error {
	for alias, name := range fieldAliases[s.Type] {
		raw, ok := s.Fields[alias]
		if !ok {
			continue
		}
		if _, both := s.Fields[name]; both {
			return s.errorf("fields %q and %q are the same; give one", name, alias)
		}
		s.Fields[name] = raw
		delete(s.Fields, alias)
	}
	return nil
}

// fieldList spells a layer type's fields for error messages, with their
// PyTorch aliases.
func fieldList(typ string, fields []string) string {
	if len(fields) == 0 {
		return "no fields besides \"type\""
	}
	out := "type, " + strings.Join(fields, ", ")
	var aliases []string
	for alias, name := range fieldAliases[typ] {
		aliases = append(aliases, alias+" for "+name)
	}
	sort.Strings(aliases)
	if len(aliases) > 0 {
		out += " (or " + strings.Join(aliases, ", ") + ")"
	}
	return out
}

// ParseArchitecture decodes an architecture JSON document, rejecting
// unknown top-level fields.
func ParseArchitecture(data []byte) (*Architecture, error) {
	var a Architecture
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("architecture: invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("architecture: trailing data after the JSON object")
	}
	return &a, nil
}
