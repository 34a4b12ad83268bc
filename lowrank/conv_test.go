package lowrank

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/model/im2col"
)

// convCase is a convolution geometry: input [inC, h, w], outC channels,
// kernel, stride, padding and dilation.
type convCase struct {
	inC, h, w, outC  int
	kh, kw, sh, sw   int
	ph, pw, dh, dw   int
	n, c             int // samples, columns per sample
	sparse           bool
	nonContiguousS   bool
	weight, bias     bool
	ny, cy           int // samples and columns of the cross factor
	crossSharesInput bool
}

func (tc convCase) geom() *im2col.Geom {
	return im2col.New(tc.inC, tc.h, tc.w, tc.outC, tc.kh, tc.kw, tc.sh, tc.sw, tc.ph, tc.pw, tc.dh, tc.dw)
}

var convCases = []convCase{
	{inC: 2, h: 7, w: 5, outC: 3, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, n: 3, c: 2, weight: true, bias: true, ny: 2, cy: 1},
	{inC: 1, h: 8, w: 8, outC: 4, kh: 3, kw: 3, sh: 2, sw: 2, ph: 0, pw: 0, dh: 1, dw: 1, n: 4, c: 3, weight: true, bias: true, ny: 4, cy: 1, crossSharesInput: true, sparse: true},
	{inC: 3, h: 7, w: 5, outC: 2, kh: 2, kw: 3, sh: 3, sw: 2, ph: 2, pw: 1, dh: 2, dw: 1, n: 2, c: 4, weight: true, bias: false, ny: 3, cy: 2},
	{inC: 2, h: 6, w: 7, outC: 5, kh: 3, kw: 2, sh: 1, sw: 3, ph: 2, pw: 0, dh: 2, dw: 2, n: 3, c: 1, weight: false, bias: true, ny: 2, cy: 3},
	{inC: 4, h: 3, w: 3, outC: 3, kh: 3, kw: 3, sh: 1, sw: 1, ph: 0, pw: 0, dh: 1, dw: 1, n: 5, c: 2, weight: true, bias: true, ny: 5, cy: 1, crossSharesInput: true}, // P = 1
	{inC: 2, h: 5, w: 5, outC: 3, kh: 1, kw: 1, sh: 1, sw: 1, ph: 0, pw: 0, dh: 1, dw: 1, n: 2, c: 2, weight: true, bias: true, ny: 2, cy: 2, nonContiguousS: true, sparse: true},
}

// refUnfold returns entry (k, p) of the K×P unfolded input straight from
// the definition of a convolution (independent of im2col.Geom's table).
func refUnfold(g *im2col.Geom, x []float64, k, p int) float64 {
	c, rest := k/(g.KH*g.KW), k%(g.KH*g.KW)
	i, j := rest/g.KW, rest%g.KW
	oh, ow := p/g.OutW, p%g.OutW
	ih, iw := oh*g.SH-g.PH+i*g.DH, ow*g.SW-g.PW+j*g.DW
	if ih < 0 || ih >= g.InH || iw < 0 || iw >= g.InW {
		return 0
	}
	return x[(c*g.InH+ih)*g.InW+iw]
}

// explicitConv forms the block of V of a Conv factor column by column.
func explicitConv(f *Conv) *mat.Dense {
	g := f.G
	k, p, out := g.K(), g.P(), g.OutC
	v := mat.NewDense(f.Dim(), f.Cols(), nil)
	for r := 0; r < f.Cols(); r++ {
		x := f.A.RawRowView(r / f.C)
		s := f.S.RawRowView(r)
		row := 0
		if f.Weight {
			for o := 0; o < out; o++ {
				for kk := 0; kk < k; kk++ {
					var sum float64
					for q := 0; q < p; q++ {
						sum += s[o*p+q] * refUnfold(g, x, kk, q)
					}
					v.Set(row, r, sum)
					row++
				}
			}
		}
		if f.Bias {
			for o := 0; o < out; o++ {
				var sum float64
				for q := 0; q < p; q++ {
					sum += s[o*p+q]
				}
				v.Set(row, r, sum)
				row++
			}
		}
	}
	return v
}

func randFactorRows(rng *rand.Rand, r, c int, sparse, nonContiguous bool) *mat.Dense {
	m := randDense(rng, r, c+2*btoi(nonContiguous))
	if sparse {
		raw := m.RawMatrix()
		for i := range raw.Data {
			if rng.Float64() < 0.8 { // density 0.2: the kernel route's sparse Z
				raw.Data[i] = 0
			}
		}
	}
	if nonContiguous {
		return m.Slice(0, r, 1, c+1).(*mat.Dense)
	}
	return m
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (tc convCase) factors(rng *rand.Rand) (x, y *Conv) {
	g := tc.geom()
	a := randDense(rng, tc.n, g.InSize())
	x = NewConv(g, randFactorRows(rng, tc.n*tc.c, g.OutSize(), tc.sparse, tc.nonContiguousS), a, tc.c, true, true)
	ay := randDense(rng, tc.ny, g.InSize())
	if tc.crossSharesInput {
		ay = a
	}
	y = NewConv(g, randFactorRows(rng, tc.ny*tc.cy, g.OutSize(), tc.sparse, false), ay, tc.cy, true, true)
	keep := []bool{tc.weight, tc.bias}
	return x.Select(keep).(*Conv), y.Select(keep).(*Conv)
}

func TestConvGeomUnfold(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range convCases {
		g := tc.geom()
		x := randDense(rng, 1, g.InSize()).RawRowView(0)
		ut := make([]float64, g.P()*g.K())
		g.Unfold(ut, g.K(), x)
		for p := 0; p < g.P(); p++ {
			for k := 0; k < g.K(); k++ {
				if got, want := ut[p*g.K()+k], refUnfold(g, x, k, p); got != want {
					t.Fatalf("%+v: Uᵀ[%d,%d] = %g, want %g", tc, p, k, got, want)
				}
			}
		}
		// FoldAdd is the adjoint of Unfold: ⟨Unfold(x), y⟩ = ⟨x, FoldAdd(y)⟩.
		y := randDense(rng, 1, len(ut)).RawRowView(0)
		fy := make([]float64, g.InSize())
		g.FoldAdd(fy, y, g.K())
		if l, r := mat.Dot(mat.NewVecDense(len(ut), ut), mat.NewVecDense(len(y), y)), mat.Dot(mat.NewVecDense(len(x), x), mat.NewVecDense(len(fy), fy)); !(math.Abs(l-r) <= 1e-12*math.Abs(l)) {
			t.Errorf("%+v: FoldAdd is not the adjoint of Unfold: %g vs %g", tc, l, r)
		}
	}
}

// TestConv runs the factor conformance suite on every geometry, for both
// Gram routes and for budgets from unlimited down to one column at a time.
func TestConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	nwide, nnarrow := 0, 0
	defer func() {
		if nwide < 3 || nnarrow < 3 {
			t.Errorf("only %d cases chunked over patch indices × all channels, %d over one channel", nwide, nnarrow)
		}
	}()
	for ci, tc := range convCases {
		x, y := tc.factors(rng)
		vx, vy := explicitConv(x), explicitConv(y)
		if x.sparseZ() != tc.sparse || y.sparseZ() != tc.sparse {
			t.Fatalf("case %d: sparse Z %v, %v; want %v (densities %.2f, %.2f)", ci, x.sparseZ(), y.sparseZ(), tc.sparse, x.density(), y.density())
		}
		// Budgets that give Gram chunks of some patch indices × all
		// channels, and of some patch indices × one channel.
		budgets := []int64{0, 1}
		var wide, narrow bool
		for b := int64(8); b < 1<<20 && !(wide && narrow); b += 8 {
			ch, _, _ := explicitPlan(x.G, x.rows(), x.n(), b)
			c := ch[0]
			all, some := c.o1-c.o0 == x.G.OutC, c.k1-c.k0 < x.G.K()
			if all && some && !wide || !all && some && !narrow {
				wide, narrow = wide || all, narrow || !all
				if x.Bias {
					budgets = append(budgets, b+int64(x.rows()*x.G.OutC*8))
				} else {
					budgets = append(budgets, b)
				}
			}
		}
		if wide {
			nwide++
		}
		if narrow {
			nnarrow++
		}
		for _, route := range []GramRoute{RouteAuto, RouteExplicit, RouteKernel} {
			for _, budget := range budgets {
				t.Run(fmt.Sprintf("case%d/%v/budget=%d", ci, route, budget), func(t *testing.T) {
					x.Route, y.Route = route, route
					x.SetBudget(budget)
					y.SetBudget(budget)
					testFactor(t, x, vx, y, vy, rng)
				})
			}
		}
	}
}

// TestConvChunkingInvariance checks that the chunked computations agree
// with the unchunked ones to rounding, route by route.
func TestConvChunkingInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for ci, tc := range convCases {
		x, y := tc.factors(rng)
		for _, route := range []GramRoute{RouteExplicit, RouteKernel} {
			x.Route = route
			run := func(budget int64) (*mat.SymDense, *mat.Dense, []float64) {
				x.SetBudget(budget)
				g := mat.NewSymDense(x.Cols(), nil)
				x.AddGramTo(g)
				c := mat.NewDense(x.Cols(), y.Cols(), nil)
				x.AddCrossTo(c, y)
				d := make([]float64, x.Dim())
				x.AddDiagTo(d)
				return g, c, d
			}
			g0, c0, d0 := run(0)
			for _, b := range []int64{1, 700, 5000} {
				g, c, d := run(b)
				scale := mat.Norm(g0, math.Inf(1))
				if e := maxAbsDiff(g, g0); !(e <= 1e-13*scale) {
					t.Errorf("case %d, %v, budget %d: Gram differs by %.3g", ci, route, b, e)
				}
				if e := maxAbsDiff(c, c0); !(e <= 1e-13*mat.Norm(c0, math.Inf(1))) {
					t.Errorf("case %d, %v, budget %d: cross differs by %.3g", ci, route, b, e)
				}
				for i := range d {
					if !(math.Abs(d[i]-d0[i]) <= 1e-13*(1+math.Abs(d0[i]))) {
						t.Errorf("case %d, budget %d: diagonal[%d] differs", ci, b, i)
						break
					}
				}
			}
		}
	}
}

// TestConvBudget checks that the scratch memory of each operation stays
// within the budget: the bytes allocated during an operation bound its
// peak extra memory from above.
func TestConvBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop recycled buffers at random")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	// V block: 8·3 rows × (64·4·3·3 + 64) = 24 × 2368 doubles ≈ 444 KiB;
	// one sample's unfolded input is 16×36 doubles.
	g := im2col.New(4, 6, 6, 64, 3, 3, 1, 1, 0, 0, 1, 1)
	n, c := 8, 3
	f := NewConv(g, randDense(rng, n*c, g.OutSize()), randDense(rng, n, g.InSize()), c, true, true)
	y := NewConv(g, randDense(rng, n, g.OutSize()), f.A, 1, true, true)
	const budget = 128 << 10
	// The parallel products allocate a little bookkeeping per call
	// (≈ 100 bytes per goroutine: closures, a channel); it counts in the
	// cumulative allocations but is short-lived.
	const slack = 16 << 10
	// The budget covers the engine's buffers, not the BLAS's own packing
	// buffers (bounded by the BLAS, independent of the sizes here, and
	// recycled between calls): a first call fills the BLAS's pools, and
	// the least of five later calls is measured, with the collector (which
	// would empty the pools) off. (A pool's buffer is cached per P; a call
	// that lands on another P may miss it.)
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	alloc := func(op func()) int64 {
		op()
		least := int64(math.MaxInt64)
		for range 5 {
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			op()
			runtime.ReadMemStats(&m1)
			least = min(least, int64(m1.TotalAlloc-m0.TotalAlloc))
		}
		return least
	}
	// The budget holds whatever the number of cores: the plans cap the
	// workers whose scratch would not fit.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 4, 8, 16} {
		runtime.GOMAXPROCS(procs)
		for _, route := range []GramRoute{RouteExplicit, RouteKernel} {
			f.Route = route
			f.SetBudget(budget)
			gram := mat.NewSymDense(f.Cols(), nil)
			cross := mat.NewDense(f.Cols(), y.Cols(), nil)
			diag := make([]float64, f.Dim())
			u := randDense(rng, 2, f.Cols())
			mu := mat.NewDense(2, f.Dim(), nil)
			v := randDense(rng, 2, f.Dim())
			tv := mat.NewDense(2, f.Cols(), nil)
			f.density() // computed once per factor, outside any operation's budget
			for _, op := range []struct {
				name string
				f    func()
			}{
				{"AddGramTo", func() { f.AddGramTo(gram) }},
				{"AddCrossTo", func() { f.AddCrossTo(cross, y) }},
				{"AddDiagTo", func() { f.AddDiagTo(diag) }},
				{"MulTo", func() { f.MulTo(mu, u) }},
				{"TransMulTo", func() { f.TransMulTo(tv, v) }},
			} {
				got := alloc(op.f)
				t.Logf("GOMAXPROCS=%d %v %s: %d bytes allocated (budget %d)", procs, route, op.name, got, budget)
				if !(got <= budget+slack) {
					t.Errorf("GOMAXPROCS=%d %v %s allocated %d bytes, budget %d", procs, route, op.name, got, budget)
				}
			}
		}
	}
	// The whole V block is ≈ 444 KiB: a budget of 128 KiB must chunk it.
	if chunks, _, _ := explicitPlan(g, n*c, n, budget); len(chunks) < 2 {
		t.Errorf("budget %d did not chunk the block: %v", budget, chunks)
	}
}

// TestConvRouteChoice checks the cost model on clear-cut geometries.
func TestConvRouteChoice(t *testing.T) {
	for _, tc := range []struct {
		name string
		g    *im2col.Geom
		n, c int
		want GramRoute
	}{
		// Few positions, long patches, exact factor: kernel.
		{"3c3d conv3", im2col.New(96, 6, 6, 128, 3, 3, 1, 1, 1, 1, 1, 1), 32, 10, RouteKernel},
		// Many positions, short patches: explicit.
		{"3c3d conv1", im2col.New(3, 32, 32, 64, 5, 5, 1, 1, 0, 0, 1, 1), 8, 10, RouteExplicit},
		// One position: the kernel route is the linear layer's Hadamard trick.
		{"P=1", im2col.New(16, 3, 3, 16, 3, 3, 1, 1, 0, 0, 1, 1), 8, 4, RouteKernel},
	} {
		// The choice depends on sizes and the density of S only.
		ones := func(r, c int) *mat.Dense {
			d := make([]float64, r*c)
			for i := range d {
				d[i] = 1
			}
			return mat.NewDense(r, c, d)
		}
		f := NewConv(tc.g, ones(tc.n*tc.c, tc.g.OutSize()), ones(tc.n, tc.g.InSize()), tc.c, true, true)
		route, e, k := f.GramRouteFor(f)
		if route != tc.want {
			t.Errorf("%s: route %v (explicit %.3g, kernel %.3g), want %v", tc.name, route, e, k, tc.want)
		}
	}
}

func TestConvSelectAndMisuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	g := im2col.New(1, 4, 4, 2, 3, 3, 1, 1, 0, 0, 1, 1)
	f := NewConv(g, randDense(rng, 2, g.OutSize()), randDense(rng, 2, g.InSize()), 1, true, false)
	if f.Select([]bool{false, true}) != nil {
		t.Error("Select of a missing bias should be nil")
	}
	f.SetBudget(123)
	if s := f.Select([]bool{true, false}).(*Conv); s.Budget() != 123 {
		t.Errorf("Select lost the budget: %d", s.Budget())
	}
	if f.SetBudget(0); f.Budget() != DefaultBudget {
		t.Errorf("zero budget means %d, want DefaultBudget", f.Budget())
	}
	var _ Budgeter = f
	defer func() {
		if recover() == nil {
			t.Error("cross product with a Linear factor did not panic")
		}
	}()
	f.AddCrossTo(mat.NewDense(2, 2, nil), NewLinear(randDense(rng, 2, 2), randDense(rng, 2, 2), 1, true, false))
}

// TestConvMulToPlans checks the aggregated MulTo, dense and sparse,
// against the explicit V for budgets that split the vectors into groups
// (the last one short) and the samples into chunks, on every case.
func TestConvMulToPlans(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const nv = 5
	var grouped, chunked, sparseGrouped, sparseChunked int
	for ci, tc := range convCases {
		x, _ := tc.factors(rng)
		v := explicitConv(x)
		u := randDense(rng, nv, x.Cols())
		var want mat.Dense
		want.Mul(u, v.T())
		x.Route = RouteKernel
		seen := map[[3]int]bool{}
		for b := int64(8); b < 1<<20; b = b*5/4 + 8 {
			x.SetBudget(b)
			// MulTo's plan: the sparse route's when the sparse copy fits.
			g, m := x.aggregatedPlan(nv)
			sparse := 0
			if sr, rest := x.sparseForm(b); x.Weight && sr != nil {
				g, m, _ = x.sparsePlan(nv, rest)
				sparse = 1
			}
			if seen[[3]int{g, m, sparse}] {
				continue
			}
			seen[[3]int{g, m, sparse}] = true
			if g > 1 && g < nv && nv%g != 0 {
				grouped++
				sparseGrouped += sparse
			}
			if g == nv && m > 1 && m < x.n() {
				chunked++
				sparseChunked += sparse
			}
			got := mat.NewDense(nv, x.Dim(), nil)
			x.MulTo(got, u)
			if e := maxAbsDiff(got, &want); !(e <= 1e-12*mat.Norm(&want, math.Inf(1))) {
				t.Errorf("case %d, %d vectors × %d samples at a time: max error %.3g", ci, g, m, e)
			}
		}
	}
	if grouped == 0 || chunked == 0 || sparseGrouped == 0 || sparseChunked == 0 {
		t.Errorf("plans with uneven vector groups: %d (%d sparse), with sample chunks of all vectors: %d (%d sparse); want some of each", grouped, sparseGrouped, chunked, sparseChunked)
	}
}

// TestConvDensity checks the count of nonzero factor entries: density
// from every row of a factor of at most densityRows rows, estimated from
// densityRows rows of a larger one whose samples' rows share their zeros
// (to within one entry a row, the spread of the row counts), and the
// per-sample counts of the sparse rows.
func TestConvDensity(t *testing.T) {
	g := im2col.New(2, 5, 5, 3, 3, 3, 1, 1, 0, 0, 1, 1)
	for _, tc := range []struct {
		n, c   int
		shared bool // the zeros depend on the sample alone
	}{
		{5, 3, false},
		{1, densityRows, false},
		{densityRows + 1, 3, true},
		{40, 3, true},
		{40, 1, true},
	} {
		s := mat.NewDense(tc.n*tc.c, g.OutSize(), nil)
		nz := 0
		for i := 0; i < tc.n*tc.c; i++ {
			for j := 0; j < g.OutSize(); j++ {
				key := i*31 + j*7
				if tc.shared {
					key = i/tc.c + j
				}
				if key%5 == 0 {
					s.Set(i, j, float64(j+1))
					nz++
				}
			}
		}
		f := NewConv(g, s, mat.NewDense(tc.n, g.InSize(), nil), tc.c, true, false)
		want := float64(nz) / float64(tc.n*tc.c*g.OutSize())
		got := f.Density()
		if tc.n*tc.c <= densityRows && got != want {
			t.Errorf("n %d, c %d: density %v, want %v", tc.n, tc.c, got, want)
		}
		if !(math.Abs(got-want) <= 1/float64(g.OutSize())) {
			t.Errorf("n %d, c %d: density %v, want %v to within a row's entry", tc.n, tc.c, got, want)
		}
		total := 0
		for _, v := range f.sampleCounts() {
			total += v
		}
		if total != nz {
			t.Errorf("n %d, c %d: sample counts add up to %d, want %d", tc.n, tc.c, total, nz)
		}
	}
}

// TestConvGramFloat32 checks the float32 explicit Gram route against the
// explicit VᵀV: float32 accuracy (and not float64's) when its plan holds
// all output channels, in one chunk or several; float64 accuracy when the
// budget allows only single-channel chunks and the route falls back; and
// float64 whatever the budget for the kernel route.
func TestConvGramFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	seen := map[string]int{}
	for ci, tc := range convCases {
		if !tc.weight {
			continue
		}
		x, _ := tc.factors(rng)
		v := explicitConv(x)
		var want mat.Dense
		want.Mul(v.T(), v)
		scale := mat.Norm(&want, math.Inf(1))
		x.SetPrecision(Float32)
		kinds := map[string]bool{}
		for b := int64(8); b < 1<<24; b = b*3/2 + 8 {
			for _, route := range []GramRoute{RouteExplicit, RouteKernel} {
				x.Route = route
				x.SetBudget(b)
				chunks, _, _, ok := x.explicitPlan32()
				kind := "float64"
				if route == RouteExplicit && ok {
					kind = "one chunk"
					if len(chunks) > 1 {
						kind = "chunks"
					}
				}
				key := fmt.Sprintf("%v/%s", route, kind)
				if kinds[key] {
					continue
				}
				kinds[key] = true
				seen[key]++
				g := mat.NewSymDense(x.Cols(), nil)
				x.AddGramTo(g)
				e := maxAbsDiff(g, &want)
				if kind == "float64" {
					if !(e <= 1e-12*scale) {
						t.Errorf("case %d %s budget %d: error %.3g, want float64 accuracy", ci, key, b, e)
					}
				} else if !(e <= 2e-6*scale) || e < 1e-12*scale {
					t.Errorf("case %d %s budget %d: error %.3g (scale %.3g), want float32 rounding", ci, key, b, e, scale)
				}
			}
		}
	}
	for _, key := range []string{"explicit/one chunk", "explicit/chunks", "explicit/float64", "kernel/float64"} {
		if seen[key] == 0 {
			t.Errorf("no case took %s; seen %v", key, seen)
		}
	}
}

// TestConvSparseRows checks the compressed sparse copy of the factor rows
// entry by entry, with empty channel rows and a sample with no nonzeros
// (whose spare slot the next sample must not see), on contiguous and
// strided factor rows.
func TestConvSparseRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	g := im2col.New(2, 5, 5, 3, 3, 3, 1, 1, 0, 0, 1, 1)
	n, c := 4, 2
	for _, strided := range []bool{false, true} {
		s := randFactorRows(rng, n*c, g.OutSize(), true, strided)
		for j := 0; j < c; j++ { // sample 1: all zeros
			row := s.RawRowView(1*c + j)
			clear(row)
		}
		clear(s.RawRowView(0)[:g.P()]) // sample 0, column 0, channel 0: empty
		f := NewConv(g, s, mat.NewDense(n, g.InSize(), nil), c, true, false)
		sr := f.sparseRows()
		out, p := g.OutC, g.P()
		if len(sr.ptr) != n*c*out+1 {
			t.Fatalf("strided=%v: %d row pointers", strided, len(sr.ptr))
		}
		for r := 0; r < n*c; r++ {
			row := s.RawRowView(r)
			for o := 0; o < out; o++ {
				lo, hi := sr.span(r*out + o)
				got := make([]float64, p)
				for e := lo; e < hi; e++ {
					if sr.vals[e] == 0 {
						t.Fatalf("strided=%v row %d channel %d: stored zero", strided, r, o)
					}
					got[sr.idx[e]] = sr.vals[e]
				}
				if !slices.Equal(got, row[o*p:(o+1)*p]) {
					t.Fatalf("strided=%v row %d channel %d: %v, want %v", strided, r, o, got, row[o*p:(o+1)*p])
				}
			}
		}
	}
}

// TestConvPlansIgnoreProcs checks that the chunking of every route (and
// with it the rounding of the results) is the same whatever GOMAXPROCS
// is: only the number of workers changes, and it stays at least one.
func TestConvPlansIgnoreProcs(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for ci, tc := range convCases {
		x, y := tc.factors(rng)
		x.SetPrecision(Float32)
		plans := func() string {
			var s []string
			for b := int64(8); b < 1<<22; b = b*3/2 + 8 {
				x.SetBudget(b)
				ch, cached, w := explicitPlan(x.G, x.rows(), x.n(), b)
				mc, kw := kernelPlan(x.G, x, y, b)
				g, m, sw := x.sparsePlan(3, b)
				ch32, cached32, w32, ok32 := x.explicitPlan32()
				if w < 1 || kw < 1 || sw < 1 || ok32 && w32 < 1 {
					t.Fatalf("case %d budget %d: workers %d, %d, %d, %d", ci, b, w, kw, sw, w32)
				}
				s = append(s, fmt.Sprint(ch, cached, mc, g, m, ch32, cached32, ok32))
			}
			return fmt.Sprint(s)
		}
		runtime.GOMAXPROCS(1)
		want := plans()
		for _, procs := range []int{2, 3, 8, 64} {
			runtime.GOMAXPROCS(procs)
			if got := plans(); got != want {
				t.Errorf("case %d: the plans at GOMAXPROCS=%d differ from those at 1", ci, procs)
			}
		}
	}
}

// TestConvKernelRouteCancellation checks the products of a factor whose
// columns of V cancel: an input channel of 1e20 at every position and
// factor rows that sum to zero over the positions. The kernel route's
// Gram and cross products are then rounding noise of about 1e24 where the
// true entries are of order 1, so even with the route forced both must
// match the explicit V.
func TestConvKernelRouteCancellation(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	g := im2col.New(2, 1, 2, 2, 1, 1, 1, 1, 0, 0, 1, 1) // P = 2
	factor := func(n, c int) *Conv {
		a := randDense(rng, n, g.InSize())
		s := randDense(rng, n*c, g.OutSize())
		for i := 0; i < n; i++ {
			a.Set(i, 0, 1e20)
			a.Set(i, 1, 1e20)
		}
		for r := 0; r < n*c; r++ {
			for o := 0; o < g.OutC; o++ {
				s.Set(r, 2*o+1, -s.At(r, 2*o))
			}
		}
		f := NewConv(g, s, a, c, true, false)
		f.Route = RouteKernel
		return f
	}
	x, y := factor(3, 2), factor(2, 3)
	vx, vy := explicitConv(x), explicitConv(y)

	g0 := mat.NewSymDense(x.Cols(), nil)
	x.AddGramTo(g0)
	var want mat.Dense
	want.Mul(vx.T(), vx)
	if e, scale := maxAbsDiff(g0, &want), mat.Norm(&want, math.Inf(1)); !(e <= 1e-12*scale) {
		t.Errorf("Gram differs from VᵀV by %.3g (scale %.3g)", e, scale)
	}
	c := mat.NewDense(x.Cols(), y.Cols(), nil)
	x.AddCrossTo(c, y)
	want.Mul(vx.T(), vy)
	if e, scale := maxAbsDiff(c, &want), mat.Norm(&want, math.Inf(1)); !(e <= 1e-12*scale) {
		t.Errorf("cross product differs from VᵀY by %.3g (scale %.3g)", e, scale)
	}
}

// TestConvKernelDiag checks the kernel route's diagonal of the weight
// part of VᵀV against the explicit V, on every geometry.
func TestConvKernelDiag(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for ci, tc := range convCases {
		if !tc.weight {
			continue
		}
		x, _ := tc.factors(rng)
		v := explicitConv(x)
		w := x.G.OutC * x.G.K() // the weight rows come first
		got := x.kernelDiag()
		for i := range got {
			col := v.Slice(0, w, i, i+1).(*mat.Dense)
			want := mat.Dot(col.ColView(0), col.ColView(0))
			if !(math.Abs(got[i]-want) <= 1e-13*want) {
				t.Errorf("case %d: diagonal %d is %v, want %v", ci, i, got[i], want)
			}
		}
	}
}
