// Package batch reads mini-batches for a network from files: one batch
// file, or two files of one array each.
//
// # Batch files
//
// Load reads a safetensors file, or a PyTorch file saved with
// torch.save({"inputs": X, "targets": y}, path), holding two tensors:
//
//   - "inputs": the samples, float32 or float64, of shape
//     [N, …input_shape], or flattened per sample to [N, prod(input_shape)],
//     or [N] when input_shape is [1];
//   - "targets": int64 class indices of shape [N] for cross-entropy, each
//     in [0, C); float32 or float64 values of shape [N, C] for MSE.
//
// Other tensors are ignored. The format is told by the file's first bytes,
// not its name.
//
// # Separate arrays
//
// LoadArrays reads the inputs and the targets from two files, each a NumPy
// .npy file (numpy.save) or a PyTorch file holding one tensor
// (torch.save(tensor)), with the shapes above. Inputs may have any float
// or integer dtype; class indices any integer dtype, or floats that are
// all integers.
//
// # Errors
//
// Every error names the file at fault and the tensor ("inputs" or
// "targets"); given a file of another kind (a .npy array to Load, a model
// checkpoint, an ONNX model), the error says what was expected and which
// function reads it. New checks arrays already in memory the same way.
// A returned batch always passes model.Batch.Check for its network.
package batch
