// Package jacobians backpropagates stacked factors through a network.
//
// A factor at the network output is an (n·c)×C matrix: c vectors per
// sample, stacked sample-major (row i·c+j is vector j of sample i). The
// exact square root of the loss Hessian (c = C), a Monte-Carlo one (c = M)
// and the per-sample loss gradients (c = 1) are all such factors; the same
// backward pass turns each into one lowrank.Factor per parameter layer,
// whose columns are J_iᵀ s_ij: the GGN factor V, or the per-sample
// gradients.
//
// Backprop keeps the factor at each parameter layer's output, which is the
// only per-layer memory it holds: O(n·c·Σ out_l) for linear layers.
// BackpropEach hands each parameter layer's block to the caller as soon as
// it is formed; a block that no longer needs its factor rows afterwards
// (lowrank.RowsDropper) lets the pass recycle them, or overwrite them with
// the layer's backward where it runs in place (model.InPlaceLayer: a
// convolution whose input and output have the same size). Tensors read by
// several nodes take the second reader's part in place where the layer can
// add it (model.AccumulatingLayer), and BatchNorm forms its block and
// scales the rows in one pass (model.FactorInPlaceLayer), into which an
// elementwise layer that alone reads its output folds its own backward
// (model.FactorThroughLayer: a ReLU after BatchNorm).
//
// BackpropContext takes a precision: at lowrank.Float32 the layers that
// implement model.Float32Layer (convolutions) pass the factor back in
// float32 products between float64 factors. BackpropEach at Float32 goes
// further: a tensor's factor is held in float32 when the node computing
// it and all its readers take float32 rows (model.Rows32Layer and
// friends: convolutions, BatchNorm, activations, residual sums, global
// average pooling), which
// halves the factors' memory and traffic and drops the rounding and
// widening at each convolution; rows are converted once where such a
// chain meets another layer. The blocks returned do not take the
// precision: callers set it on them (lowrank.Precisioner).
//
// BackpropEach also follows separable factor rows, S_r[o, p] =
// s_r[o]·m_n[o, p]: global average pooling (model.ChannelSpreader) makes
// them, layers of diagonal Jacobian (model.DiagonalLayer) and residual
// sums keep them, as long as each tensor on the way has one reader, and
// a convolution they reach (model.SeparableParamLayer) forms its block
// from s and m (lowrank.SepConv), from two factor columns per sample on,
// and passes them back to its input without the rows written out where
// it can (model.SeparableBackwardLayer).
package jacobians
