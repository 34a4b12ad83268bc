package lowrank

import (
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/backend"
	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/par"
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
// unfolded input of sample n (see ConvGeom), column r of the block is
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
// fraction of nonzero entries of S (gonum's products skip zeros of their
// left operand, and backpropagated factors are sparse after ReLUs and
// max-pooling):
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
	G            *ConvGeom
	S            *mat.Dense // (n·c)×(out·P) backpropagated factor rows
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
	// (when its chunks hold all output channels) and of the aggregated
	// route of MulTo for dense factor rows. The kernel route, cross
	// products, the explicit MulTo and the sparse products (factor rows
	// at most 30 % nonzero) compute in float64 whatever it says.
	Precision Precision

	budget int64
	stats  *convStats // shared with Select'ed copies
}

type convStats struct {
	once     sync.Once
	density  float64
	sampleNZ []int // nonzero factor entries of each sample
}

// NewConv returns the block for factor rows s and layer inputs a.
func NewConv(g *ConvGeom, s, a *mat.Dense, c int, weight, bias bool) *Conv {
	r, sc := s.Dims()
	n, ac := a.Dims()
	if n*c != r {
		panic("lowrank: factor rows do not match samples × columns")
	}
	if sc != g.OutSize() || ac != g.InSize() {
		panic("lowrank: factor or inputs do not match the convolution")
	}
	return &Conv{G: g, S: s, A: a, C: c, Weight: weight, Bias: bias, stats: &convStats{}}
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

func (f *Conv) n() int    { n, _ := f.A.Dims(); return n }
func (f *Conv) rows() int { r, _ := f.S.Dims(); return r }

func (f *Conv) Dim() int {
	d := 0
	if f.Weight {
		d += f.G.OutC * f.G.K()
	}
	if f.Bias {
		d += f.G.OutC
	}
	return d
}

func (f *Conv) Cols() int { return f.rows() }

func (f *Conv) Select(keep []bool) Factor {
	w, b := f.Weight && keep[0], f.Bias && len(keep) > 1 && keep[1]
	if !w && !b {
		return nil
	}
	g := *f
	g.Weight, g.Bias = w, b
	return &g
}

// density returns the fraction of nonzero entries of S, counted once per
// factor (rows in parallel: S has N·C·out·P entries, 16 M for 3c3d's
// first layer at N = 32).
func (f *Conv) density() float64 {
	f.stats.once.Do(func() {
		n := f.n()
		counts := make([]int, n)
		par.For(n, runtime.GOMAXPROCS(0), func(_, i int) {
			nz := 0
			for j := 0; j < f.C; j++ {
				for _, v := range f.S.RawRowView(i*f.C + j) {
					nz += nonzero(v)
				}
			}
			counts[i] = nz
		})
		total := 0
		for _, c := range counts {
			total += c
		}
		r, c := f.S.Dims()
		f.stats.density = float64(total) / float64(r*c)
		f.stats.sampleNZ = counts
	})
	return f.stats.density
}

// srow returns row r of S, out·P long, reshaped as out×P.
func (f *Conv) srow(r int) blas64.General {
	p := f.G.P()
	return blas64.General{Rows: f.G.OutC, Cols: p, Stride: p, Data: f.S.RawRowView(r)}
}

// sampleRows returns the c rows of sample n as one (c·out)×P matrix, or
// ok false when S is not contiguous.
func (f *Conv) sampleRows(n int) (blas64.General, bool) {
	raw := f.S.RawMatrix()
	p := f.G.P()
	if raw.Stride != raw.Cols {
		return blas64.General{}, false
	}
	return blas64.General{Rows: f.C * f.G.OutC, Cols: p, Stride: p, Data: raw.Data[n*f.C*raw.Stride:]}, true
}

// ---------------------------------------------------------------------------
// Unfolded inputs

// unfolder hands out the P×K unfolded inputs of samples, from a cache of
// all of them or regenerated into per-worker scratch buffers.
type unfolder struct {
	g       *ConvGeom
	a       *mat.Dense
	cache   []float64
	scratch [][]float64
}

// formWorkers is the number of goroutines of loops that need no
// per-worker scratch.
func formWorkers() int { return runtime.GOMAXPROCS(0) }

// workerShare is the part of an operation's budget that per-worker
// scratch buffers may take: a quarter. Plans take the rest (less one
// worker's scratch when that is more than the quarter), so that chunk
// sizes, and with them the rounding of the results, do not depend on
// GOMAXPROCS; the number of workers is capped instead, to at least one.
func workerShare(words int64) int64 { return words / 4 }

// scratchWorkers returns how many workers, each with perWorker words of
// scratch, fit in share words: at least 1, at most GOMAXPROCS.
func scratchWorkers(share, perWorker int64) int {
	w := int64(runtime.GOMAXPROCS(0))
	if perWorker > 0 {
		w = min(w, share/perWorker)
	}
	return int(max(w, 1))
}

// newUnfolder returns an unfolder of a's samples: all of them unfolded
// once if cached, else regenerated into scratch for workers workers.
func newUnfolder(g *ConvGeom, a *mat.Dense, cached bool, workers int) *unfolder {
	u := &unfolder{g: g, a: a}
	pk := g.P() * g.K()
	if cached {
		n, _ := a.Dims()
		u.cache = make([]float64, n*pk)
		for i := 0; i < n; i++ {
			g.Unfold(u.cache[i*pk:], g.K(), a.RawRowView(i))
		}
	} else {
		u.scratch = make([][]float64, workers)
		for i := range u.scratch {
			u.scratch[i] = make([]float64, pk)
		}
	}
	return u
}

// workers returns how many goroutines may call sample at once.
func (u *unfolder) workers() int {
	if u.cache != nil {
		return formWorkers()
	}
	return len(u.scratch)
}

// sample returns Uᵀ of sample i, P×K with stride K, for the given worker.
// Without a cache the slice is overwritten by the worker's next call.
func (u *unfolder) sample(worker, i int) []float64 {
	pk := u.g.P() * u.g.K()
	if u.cache != nil {
		return u.cache[i*pk : (i+1)*pk]
	}
	u.g.Unfold(u.scratch[worker], u.g.K(), u.a.RawRowView(i))
	return u.scratch[worker]
}

// unfoldRange writes the unfolded inputs of samples [n0, n1) of a, stacked
// vertically, into dst ((n1−n0)·P × K).
func unfoldRange(g *ConvGeom, dst []float64, a *mat.Dense, n0, n1 int) {
	pk := g.P() * g.K()
	for i := n0; i < n1; i++ {
		g.Unfold(dst[(i-n0)*pk:], g.K(), a.RawRowView(i))
	}
}

// ---------------------------------------------------------------------------
// Explicit chunks of V

// chunk is a rectangle of the weight: output channels [o0, o1) × patch
// indices [k0, k1). The chunk of V's block has one row per factor row and
// (o1−o0)·(k1−k0) columns, (o, k) row-major.
type chunk struct{ o0, o1, k0, k1 int }

func (c chunk) width() int { return (c.o1 - c.o0) * (c.k1 - c.k0) }

// maxChunk caps a chunk of V's rows, in float64s: beyond a few tens of MiB
// a larger chunk saves nothing and costs page faults on first touch.
const maxChunk = 1 << 22

// explicitPlan splits the weight into chunks whose V rows for `rows`
// factor rows fit the budget next to the unfolded inputs, says whether the
// unfolded inputs of all nsamp samples are cached and, if not, how many
// workers regenerate them (each holds one sample's unfolded input per
// unfolder, of which cross products have two; they share workerShare of
// the budget). Chunks hold all output channels and a range of patch
// indices whenever the budget allows (one product per sample forms them),
// else one channel and a range of patch indices. The chunks do not depend
// on GOMAXPROCS.
func explicitPlan(g *ConvGeom, rows, nsamp int, budget int64) (chunks []chunk, cached bool, workers int) {
	words := budget / 8
	pk := int64(g.P() * g.K())
	workers = formWorkers()
	if int64(nsamp)*pk <= words/2 {
		cached = true
		words -= int64(nsamp) * pk
	} else {
		share := workerShare(words)
		workers = scratchWorkers(share, 2*pk)
		words -= max(share, 2*pk)
	}
	out, k := g.OutC, g.K()
	w := int64(1)
	if rows > 0 && words > 0 {
		w = max(words/int64(rows+1), 1) // +1: AddDiagTo's column sums
	}
	w = min(w, max(maxChunk/int64(max(rows, 1)), int64(out)))
	switch {
	case w >= int64(out*k):
		chunks = []chunk{{0, out, 0, k}}
	case w >= int64(out):
		kc := int(w / int64(out))
		for k0 := 0; k0 < k; k0 += kc {
			chunks = append(chunks, chunk{0, out, k0, min(k0+kc, k)})
		}
	default:
		kc := int(w)
		for o := 0; o < out; o++ {
			for k0 := 0; k0 < k; k0 += kc {
				chunks = append(chunks, chunk{o, o + 1, k0, min(k0+kc, k)})
			}
		}
	}
	return chunks, cached, workers
}

// formWeight writes the chunk ch of V's weight block, one row per factor
// row, into dst (rows × ch.width(), stride ch.width()).
func (f *Conv) formWeight(dst []float64, ch chunk, u *unfolder) {
	k, p, out := f.G.K(), f.G.P(), f.G.OutC
	co, kc := ch.o1-ch.o0, ch.k1-ch.k0
	w := co * kc
	par.For(f.n(), u.workers(), func(wk, i int) {
		ut := u.sample(wk, i)
		b := blas64.General{Rows: p, Cols: kc, Stride: k, Data: ut[ch.k0:]}
		if co == out {
			if a, ok := f.sampleRows(i); ok {
				c := blas64.General{Rows: f.C * out, Cols: kc, Stride: kc, Data: dst[i*f.C*w:]}
				gemm(blas.NoTrans, blas.NoTrans, 1, a, b, 0, c)
				return
			}
		}
		for j := 0; j < f.C; j++ {
			r := i*f.C + j
			a := blas64.General{Rows: co, Cols: p, Stride: p, Data: f.S.RawRowView(r)[ch.o0*p:]}
			c := blas64.General{Rows: co, Cols: kc, Stride: kc, Data: dst[r*w:]}
			gemm(blas.NoTrans, blas.NoTrans, 1, a, b, 0, c)
		}
	})
}

// addGramExplicit32 adds the weight part of VᵀV to the upper triangle of
// g by the explicit route in float32, if the precision asks for it and
// the plan's chunks hold all output channels (one product per sample forms
// them); it reports whether it did. The chunks of V are formed from the
// factor rows and unfolded inputs rounded to float32, their products are
// summed over the chunks in a float32 r×r matrix and added to g in
// float64. That matrix and the per-worker float32 copies come out of the
// budget before the plan is made.
func (f *Conv) addGramExplicit32(g blas64.Symmetric) bool {
	chunks, cached, workers, ok := f.explicitPlan32()
	if !ok {
		return false
	}
	r, perWorker := f.rows(), f.perWorker32()
	u := newUnfolder(f.G, f.A, cached, workers)
	buf := make([]float32, r*chunks[0].width())
	acc := make([]float32, r*r)
	scr := make([][]float32, workers)
	for i := range scr {
		scr[i] = make([]float32, perWorker)
	}
	var impl fastblas.Implementation
	for ci, ch := range chunks {
		w := ch.width()
		f.formWeight32(buf, ch, u, scr)
		beta := float32(1)
		if ci == 0 {
			beta = 0
		}
		impl.Ssyrk(blas.Upper, blas.NoTrans, r, w, 1, buf, w, beta, acc, r)
	}
	par.For(r, procsFor(r*r/2), func(_, i int) {
		row := g.Data[i*g.Stride+i : i*g.Stride+r]
		for j, v := range acc[i*r+i : (i+1)*r] {
			row[j] += float64(v)
		}
	})
	return true
}

// perWorker32 is the float32 scratch of one worker of formWeight32: a
// sample's factor rows and its unfolded inputs.
func (f *Conv) perWorker32() int {
	p := f.G.P()
	return f.C*f.G.OutC*p + p*f.G.K()
}

// explicitPlan32 returns the chunks, caching and workers of the float32
// explicit Gram route, planned within what the budget leaves after its
// float32 r×r sum and the workers' float32 copies (which share
// workerShare of it), and whether that route applies: float32 precision,
// contiguous factor rows and chunks of all output channels.
func (f *Conv) explicitPlan32() (chunks []chunk, cached bool, workers int, ok bool) {
	if f.Precision != Float32 {
		return nil, false, 0, false
	}
	if _, ok := f.sampleRows(0); !ok {
		return nil, false, 0, false
	}
	r := f.rows()
	words := f.weightBudget(r)/8 - int64(r*r)/2
	share, per := workerShare(words), int64(f.perWorker32()+1)/2
	words -= max(share, per)
	chunks, cached, workers = explicitPlan(f.G, r, f.n(), 8*max(words, 0))
	workers = min(workers, scratchWorkers(share, per))
	for _, ch := range chunks {
		if ch.o0 != 0 || ch.o1 != f.G.OutC {
			return nil, false, 0, false
		}
	}
	return chunks, cached, workers, true
}

// formWeight32 is formWeight in float32 for chunks of all output channels:
// each sample's factor rows and the chunk's columns of its unfolded inputs
// are rounded to float32 in the worker's scratch (C·out·P + P·K values),
// and one float32 product forms the sample's rows of the chunk.
func (f *Conv) formWeight32(dst []float32, ch chunk, u *unfolder, scr [][]float32) {
	k, p, out := f.G.K(), f.G.P(), f.G.OutC
	kc := ch.k1 - ch.k0
	w := out * kc
	rows := f.C * out
	var serial fastblas.Serial
	par.For(f.n(), min(len(scr), u.workers()), func(wk, i int) {
		a, _ := f.sampleRows(i)
		a32, b32 := scr[wk][:rows*p], scr[wk][rows*p:rows*p+p*kc]
		fastblas.Narrow(a32, a.Data[:rows*p])
		ut := u.sample(wk, i)
		for q := 0; q < p; q++ {
			fastblas.Narrow(b32[q*kc:(q+1)*kc], ut[q*k+ch.k0:q*k+ch.k1])
		}
		serial.Sgemm(blas.NoTrans, blas.NoTrans, rows, kc, p, 1, a32, p, b32, kc, 0, dst[i*f.C*w:], kc)
	})
}

// biasCols returns V's bias block as rows: row r is S_r 1 (rows × out).
func (f *Conv) biasCols() blas64.General {
	r, out, p := f.rows(), f.G.OutC, f.G.P()
	b := blas64.General{Rows: r, Cols: out, Stride: out, Data: make([]float64, r*out)}
	for i := 0; i < r; i++ {
		s := f.S.RawRowView(i)
		for o := 0; o < out; o++ {
			b.Data[i*out+o] = floats.Sum(s[o*p : (o+1)*p])
		}
	}
	return b
}

// goBLAS runs the many small products of this file (per sample, per pair
// of samples, per vector), which callers already spread over goroutines,
// on the calling goroutine: internal/fastblas's serial kernels (AVX2/FMA,
// 5–10× gonum's on these shapes; gonum's own code without them), in the
// openblas build too, since a cgo call per small product would cost more
// than it saves.
var goBLAS fastblas.Serial

// gemm is blas64.Gemm on goBLAS.
func gemm(tA, tB blas.Transpose, alpha float64, a, b blas64.General, beta float64, c blas64.General) {
	m, k := a.Rows, a.Cols
	if tA != blas.NoTrans {
		m, k = a.Cols, a.Rows
	}
	n := b.Cols
	if tB != blas.NoTrans {
		n = b.Rows
	}
	goBLAS.Dgemm(tA, tB, m, n, k, alpha, a.Data, a.Stride, b.Data, b.Stride, beta, c.Data, c.Stride)
}

// addOuterUpper adds x xᵀ to the upper triangle of g.
func addOuterUpper(g blas64.Symmetric, x blas64.General) {
	addProduct(blas64.General{Rows: g.N, Cols: g.N, Stride: g.Stride, Data: g.Data}, x, x, true)
}

func symRaw(dst *mat.SymDense) blas64.Symmetric {
	raw := dst.RawSymmetric()
	if raw.Uplo != blas.Upper {
		panic("lowrank: Gram destination must store its upper triangle")
	}
	return raw
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
func (f *Conv) Density() float64 { return f.density() }

// GramRouteFor returns the route a Gram (y == f) or cross product XᵀY
// would take, and the two estimated costs in multiply-adds.
func (f *Conv) GramRouteFor(y *Conv) (route GramRoute, explicit, kernel float64) {
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

// ---------------------------------------------------------------------------
// Gram and cross products

func (f *Conv) AddGramTo(dst *mat.SymDense) {
	r := f.rows()
	if dst.SymmetricDim() != r {
		panic("lowrank: Gram destination has wrong size")
	}
	g := symRaw(dst)
	if f.Weight {
		if route, _, _ := f.GramRouteFor(f); route == RouteKernel {
			f.kernelCross(blas64.General{Rows: r, Cols: r, Stride: g.Stride, Data: g.Data}, f, true, f.weightBudget(r))
		} else if !f.addGramExplicit32(g) {
			chunks, cached, workers := explicitPlan(f.G, r, f.n(), f.weightBudget(r))
			u := newUnfolder(f.G, f.A, cached, workers)
			buf := make([]float64, r*chunks[0].width())
			for _, ch := range chunks {
				w := ch.width()
				f.formWeight(buf, ch, u)
				addOuterUpper(g, blas64.General{Rows: r, Cols: w, Stride: w, Data: buf})
			}
		}
	}
	if f.Bias {
		addOuterUpper(g, f.biasCols())
	}
}

func (f *Conv) AddCrossTo(dst *mat.Dense, y Factor) {
	o, ok := y.(*Conv)
	if !ok || o.Weight != f.Weight || o.Bias != f.Bias || !sameGeom(f.G, o.G) {
		panic("lowrank: cross product of factors of different layers")
	}
	checkShape(dst, f.rows(), o.rows())
	raw := dst.RawMatrix()
	if f.Weight {
		if route, _, _ := f.GramRouteFor(o); route == RouteKernel {
			f.kernelCross(raw, o, false, f.weightBudget(f.rows()+o.rows()))
		} else {
			rows, nsamp := f.rows()+o.rows(), f.n()
			if f.A != o.A {
				nsamp += o.n()
			}
			chunks, cached, workers := explicitPlan(f.G, rows, nsamp, f.weightBudget(rows))
			ux := newUnfolder(f.G, f.A, cached, workers)
			uy := ux
			if f.A != o.A {
				uy = newUnfolder(f.G, o.A, cached, workers)
			}
			w0 := chunks[0].width()
			bx := make([]float64, f.rows()*w0)
			by := make([]float64, o.rows()*w0)
			for _, ch := range chunks {
				w := ch.width()
				f.formWeight(bx, ch, ux)
				o.formWeight(by, ch, uy)
				addProduct(raw,
					blas64.General{Rows: f.rows(), Cols: w, Stride: w, Data: bx},
					blas64.General{Rows: o.rows(), Cols: w, Stride: w, Data: by}, false)
			}
		}
	}
	if f.Bias {
		backend.Gemm(blas.NoTrans, blas.Trans, 1, f.biasCols(), o.biasCols(), 1, raw)
	}
}

func sameGeom(a, b *ConvGeom) bool {
	return a == b || (a.InC == b.InC && a.InH == b.InH && a.InW == b.InW && a.OutC == b.OutC &&
		a.KH == b.KH && a.KW == b.KW && a.SH == b.SH && a.SW == b.SW &&
		a.PH == b.PH && a.PW == b.PW && a.DH == b.DH && a.DW == b.DW)
}

// kernelPlan returns how many samples of the Z side the kernel route
// processes at once within the budget, and how many workers share the
// samples of X. The chunk is sized for one worker within half the budget,
// so that it does not depend on GOMAXPROCS; more workers join while their
// scratch fits in what the chunk leaves.
func kernelPlan(g *ConvGeom, x, y *Conv, budget int64) (chunk, workers int) {
	p, k, out := int64(g.P()), int64(g.K()), int64(g.OutC)
	// Per worker: one unfolded sample, Z, a copy of X's rows if S is
	// strided, the block, and per sample of the chunk its rows of Bᵀ; per
	// sample of the chunk, shared: its unfolded input.
	fixed := p*k + int64(x.C+y.C)*out*p + int64(x.C*y.C)
	words := budget / 8
	ny := int64(max(x.n(), y.n()))
	mc := min(max((words/2-fixed)/(p*k+p*p), 1), ny)
	w := (words - mc*p*k) / (fixed + mc*p*p)
	return int(mc), int(max(1, min(w, int64(kernelWorkers(x.n())))))
}

func kernelWorkers(nx int) int { return max(1, min(runtime.GOMAXPROCS(0), nx)) }

// kernelCross adds the weight part of XᵀY (X = f) to dst (R_x × R_y) by
// the kernel route. With sym (y == f) only the upper triangle is written.
//
// For samples n of X and m of Y, block (n, m) of XᵀY is
// [⟨S^x_{n,j}, S^y_{m,j'} B_{nm}ᵀ⟩]_{j,j'} with B_{nm} = U^xᵀ_n U^y_m
// (P×P): one product Z = S^y_m B_{nm}ᵀ per pair, then the c_x×c_y inner
// products. The Z side is the one with fewer nonzero factor entries; when
// that is X, the roles swap and blocks are added transposed. The samples
// of X are shared among up to GOMAXPROCS workers (they write disjoint
// entries), as many as kernelPlan fits in the budget.
func (f *Conv) kernelCross(dst blas64.General, y *Conv, sym bool, budget int64) {
	x := f
	trans := false
	if !sym && x.density()*float64(x.C) < y.density()*float64(y.C) {
		x, y, trans = y, x, true
	}
	g := f.G
	p, k, out := g.P(), g.K(), g.OutC
	cx, cy := x.C, y.C
	nx, ny := x.n(), y.n()
	ys, budget := y.sparseForm(budget)
	mc, workers := kernelPlan(g, x, y, budget)
	uy := make([]float64, min(mc, ny)*p*k)
	type scratch struct {
		bt, ux, z, blk, sx []float64
	}
	scr := make([]scratch, workers)
	for i := range scr {
		scr[i] = scratch{
			bt:  make([]float64, min(mc, ny)*p*p),
			ux:  make([]float64, p*k),
			z:   make([]float64, cy*out*p),
			blk: make([]float64, cx*cy),
		}
	}
	sameA := x.A == y.A
	for m0 := 0; m0 < ny; m0 += mc {
		m1 := min(m0+mc, ny)
		unfoldRange(g, uy, y.A, m0, m1)
		par.For(nx, workers, func(wk, n int) {
			sc := &scr[wk]
			lo := m0
			if sym {
				lo = max(m0, n)
			}
			if lo >= m1 {
				return
			}
			ux := sc.ux
			if sameA && n >= m0 && n < m1 {
				ux = uy[(n-m0)*p*k : (n-m0+1)*p*k]
			} else {
				g.Unfold(ux, k, x.A.RawRowView(n))
			}
			// Bt rows (m, q) = B_{nm}ᵀ[q, :] for m in [lo, m1).
			gemm(blas.NoTrans, blas.Trans, 1,
				blas64.General{Rows: (m1 - lo) * p, Cols: k, Stride: k, Data: uy[(lo-m0)*p*k:]},
				blas64.General{Rows: p, Cols: k, Stride: k, Data: ux}, 0,
				blas64.General{Rows: (m1 - lo) * p, Cols: p, Stride: p, Data: sc.bt})
			sx := blas64.General{Rows: cx, Cols: out * p, Stride: out * p}
			if a, ok := x.sampleRows(n); ok {
				sx.Data = a.Data
			} else {
				if sc.sx == nil {
					sc.sx = make([]float64, cx*out*p)
				}
				for j := 0; j < cx; j++ {
					copy(sc.sx[j*out*p:(j+1)*out*p], x.S.RawRowView(n*cx+j))
				}
				sx.Data = sc.sx
			}
			for m := lo; m < m1; m++ {
				zm := blas64.General{Rows: cy * out, Cols: p, Stride: p, Data: sc.z}
				btm := blas64.General{Rows: p, Cols: p, Stride: p, Data: sc.bt[(m-lo)*p*p:]}
				if ys != nil {
					ys.mulTo(sc.z, m*cy*out, cy*out, btm)
				} else if a, ok := y.sampleRows(m); ok {
					gemm(blas.NoTrans, blas.NoTrans, 1, a, btm, 0, zm)
				} else {
					for j := 0; j < cy; j++ {
						zj := blas64.General{Rows: out, Cols: p, Stride: p, Data: sc.z[j*out*p:]}
						gemm(blas.NoTrans, blas.NoTrans, 1, y.srow(m*cy+j), btm, 0, zj)
					}
				}
				b := blas64.General{Rows: cx, Cols: cy, Stride: cy, Data: sc.blk}
				gemm(blas.NoTrans, blas.Trans, 1, sx,
					blas64.General{Rows: cy, Cols: out * p, Stride: out * p, Data: sc.z}, 0, b)
				for j := 0; j < cx; j++ {
					for jj := 0; jj < cy; jj++ {
						v := sc.blk[j*cy+jj]
						r, c := n*cx+j, m*cy+jj
						if trans {
							r, c = c, r
						}
						if sym && r > c {
							continue
						}
						dst.Data[r*dst.Stride+c] += v
					}
				}
			}
		})
	}
}

// sparseZMax is the largest factor density at which the kernel route
// forms Z = S_m·Bᵀ from a sparse copy of the factor rows: after max
// pooling at most a quarter of a factor row is nonzero (3c3d: 11–16 %),
// and skipping the zeros beats the dense product there.
const sparseZMax = 0.3

// sparseZ reports whether the kernel route forms f's Z blocks sparsely.
func (f *Conv) sparseZ() bool { return f.density() <= sparseZMax }

// sparseRows is the factor S in compressed sparse rows, one row per
// factor row and output channel: row r·out + o holds the nonzeros of
// S_r[o·P : (o+1)·P] (values and their positions). Each sample's entries
// are followed by one spare slot (see sparseRows), which the sample's
// last row does not include.
type sparseRows struct {
	ptr     []int // where each row starts; len rows·out + 1
	rowsPer int   // rows per sample, c·out
	idx     []int32
	vals    []float64
}

// span returns the entries of row row.
func (sr *sparseRows) span(row int) (lo, hi int) {
	lo, hi = sr.ptr[row], sr.ptr[row+1]
	if (row+1)%sr.rowsPer == 0 {
		hi-- // the sample's spare slot
	}
	return lo, hi
}

// sparseRowsBytes is the size of f's sparseRows.
func sparseRowsBytes(f *Conv) int64 {
	r, c := f.S.Dims()
	nnz := int64(f.density()*float64(r*c)+0.5) + int64(f.n())
	return 12*nnz + 8*int64(r*f.G.OutC+1)
}

// nonzero is 1 if v is not zero, else 0; the compiler makes it a flag
// set, not a branch, which a random sparsity pattern would mispredict.
func nonzero(v float64) int {
	if v != 0 {
		return 1
	}
	return 0
}

// compress writes the nonzeros of row, as positions base+q and values,
// into idx and vals from index pos, and returns the index after them. It
// is branch-free, writing every entry and advancing past nonzeros only, so
// idx and vals must hold one spare entry after the last nonzero.
func compress(idx []int32, vals []float64, pos int, row []float64, base int32) int {
	for q, v := range row {
		idx[pos], vals[pos] = base+int32(q), v
		pos += nonzero(v)
	}
	return pos
}

// sparseRows returns f's factor rows in compressed sparse rows, built in
// parallel over samples. Every sample's entries are followed by one spare
// slot, which the branch-free fill may write past its last nonzero.
func (f *Conv) sparseRows() *sparseRows {
	n, out, p := f.n(), f.G.OutC, f.G.P()
	rowsPer := f.C * out
	f.density()                // counts the nonzeros of each sample
	starts := make([]int, n+1) // of sample i's entries: starts[i] + i
	for i, nz := range f.stats.sampleNZ {
		starts[i+1] = starts[i] + nz
	}
	sr := &sparseRows{
		ptr:     make([]int, n*rowsPer+1),
		rowsPer: rowsPer,
		idx:     make([]int32, starts[n]+n),
		vals:    make([]float64, starts[n]+n),
	}
	par.For(n, formWorkers(), func(_, i int) {
		pos := starts[i] + i
		idx, vals := sr.idx[:starts[i+1]+i+1], sr.vals[:starts[i+1]+i+1]
		for j := 0; j < f.C; j++ {
			row := f.S.RawRowView(i*f.C + j)
			for o := 0; o < out; o++ {
				sr.ptr[(i*f.C+j)*out+o] = pos
				pos = compress(idx, vals, pos, row[o*p:(o+1)*p], 0)
			}
		}
	})
	sr.ptr[n*rowsPer] = starts[n] + n
	return sr
}

// sparseForm returns f's factor rows in compressed sparse rows when
// products with them should skip the zeros (sparseZ) and the copy takes at
// most half the budget, with the budget that is left; else nil and the
// whole budget.
func (f *Conv) sparseForm(budget int64) (*sparseRows, int64) {
	if b := sparseRowsBytes(f); f.sparseZ() && b <= budget/2 {
		return f.sparseRows(), budget - b
	}
	return nil, budget
}

// mulTo sets the rows of z (rows×P, stride P) to the sparse rows
// [first, first+rows) times the P×P matrix b.
func (sr *sparseRows) mulTo(z []float64, first, rows int, b blas64.General) {
	p := b.Cols
	for r := 0; r < rows; r++ {
		lo, hi := sr.span(first + r)
		fastblas.CombRowsIdx(z[r*p:(r+1)*p], sr.vals[lo:hi], sr.idx[lo:hi], b.Data, b.Stride)
	}
}

// ---------------------------------------------------------------------------
// Diagonal

func (f *Conv) AddDiagTo(dst []float64) {
	if len(dst) != f.Dim() {
		panic("lowrank: diagonal destination has wrong length")
	}
	r, k := f.rows(), f.G.K()
	off := 0
	if f.Weight {
		chunks, cached, workers := explicitPlan(f.G, r, f.n(), f.weightBudget(r))
		u := newUnfolder(f.G, f.A, cached, workers)
		buf := make([]float64, r*chunks[0].width())
		acc := make([]float64, chunks[0].width())
		for _, ch := range chunks {
			w := ch.width()
			f.formWeight(buf, ch, u)
			acc := acc[:w]
			for i := range acc {
				acc[i] = 0
			}
			for i := 0; i < r; i++ {
				for j, v := range buf[i*w : (i+1)*w] {
					acc[j] += v * v
				}
			}
			kc := ch.k1 - ch.k0
			for o := ch.o0; o < ch.o1; o++ {
				floats.Add(dst[o*k+ch.k0:o*k+ch.k1], acc[(o-ch.o0)*kc:(o-ch.o0+1)*kc])
			}
		}
		off = f.G.OutC * k
	}
	if f.Bias {
		b := f.biasCols()
		out := f.G.OutC
		for i := 0; i < r; i++ {
			for o, v := range b.Data[i*out : (i+1)*out] {
				dst[off+o] += v * v
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Products with vectors

// sampleChunk returns how many samples MulTo and TransMulTo process at once
// within the budget: each needs its unfolded input and an out×P block per
// worker.
func (f *Conv) sampleChunk(workers int) int {
	p, k, out := int64(f.G.P()), int64(f.G.K()), int64(f.G.OutC)
	c := f.Budget() / 8 / (p*k + int64(workers)*out*p)
	return int(max(1, min(c, int64(f.n()))))
}

// MulTo computes V u_j for the rows u_j of u by one of two routes, chosen
// by the same cost weights as the Gram matrix:
//
//   - aggregated: the weight part of V u is Σ_n B_n U_nᵀ with
//     B_n = Σ_j u[n·c+j] S_{n,j}, ρ·k·n·out·P·K multiply-adds for k
//     vectors;
//   - explicit: form V's rows in chunks and multiply, ρ·R·out·P·K +
//     k·R·out·K, cheaper when there are fewer factor columns per sample
//     than vectors (Monte-Carlo factors).
//
// On the aggregated route, factor rows that are at most 30 % nonzero (after
// max pooling) are multiplied over their nonzeros only (mulSparseTo) when
// their compressed copy fits half the budget.
func (f *Conv) MulTo(dst, u *mat.Dense) {
	nv, _ := u.Dims()
	checkShape(u, nv, f.Cols())
	checkShape(dst, nv, f.Dim())
	for j := 0; j < nv; j++ {
		row := dst.RawRowView(j)
		for i := range row {
			row[i] = 0
		}
	}
	if f.Weight && f.mulExplicit(nv) {
		f.mulExplicitTo(dst, u)
		if f.Bias {
			b := f.biasCols()
			off := f.G.OutC * f.G.K()
			out := dst.RawMatrix()
			backend.Gemm(blas.NoTrans, blas.NoTrans, 1, u.RawMatrix(), b, 0,
				blas64.General{Rows: nv, Cols: f.G.OutC, Stride: out.Stride, Data: out.Data[off:]})
		}
		return
	}
	if f.Weight {
		if sr, budget := f.sparseForm(f.Budget()); sr != nil {
			f.mulSparseTo(dst, u, sr, budget)
			return
		}
	}
	f.mulAggregatedTo(dst, u)
}

// mulExplicit reports whether MulTo of nv vectors is cheaper by forming V.
func (f *Conv) mulExplicit(nv int) bool {
	switch f.Route {
	case RouteExplicit:
		return true
	case RouteKernel:
		return false
	}
	g := f.G
	k, p, out := float64(g.K()), float64(g.P()), float64(g.OutC)
	n, r, rho := float64(f.n()), float64(f.rows()), f.density()
	chunks, cached, _ := explicitPlan(g, f.rows(), f.n(), f.weightBudget(f.rows()))
	unfolds := n * p * k
	if !cached {
		unfolds *= float64(len(chunks))
	}
	explicit := costGemm*(rho*r*out*p*k+float64(nv)*r*out*k) + costUnfold*unfolds
	aggregated := costGemm*(rho*float64(nv)*n*out*p*k) + float64(nv)*r*out*p + costUnfold*n*p*k
	return explicit < aggregated
}

func (f *Conv) mulExplicitTo(dst, u *mat.Dense) {
	r, k := f.rows(), f.G.K()
	nv, _ := u.Dims()
	chunks, cached, workers := explicitPlan(f.G, r, f.n(), f.weightBudget(r))
	un := newUnfolder(f.G, f.A, cached, workers)
	buf := make([]float64, r*chunks[0].width())
	out := dst.RawMatrix()
	for _, ch := range chunks {
		w, kc := ch.width(), ch.k1-ch.k0
		f.formWeight(buf, ch, un)
		if kc == k {
			// Whole weight rows: the chunk's columns are contiguous.
			backend.Gemm(blas.NoTrans, blas.NoTrans, 1, u.RawMatrix(),
				blas64.General{Rows: r, Cols: w, Stride: w, Data: buf}, 0,
				blas64.General{Rows: nv, Cols: w, Stride: out.Stride, Data: out.Data[ch.o0*k:]})
			continue
		}
		for o := ch.o0; o < ch.o1; o++ {
			backend.Gemm(blas.NoTrans, blas.NoTrans, 1, u.RawMatrix(),
				blas64.General{Rows: r, Cols: kc, Stride: w, Data: buf[(o-ch.o0)*kc:]}, 0,
				blas64.General{Rows: nv, Cols: kc, Stride: out.Stride, Data: out.Data[o*k+ch.k0:]})
		}
	}
}

// aggregatedChunkFloats bounds the aggregated factor rows of one sample
// chunk of mulAggregatedTo (16 MiB): beyond the last-level cache, writing
// them and reading them back in the product costs more than the smaller
// products of more chunks.
const aggregatedChunkFloats = 1 << 21

// aggregatedPlan returns how many vectors and samples mulAggregatedTo
// processes at once within the budget: for g vectors and m samples it
// needs the m unfolded inputs (m·P·K), the aggregated rows (g·out·m·P)
// and the g·out×K result.
func (f *Conv) aggregatedPlan(nv int) (group, samples int) {
	p, k, out := int64(f.G.P()), int64(f.G.K()), int64(f.G.OutC)
	b := f.Budget() / 8
	if f.Weight && f.Precision == Float32 {
		b = b * 2 / 3 // float32 copies of all three
	}
	g := int64(nv)
	if need := g*out*k + p*k + g*out*p; need > b {
		g = max(1, (b-p*k)/(out*k+out*p))
	}
	m := max(1, (b-g*out*k)/(p*k+g*out*p))
	m = min(m, max(1, aggregatedChunkFloats/(g*out*p)), int64(f.n()))
	return int(min(g, int64(nv))), int(m)
}

// mulAggregatedTo is MulTo by aggregating the factor rows of each sample.
// For a group of vectors and a chunk of samples, the aggregated rows of
// all vectors are stacked, (g·out) × (m·P), and multiplied by the chunk's
// unfolded inputs in one parallel product: one product per vector would
// pack the unfolded inputs once per vector and run on out rows only.
func (f *Conv) mulAggregatedTo(dst, u *mat.Dense) {
	nv, _ := u.Dims()
	n, p, k, out := f.n(), f.G.P(), f.G.K(), f.G.OutC
	group, mc := f.aggregatedPlan(nv)
	var uc, acc []float64
	if f.Weight {
		uc = make([]float64, mc*p*k)
		acc = make([]float64, group*out*k)
	}
	bc := make([]float64, group*out*mc*p)
	var bc32, uc32, t32 []float32
	if f.Weight && f.Precision == Float32 {
		bc32, uc32, t32 = make([]float32, len(bc)), make([]float32, len(uc)), make([]float32, len(acc))
	}
	procs := runtime.GOMAXPROCS(0)
	pk := p * k
	for j0 := 0; j0 < nv; j0 += group {
		j1 := min(j0+group, nv)
		clear(acc)
		for n0 := 0; n0 < n; n0 += mc {
			n1 := min(n0+mc, n)
			w := (n1 - n0) * p
			if f.Weight {
				par.For(n1-n0, procs, func(_, i int) {
					f.G.Unfold(uc[i*pk:], k, f.A.RawRowView(n0+i))
				})
			}
			par.For(j1-j0, procs, func(_, j int) {
				bj := bc[j*out*w : (j+1)*out*w]
				f.aggregate(bj, u.RawRowView(j0+j), n0, n1)
				if f.Bias {
					row := dst.RawRowView(j0 + j)
					off := 0
					if f.Weight {
						off = out * k
					}
					for o := 0; o < out; o++ {
						row[off+o] += floats.Sum(bj[o*w : (o+1)*w])
					}
				}
			})
			if f.Weight && f.Precision == Float32 {
				rows := (j1 - j0) * out
				fastblas.Narrow(bc32[:rows*w], bc)
				fastblas.Narrow(uc32[:w*k], uc)
				var sgemm fastblas.Implementation
				sgemm.Sgemm(blas.NoTrans, blas.NoTrans, rows, k, w, 1, bc32, w, uc32, k, 0, t32, k)
				for i, v := range t32[:rows*k] {
					acc[i] += float64(v)
				}
			} else if f.Weight {
				backend.Gemm(blas.NoTrans, blas.NoTrans, 1,
					blas64.General{Rows: (j1 - j0) * out, Cols: w, Stride: w, Data: bc},
					blas64.General{Rows: w, Cols: k, Stride: k, Data: uc}, 1,
					blas64.General{Rows: (j1 - j0) * out, Cols: k, Stride: k, Data: acc})
			}
		}
		if f.Weight {
			for j := j0; j < j1; j++ {
				copy(dst.RawRowView(j)[:out*k], acc[(j-j0)*out*k:(j-j0+1)*out*k])
			}
		}
	}
}

// sparsePlan returns how many vectors and samples mulSparseTo processes at
// once within budget bytes, and how many workers it runs: for g vectors
// and m samples it needs the m unfolded inputs (m·P·K), the compressed
// aggregated rows (g·out rows of at most m·P + 1 positions and values, 1.5
// words each) and the g·out×K result, besides a P-long row and a result
// block per worker (those share workerShare of the budget).
func (f *Conv) sparsePlan(nv int, budget int64) (group, samples, workers int) {
	p, k, out := int64(f.G.P()), int64(f.G.K()), int64(f.G.OutC)
	b := budget / 8
	share, per := workerShare(b), p+sparseBlock
	workers = scratchWorkers(share, per)
	b -= max(share, per)
	g := int64(nv)
	row := 3 * out * p / 2 // compressed words per vector and sample
	if need := g*out*k + p*k + g*row + 2*g*out; need > b {
		g = max(1, (b-p*k)/(out*k+row+2*out))
	}
	m := max(1, (b-g*out*k-2*g*out)/(p*k+g*row))
	m = min(m, max(1, aggregatedChunkFloats/(g*out*p)), int64(f.n()))
	return int(min(g, int64(nv))), int(m), workers
}

// sparseBlock is the column block of mulSparseTo's products: the block of
// a chunk's unfolded inputs (up to a few hundred rows of it) stays in the
// core's L2 cache while every aggregated row picks its rows from it.
const sparseBlock = 128

// mulSparseTo is mulAggregatedTo over the nonzeros only, for factor rows
// sr in compressed sparse form (which share their zeros across the factor
// columns of a sample, so the aggregated rows are as sparse). Per vector
// group and sample chunk, each aggregated row B_j[o] is summed from the
// sparse rows of its samples and compressed; then, one block of the
// unfolded inputs' columns at a time, every compressed row combines the
// input rows it selects (fastblas.CombRowsIdx). The bias part is the sum
// of each aggregated row.
func (f *Conv) mulSparseTo(dst, u *mat.Dense, sr *sparseRows, budget int64) {
	nv, _ := u.Dims()
	n, p, k, out := f.n(), f.G.P(), f.G.K(), f.G.OutC
	group, mc, workers := f.sparsePlan(nv, budget)
	stride := mc*p + 1 // per compressed row; +1 for the branch-free fill
	uc := make([]float64, mc*p*k)
	acc := make([]float64, group*out*k)
	cidx := make([]int32, group*out*stride)
	cval := make([]float64, group*out*stride)
	cnt := make([]int, group*out)
	rowBuf := make([][]float64, workers)
	resBuf := make([][]float64, workers)
	for w := range rowBuf {
		rowBuf[w] = make([]float64, p)
		resBuf[w] = make([]float64, sparseBlock)
	}
	biasOff := out * k
	pk := p * k
	for j0 := 0; j0 < nv; j0 += group {
		j1 := min(j0+group, nv)
		rows := (j1 - j0) * out
		clear(acc)
		for n0 := 0; n0 < n; n0 += mc {
			n1 := min(n0+mc, n)
			par.For(n1-n0, workers, func(_, i int) {
				f.G.Unfold(uc[i*pk:], k, f.A.RawRowView(n0+i))
			})
			par.For(rows, workers, func(wk, r int) {
				j, o := r/out, r%out
				uj := u.RawRowView(j0 + j)
				t := rowBuf[wk]
				idx, val := cidx[r*stride:(r+1)*stride], cval[r*stride:(r+1)*stride]
				nz, sum := 0, 0.0
				for i := n0; i < n1; i++ {
					touched := false
					for c := 0; c < f.C; c++ {
						a := uj[i*f.C+c]
						lo, hi := sr.span((i*f.C+c)*out + o)
						if a == 0 || lo == hi {
							continue
						}
						touched = true
						for e := lo; e < hi; e++ {
							t[sr.idx[e]] += a * sr.vals[e]
						}
					}
					if !touched {
						continue
					}
					nz = compress(idx, val, nz, t, int32((i-n0)*p))
					sum += floats.Sum(t)
					clear(t)
				}
				cnt[r] = nz
				if f.Bias {
					dst.RawRowView(j0 + j)[biasOff+o] += sum
				}
			})
			blocks := (k + sparseBlock - 1) / sparseBlock
			// Enough tasks for every worker even when K is one block.
			per := max(1, rows*blocks/(4*workers))
			chunks := (rows + per - 1) / per
			par.For(blocks*chunks, workers, func(wk, t int) {
				c0 := (t % blocks) * sparseBlock
				c1 := min(c0+sparseBlock, k)
				res := resBuf[wk][:c1-c0]
				r0 := (t / blocks) * per
				for r := r0; r < min(r0+per, rows); r++ {
					fastblas.CombRowsIdx(res, cval[r*stride:r*stride+cnt[r]], cidx[r*stride:r*stride+cnt[r]], uc[c0:], k)
					floats.Add(acc[r*k+c0:r*k+c1], res)
				}
			})
		}
		for j := j0; j < j1; j++ {
			copy(dst.RawRowView(j)[:out*k], acc[(j-j0)*out*k:(j-j0+1)*out*k])
		}
	}
}

// aggregate writes B[o, (i−n0, q)] = Σ_c u[i·c+c'] S_{i,c'}[o, q] for the
// samples i in [n0, n1) into b (out × (n1−n0)·P).
func (f *Conv) aggregate(b, u []float64, n0, n1 int) {
	p, out := f.G.P(), f.G.OutC
	w := (n1 - n0) * p
	for i := range b {
		b[i] = 0
	}
	for i := n0; i < n1; i++ {
		for c := 0; c < f.C; c++ {
			r := i*f.C + c
			a := u[r]
			if a == 0 {
				continue
			}
			s := f.S.RawRowView(r)
			for o := 0; o < out; o++ {
				floats.AddScaled(b[o*w+(i-n0)*p:o*w+(i-n0+1)*p], a, s[o*p:(o+1)*p])
			}
		}
	}
}

func (f *Conv) TransMulTo(dst, v *mat.Dense) {
	nv, _ := v.Dims()
	checkShape(v, nv, f.Dim())
	checkShape(dst, nv, f.Cols())
	n, p, k, out := f.n(), f.G.P(), f.G.K(), f.G.OutC
	mc := f.sampleChunk(1)
	uc := make([]float64, mc*p*k)
	t := make([]float64, out*mc*p)
	for n0 := 0; n0 < n; n0 += mc {
		n1 := min(n0+mc, n)
		w := (n1 - n0) * p
		if f.Weight {
			unfoldRange(f.G, uc, f.A, n0, n1)
		}
		for j := 0; j < nv; j++ {
			vj := v.RawRowView(j)
			// T[o, (i, q)] = (V_W U_i)[o, q] + v_b[o]
			tg := blas64.General{Rows: out, Cols: w, Stride: w, Data: t}
			off := 0
			if f.Weight {
				gemm(blas.NoTrans, blas.Trans, 1,
					blas64.General{Rows: out, Cols: k, Stride: k, Data: vj},
					blas64.General{Rows: w, Cols: k, Stride: k, Data: uc}, 0, tg)
				off = out * k
			} else {
				for i := range t[:out*w] {
					t[i] = 0
				}
			}
			if f.Bias {
				for o := 0; o < out; o++ {
					b := vj[off+o]
					for i := range t[o*w : (o+1)*w] {
						t[o*w+i] += b
					}
				}
			}
			d := dst.RawRowView(j)
			for i := n0; i < n1; i++ {
				for c := 0; c < f.C; c++ {
					r := i*f.C + c
					s := f.S.RawRowView(r)
					var sum float64
					for o := 0; o < out; o++ {
						sum += floats.Dot(s[o*p:(o+1)*p], t[o*w+(i-n0)*p:o*w+(i-n0+1)*p])
					}
					d[r] = sum
				}
			}
		}
	}
}
