// Package lowrank holds blocks of the GGN factor V in structured form.
//
// G = V Vᵀ with V ∈ R^{D×n·c}: one column per (sample, factor column)
// pair, column i·c+j belonging to sample i. A Factor is the block of rows of
// V that belongs to one layer's parameters (or a subset of them, see
// Select). It never stores V itself: a linear layer's block is kept as the
// backpropagated factor rows S ((n·c)×out) and the layer inputs A (n×in),
// which is O(n·c·out + n·in) memory instead of O(out·in·n·c). A
// convolution's block (Conv) keeps the backpropagated factor at its output
// and the layer inputs; it forms explicit columns of V only in chunks
// within a memory budget (Budgeter, Options.MemoryBudget), and chooses per
// call by a cost model between that and a kernel formulation over output
// positions. When its Gram route has kept the weight block of V for
// MulTo, a Conv can let go of the factor rows and inputs (RowsDropper),
// after which it serves MulTo only. A Conv may hold its factor rows in
// float32 (NewConv32, half the memory): its float32 Gram route reads them
// as they are, and operations that compute in float64 widen them once. A
// grouped convolution's block
// (GroupedConv) is one Conv block per group, on views of the factor and
// the inputs. A convolution whose factor rows are separable,
// S_r[o, p] = s_r[o]·m_n[o, p] (the last convolutions before a global
// average pooling), has a block of its own (SepConv) that holds the
// products M_n = m_n U_nᵀ, N·out·(K+1) float64s, and computes every
// product from them at the cost of one factor column per sample.
//
// # Vectors
//
// Sets of vectors are passed as the rows of a *mat.Dense: MulTo(dst, u)
// writes V u_j into row j of dst for every row u_j of u. Parameter-space
// vectors are laid out in state_dict order of the factor's tensors, each
// flattened row-major (weight then bias for a linear layer).
//
// # Scaling
//
// A factor is whatever its rows hold: callers fold √w (the batch weight)
// into S before backpropagation, so V Vᵀ is the GGN directly.
package lowrank
