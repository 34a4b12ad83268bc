package lowrank

import (
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/par"
	"github.com/vivit-go/vivit/internal/scratch"
	"github.com/vivit-go/vivit/model/im2col"
)

// ---------------------------------------------------------------------------
// Unfolded inputs

// unfolder hands out the unfolded inputs of samples in T, from a cache of
// all of them or regenerated into per-worker scratch buffers: P×K (a row
// per output position, im2col.Geom.Unfold) for the sparse forming in
// float64, which reads one row per nonzero factor entry, else K×P
// (im2col.Geom.UnfoldT and UnfoldT32, copied by runs, about 3× faster than
// gathering the P×K layout) for the dense products.
type unfolder[T float32 | float64] struct {
	g       *im2col.Geom
	a       *mat.Dense
	kp      bool // K×P layout
	cache   []T
	pooled  []*[]T // the cache's or workers' buffers, from internal/scratch
	scratch [][]T
}

// release hands the cache or the workers' buffers back to the buffer
// pool; the unfolder may not be used afterwards. (An unfolder that is not released is collected.)
func (u *unfolder[T]) release() {
	if u == nil {
		return
	}
	for _, b := range u.pooled {
		scratch.PutOf(b)
	}
	u.pooled, u.cache, u.scratch = nil, nil, nil
}

// formUnfolder returns the unfolder that f's forming in T (formWeight,
// formWeight32) reads, or nil when it reads none (dense token-major rows:
// formWeightTokens and formTokens32 read the inputs as they are).
func formUnfolder[T float32 | float64](f *Conv, cached bool, workers int, sparse bool) *unfolder[T] {
	if f.tok != nil && !sparse {
		return nil
	}
	return newUnfolder[T](f.G, f.A, cached, workers, sparse)
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

// newUnfolder returns an unfolder of a's samples for the sparse forming
// (P×K, float64 only) when sparse is set, else for the dense products
// (K×P): all of them unfolded once if cached, else regenerated into
// scratch for workers workers.
func newUnfolder[T float32 | float64](g *im2col.Geom, a *mat.Dense, cached bool, workers int, sparse bool) *unfolder[T] {
	u := &unfolder[T]{g: g, a: a, kp: !sparse}
	if _, ok := any(u.cache).([]float32); ok && sparse {
		panic("lowrank: sparse forming in float32")
	}
	pk := g.P() * g.K()
	if cached {
		n, _ := a.Dims()
		b := scratch.GetOf[T](n * pk)
		u.pooled = append(u.pooled, b)
		u.cache = *b
		par.For(n, formWorkers(), func(_, i int) {
			u.unfold(u.cache[i*pk:(i+1)*pk], i)
		})
	} else {
		u.scratch = make([][]T, workers)
		for i := range u.scratch {
			b := scratch.GetOf[T](pk)
			u.pooled = append(u.pooled, b)
			u.scratch[i] = *b
		}
	}
	return u
}

// workers returns how many goroutines may call sample at once.
func (u *unfolder[T]) workers() int {
	if u.cache != nil {
		return formWorkers()
	}
	return len(u.scratch)
}

// sample returns the unfolded input of sample i for the given worker: Uᵀ,
// P×K with stride K, or U, K×P with stride P, as the unfolder's layout.
// Without a cache the slice is overwritten by the worker's next call.
func (u *unfolder[T]) sample(worker, i int) []T {
	pk := u.g.P() * u.g.K()
	if u.cache != nil {
		return u.cache[i*pk : (i+1)*pk]
	}
	u.unfold(u.scratch[worker][:pk], i)
	return u.scratch[worker][:pk]
}

// unfold writes sample i's unfolded input in the unfolder's layout.
func (u *unfolder[T]) unfold(dst []T, i int) {
	x := u.a.RawRowView(i)
	switch d := any(dst).(type) {
	case []float32:
		u.g.UnfoldT32(d, x)
	case []float64:
		if u.kp {
			u.g.UnfoldT(d, x)
		} else {
			u.g.Unfold(d, u.g.K(), x)
		}
	}
}

// unfoldRange writes the unfolded inputs of samples [n0, n1) of a, stacked
// vertically, into dst ((n1−n0)·P × K).
func unfoldRange(g *im2col.Geom, dst []float64, a *mat.Dense, n0, n1 int) {
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
// a larger chunk saves nothing and costs page faults on first touch (a
// variable for tests).
var maxChunk int64 = 1 << 22

// explicitPlan splits the weight into chunks whose V rows for `rows`
// factor rows fit the budget next to the unfolded inputs, says whether the
// unfolded inputs of all nsamp samples are cached (when they fit and more
// than one chunk reads them) and, if not, how many workers regenerate
// them (each holds one sample's unfolded input per unfolder, of which
// cross products have two; they share workerShare of the budget). Chunks hold all output channels and a range of patch
// indices whenever the budget allows (one product per sample forms them),
// else one channel and a range of patch indices, the ranges near-equal.
// The chunks do not depend on GOMAXPROCS.
func explicitPlan(g *im2col.Geom, rows, nsamp int, budget int64) (chunks []chunk, cached bool, workers int) {
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
		kc := balanced(k, int(w/int64(out)))
		for k0 := 0; k0 < k; k0 += kc {
			chunks = append(chunks, chunk{0, out, k0, min(k0+kc, k)})
		}
	default:
		kc := balanced(k, int(w))
		for o := 0; o < out; o++ {
			for k0 := 0; k0 < k; k0 += kc {
				chunks = append(chunks, chunk{o, o + 1, k0, min(k0+kc, k)})
			}
		}
	}
	if cached && len(chunks) == 1 {
		// One chunk reads each unfolded input once: regenerated per
		// worker, it stays in the core's cache instead of going out to
		// memory and back. The workers' scratch fits in the cache's place.
		cached = false
		workers = scratchWorkers(int64(nsamp)*pk, 2*pk)
	}
	return chunks, cached, workers
}

// balanced returns the width of ⌈n/most⌉ near-equal parts of n, none
// wider than most: the chunks' buffers, each at the first chunk's width,
// then hold little beyond their columns.
func balanced(n, most int) int {
	parts := (n + most - 1) / most
	return (n + parts - 1) / parts
}

// formWeight writes the chunk ch of V's weight block, one row per factor
// row, into dst (rows × ch.width(), stride ch.width()): from the factor
// rows in compressed sparse form when sr is not nil (formWeightSparse),
// else by one dense product per sample.
func (f *Conv) formWeight(dst []float64, ch chunk, u *unfolder[float64], sr *sparseRows) {
	if sr != nil {
		f.formWeightSparse(dst, ch, u, sr)
		return
	}
	if f.tok != nil {
		f.formWeightTokens(dst, ch)
		return
	}
	if !u.kp {
		panic("lowrank: dense forming with a sparse unfolder")
	}
	p, out := f.G.P(), f.G.OutC
	co, kc := ch.o1-ch.o0, ch.k1-ch.k0
	w := co * kc
	par.For(f.n(), u.workers(), func(wk, i int) {
		// The chunk's rows of U (K×P): V's chunk is S_r Uᵀ.
		b := blas64.General{Rows: kc, Cols: p, Stride: p, Data: u.sample(wk, i)[ch.k0*p:]}
		if co == out {
			if a, ok := f.sampleRows(i); ok {
				c := blas64.General{Rows: f.C * out, Cols: kc, Stride: kc, Data: dst[i*f.C*w:]}
				gemm(blas.NoTrans, blas.Trans, 1, a, b, 0, c)
				return
			}
		}
		for j := 0; j < f.C; j++ {
			r := i*f.C + j
			a := blas64.General{Rows: co, Cols: p, Stride: p, Data: f.rows64().RawRowView(r)[ch.o0*p:]}
			c := blas64.General{Rows: co, Cols: kc, Stride: kc, Data: dst[r*w:]}
			gemm(blas.NoTrans, blas.Trans, 1, a, b, 0, c)
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
// budget before the plan is made. The chunks are kept in float32 for
// MulTo when keepV allows the whole block.
func (f *Conv) addGramExplicit32(g blas64.Symmetric) bool {
	chunks, cached, workers, ok := f.explicitPlan32()
	if !ok {
		return false
	}
	r, perWorker := f.rows(), f.perWorker32()
	u := formUnfolder[float32](f, cached, workers, false)
	defer u.release()
	keep := f.keepV(f.G.OutC*f.G.K(), 4)
	var kept []keptChunk32
	// Pooled buffers (internal/scratch): Go clears a large new slice on
	// the calling goroutine, which here would be tens of megabytes per
	// Gram. Every entry read is written first.
	buf := scratch.Get32(r * chunks[0].width())
	acc := scratch.Get32(r * r)
	defer scratch.Put32(acc)
	scr := make([][]float32, workers)
	for i := range scr {
		b := scratch.Get32(perWorker)
		defer scratch.Put32(b)
		scr[i] = *b
	}
	var impl fastblas.Implementation
	for ci, ch := range chunks {
		w := ch.width()
		if keep && ci > 0 {
			buf = scratch.Get32(r * w)
		}
		f.formWeight32((*buf)[:r*w], ch, u, scr)
		beta := float32(1)
		if ci == 0 {
			beta = 0
		}
		impl.Ssyrk(blas.Upper, blas.NoTrans, r, w, 1, *buf, w, beta, *acc, r)
		if keep {
			kept = append(kept, keptChunk32{ch.k0, ch.k1, buf})
		}
	}
	par.For(r, par.ProcsFor(r*r/2), func(_, i int) {
		row := g.Data[i*g.Stride+i : i*g.Stride+r]
		for j, v := range (*acc)[i*r+i : (i+1)*r] {
			row[j] += float64(v)
		}
	})
	if keep {
		f.setKeptV32(kept)
	} else {
		scratch.Put32(buf)
	}
	return true
}

// perWorker32 is the float32 scratch of one worker of formWeight32: a
// sample's factor rows (the unfolded inputs that are not cached are
// the float32 unfolder's, counted by explicitPlan), and for token-major
// rows the sample's input.
func (f *Conv) perWorker32() int {
	if f.tok != nil {
		return f.C*f.G.OutC*f.G.P() + f.G.InSize()
	}
	return f.C * f.G.OutC * f.G.P()
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
	if f.s32 == nil && f.tok == nil {
		if _, ok := f.sampleRows(0); !ok {
			return nil, false, 0, false
		}
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
// each sample's factor rows are rounded to float32 in the worker's
// scratch (C·out·P values), and one float32 product with the chunk's rows
// of its float32 K×P unfolded input forms the sample's rows of the chunk.
func (f *Conv) formWeight32(dst []float32, ch chunk, u *unfolder[float32], scr [][]float32) {
	if f.tok != nil {
		f.formTokens32(dst, ch, scr)
		return
	}
	p, out := f.G.P(), f.G.OutC
	kc := ch.k1 - ch.k0
	w := out * kc
	rows := f.C * out
	var serial fastblas.Serial
	par.For(f.n(), min(len(scr), u.workers()), func(wk, i int) {
		var a32 []float32
		if f.s32 != nil {
			a32 = f.s32[i*rows*p : (i+1)*rows*p]
		} else {
			a, _ := f.sampleRows(i)
			a32 = scr[wk][:rows*p]
			fastblas.Narrow(a32, a.Data[:rows*p])
		}
		ut := u.sample(wk, i)
		serial.Sgemm(blas.NoTrans, blas.Trans, rows, kc, p, 1, a32, p, ut[ch.k0*p:], p, 0, dst[i*f.C*w:], kc)
	})
}

// biasCols returns V's bias block as rows: row r is S_r 1 (rows × out),
// summed once per factor (rows in parallel) and shared by its operations,
// which only read it.
func (f *Conv) biasCols() blas64.General {
	r, out, p := f.rows(), f.G.OutC, f.G.P()
	f.stats.biasOnce.Do(func() {
		b := make([]float64, r*out)
		par.For(r, formWorkers(), func(_, i int) {
			if f.s32 != nil {
				s := f.s32[i*out*p : (i+1)*out*p]
				for o := 0; o < out; o++ {
					var sum float64
					for _, v := range s[o*p : (o+1)*p] {
						sum += float64(v)
					}
					b[i*out+o] = sum
				}
				return
			}
			if f.tok != nil {
				tokenSums(b[i*out:(i+1)*out], f.tok.RawRowView(i), p)
				return
			}
			s := f.S.RawRowView(i)
			for o := 0; o < out; o++ {
				b[i*out+o] = floats.Sum(s[o*p : (o+1)*p])
			}
		})
		f.stats.bias = b
	})
	return blas64.General{Rows: r, Cols: out, Stride: out, Data: f.stats.bias}
}

// goBLAS runs the many small products of this file (per sample, per pair
// of samples, per vector), which callers already spread over goroutines,
// on the calling goroutine: internal/fastblas's serial kernels (AVX2/FMA
// or AVX-512, 5–10× gonum's on these shapes; gonum's own code without
// them), in the openblas build too, since a cgo call per small product
// would cost more than it saves.
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
