package lowrank

import (
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/par"
	"github.com/vivit-go/vivit/model/im2col"
)

// DefaultBudget is the scratch memory, in bytes, that one operation of a
// factor may allocate when no budget has been set: 1 GiB.
const DefaultBudget int64 = 1 << 30

// A Budgeter is a factor whose operations need scratch memory that grows
// with the batch or the layer (a Conv factor forms chunks of its block of
// V). SetBudget bounds that scratch memory, in bytes, for every later
// operation; a budget ≤ 0 means DefaultBudget.
type Budgeter interface {
	SetBudget(bytes int64)
}

// GramRoute is how a Conv factor computes Gram matrices and cross
// products of its weight block.
type GramRoute int

const (
	// RouteAuto picks the cheaper of the two routes by the cost model.
	RouteAuto GramRoute = iota
	// RouteExplicit forms the block of V in column chunks and adds their
	// outer products.
	RouteExplicit
	// RouteKernel sums products of the factor and input position kernels.
	RouteKernel
)

func (r GramRoute) String() string {
	switch r {
	case RouteExplicit:
		return "explicit"
	case RouteKernel:
		return "kernel"
	}
	return "auto"
}

// Conv is the block of V for a Conv2d layer's weight [out, in, kh, kw]
// (flattened to out×K, K = in·kh·kw) and bias [out]. With S_r the row r of
// the factor reshaped to out×P (P output positions) and U_n the K×P
// unfolded input of sample n (see im2col.Geom), column r of the block is
// vec(S_r U_{r/c}ᵀ) for the weight and S_r 1 (the sum over positions) for
// the bias.
//
// A Conv keeps only S and the layer inputs. Operations that need entries
// of V form them in chunks, regenerating unfolded inputs as they go, so
// that the scratch memory of one operation stays within the budget (see
// Budgeter); the destination and the stored S and inputs are not counted.
// When even the smallest working set (one sample's unfolded input and one
// column of V per row) exceeds the budget, that smallest working set is
// used.
//
// # Cost model
//
// Gram matrices (and cross products XᵀY of two factors of the layer) of
// the weight block are computed by one of two routes, chosen per call by
// estimated cost in multiply-adds, for X with n_x samples and c_x columns
// per sample (R_x = n_x·c_x rows), Y likewise, D = out·K and ρ the
// fraction of nonzero entries of S (backpropagated factors are sparse
// after ReLUs and max-pooling, and factor rows at most 30 % nonzero form
// V's blocks from their nonzeros, formWeightSparse):
//
//   - explicit: form chunks of V's rows and add their outer products,
//     ρ_x·R_x·out·P·K (+ ρ_y·R_y·out·P·K) to form, R_x·R_y·D (halved for a
//     Gram) to multiply;
//   - kernel: Ĝ[r,r'] = Σ_{p,q} (S_r[:,p]·S_r'[:,q]) (U_n[:,p]·U_n'[:,q]),
//     computed per pair of samples as ⟨S_r, S_r' B_{nn'}ᵀ⟩ with the P×P
//     input position kernel B_{nn'} = U_nᵀU_n': n_x·n_y·(P²·K +
//     ρ·c·out·P² + c_x·c_y·out·P) (halved for a Gram).
//
// Each term is weighted by its measured speed relative to a large gonum
// matrix product (costGemm, costSmall), and unfolding costs a few
// multiply-adds per entry (costUnfold). The kernel route wins when P is
// small against K and c·out (late layers, exact factors); the explicit
// route when P is large (early layers) or c is small (Monte-Carlo
// factors). On the 3c3d benchmark network (bench, Test3C3DConvRoutes) the
// model picks the faster route for all three conv layers, exact and
// Monte-Carlo; the only kernel-route layer is the last conv with the exact
// factor (2–4× faster than explicit there). The bias block is always formed
// explicitly (it is R×out). MulTo makes the same kind of choice, see
// there.
//
// Products run on up to GOMAXPROCS goroutines: tiles of the Gram matrix,
// samples when forming chunks of V, samples of X in the kernel route,
// vectors in MulTo. Goroutines that need scratch of their own (an
// unfolded sample, a block of the kernel route) share a quarter of the
// budget, and there are only as many as fit in it (at least one): the
// budget holds on any number of cores, and the chunking, hence the
// rounding of every result, does not depend on GOMAXPROCS.
type Conv struct {
	G            *im2col.Geom
	S            *mat.Dense // (n·c)×(out·P) backpropagated factor rows; nil for NewConv32's and NewTokenLinear's
	A            *mat.Dense // n×(in·H·W) layer inputs
	C            int        // factor columns per sample
	Weight, Bias bool       // which tensors the block covers
	// Route forces a route: RouteExplicit forms chunks of V for Gram
	// matrices, cross products and MulTo; RouteKernel uses the kernel
	// formulation for Gram matrices and cross products and aggregated
	// factor rows for MulTo. RouteAuto (the zero value) uses the cost
	// model.
	Route GramRoute
	// Precision of the large products of the Gram matrix's explicit route
	// (when its chunks hold all output channels; the block it forms is
	// then kept in float32 for MulTo, see keepV) and of the aggregated
	// route of MulTo for dense factor rows. The kernel route, cross
	// products, the explicit MulTo and the sparse products (factor rows
	// at most 30 % nonzero) compute in float64 whatever it says.
	Precision Precision

	budget int64
	stats  *convStats // shared with Select'ed copies
	// s32 holds the factor rows in float32 instead of S (NewConv32)
	s32 []float32
	// tok holds the factor rows token-major instead of S (T×out each, the
	// layout of a token-wise linear layer's output; NewTokenLinear)
	tok *mat.Dense
	// factor rows and samples, kept apart from S and A (nil after DropRows)
	nrows, nsamples int
}

type convStats struct {
	once      sync.Once
	density   float64 // estimated (density)
	countOnce sync.Once
	sampleNZ  []int // nonzero factor entries of each sample
	kept      keptV // the weight block of V, once the Gram route kept it
	biasOnce  sync.Once
	bias      []float64 // the bias block (biasCols)
	wideOnce  sync.Once
	wide      *mat.Dense // float32 rows widened (rows64)
}

// NewConv returns the block for factor rows s and layer inputs a.
func NewConv(g *im2col.Geom, s, a *mat.Dense, c int, weight, bias bool) *Conv {
	r, sc := s.Dims()
	n, ac := a.Dims()
	if n*c != r {
		panic("lowrank: factor rows do not match samples × columns")
	}
	if sc != g.OutSize() || ac != g.InSize() {
		panic("lowrank: factor or inputs do not match the convolution")
	}
	return &Conv{G: g, S: s, A: a, C: c, Weight: weight, Bias: bias, stats: &convStats{}, nrows: r, nsamples: n}
}

// NewConv32 returns the block for r factor rows held in float32 (s, r
// contiguous rows of out·P) and layer inputs a. S is then nil: the
// float32 explicit Gram route (Precision Float32) forms V from the rows
// themselves, and the operations that compute in float64 widen them once,
// on first use, into a matrix that the block then keeps.
func NewConv32(g *im2col.Geom, s []float32, r int, a *mat.Dense, c int, weight, bias bool) *Conv {
	n, ac := a.Dims()
	if n*c != r {
		panic("lowrank: factor rows do not match samples × columns")
	}
	if len(s) != r*g.OutSize() || ac != g.InSize() {
		panic("lowrank: factor or inputs do not match the convolution")
	}
	return &Conv{G: g, s32: s, A: a, C: c, Weight: weight, Bias: bias, stats: &convStats{}, nrows: r, nsamples: n}
}

// rows64 returns the factor rows in float64, channel-major: S, or the
// float32 rows widened or the token-major rows transposed, once per block
// (shared with Select'ed copies).
func (f *Conv) rows64() *mat.Dense {
	if f.S != nil || (f.s32 == nil && f.tok == nil) {
		return f.S
	}
	f.stats.wideOnce.Do(func() {
		out := f.G.OutSize()
		w := mat.NewDense(f.rows(), out, nil)
		if f.tok != nil {
			transposeTokens(w, f.tok, f.G.OutH, f.G.OutC)
		} else {
			fastblas.WidenRows(f.rows(), out, w.RawMatrix().Data, out, f.s32, out)
		}
		f.stats.wide = w
	})
	return f.stats.wide
}

// rowAsHeld returns factor row i in the layout the block holds it, S's
// or token-major, for reductions that do not depend on the layout; nil
// when the rows are float32.
func (f *Conv) rowAsHeld(i int) []float64 {
	switch {
	case f.S != nil:
		return f.S.RawRowView(i)
	case f.tok != nil:
		return f.tok.RawRowView(i)
	}
	return nil
}

// rowSquare returns the squared norm of factor row i.
func (f *Conv) rowSquare(i int) float64 {
	if si := f.rowAsHeld(i); si != nil {
		return floats.Dot(si, si)
	}
	out := f.G.OutSize()
	var s float64
	for _, v := range f.s32[i*out : (i+1)*out] {
		s += float64(v) * float64(v)
	}
	return s
}

// SetPrecision implements Precisioner.
func (f *Conv) SetPrecision(p Precision) { f.Precision = p }

// SetBudget implements Budgeter.
func (f *Conv) SetBudget(bytes int64) { f.budget = bytes }

// Budget returns the scratch budget in bytes.
func (f *Conv) Budget() int64 {
	if f.budget <= 0 {
		return DefaultBudget
	}
	return f.budget
}

// weightBudget is what remains of the budget for the weight block after
// the bias rows of the factors (rows × out each) are set aside.
func (f *Conv) weightBudget(rows int) int64 {
	if !f.Bias {
		return f.Budget()
	}
	return f.Budget() - int64(rows*f.G.OutC*8)
}

func (f *Conv) n() int    { return f.nsamples }
func (f *Conv) rows() int { return f.nrows }

func (f *Conv) Dim() int { return convDim(f.G, f.Weight, f.Bias) }

// convDim is the number of parameters of a convolution block covering the
// weight and/or the bias.
func convDim(g *im2col.Geom, weight, bias bool) int {
	d := 0
	if weight {
		d += g.OutC * g.K()
	}
	if bias {
		d += g.OutC
	}
	return d
}

func (f *Conv) Cols() int { return f.rows() }

func (f *Conv) Select(keep []bool) Factor {
	w, b, ok := selected(f.Weight, f.Bias, keep)
	if !ok {
		return nil
	}
	g := *f
	g.Weight, g.Bias = w, b
	return &g
}

// density returns the fraction of nonzero entries of S, estimated once per
// factor from at most densityRows rows spread evenly over the batch, one
// per sample and each sample's rows in turn (all rows of smaller
// factors). It only steers cost decisions (forming V from the nonzeros,
// the kernel route's operand order, the products' routes), and counting
// all N·C·out·P entries would cost a pass over the factor (16 M entries
// for 3c3d's first layer at N = 32). One row a sample suffices: a
// sample's zeros come from the masks of its ReLUs and poolings, which all
// its rows share.
func (f *Conv) density() float64 {
	f.stats.once.Do(func() {
		rows := f.rows()
		m := min(rows, densityRows)
		counts := make([]int, m)
		par.For(m, runtime.GOMAXPROCS(0), func(_, j int) {
			r := j
			if m < rows {
				n := f.n()
				r = (j*n/m)*f.C + j%f.C
			}
			counts[j] = f.rowNonzero(r)
		})
		total := 0
		for _, c := range counts {
			total += c
		}
		f.stats.density = float64(total) / float64(m*f.G.OutSize())
	})
	return f.stats.density
}

// densityRows bounds the factor rows density counts.
const densityRows = 16

// rowNonzero returns the nonzero entries of factor row r.
func (f *Conv) rowNonzero(r int) int {
	if sr := f.rowAsHeld(r); sr != nil {
		return fastblas.CountNonzero(sr)
	}
	out := f.G.OutSize()
	return fastblas.CountNonzero(f.s32[r*out : (r+1)*out])
}

// sampleNonzero returns the nonzero factor entries of sample i.
func (f *Conv) sampleNonzero(i int) int {
	nz := 0
	for j := 0; j < f.C; j++ {
		nz += f.rowNonzero(i*f.C + j)
	}
	return nz
}

// sampleCounts returns the nonzero factor entries of every sample, counted
// once per factor (samples in parallel).
func (f *Conv) sampleCounts() []int {
	f.stats.countOnce.Do(func() {
		counts := make([]int, f.n())
		par.For(len(counts), runtime.GOMAXPROCS(0), func(_, i int) { counts[i] = f.sampleNonzero(i) })
		f.stats.sampleNZ = counts
	})
	return f.stats.sampleNZ
}

// srow returns row r of S, out·P long, reshaped as out×P.
func (f *Conv) srow(r int) blas64.General {
	p := f.G.P()
	return blas64.General{Rows: f.G.OutC, Cols: p, Stride: p, Data: f.rows64().RawRowView(r)}
}

// sampleRows returns the c rows of sample n as one (c·out)×P matrix, or
// ok false when S is not contiguous.
func (f *Conv) sampleRows(n int) (blas64.General, bool) {
	raw := f.rows64().RawMatrix()
	p := f.G.P()
	if raw.Stride != raw.Cols {
		return blas64.General{}, false
	}
	return blas64.General{Rows: f.C * f.G.OutC, Cols: p, Stride: p, Data: raw.Data[n*f.C*raw.Stride:]}, true
}

// ---------------------------------------------------------------------------
// Cost model

// Relative costs per multiply-add (or per gathered entry for unfolding),
// measured against a large gonum matrix product on a 2-core machine.
const (
	costGemm   = 1.0 // large products (forming chunks, outer products)
	costSmall  = 1.5 // the per-pair products of the kernel route
	costUnfold = 3.0 // gathering one entry of an unfolded input
)

// routeCosts returns the estimated costs of the explicit and kernel routes
// of XᵀY for x = f and y (y == f for a Gram).
func routeCosts(x, y *Conv, budget int64) (explicit, kernel float64) {
	g := x.G
	sym := x == y
	k, p, out := float64(g.K()), float64(g.P()), float64(g.OutC)
	nx, ny := float64(x.n()), float64(y.n())
	rx, ry := float64(x.rows()), float64(y.rows())
	d := out * k
	pk := p * k

	// explicit
	rows, nsamp := x.rows(), x.n()
	if !sym {
		rows += y.rows()
		if x.A != y.A {
			nsamp += y.n()
		}
	}
	chunks, cached, _ := explicitPlan(g, rows, nsamp, budget)
	unfolds := float64(nsamp) * pk
	if !cached {
		unfolds *= float64(len(chunks))
	}
	form := x.density() * rx * out * p * k
	mult := rx * ry * d
	if sym {
		mult /= 2
	} else {
		form += y.density() * ry * out * p * k
	}
	explicit = costGemm*(form+mult) + costUnfold*unfolds

	// kernel
	pairs := nx * ny
	if sym {
		pairs = nx * (nx + 1) / 2
	}
	// Z is formed from the side with fewer nonzero factor entries, from
	// its nonzeros only when it is sparse enough (sparseZ).
	zc := math.Min(zEntries(x), zEntries(y))
	perPair := p*p*k + zc*out*p*p + float64(x.C*y.C)*out*p
	mc, _ := kernelPlan(g, x, y, budget)
	kunf := (ny + nx*math.Ceil(ny/float64(mc))) * pk
	kernel = costSmall*pairs*perPair + costUnfold*kunf
	return explicit, kernel
}

// zEntries is the number of factor entries per sample and position that
// forming Z from f's factor rows multiplies: the nonzeros on the sparse
// path, all of them on the dense one.
func zEntries(f *Conv) float64 {
	if f.sparseZ() {
		return f.density() * float64(f.C)
	}
	return float64(f.C)
}

// Density returns the fraction of nonzero entries of the factor rows S.
func (f *Conv) Density() float64 { f.needRows(); return f.density() }

// GramRouteFor returns the route a Gram (y == f) or cross product XᵀY
// would take, and the two estimated costs in multiply-adds.
func (f *Conv) GramRouteFor(y *Conv) (route GramRoute, explicit, kernel float64) {
	f.needRows()
	y.needRows()
	rows := f.rows()
	if y != f {
		rows += y.rows()
	}
	explicit, kernel = routeCosts(f, y, f.weightBudget(rows))
	route = f.Route
	if route == RouteAuto {
		route = RouteExplicit
		if kernel < explicit {
			route = RouteKernel
		}
	}
	return route, explicit, kernel
}
