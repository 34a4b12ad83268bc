// Package torchpt reads and writes PyTorch state_dicts in the format of
// torch.save (.pt, .pth files), without PyTorch.
//
// # Format
//
// Since PyTorch 1.6, torch.save writes a zip archive whose records share
// one top-level folder (usually "archive"): data.pkl, a pickle of the saved
// object in which every tensor is a call of torch._utils._rebuild_tensor_v2
// on a storage, an offset, a size and a stride; data/<key>, the raw bytes of
// each storage, referenced from the pickle by persistent ids
// ('storage', torch.FloatStorage, key, location, numel); byteorder
// ("little" or "big", absent in old files: little); and version.
//
// # Reading
//
// Open and Read accept such an archive when its pickle is a dict or
// OrderedDict of tensors (a state_dict, as torch.save(model.state_dict())
// writes it), or a single tensor (as torch.save(x) writes it). The pickle is
// decoded by github.com/nlpodyssey/gopickle's virtual machine with an
// allow-list of classes: collections.OrderedDict, the tensor and parameter
// rebuild functions of torch._utils and the typed storage classes. Any other
// class (a pickled nn.Module, a NumPy array, a custom object) is an error
// naming it, so nothing in a file can run code.
//
// Tensors may be views: every storage offset and stride is honoured
// (transposed and sliced views, several tensors sharing one storage,
// expanded views with zero strides), and a view that reaches outside its
// storage is an error. Element types float32, float64, float16, bfloat16,
// int64, int32, int16, int8, uint8 and bool are read; tensors saved on a GPU
// are read like CPU tensors. Tensor.F64 holds float64 tensors, Tensor.F32
// float32, float16 and bfloat16 ones (exactly widened) and Tensor.I64 every
// integer and bool tensor, each in row-major order.
//
// The legacy format of torch.save before PyTorch 1.6 (or with
// _use_new_zipfile_serialization=False), TorchScript archives
// (torch.jit.save) and pickled modules (torch.save(model)) are rejected
// with an error saying so (ErrLegacy, ErrTorchScript, ErrNotStateDict).
//
// Malformed input never causes a panic: a panic inside the pickle machine
// is turned into an error. Memory use is bounded by the size of the file,
// except for expanded views, whose size is capped at MaxElements.
//
// # Writing
//
// Write produces what torch.save(state_dict) produces with its default
// pickle protocol 2: an OrderedDict (with the _metadata attribute that
// nn.Module.state_dict sets) of contiguous CPU tensors, one storage each,
// in an archive named "archive".
package torchpt
