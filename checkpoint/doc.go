// Package checkpoint reads sequential networks (PyTorch nn.Sequential
// stacks) from checkpoints: their parameters from a safetensors file or a
// PyTorch state_dict (.pt), their layers from an architecture JSON held in
// the safetensors metadata under "architecture" or given separately
// (docs/formats.md describes both). Networks exported as ONNX graphs are
// read by package onnx; batches by package batch.
//
// # Reading
//
// Load reads a file and builds its network in one call. Open reads the
// file alone, telling safetensors from PyTorch by its first bytes, so
// that its tensors and metadata architecture can be examined before the
// network is built (File.Architecture, File.Network). A File's tensors are
// a *safetensors.File whatever the format: a PyTorch state_dict is
// converted in memory, in state_dict order.
//
// # Architectures
//
// ParseArchitecture decodes the JSON; Architecture.Build makes an
// untrained network (zero parameters) from it, layer by layer through the
// builders of LayerTypes, each checking its fields and that its input
// shape is the previous layer's output. The model package holds the
// layers themselves.
//
// # Limits
//
// A crafted file cannot make the reader allocate without bound: every
// per-sample tensor is at most 2²⁸ values, and a checkpoint's architecture
// may ask for at most the number of values the file holds (plus 2²⁰) in
// parameters (Architecture.BuildLimited; ErrTooLarge otherwise).
//
// # Errors
//
// Every error names what is at fault: the file, the tensor (missing, extra,
// wrong shape or dtype, non-finite value at an index), the layer by index
// and type with the field, or the top-level field of the architecture.
// A checkpoint without an architecture gives an error matching
// ErrNoArchitecture. Nothing panics on user input.
package checkpoint
