package vivit

import (
	"fmt"
	"math"
	"math/bits"
	"runtime/debug"
	"sync"

	"github.com/KimMachineGun/automemlimit/memlimit"

	"github.com/vivit-go/vivit/lowrank"
	"github.com/vivit-go/vivit/model"
)

// fallbackMemory is the default memory budget where the memory cannot be
// read: 4 GiB.
const fallbackMemory int64 = 4 << 30

// physicalMemory is the machine's memory in bytes (sysinfo's total RAM on
// Linux, MemTotal; sysctl on the BSDs and macOS; Windows' physical
// memory), or 0 where it cannot be read.
var physicalMemory = memoryOnce(memlimit.FromSystem)

// cgroupMemory is the memory limit of the process's cgroup (v1 or v2, the
// innermost limit of its hierarchy: a container's, a batch job's) in
// bytes, or 0 where it has none or it cannot be read (no cgroups: systems
// other than Linux).
var cgroupMemory = memoryOnce(memlimit.FromCgroup)

// memoryOnce returns the byte count read gives, read on the first call:
// 0 where read fails or the count exceeds int64.
func memoryOnce(read func() (uint64, error)) func() int64 {
	return sync.OnceValue(func() int64 {
		m, err := read()
		if err != nil || m > math.MaxInt64 {
			return 0
		}
		return int64(m)
	})
}

// addressableMemory is the memory a run may plan for in the process's
// address space: on 32-bit platforms 2 GiB (of the 4 GiB a process
// addresses at most, shared with its code, stacks and the heap's
// fragmentation), unbounded on 64-bit ones.
const addressableMemory int64 = 1<<(bits.UintSize-1) - 1

// availableMemory is the memory a process may use: the smaller of the
// physical memory and its cgroup's limit, either 0 when unknown (0 when
// both are), and at most addressableMemory; and which it is, "physical
// memory", "cgroup limit" or "address space" ("" when both are unknown).
func availableMemory(physical, limit int64) (int64, string) {
	m, source := physical, "physical memory"
	switch {
	case physical <= 0 && limit <= 0:
		return 0, ""
	case limit > 0 && (physical <= 0 || limit < physical):
		m, source = limit, "cgroup limit"
	}
	if m > addressableMemory {
		return addressableMemory, "address space"
	}
	return m, source
}

// DefaultMemoryBudget is the memory budget of a run whose
// Options.MemoryBudget is 0: three quarters of the memory the process may
// use (AvailableMemory), the physical memory or, when smaller, the memory
// limit of its cgroup (in a container or a batch job on Linux, where the
// physical memory is the host's); 4 GiB where neither can be read. A Go
// memory limit below that (GOMEMLIMIT, debug.SetMemoryLimit; the CLI's
// --memory) is the budget instead: the program has said how much memory
// it means to use. It is read, never set.
func DefaultMemoryBudget() int64 {
	m, _ := AvailableMemory()
	return defaultBudget(m)
}

// defaultBudget is DefaultMemoryBudget for m bytes available.
func defaultBudget(m int64) int64 {
	b := fallbackMemory
	if m > 0 {
		b = m / 4 * 3
	}
	if l := debug.SetMemoryLimit(-1); l > 0 && l < b {
		b = l
	}
	return b
}

// AvailableMemory returns the memory the process may use, in bytes, as
// DefaultMemoryBudget reads it, and where that figure comes from:
// "physical memory", "cgroup limit" when the process's cgroup limit is
// the smaller, or "address space" on 32-bit platforms, where a run plans
// for at most 2 GiB; 0 and "" where neither can be read.
func AvailableMemory() (bytes int64, source string) {
	return availableMemory(physicalMemory(), cgroupMemory())
}

// budgetOrDefault returns the memory budget b, or DefaultMemoryBudget for
// b ≤ 0.
func budgetOrDefault(b int64) int64 {
	if b <= 0 {
		return DefaultMemoryBudget()
	}
	return b
}

// scratch returns the factors' scratch budget: ScratchBudget, or the
// share of the memory budget.
func (o *Options) scratch() int64 {
	if o.ScratchBudget > 0 {
		return o.ScratchBudget
	}
	return scratchShare(o.MemoryBudget)
}

// scratchShare is the part of a run's budget b that one operation on a
// factor may use as scratch (lowrank.Budgeter): b/16, at most
// lowrank.DefaultBudget (1 GiB) and at least 4 MiB.
func scratchShare(b int64) int64 {
	return max(min(budgetOrDefault(b)/16, lowrank.DefaultBudget), 4<<20)
}

// MemoryError is returned, before anything is computed, when no plan of a
// run fits its memory budget.
type MemoryError struct {
	Budget int64 // the budget, bytes
	Needed int64 // the least memory the run needs, bytes
	// What names the entry point and what dominates the smallest plan.
	What string
}

func (e *MemoryError) Error() string {
	return fmt.Sprintf("vivit: %s needs at least %s of memory, more than the budget of %s (Options.MemoryBudget, --memory)", e.What, FormatBytes(e.Needed), FormatBytes(e.Budget))
}

// FormatBytes formats a byte count with a binary unit ("1.5 GiB").
func FormatBytes(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	v, u := float64(b), 0
	for v >= unit && u < 4 {
		v /= unit
		u++
	}
	return fmt.Sprintf("%.3g %s", v, []string{"B", "KiB", "MiB", "GiB", "TiB"}[u])
}

// Plan is how a run fits its memory budget: whether the factor
// backpropagation runs over the whole curvature batch at once or over
// chunks of samples, and the estimated bytes of each stage. The estimate
// counts what the run allocates (activations, factors, Gram matrix or
// D×D block, eigensolver, outputs, the factors' scratch), not the model,
// the batch and the Go runtime's own overhead.
type Plan struct {
	Budget  int64 // the budget planned for, bytes
	Samples int   // curvature samples (ComputeStats: the batch's)
	Columns int   // factor columns per sample
	// Chunk is the number of samples whose factors are backpropagated
	// together; Samples when the run is not chunked.
	Chunk int
	// Held is the number of chunks whose factors are held at once.
	Held int
	// Backprops is the number of chunk backpropagations (forward pass
	// included) of the whole run: the chunks once for the Gram matrix,
	// again where a pair of chunks is not held together, and once more
	// for the map-back of those not held at its start.
	Backprops int
	Bytes     int64       // estimated peak, bytes
	Stages    []PlanStage // the largest terms of the estimate
}

// Chunked reports whether the factor backpropagation runs over chunks.
func (p *Plan) Chunked() bool { return p.Chunk < p.Samples }

// PlanStage is one term of a Plan's estimate.
type PlanStage struct {
	Name  string
	Bytes int64
}

func (p *Plan) String() string {
	s := fmt.Sprintf("%s of %s", FormatBytes(p.Bytes), FormatBytes(p.Budget))
	if p.Chunked() {
		s += fmt.Sprintf(", %d samples in chunks of %d (%d held, %d backprops)", p.Samples, p.Chunk, p.Held, p.Backprops)
	}
	return s
}

// netSizes are the per-sample sizes of a network, in bytes, that the
// planner combines.
type netSizes struct {
	acts     int64 // the activations a forward pass holds (ForwardKeep with BackwardReads; input copy included)
	keptActs int64 // the activations the factors keep: parameter layers' inputs
	factors  int64 // stored factors per factor column
	maxT     int64 // the largest tensor, per factor column (backprop transients)
	convs    []*model.Conv2d
	maxDim   int64 // the largest parameter layer's tensor count
}

func sizesOf(net *model.Network) netSizes {
	var s netSizes
	numel := func(t int) int64 { return int64(model.Numel(net.TensorShape(t))) }
	s.acts = 8 * numel(0)
	kept := map[int]bool{0: true}
	rowsHeld := make([]bool, len(net.Nodes)+1) // tensors whose factor rows a block holds
	readers := make([]int, len(net.Nodes)+1)
	for _, nd := range net.Nodes {
		for _, t := range nd.Inputs {
			readers[t]++
		}
	}
	reads := net.BackwardReads()
	s.acts += 8 * int64(net.TransientPeak(reads))
	for i, nd := range net.Nodes {
		out := numel(i + 1)
		if reads[i+1] || i == len(net.Nodes)-1 {
			s.acts += 8 * out
		}
		s.maxT = max(s.maxT, 8*out)
		pl, ok := nd.Op.(model.ParamLayer)
		if !ok {
			continue
		}
		kept[nd.Inputs[0]] = true
		holds := true // the block references the factor rows at its output
		dim := int64(0)
		for _, p := range pl.Params() {
			dim += int64(len(p.Data))
		}
		s.maxDim = max(s.maxDim, dim)
		switch op := nd.Op.(type) {
		case *model.Conv2d:
			s.convs = append(s.convs, op)
			if op.Groups > 1 && op.Bias != nil {
				// A grouped convolution's block holds its bias block
				// explicitly (lowrank.GroupedConv).
				s.factors += 8 * int64(len(op.Bias.Data))
			}
		case *model.Linear, *model.TokenLinear:
		default:
			// Other layers (normalisations, biases) may keep their block
			// of V explicitly: one row of Dim per factor column. One that
			// copies it (model.FactorCopier) and alone reads the output
			// of a layer that holds its rows (a convolution's BatchNorm)
			// holds nothing else: its backward overwrites the rows it
			// read with the factor at its input, which that layer holds
			// and which is counted there.
			s.factors += 8 * dim
			if fc, ok := nd.Op.(model.FactorCopier); ok && fc.FactorCopiesRows() && rowsHeld[nd.Inputs[0]] && readers[nd.Inputs[0]] == 1 {
				holds = false
			}
		}
		if holds {
			s.factors += 8 * out
			rowsHeld[i+1] = true
		}
	}
	for t := range kept {
		s.keptActs += 8 * numel(t)
	}
	return s
}

// keptVBytes bounds the weight blocks of V that the convolutions' Gram
// route keeps for MulTo (lowrank's keepV) for factors of rows rows with
// the scratch budget scratch; f32 for Options.Precision float32, whose
// explicit route keeps the float32 block of an ungrouped convolution
// whenever it fits a quarter of the budget.
func (s netSizes) keptVBytes(rows int64, scratch int64, f32 bool) int64 {
	var b int64
	for _, c := range s.convs {
		// Per group (Geom is one group's; a grouped convolution's factor
		// keeps one block per group, each decided alone).
		g := c.Geom
		vb := rows * int64(g.OutC*g.K()) * 8
		sb := rows * int64(g.OutSize()) * 8
		var kept int64
		if vb <= scratch/4 && (vb <= 2*sb || vb <= lowrank.KeptVMax) {
			kept = int64(max(1, c.Groups)) * vb
		}
		if f32 && c.Groups <= 1 && vb/2 <= scratch/4 {
			kept = max(kept, vb/2)
		}
		b += kept
	}
	return b
}

// planInput is what the planner needs to know of a run.
type planInput struct {
	what        string // entry point, for the error
	samples     int    // curvature samples
	batch       int    // all samples (gradients, directional)
	cols        int    // factor columns per sample
	k           int    // eigenpairs; 0 for the whole spectrum
	vectors     bool   // eigenvectors in parameter space are formed
	blockDims   []int  // D of each block
	sides       []Side // side of each block
	directional bool   // gradient factors and cross matrices too
	float32     bool   // Options.Precision is Float32
}

// eigenBytes estimates the eigensolver's memory for an n×n matrix.
func eigenBytes(n, k int) int64 {
	nn := int64(n)
	if k > 0 && k <= n/8 && n >= 128 {
		mb := int64(min(max(100, 2*k), n))
		return 8 * nn * (2*mb + 4*int64(k) + 8)
	}
	return 8*nn*nn + 64*nn // dense or tridiagonal: a copy
}

// plan returns the cheapest plan of the run in within budget, or a
// MemoryError naming the least memory any plan needs.
func plan(net *model.Network, in planInput, budget, scratch int64) (*Plan, error) {
	s := sizesOf(net)
	c := int64(in.cols)
	n := int64(in.samples)
	r := n * c
	// Fixed terms: the largest block's matrix and eigensolve (blocks run
	// one after another), the outputs of all blocks, the scratch.
	var matrix, outs int64
	for i, d := range in.blockDims {
		dd := int64(d)
		var m int64
		if in.sides[i] == SideParameters {
			m = 8*dd*dd + 8*int64(paramChunkRows(d, int(r), scratch))*dd + eigenBytes(d, in.k)
		} else {
			m = 8*r*r + eigenBytes(int(r), in.k)
		}
		matrix = max(matrix, m)
		k := int64(in.k)
		if in.k == 0 {
			k = 0
		}
		if in.vectors {
			outs += 8 * k * dd
		}
		outs += 8 * k * r
	}
	mapBack := int64(0)
	if in.vectors {
		mapBack = 8 * int64(in.k) * s.maxDim
	}
	fixed := matrix + outs + mapBack + scratch
	b := int64(in.batch)
	dirWhole := int64(0)
	if in.directional {
		// The cross Gram matrix of the gradients (N × n·c) and the
		// gradient factors (one column per sample); with a sub-batch the
		// whole batch's curvature factors and their cross matrix too.
		dirWhole = 8*b*r + b*s.factors
		if in.samples != in.batch {
			dirWhole += 8*b*c*r + b*c*s.factors + b*s.acts
		}
	}
	stage := func(name string, b int64) PlanStage { return PlanStage{name, b} }
	whole := func(b int64) int64 { // one backprop of b samples, all kept
		return b*(s.acts+c*s.factors+c*s.maxT) + s.keptVBytes(b*c, scratch, in.float32)
	}
	p := &Plan{Budget: budget, Samples: in.samples, Columns: in.cols, Chunk: in.samples, Held: 1, Backprops: 1}
	p.Bytes = fixed + dirWhole + whole(n)
	p.Stages = []PlanStage{stage("matrix and eigensolve", matrix), stage("outputs and map-back", outs+mapBack), stage("factor scratch", scratch), stage("activations and factors", whole(n))}
	if in.directional {
		p.Stages = append(p.Stages, stage("gradient factors and cross matrices", dirWhole))
	}
	if p.Bytes <= budget {
		return p, nil
	}
	// Chunked: H held chunks of ch samples (kept activations and factors)
	// plus one active chunk (all activations, factors and transients).
	held := func(ch int64) int64 { return ch*(s.keptActs+c*s.factors) + s.keptVBytes(ch*c, scratch, in.float32) }
	active := whole
	// The chunked directional derivatives go over chunks of the batch
	// with nothing held: one chunk's activations, gradient factors and
	// (with a sub-batch) curvature factors, and the eigenvectors even
	// when they are not returned, plus the outputs γ and λ.
	dirActive := func(int64) int64 { return 0 }
	if in.directional {
		var dims int64
		for _, d := range in.blockDims {
			dims += int64(d)
		}
		if !in.vectors {
			fixed += 8*int64(in.k)*dims + 8*int64(in.k)*s.maxDim
		}
		fixed += 2 * 8 * b * int64(in.k) * int64(len(in.blockDims))
		dirActive = func(ch int64) int64 { return whole(ch) + ch*(s.factors+s.maxT) }
	}
	best := (*Plan)(nil)
	bestCost := 0.0
	least := int64(-1)
	for chunks := 2; chunks <= in.samples; chunks++ {
		ch := (in.samples + chunks - 1) / chunks
		if chunks > 2 && (in.samples+ch-1)/ch != chunks {
			continue // the same chunk size as a smaller count
		}
		chunks := (in.samples + ch - 1) / ch
		need1 := fixed + max(held(int64(ch))+active(int64(ch)), dirActive(int64(ch)))
		if least < 0 || need1 < least {
			least = need1
		}
		if need1 > budget {
			continue
		}
		room := budget - fixed - active(int64(ch))
		h := int(room / max(held(int64(ch)), 1))
		if h < 1 {
			continue
		}
		h = min(h, chunks)
		bp := chunkBackprops(chunks, h)
		if in.directional {
			bp += (in.batch + ch - 1) / ch
		}
		if c := chunkCost(chunks, ch, bp); best == nil || c < bestCost {
			bestCost = c
			best = &Plan{Budget: budget, Samples: in.samples, Columns: in.cols, Chunk: ch, Held: h, Backprops: bp,
				Bytes: fixed + max(int64(h)*held(int64(ch))+active(int64(ch)), dirActive(int64(ch)))}
			best.Stages = []PlanStage{p.Stages[0], p.Stages[1], p.Stages[2],
				stage(fmt.Sprintf("%d held chunks of %d samples", h, ch), int64(h)*held(int64(ch))),
				stage("one chunk's backprop", active(int64(ch)))}
			if in.directional {
				best.Stages = append(best.Stages, stage("one chunk's directional derivatives", dirActive(int64(ch))))
			}
		}
		if ch == 1 {
			break
		}
	}
	if best == nil {
		return nil, &MemoryError{Budget: budget, Needed: least, What: in.what + fmt.Sprintf(" (chunked, with a %s matrix)", FormatBytes(matrix))}
	}
	return best, nil
}

// chunkCost models the time of a chunked schedule in sample
// backpropagations: bp backpropagations of ch samples, plus an overhead of
// about 8 samples' worth per backpropagation and per block of the Gram
// matrix (unfolding inputs, forming blocks of V, small products).
func chunkCost(chunks, ch, bp int) float64 {
	return float64(bp*ch) + 8*float64(bp+chunks*(chunks+1)/2)
}

// chunkBackprops counts the chunk backpropagations of the chunked
// schedule (see chunkedGram) over chunks chunks with h held at once.
func chunkBackprops(chunks, h int) int {
	bp := 0
	last := 0
	for g0 := 0; g0 < chunks; g0 += h {
		g1 := min(g0+h, chunks)
		bp += g1 - g0 + (chunks - g1)
		last = g1 - g0
	}
	return bp + chunks - last // the map-back recomputes all but the last group
}

// blockDims returns the parameter count of each block of the options'
// groups (the whole network when there are none).
func (o *Options) blockDims(m *Model) []int {
	if o.Groups == nil {
		return []int{m.NumParams()}
	}
	size := map[string]int{}
	for _, p := range m.Params() {
		size[p.Name] = len(p.Data)
	}
	dims := make([]int, len(o.Groups))
	for i, g := range o.Groups {
		for _, name := range g.Params {
			dims[i] += size[name]
		}
	}
	return dims
}

// headroom: plans keep 1/headroom of the budget free for what they do not
// count: the Go runtime, garbage not yet collected, fragmentation.
const headroom = 10

// checkRun validates the inputs of an entry point and returns its options
// (the zero Options for nil), the curvature samples and the factor columns
// per sample.
func checkRun(m *Model, b *Batch, o *Options) (*Options, []int, int, error) {
	if m == nil {
		return nil, nil, 0, errNilModel
	}
	if o == nil {
		o = &Options{}
	}
	if err := b.Check(m); err != nil {
		return nil, nil, 0, err
	}
	if err := o.check(m, b.Len()); err != nil {
		return nil, nil, 0, err
	}
	cols := m.Loss.ReducedCols(m.NumOutputs())
	if o.MCSamples > 0 {
		cols = o.MCSamples
	}
	return o, o.curvatureSamples(b.Len()), cols, nil
}

// planRun validates the inputs of an entry point and plans it: k
// eigenpairs (0: the whole spectrum), with directional derivatives or
// not. It returns the plan, the curvature samples and the factor columns
// per sample.
func planRun(what string, m *Model, b *Batch, k int, o *Options, directional bool) (*Plan, []int, int, error) {
	o, idx, cols, err := checkRun(m, b, o)
	if err != nil {
		return nil, nil, 0, err
	}
	in := planInput{what: what, samples: len(idx), batch: b.Len(), cols: cols, k: k,
		vectors: k > 0 && !o.SkipVectors, blockDims: o.blockDims(m),
		directional: directional, float32: o.Precision == Float32}
	for _, d := range in.blockDims {
		in.sides = append(in.sides, o.chooseSide(d, cols*len(idx)))
	}
	budget := budgetOrDefault(o.MemoryBudget)
	pl, err := plan(m, in, budget-budget/headroom, o.scratch())
	if err != nil {
		if me, ok := err.(*MemoryError); ok {
			me.Budget = budget
			me.Needed += me.Needed / (headroom - 1)
		}
		return nil, nil, 0, err
	}
	pl.Budget = budget
	return pl, idx, cols, nil
}

// PlanTopEigen returns the memory plan of TopEigen(m, b, k, opts) without
// running it, or the *MemoryError TopEigen would return.
func PlanTopEigen(m *Model, b *Batch, k int, opts *Options) (*Plan, error) {
	if k < 1 {
		return nil, fmt.Errorf("vivit: k must be at least 1, got %d", k)
	}
	pl, _, _, err := planRun("TopEigen", m, b, k, opts, false)
	return pl, err
}

// PlanDirectional returns the memory plan of Directional(m, b, k, opts)
// (and of Newton) without running it, or the *MemoryError Directional
// would return.
func PlanDirectional(m *Model, b *Batch, k int, opts *Options) (*Plan, error) {
	if k < 1 {
		return nil, fmt.Errorf("vivit: k must be at least 1, got %d", k)
	}
	pl, _, _, err := planRun("Directional", m, b, k, opts, true)
	return pl, err
}

// planStats validates the inputs of ComputeStats and plans it: the whole
// batch at once (its activations, per-sample gradients, curvature
// factors, the N×N Gram matrix of the gradients whose diagonal gives
// their norms, the P-vectors of the results) or, when that does not fit,
// the largest chunks of samples that do: the gradients over chunks of the
// batch, the curvature factors over chunks of the curvature samples, one
// chunk alive at a time. It returns the plan, the curvature samples and
// the factor columns per sample.
func planStats(m *Model, b *Batch, o *Options) (*Plan, []int, int, error) {
	o, idx, cols, err := checkRun(m, b, o)
	if err != nil {
		return nil, nil, 0, err
	}
	budget := budgetOrDefault(o.MemoryBudget)
	avail := budget - budget/headroom
	s := sizesOf(m)
	scratch := o.scratch()
	n, nc, c := int64(b.Len()), int64(len(idx)), int64(cols)
	d := int64(m.NumParams())
	stage := func(name string, b int64) PlanStage { return PlanStage{name, b} }
	grads := func(ch int64) int64 { return ch*(s.acts+s.factors+s.maxT) + s.keptVBytes(ch, scratch, false) }
	curv := func(ch int64) int64 { return ch*(s.acts+c*s.factors+c*s.maxT) + s.keptVBytes(ch*c, scratch, false) }
	// The whole batch: its activations stay for both backward passes; a
	// curvature sub-batch copies its samples' activations.
	whole := grads(n) + curv(nc) - nc*s.acts + 8*n*n
	if nc != n {
		whole += nc * s.acts
	}
	fixed := 3*8*d + scratch
	pl := &Plan{Budget: budget, Samples: b.Len(), Columns: cols, Chunk: b.Len(), Held: 1, Backprops: 2,
		Bytes:  fixed + whole,
		Stages: []PlanStage{stage("results", 3*8*d), stage("factor scratch", scratch), stage("activations, gradients and factors", whole)}}
	if pl.Bytes <= avail {
		pl.Budget = budget
		return pl, idx, cols, nil
	}
	// Chunked: a running mean and the chunk's sum of the gradients for the
	// variance, the per-sample norms and losses.
	fixed += 2*8*d + 16*n
	chunk := func(ch int64) int64 { return max(grads(ch)+8*ch*ch+8*d, curv(ch)) }
	if fixed+chunk(1) > avail {
		need := fixed + chunk(1)
		need += need / (headroom - 1)
		return nil, nil, 0, &MemoryError{Budget: budget, Needed: need, What: "ComputeStats (chunked)"}
	}
	lo, hi := int64(1), max(n, nc)
	for lo < hi { // the largest chunk that fits
		mid := (lo + hi + 1) / 2
		if fixed+chunk(mid) <= avail {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	ch := int(lo)
	pl.Chunk = ch
	pl.Backprops = (b.Len()+ch-1)/ch + (len(idx)+ch-1)/ch
	pl.Bytes = fixed + chunk(lo)
	pl.Stages = []PlanStage{stage("results and running sums", fixed-scratch), stage("factor scratch", scratch),
		stage(fmt.Sprintf("one chunk of %d samples", ch), chunk(lo))}
	pl.Budget = budget
	return pl, idx, cols, nil
}

// PlanStats returns the memory plan of ComputeStats(m, b, opts) without
// running it, or the *MemoryError ComputeStats would return.
func PlanStats(m *Model, b *Batch, opts *Options) (*Plan, error) {
	pl, _, _, err := planStats(m, b, opts)
	return pl, err
}
