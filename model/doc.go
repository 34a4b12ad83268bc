// Package model holds the networks (directed acyclic graphs of
// operations), their operators and losses, and the in-memory batches that
// vivit analyses. It reads no files: package checkpoint reads sequential
// networks from safetensors or PyTorch checkpoints with an architecture
// JSON, package onnx reads ONNX graphs, and package batch reads batches.
//
// # Graphs
//
// A Network is a directed acyclic graph: Nodes in topological order, each
// an Op (a Layer of one input or a Join of several, such as a residual
// Add) and the tensors it reads. Tensor 0 is the network input and tensor
// i+1 the output of node i; the last node's output is the network output.
// NewNetwork checks the graph (shapes, order, every output used, each
// parameter owned by one node); NewSequential builds the chain of a
// sequential network. Parameters are listed in state_dict order, which may
// differ from the node order.
//
// # Storage
//
// A batch of activations is a *mat.Dense with one row per sample; a row is
// the sample's tensor flattened in PyTorch's contiguous (row-major) layout,
// so a [C, H, W] feature map is stored channel by channel. Parameters keep
// PyTorch's layouts too (Linear weight [out, in], Conv2d weight
// [out, in/groups, kh, kw]), flattened row-major, in state_dict order.
//
// Forward returns every node's output. A caller that only backpropagates
// afterwards runs ForwardKeep with BackwardReads: an Op that implements
// BackwardReader says whether its backward pass reads its input, its
// output or neither (ReLU reads only its output, BatchNorm only its
// input, a residual Add neither), and the outputs no backward pass reads
// are recycled as soon as the nodes that read them forward have run; the
// backward passes are handed nil for them.
//
// # Factors
//
// Backpropagated factors are stacked row-wise as well: a factor for a batch
// of n samples with c columns per sample is an (n·c)×F matrix whose row
// i·c+j is column j of sample i. Layers transform such stacks with
// BackwardInput; parameter layers turn them into lowrank factors. Factors
// are float64; a Float32Layer (the convolution) also has BackwardInput32,
// which runs its products in float32 between float64 factors, for the
// float32 precision of the factor backward pass. A PassThroughJoin (the
// residual Add) passes its factor unchanged to every input, which lets
// the backward pass hand it on without copies. Optional interfaces save
// passes over the factors, which are the pass's memory traffic: an
// InPlaceLayer overwrites its factor rows, an AccumulatingLayer adds its
// part to a tensor's factor that another reader started (the convolution,
// Gather), a FactorInPlaceLayer forms its block and its backward in one
// pass (BatchNorm), and a FactorThroughLayer also applies the backward of
// an elementwise layer that alone reads its output (a ReLU after
// BatchNorm) in that pass.
//
// Factor rows may also be held in float32 (blas32.General, contiguous),
// for the float32 precision of the factor backward pass: a Rows32Layer
// (convolution, BatchNorm, elementwise activations, global average
// pooling) passes such rows back,
// a Rows32ParamLayer forms its block from them (the convolution's block
// keeps them, lowrank.NewConv32; BatchNorm's copies what it needs), and
// the Rows32 variants of AccumulatingLayer and FactorInPlaceLayer save the
// same passes as their float64 forms.
//
// # Errors
//
// Constructors and checking a batch return errors that name the shape,
// axis, tensor or attribute at fault. Methods on a built network panic
// only on programmer misuse (a matrix of the wrong shape), never on user
// input.
package model
