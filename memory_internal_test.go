package vivit

import (
	"math"
	"math/bits"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/model/im2col"
)

// TestChooseSide checks that SideAuto leaves the parameter side when the
// D×D matrix does not fit the memory budget.
func TestChooseSide(t *testing.T) {
	o := &Options{}
	if s := o.chooseSide(31, 80); s != SideParameters {
		t.Errorf("D = 31, 80 columns: %v, want parameters", s)
	}
	o.MemoryBudget = 31 * 31 * 8
	if s := o.chooseSide(31, 80); s != SideGram {
		t.Errorf("budget below 8·D²: %v, want gram", s)
	}
}

// TestChunkBackprops checks the count of the chunked schedule against a
// walk through it.
func TestChunkBackprops(t *testing.T) {
	for chunks := 1; chunks <= 9; chunks++ {
		for h := 1; h <= chunks; h++ {
			want := 0
			var last int
			for g0 := 0; g0 < chunks; g0 += h {
				g1 := min(g0+h, chunks)
				for ci := g0; ci < chunks; ci++ {
					want++ // held or streamed
				}
				last = g1 - g0
			}
			want += chunks - last
			if got := chunkBackprops(chunks, h); got != want {
				t.Errorf("%d chunks, %d held: %d, want %d", chunks, h, got, want)
			}
		}
	}
}

// TestKeptVBytesFloat32 checks the planner's bound on kept weight blocks
// against lowrank's keepV rules: a float64 block larger than twice the
// factor rows and lowrank.KeptVMax is not kept, its float32 block is whenever it
// fits a quarter of the scratch budget; grouped layers keep float64 only.
func TestKeptVBytesFloat32(t *testing.T) {
	g := im2col.New(64, 8, 8, 64, 3, 3, 1, 1, 1, 1, 1, 1) // K = 576, P = 64
	const rows = 576
	vb := int64(rows * 64 * 576 * 8) // 170 MB
	for _, tc := range []struct {
		groups      int
		scratch     int64
		f32         bool
		want        int64
		description string
	}{
		{1, 1 << 30, false, 0, "float64: 170 MB > 128 MiB and 2·19 MB"},
		{1, 1 << 30, true, vb / 2, "float32 within a quarter"},
		{1, vb, true, 0, "float32 beyond a quarter"},
		{2, 1 << 30, true, 0, "grouped: float64 rule"},
	} {
		s := netSizes{convs: []*model.Conv2d{model.NewGroupedConv2d(0, g, tc.groups, false)}}
		if got := s.keptVBytes(rows, tc.scratch, tc.f32); got != tc.want {
			t.Errorf("%s: %d bytes, want %d", tc.description, got, tc.want)
		}
	}
}

// TestTransientPeak checks the entries per sample that the forward pass
// holds at once in activations it does not keep, on a graph where they
// overlap: an affine output read by a ReLU and by a residual sum two
// nodes later, and that sum, read by the ReLU after it.
func TestTransientPeak(t *testing.T) {
	shape := []int{8}
	nodes := []model.Node{
		{Name: "fc", Op: model.NewLinear(0, 8, 8, true), Inputs: []int{0}},   // 1: read by affine? no: affine reads neither
		{Name: "affine", Op: model.NewAffine(shape, 2, 1), Inputs: []int{1}}, // 2: not read backward
		{Name: "relu", Op: model.NewReLU(shape), Inputs: []int{2}},           // 3: kept (its output)
		{Name: "add", Op: model.NewAdd(shape, 2), Inputs: []int{2, 3}},       // 4: not read backward
		{Name: "relu2", Op: model.NewReLU(shape), Inputs: []int{4}},          // 5: kept
		{Name: "out", Op: model.NewLinear(1, 8, 3, true), Inputs: []int{5}},  // 6: the output
	}
	net, err := model.NewNetwork(shape, nodes, model.Loss{Kind: model.MSE, Reduction: model.Sum}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reads := net.BackwardReads()
	// Not kept: 1 (fc's output: affine reads neither), 2 and 4. Tensor 1
	// lives through node 1, tensor 2 through node 3, tensor 4 through
	// node 4: at node 1 tensors 1 and 2 are alive (16 floats), at node 3
	// tensors 2 and 4 (16 floats).
	for _, tc := range []struct {
		t    int
		read bool
	}{{1, false}, {2, false}, {3, true}, {4, false}, {5, true}} {
		if reads[tc.t] != tc.read {
			t.Fatalf("BackwardReads()[%d] = %v, want %v", tc.t, reads[tc.t], tc.read)
		}
	}
	if got, want := net.TransientPeak(reads), 16; got != want {
		t.Errorf("TransientPeak = %d entries per sample, want %d", got, want)
	}
}

// TestAvailableMemory: the smaller of the physical memory and the cgroup's
// limit, either unknown (0) when it cannot be read.
func TestAvailableMemory(t *testing.T) {
	const g = int64(1) << 26 // 64 MiB: within any address space
	for _, c := range []struct {
		physical, limit, want int64
		source                string
	}{
		{0, 0, 0, ""},
		{16 * g, 0, 16 * g, "physical memory"},
		{0, 2 * g, 2 * g, "cgroup limit"},
		{16 * g, 2 * g, 2 * g, "cgroup limit"},    // a container on a larger host
		{2 * g, 16 * g, 2 * g, "physical memory"}, // a limit above the machine's memory
		{2 * g, 2 * g, 2 * g, "physical memory"},
		{16 * g, -1, 16 * g, "physical memory"}, // unreadable
		{-1, 2 * g, 2 * g, "cgroup limit"},
		{-1, -1, 0, ""},
		{1 << 40, 16 << 30, min(16<<30, addressableMemory), map[bool]string{true: "address space", false: "cgroup limit"}[bits.UintSize == 32]},
		{3 << 30, 0, min(3<<30, addressableMemory), map[bool]string{true: "address space", false: "physical memory"}[bits.UintSize == 32]},
	} {
		if got, source := availableMemory(c.physical, c.limit); got != c.want || source != c.source {
			t.Errorf("availableMemory(%d, %d) = %d, %q; want %d, %q", c.physical, c.limit, got, source, c.want, c.source)
		}
	}
}

// TestDefaultMemoryBudget: three quarters of what the process may use (or
// a lower Go memory limit), never above three quarters of its cgroup's
// limit; on Linux the physical
// memory is /proc/meminfo's MemTotal, read here on its own.
func TestDefaultMemoryBudget(t *testing.T) {
	phys, limit := physicalMemory(), cgroupMemory()
	got := DefaultMemoryBudget()
	want := fallbackMemory
	if m, _ := availableMemory(phys, limit); m > 0 {
		want = m / 4 * 3
	}
	if goLimit := debug.SetMemoryLimit(-1); goLimit < want {
		want = goLimit // GOMEMLIMIT set for the test binary
	}
	if got != want {
		t.Errorf("DefaultMemoryBudget() = %d, want %d (3/4 of the available memory, %d without it, or a lower GOMEMLIMIT)", got, want, fallbackMemory)
	}
	if limit > 0 && got > limit/4*3 {
		t.Errorf("DefaultMemoryBudget() = %d above 3/4 of the cgroup limit %d", got, limit)
	}
	if runtime.GOOS != "linux" {
		return
	}
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Skip(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			if phys != kb<<10 {
				t.Errorf("physical memory %d bytes, /proc/meminfo has MemTotal %d kB", phys, kb)
			}
			return
		}
	}
	t.Error("no MemTotal in /proc/meminfo")
}

// TestDefaultBudgetGoLimit: a Go memory limit below three quarters of the
// available memory is the default budget; a higher one changes nothing.
func TestDefaultBudgetGoLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)
	const g = int64(1) << 30
	for _, c := range []struct{ available, limit, want int64 }{
		{16 * g, math.MaxInt64, 12 * g},
		{16 * g, 2 * g, 2 * g},
		{16 * g, 13 * g, 12 * g},
		{0, 1 * g, 1 * g},
		{0, math.MaxInt64, fallbackMemory},
	} {
		debug.SetMemoryLimit(c.limit)
		if got := defaultBudget(c.available); got != c.want {
			t.Errorf("available %d, Go limit %d: budget %d, want %d", c.available, c.limit, got, c.want)
		}
	}
	debug.SetMemoryLimit(100 << 20)
	if got := DefaultMemoryBudget(); got != 100<<20 {
		t.Errorf("DefaultMemoryBudget() = %d under a Go limit of 100 MiB", got)
	}
}

// TestSizesFactorCopier checks the stored factor bytes per factor column
// that the planner counts: a convolution and a linear layer hold the
// factor rows at their outputs, a BatchNorm that alone reads the
// convolution's output only the block it copies (two entries a channel),
// not the rows, which its backward overwrites with the convolution's;
// when a residual sum reads the convolution's output too, the BatchNorm's
// backward writes elsewhere and its rows count.
func TestSizesFactorCopier(t *testing.T) {
	g := im2col.New(3, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1) // 4×6×6 outputs
	shape := []int{4, 6, 6}
	param := func(name string, n int) *model.Param {
		return &model.Param{Name: name, Shape: []int{n}, Data: make([]float64, n)}
	}
	for _, tc := range []struct {
		residual bool
		want     int64
	}{
		{false, 8 * (144 + 2*4 + 5)},      // conv's rows, BatchNorm's block, fc's rows
		{true, 8 * (144 + 144 + 2*4 + 5)}, // and BatchNorm's rows
	} {
		bn, err := model.NewBatchNorm(shape, param("bn.weight", 4), param("bn.bias", 4), make([]float64, 4), []float64{1, 1, 1, 1}, 1e-5)
		if err != nil {
			t.Fatal(err)
		}
		nodes := []model.Node{
			{Name: "conv", Op: model.NewConv2d(0, g, true), Inputs: []int{0}},
			{Name: "bn", Op: bn, Inputs: []int{1}},
		}
		if tc.residual {
			nodes = append(nodes, model.Node{Name: "add", Op: model.NewAdd(shape, 2), Inputs: []int{1, 2}})
		}
		last := len(nodes)
		nodes = append(nodes,
			model.Node{Name: "relu", Op: model.NewReLU(shape), Inputs: []int{last}},
			model.Node{Name: "flatten", Op: model.NewFlatten(shape), Inputs: []int{last + 1}},
			model.Node{Name: "fc", Op: model.NewLinear(1, 144, 5, true), Inputs: []int{last + 2}})
		net, err := model.NewNetwork([]int{3, 6, 6}, nodes, model.Loss{Kind: model.CrossEntropy, Reduction: model.Mean}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := sizesOf(net).factors; got != tc.want {
			t.Errorf("residual %v: stored factors %d bytes a column, want %d", tc.residual, got, tc.want)
		}
	}
}
