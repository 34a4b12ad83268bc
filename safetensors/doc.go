// Package safetensors reads and writes the safetensors tensor file format
// used by PyTorch and Hugging Face to store state_dicts.
//
// # Format
//
// A file is an 8-byte little-endian unsigned header length H, H bytes of
// UTF-8 JSON header, and a data buffer. The header is an object that maps
// each tensor name to {"dtype", "shape", "data_offsets"}, with data_offsets
// [begin, end) relative to the start of the data buffer, plus an optional
// "__metadata__" object of string values. Tensor data is little-endian and
// row-major.
//
// # Validation
//
// Parse, Read and Open accept a file only if it is well formed in every
// respect the reference implementation checks, and a few more: the header
// is a single JSON object starting with '{' (trailing whitespace allowed),
// with no duplicate keys at any level, no unknown fields and no empty
// tensor names; every dtype is known; every dimension is a non-negative
// integer and the element count does not overflow; data_offsets hold two
// integers with begin ≤ end ≤ len(data) and end−begin equal to the element
// count times the dtype size; the tensors, sorted by offset, cover the data
// buffer exactly, without overlaps or gaps. Zero-size tensors are allowed.
// Tensor values are not inspected: NaN and Inf are the caller's business.
//
// Malformed input never causes a panic. Every error from Parse is an
// *Error whose Kind is one of the Err* sentinels, so callers can test it
// with errors.Is; the message names the tensor or field and says what is
// wrong. Memory use is bounded by the size of the input, never by sizes a
// header claims.
//
// # Ownership and order
//
// A File refers to the bytes it was parsed from; Parse does not copy them,
// so the caller must not modify them afterwards. Float64s and Int64s
// return freshly allocated slices; Bytes returns a view that must not be
// modified. File.Tensors is sorted by data offset (ties, which only
// zero-size tensors can produce, keep header order), which is the order in
// which PyTorch writes a state_dict; treat it as read-only.
//
// Write lays tensors out in the order given, contiguously, and pads the
// header with spaces to a multiple of 8 bytes so that the data buffer is
// 8-byte aligned. Metadata keys are written in sorted order.
package safetensors
