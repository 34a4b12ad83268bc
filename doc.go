// Package vivit gives exact, cheap access to the curvature of a neural
// network's mini-batch loss through the low-rank structure of its
// generalized Gauss-Newton matrix (GGN), after ViViT (Dangel, Tatzel and
// Hennig, TMLR 2022).
//
// For a model f_θ with outputs z_n ∈ R^C and batch loss L = w Σ_n ℓ(z_n, y_n),
// the GGN is G = w Σ_n J_nᵀ H_n J_n = V Vᵀ with V ∈ R^{D×N·C}. The engine
// backpropagates the loss Hessian's square root through the network, forms
// the small Gram matrix VᵀV (N·C × N·C) without forming V, and maps its
// eigenpairs back to parameter space.
//
// # Models
//
// A Model is a directed acyclic graph of operations (package model): a
// sequential network is a chain, a residual network has nodes whose output
// several nodes read and sums of branches. The factor is backpropagated in
// reverse topological order, the factors of a tensor read by several nodes
// adding up; each node with parameters contributes its block of V, so the
// Gram matrix is a sum over parameter blocks whatever the topology.
// LoadModel reads ONNX graphs exported from PyTorch (package onnx) and
// safetensors checkpoints of sequential networks. Layers, for LayerGroups
// and ComputeStats, are modules: the parameters whose names share the
// prefix before the last dot.
//
// # Entry points
//
//   - TopEigen: the k largest eigenpairs of G, eigenvectors in the model's
//     state_dict layout.
//   - Spectrum: every nonzero eigenvalue of G, and its trace.
//   - Directional: TopEigen plus the per-sample directional derivatives
//     γ_nk = e_kᵀ∇ℓ_n and λ_nk = e_kᵀG_n e_k.
//
// Each takes *Options, whose zero value (or nil) means the exact GGN of the
// whole batch and the whole network. The knobs are Monte-Carlo sampling of
// the loss Hessian (MCSamples, Seed), a curvature sub-batch (SubBatch) and
// block-diagonal parameter groups (Groups).
//
// # Files
//
// LoadModel reads a model that describes itself (an ONNX graph, or a
// safetensors checkpoint of a sequential network with its architecture in
// the metadata); LoadModelWith also reads PyTorch state_dicts (.pt) and
// plain safetensors with an architecture JSON, and replaces the loss.
// LoadBatch reads a batch file (.safetensors or .pt), LoadBatchArrays
// separate inputs and targets (.npy or .pt). Packages onnx, checkpoint and
// batch are the readers underneath; docs/formats.md specifies the files.
//
// # Conventions
//
// Parameters are flattened in state_dict order, each tensor row-major in its
// PyTorch layout. Eigenvalues are descending; eigenvalues at or below
// RankTol·λ₁ count as zero, are never divided by and are not returned, so a
// result may hold fewer than k pairs. Eigenvectors have unit norm and their
// entry of largest magnitude positive. The Gram matrix carries rounding of
// about 1e-16·λ₁, so eigenpair j is accurate to about 1e-16·λ₁/λ_j
// relative: to full precision for the leading pairs, to about six digits
// (eigenvalue, and eigenvector including its norm) for one just above
// RankTol·λ₁; raise RankTol to drop such pairs. Per-sample quantities use the
// unnormalised per-sample loss ℓ_n, as in the reference fixtures.
//
// # Factor
//
// The exact cross-entropy factor has C−1 columns per sample (the loss
// Hessian diag(p) − ppᵀ has rank C−1), MSE's has C, a Monte-Carlo factor M;
// Result.Columns reports which. The nonzero spectrum, the eigenvectors and
// the directional derivatives do not depend on the choice of factor.
//
// # Cost
//
// With n curvature samples and c factor columns per sample (c = C exact,
// c = M Monte-Carlo), the Gram matrix takes O((n·c)²) memory and
// O((n·c)²·Σ_l out_l + n²·Σ_l in_l) time for linear layers; the backward
// pass holds one (n·c)×out_l factor per parameter layer. Nothing of size
// D×n·c or D×D is formed. Directional adds one gradient backward pass and
// an N × n·c cross Gram. TopEigen and Spectrum on the whole network (no
// Groups) add each layer's part of the Gram matrix as soon as the backward
// pass has formed the layer's factor; a convolution whose block of V the
// Gram route keeps for the map-back (formed anyway, at most R·out·K
// entries) then lets go of its factor rows, so those are not all held at
// once. A convolution reached by separable factor rows (between a global
// average pooling and the last layer before it that is not an activation,
// BatchNorm or residual sum) holds N·out·(K+1) entries instead, and costs
// one factor column per sample rather than c (lowrank.SepConv).
//
// # Concurrency and side effects
//
// TopEigen, Directional, Spectrum, ComputeStats, Newton and Gradient may be
// called from many goroutines at once, on the same Model and Batch: they
// only read them, and every run owns its scratch (TestConcurrentEntryPoints
// checks it under the race detector). Each run spreads its own work over
// GOMAXPROCS goroutines, so concurrent runs share the cores rather than
// multiply them. Results do not depend on GOMAXPROCS. A GOMAXPROCS above
// the machine's cores costs time (ResNet-8 at 8 on two cores: about 1.35×
// the time at 2): leave it at its default. A Model or Batch must not be
// modified while a run uses it.
//
// Importing vivit changes nothing in the process: no BLAS is registered
// with gonum and no goroutine is started (worker goroutines start with the
// first parallel loop and then wait for work). The engine calls its own
// kernels; UseBLAS lets a program route the rest of gonum through them.
//
// # Stopping a run
//
// Options.Context stops a run: once the context is done (cancelled, or
// past its deadline), TopEigen, Directional, Spectrum, ComputeStats and
// Newton return an error wrapping its Err(), so that errors.Is(err,
// context.Canceled) and errors.Is(err, context.DeadlineExceeded) work. The
// run checks between stages, between the network's nodes in the forward
// and backward passes, between layers while it forms the Gram matrices,
// maps eigenvectors back and computes directional derivatives and
// statistics, and between the steps of the Lanczos eigensolver
// (eigen.ContextSolver). One operation on one layer and a dense eigensolve
// run to their end: ResNet-8 at N = 32 stops within a few tens of
// milliseconds of its deadline (TestDeadlineStopsLongRun). A nil Context
// never stops a run.
package vivit
