// Package gram computes Gram matrices Ĝ = VᵀV of the GGN factor V without
// forming V.
//
// V has one column per (sample, factor column) pair: column i·c+j belongs
// to sample i. For a linear layer with backpropagated factor rows S
// ((n·c)×out) and layer inputs A (n×in), the weight's block of V has
// column i·c+j equal to vec(S_{i·c+j} A_iᵀ), so
//
//	Ĝ_W[(i,j),(i',j')] = (S_{ij}·S_{i'j'}) (A_i·A_{i'})
//
// the Hadamard product of the factor Gram SSᵀ with the input Gram AAᵀ blown
// up over the c columns of each sample; a bias adds SSᵀ. This costs
// O((nc)²·out + n²·in) time and O((nc)²) memory, independent of the number
// of parameters. The same kernels give cross products XᵀY of two factors
// of the same layer (e.g. per-sample gradients against V).
//
// Destinations are accumulated into (+=), never overwritten, so that the
// Gram of several layers is the sum of their calls. Symmetric destinations
// (*mat.SymDense) have only their upper triangle written. Shape mismatches
// are programmer errors and panic.
package gram
