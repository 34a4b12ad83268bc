// Package onnx reads a network exported by torch.onnx.export into a
// model.Network whose parameters are the file's float initializers, by
// name. It needs no ONNX runtime: the protobuf is decoded with Go types
// generated from onnx.proto (internal/onnxpb).
//
// The operators it understands, and what each may hold, are listed in
// docs/formats.md. Among them, Conv is a 2-D convolution with any strides,
// symmetric pads and dilations, and any group G that divides the input and
// output channels (weight [out, in/G, kh, kw]): G = 1 is an ordinary
// convolution, G = channels a depthwise one (MobileNet, ConvNeXt). Anything
// else is refused before anything is computed, with one error naming the
// node, its operator and what is supported.
package onnx
