package lowrank

import (
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/backend"
	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/par"
	"github.com/vivit-go/vivit/internal/scratch"
)

// ---------------------------------------------------------------------------
// Diagonal

func (f *Conv) AddDiagTo(dst []float64) {
	f.needRows()
	if len(dst) != f.Dim() {
		panic("lowrank: diagonal destination has wrong length")
	}
	r, k := f.rows(), f.G.K()
	off := 0
	if f.Weight {
		sr, budget := f.sparseForm(f.weightBudget(r))
		chunks, cached, workers := explicitPlan(f.G, r, f.n(), budget)
		u := formUnfolder[float64](f, cached, workers, sr != nil)
		defer u.release()
		pooled := scratch.Get(r * chunks[0].width())
		defer scratch.Put(pooled)
		buf := *pooled
		acc := make([]float64, chunks[0].width())
		for _, ch := range chunks {
			w := ch.width()
			f.formWeight(buf, ch, u, sr)
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
// their compressed copy fits half the budget. When the Gram matrix's
// explicit route has kept the weight block (keepV) and no route is forced,
// MulTo multiplies the kept block instead (k·R·out·K).
func (f *Conv) MulTo(dst, u *mat.Dense) {
	nv, _ := u.Dims()
	checkShape(u, nv, f.Cols())
	checkShape(dst, nv, f.Dim())
	if v, v32 := f.keptWeight(); f.Weight && (v != nil || v32 != nil) && f.Route == RouteAuto || f.dropped() {
		f.mulKeptTo(dst, u, v, v32)
		return
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
	// The routes below add to dst.
	for j := 0; j < nv; j++ {
		clear(dst.RawRowView(j))
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
	r := f.rows()
	sr, budget := f.sparseForm(f.weightBudget(r))
	chunks, cached, workers := explicitPlan(f.G, r, f.n(), budget)
	un := formUnfolder[float64](f, cached, workers, sr != nil)
	defer un.release()
	pooled := scratch.Get(r * chunks[0].width())
	defer scratch.Put(pooled)
	buf := *pooled
	for _, ch := range chunks {
		f.formWeight(buf, ch, un, sr)
		f.mulChunkTo(dst, u, ch, buf)
	}
}

// mulChunkTo writes the entries of the chunk ch of V u_j, for the rows u_j
// of u, from the chunk's rows of V in buf.
func (f *Conv) mulChunkTo(dst, u *mat.Dense, ch chunk, buf []float64) {
	r, w := f.rows(), ch.width()
	f.writeChunk(dst, ch, func(c []float64, ldc int) {
		nv, _ := u.Dims()
		backend.Gemm(blas.NoTrans, blas.NoTrans, 1, u.RawMatrix(),
			blas64.General{Rows: r, Cols: w, Stride: w, Data: buf}, 0,
			blas64.General{Rows: nv, Cols: w, Stride: ldc, Data: c})
	})
}

// writeChunk writes the chunk ch's entries of the rows of dst (nv rows of
// out·K): product(c, ldc) writes the chunk's nv × width block, rows ldc
// apart, into c. That is dst itself when the chunk holds whole weight
// rows (its columns are contiguous); otherwise it holds, per row, a run of
// patch indices for each of its channels, and product writes into scratch
// whose runs are then copied into place (one product over the whole
// chunk, not a narrow product per channel).
func (f *Conv) writeChunk(dst *mat.Dense, ch chunk, product func(c []float64, ldc int)) {
	k, out := f.G.K(), dst.RawMatrix()
	w, kc := ch.width(), ch.k1-ch.k0
	if kc == k {
		product(out.Data[ch.o0*k:], out.Stride)
		return
	}
	t := scratch.Get(out.Rows * w)
	defer scratch.Put(t)
	product(*t, w)
	par.For(out.Rows, par.ProcsFor(out.Rows*w), func(_, j int) {
		row, tj := out.Data[j*out.Stride:], (*t)[j*w:(j+1)*w]
		for o := ch.o0; o < ch.o1; o++ {
			copy(row[o*k+ch.k0:o*k+ch.k1], tj[(o-ch.o0)*kc:])
		}
	})
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
			s := f.rows64().RawRowView(r)
			for o := 0; o < out; o++ {
				floats.AddScaled(b[o*w+(i-n0)*p:o*w+(i-n0+1)*p], a, s[o*p:(o+1)*p])
			}
		}
	}
}

func (f *Conv) TransMulTo(dst, v *mat.Dense) {
	f.needRows()
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
					s := f.rows64().RawRowView(r)
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
