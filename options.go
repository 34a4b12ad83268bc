package vivit

import (
	"context"
	"fmt"
	"sort"

	"github.com/vivit-go/vivit/eigen"
	"github.com/vivit-go/vivit/lowrank"
)

// Options are the approximation knobs shared by every entry point. The zero
// value (or a nil *Options) means: exact curvature over the whole batch, one
// block for the whole network, an automatically chosen eigensolver.
type Options struct {
	// MCSamples is the number M of Monte-Carlo samples of the loss Hessian
	// per sample; 0 means the exact factor (C columns per sample).
	MCSamples int
	// Seed seeds the Monte-Carlo draws. A sample's draws depend only on
	// (Seed, its index in the batch), so results are reproducible and a
	// sample gets the same draws in a sub-batch as in the whole batch.
	Seed uint64
	// SubBatch lists the samples (indices into the batch) whose curvature is
	// used; nil means all. The GGN is then renormalised to the sub-batch:
	// G_S = (1/|S|) Σ_{n∈S} G_n for a mean reduction, Σ_{n∈S} G_n for sum.
	// Gradients and directional derivatives still use the whole batch.
	SubBatch []int
	// Groups splits the parameters into blocks, giving a block-diagonal GGN
	// with one eigenproblem per group. nil means one block for the whole
	// network; see LayerGroups.
	Groups []Group
	// Solver computes the top-k eigenpairs of each Gram matrix; nil picks
	// one by size (eigen.Auto).
	Solver eigen.Solver
	// RankTol is the relative threshold below which eigenvalues count as
	// zero: λ ≤ RankTol·λ₁ is dropped and never divided by. 0 means 1e-10,
	// the fixtures' convention.
	RankTol float64
	// MemoryBudget bounds, in bytes, the peak memory of a whole run of
	// TopEigen, Directional, Newton, Spectrum or ComputeStats:
	// activations, factors, the Gram matrix (or D×D block), the
	// eigensolver and the outputs (see Plan). The run is planned before
	// anything is allocated: when the whole batch's factors do not fit,
	// they are backpropagated over chunks of samples, recomputing chunks
	// that cannot be held (same results up to rounding, more time); when
	// no plan fits, the run returns a *MemoryError naming the least memory
	// it needs. 0 means DefaultMemoryBudget (three quarters of the
	// physical memory, or of the process's cgroup memory limit when that
	// is smaller; on 32-bit platforms, which refuse budgets above 2 GiB,
	// of at most 2 GiB; or the Go memory limit, GOMEMLIMIT, when that is
	// lower still). One
	// tenth of the budget is left for what the plan does not count: the
	// Go runtime and garbage not yet collected. The library does not set
	// the Go runtime's memory limit; a program that wants the budget to
	// hold for the process's resident memory should also call
	// debug.SetMemoryLimit(budget) (the CLI does, for --memory), which
	// makes the collector reclaim garbage before the heap outgrows it.
	// The data-set entry points use the budget for their D×D blocks,
	// caches and the factors' scratch.
	MemoryBudget int64
	// ScratchBudget bounds, in bytes, the scratch memory that one
	// operation on a layer's factor may allocate: a convolution forms its
	// block of V in column chunks, and unfolds inputs, within it, and the
	// parameter side forms chunks of V's columns within a quarter of it.
	// 0 means a sixteenth of the memory budget, between 4 MiB and 1 GiB.
	// The BLAS's own packing buffers (a few MiB, independent of N) are not
	// counted.
	ScratchBudget int64
	// SkipVectors leaves out the eigenvectors in parameter space: the
	// map-back, k·N·D multiply-adds, and the k·D float64s of Block.Vectors
	// (8 GB for k = 10 and 100M parameters), which the directional
	// derivatives do not need. Block.Vectors is then empty and the sign of
	// each eigenvector, which γ_nk carries, follows the Gram eigenvector's
	// convention (its entry of largest magnitude positive) instead of the
	// parameter-space vector's; eigenvalues, λ_nk and γ_nk² are unchanged.
	// Newton needs the vectors and ignores it.
	SkipVectors bool
	// Precision is the floating-point type of the largest products of a
	// run. The zero value, Float64, computes everything in float64 (the
	// fixtures' 1e-12 agreement). Float32 computes in float32, as the
	// PyTorch tools do, on operands rounded to float32 and with results
	// returned (and sums across blocks accumulated) in float64:
	//   - the backward pass of the curvature factor through convolutions
	//     (their transposed products, model.Float32Layer). Runs that form
	//     the whole network's Gram matrix during the backward pass (one
	//     block on the Gram side: TopEigen and Spectrum without groups
	//     or chunks) also hold the factor rows in float32 along chains of
	//     convolutions, BatchNorms, activations, residual sums and global
	//     average pooling (half their memory), with BatchNorm's block
	//     summed in float64 from them; elsewhere the factor rows, and all
	//     other layers, stay float64;
	//   - the Gram matrices of linear layers, and of convolutions on their
	//     explicit route (forming V's weight block and VᵀV);
	//   - the map-back of the eigenvectors: linear layers, convolutions
	//     from the weight block the explicit Gram route kept in float32,
	//     or on their aggregated route for dense factor rows.
	// That is about twice the rate of float64 on those products, with
	// errors of float32 rounding: on the benchmarks' ResNet-8 about
	// 1e-8·λ₁ on the eigenvalues and 1e-7 on unit eigenvectors with
	// relative gaps of a few percent (in general about 1e-6·λ₁ and
	// 1e-6·λ₁/gap). Convolutions' kernel-route Gram matrices, their sparse
	// and explicit map-back, gradients, directional derivatives (from the
	// factors above) and ComputeStats stay in float64. The automatically
	// chosen Lanczos solver then stops at residuals of 1e-7·λ₁, the Gram
	// matrix's own rounding, instead of 1e-13, and at that tolerance runs
	// on the Gram matrix rounded to float32 (eigen.SymOperator32: half the
	// bytes per product, sums in float64, n² float32s of scratch instead
	// of mirroring the float64 matrix). A Solver given here runs as it is,
	// in float64.
	Precision Precision
	// Side says where each block's eigenproblem is solved (see Side): on
	// the N·C'×N·C' Gram matrix VᵀV, or on the D×D GGN block V Vᵀ, formed
	// from chunks of V's columns without holding all of V (8·D² bytes plus
	// a chunk within MemoryBudget). SideAuto, the zero value, takes the
	// parameter side for a block when its D is small enough for it to be
	// the cheaper (roughly D < N·C') and its matrix fits MemoryBudget, and
	// stays on the Gram side for Float32 runs. Results agree to rounding
	// either way; Block.Side says which was used.
	Side Side
	// Progress, if not nil, is called as each stage starts ("forward",
	// "backprop", "gram", "eigensolve", "map-back", "directional") with the
	// block it works on (0-based) and the number of blocks. It is meant for
	// progress displays and must return quickly.
	Progress func(stage string, block, blocks int)
	// Context stops a run: once it is done (cancelled, or past its
	// deadline), the run returns an error wrapping its Err() (errors.Is
	// works with context.Canceled and context.DeadlineExceeded), checking
	// between stages, between the network's nodes in the backward pass,
	// between layers in the Gram matrices, the map-back, the directional
	// derivatives and the statistics, and between Lanczos steps. A single
	// operation on one layer (a large convolution's Gram matrix or
	// backward pass) or a dense eigensolve runs to its end first: on the
	// benchmarks a run stops within a few tens of milliseconds. nil means
	// context.Background(), never done.
	Context context.Context
}

// ctx returns the run's context.
func (o *Options) ctx() context.Context {
	if o.Context == nil {
		return context.Background()
	}
	return o.Context
}

// stopped returns an error wrapping the context's error once the run's
// context is done, else nil.
func (o *Options) stopped() error {
	if err := o.ctx().Err(); err != nil {
		return fmt.Errorf("vivit: run stopped: %w", err)
	}
	return nil
}

func (o *Options) report(stage string, block, blocks int) {
	if o.Progress != nil {
		o.Progress(stage, block, blocks)
	}
}

// Precision is the floating-point type of the largest products (see
// Options.Precision).
type Precision = lowrank.Precision

// The precisions of Options.Precision.
const (
	Float64 = lowrank.Float64
	Float32 = lowrank.Float32
)

// Group is a named set of parameter tensors (state_dict names).
type Group struct {
	Name   string
	Params []string
}

// LayerGroups returns one group per layer: per module of the model
// (Model.Modules), named by it and holding its tensors ("0" with "0.weight"
// and "0.bias"; "layer1.bn1" with "layer1.bn1.weight" and
// "layer1.bn1.bias").
func LayerGroups(m *Model) []Group {
	var gs []Group
	for _, mod := range m.Modules() {
		gs = append(gs, Group{Name: mod.Name, Params: mod.Params})
	}
	return gs
}

const defaultRankTol = 1e-10

func (o *Options) rankTol() float64 {
	if o.RankTol > 0 {
		return o.RankTol
	}
	return defaultRankTol
}

// check validates the options against a network and batch size.
func (o *Options) check(m *Model, n int) error {
	if m.NumParams() == 0 {
		return fmt.Errorf("vivit: the model has no parameters, so no curvature to compute")
	}
	if o.MCSamples < 0 {
		return fmt.Errorf("vivit: MCSamples must be ≥ 0, got %d", o.MCSamples)
	}
	if o.Precision != Float64 && o.Precision != Float32 {
		return fmt.Errorf("vivit: Precision must be Float64 or Float32, got %d", int(o.Precision))
	}
	if o.Side < SideAuto || o.Side > SideParameters {
		return fmt.Errorf("vivit: Side must be SideAuto, SideGram or SideParameters, got %d", int(o.Side))
	}
	if o.MemoryBudget < 0 {
		return fmt.Errorf("vivit: MemoryBudget must be ≥ 0, got %d", o.MemoryBudget)
	}
	if o.MemoryBudget > addressableMemory {
		return fmt.Errorf("vivit: MemoryBudget (--memory) %s is more than a 32-bit process can address (at most %s)", FormatBytes(o.MemoryBudget), FormatBytes(addressableMemory))
	}
	if o.ScratchBudget < 0 {
		return fmt.Errorf("vivit: ScratchBudget must be ≥ 0, got %d", o.ScratchBudget)
	}
	if o.RankTol < 0 || o.RankTol >= 1 {
		return fmt.Errorf("vivit: RankTol must be in [0, 1), got %g", o.RankTol)
	}
	if o.SubBatch != nil {
		if len(o.SubBatch) == 0 {
			return fmt.Errorf("vivit: empty sub-batch")
		}
		seen := map[int]bool{}
		for _, i := range o.SubBatch {
			if i < 0 || i >= n {
				return fmt.Errorf("vivit: sub-batch index %d is out of range [0, %d)", i, n)
			}
			if seen[i] {
				return fmt.Errorf("vivit: sub-batch index %d is repeated", i)
			}
			seen[i] = true
		}
	}
	known := map[string]bool{}
	for _, p := range m.Params() {
		known[p.Name] = true
	}
	for gi, g := range o.Groups {
		if len(g.Params) == 0 {
			return fmt.Errorf("vivit: group %d (%q) has no parameters", gi, g.Name)
		}
		seen := map[string]bool{}
		for _, p := range g.Params {
			if !known[p] {
				return fmt.Errorf("vivit: group %q: unknown parameter %q", g.Name, p)
			}
			if seen[p] {
				return fmt.Errorf("vivit: group %q lists %q twice", g.Name, p)
			}
			seen[p] = true
		}
	}
	return nil
}

// curvatureSamples returns the sorted sub-batch, or all n samples.
func (o *Options) curvatureSamples(n int) []int {
	if o.SubBatch == nil {
		return allSamples(n)
	}
	idx := append([]int(nil), o.SubBatch...)
	sort.Ints(idx)
	return idx
}

func allSamples(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}
