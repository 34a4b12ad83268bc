package lowrank

import (
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/backend"
	"github.com/vivit-go/vivit/internal/par"
	"github.com/vivit-go/vivit/internal/scratch"
	"github.com/vivit-go/vivit/model/im2col"
)

// ---------------------------------------------------------------------------
// Gram and cross products

func (f *Conv) AddGramTo(dst *mat.SymDense) {
	f.needRows()
	r := f.rows()
	if dst.SymmetricDim() != r {
		panic("lowrank: Gram destination has wrong size")
	}
	g := symRaw(dst)
	if f.Weight {
		if route, _, _ := f.GramRouteFor(f); (route != RouteKernel || !f.addGramKernel(g)) && !f.addGramExplicit32(g) {
			sr, budget := f.sparseForm(f.weightBudget(r))
			chunks, cached, workers := explicitPlan(f.G, r, f.n(), budget)
			u := formUnfolder[float64](f, cached, workers, sr != nil)
			defer u.release()
			keep := f.keepV(f.G.OutC*f.G.K(), 8)
			var kept []keptChunk
			pooled := scratch.Get(r * chunks[0].width())
			for ci, ch := range chunks {
				w := ch.width()
				if keep && ci > 0 {
					pooled = scratch.Get(r * chunks[0].width()) // the last is kept
				}
				buf := *pooled
				f.formWeight(buf, ch, u, sr)
				addOuterUpper(g, blas64.General{Rows: r, Cols: w, Stride: w, Data: buf})
				if keep {
					kept = append(kept, keptChunk{ch, pooled})
				}
			}
			if keep {
				f.setKeptV(kept)
			} else {
				scratch.Put(pooled)
			}
		}
	}
	if f.Bias {
		addOuterUpper(g, f.biasCols())
	}
}

// kernelTrust is the smallest ratio of a diagonal entry of the kernel
// route's Gram matrix to its rounding scale that AddGramTo accepts (see
// addGramKernel). The test suite's kernel-route Gram matrices give 2.6e-3
// and more: a row of V sums its terms with incoherent signs.
const kernelTrust = 1e-6

// addGramKernel adds the weight part of VᵀV to the upper triangle of g by
// the kernel route and reports whether it did. That route sums products of
// the factor rows' and the unfolded inputs' Gram matrices, so its rounding
// in entry (r, r) is of the order of ε·‖S_r‖²·‖U_n‖², where the explicit
// route's is of ε·‖S_r‖·‖U_n‖·‖V_r‖: where the columns of V cancel
// (‖V_r‖² far below ‖S_r‖²·‖U_n‖², as with activations of 1e38 along
// one direction), its Gram matrix is rounding noise. So it is formed on
// its own first, and added only if every diagonal entry is at least
// kernelTrust·KH·KW·‖S_r‖²·‖X_n‖² (‖U_n‖² ≤ KH·KW·‖X_n‖²); otherwise
// AddGramTo forms V explicitly.
func (f *Conv) addGramKernel(g blas64.Symmetric) bool {
	r := f.rows()
	buf := scratch.Get(r * r)
	defer scratch.Put(buf)
	tmp := (*buf)[:r*r]
	clear(tmp)
	f.kernelCross(blas64.General{Rows: r, Cols: r, Stride: r, Data: tmp}, f, true, f.weightBudget(r))
	if !f.kernelTrusted(func(i int) float64 { return tmp[i*r+i] }) {
		return false
	}
	for i := 0; i < r; i++ {
		row := g.Data[i*g.Stride : i*g.Stride+r]
		for j := i; j < r; j++ {
			row[j] += tmp[i*r+j]
		}
	}
	return true
}

// kernelTrusted reports whether every diagonal entry diag(i) of the
// weight part of VᵀV, as the kernel route computes it, is at least
// kernelTrust·KH·KW·‖S_i‖²·‖X_n‖² (row i of the factor, its sample's
// input), so that the route's rounding is negligible against it.
func (f *Conv) kernelTrusted(diag func(i int) float64) bool {
	taps := float64(f.G.KH * f.G.KW)
	for n := 0; n < f.n(); n++ {
		xn := f.A.RawRowView(n)
		x := floats.Dot(xn, xn)
		for i := n * f.C; i < (n+1)*f.C; i++ {
			if !(diag(i) >= kernelTrust*taps*f.rowSquare(i)*x) {
				return false
			}
		}
	}
	return true
}

// kernelDiag returns the diagonal of the weight part of VᵀV by the kernel
// route: entry (n, j) is ⟨S_{n,j}, S_{n,j} B_n⟩ with B_n = U_n U_nᵀ (P×P),
// which costs 1/N of the route's whole Gram matrix.
func (f *Conv) kernelDiag() []float64 {
	g := f.G
	p, k, out := g.P(), g.K(), g.OutC
	d := make([]float64, f.rows())
	workers := kernelWorkers(f.n())
	type work struct{ u, b, z []float64 }
	scr := make([]work, workers)
	par.For(f.n(), workers, func(wk, n int) {
		sc := &scr[wk]
		if sc.u == nil {
			sc.u, sc.b, sc.z = make([]float64, p*k), make([]float64, p*p), make([]float64, out*p)
		}
		g.Unfold(sc.u, k, f.A.RawRowView(n))
		u := blas64.General{Rows: p, Cols: k, Stride: k, Data: sc.u}
		b := blas64.General{Rows: p, Cols: p, Stride: p, Data: sc.b}
		gemm(blas.NoTrans, blas.Trans, 1, u, u, 0, b)
		for i := n * f.C; i < (n+1)*f.C; i++ {
			s := f.srow(i)
			gemm(blas.NoTrans, blas.NoTrans, 1, s, b, 0, blas64.General{Rows: out, Cols: p, Stride: p, Data: sc.z})
			d[i] = floats.Dot(f.rows64().RawRowView(i), sc.z)
		}
	})
	return d
}

// kernelCrossTrusted reports whether the kernel route's cross product of
// f and y is within rounding of the true one: its entry (i, j) is bounded
// by ‖V_i‖·‖Y_j‖ and its rounding by ε·√(scale_i·scale_j), so it is when
// both factors pass kernelTrusted with their own diagonals.
func (f *Conv) kernelCrossTrusted(y *Conv) bool {
	fd := f.kernelDiag()
	if !f.kernelTrusted(func(i int) float64 { return fd[i] }) {
		return false
	}
	if y == f {
		return true
	}
	yd := y.kernelDiag()
	return y.kernelTrusted(func(i int) float64 { return yd[i] })
}

func (f *Conv) AddCrossTo(dst *mat.Dense, y Factor) {
	f.needRows()
	if sc, ok := y.(*SepConv); ok {
		sc.mustMatch(f.G, f.Weight, f.Bias)
		crossSep(dst, f, sc, false)
		return
	}
	o, ok := y.(*Conv)
	if !ok || o.Weight != f.Weight || o.Bias != f.Bias || !sameGeom(f.G, o.G) {
		panic("lowrank: cross product of factors of different layers")
	}
	checkShape(dst, f.rows(), o.rows())
	raw := dst.RawMatrix()
	if f.Weight {
		if route, _, _ := f.GramRouteFor(o); route == RouteKernel && f.kernelCrossTrusted(o) {
			f.kernelCross(raw, o, false, f.weightBudget(f.rows()+o.rows()))
		} else {
			rows, nsamp := f.rows()+o.rows(), f.n()
			if f.A != o.A {
				nsamp += o.n()
			}
			sx, budget := f.sparseForm(f.weightBudget(rows))
			sy, budget := o.sparseForm(budget)
			chunks, cached, workers := explicitPlan(f.G, rows, nsamp, budget)
			ux := formUnfolder[float64](f, cached, workers, sx != nil)
			defer ux.release()
			uy := ux
			if f.A != o.A || (sx != nil) != (sy != nil) || (f.tok != nil) != (o.tok != nil) {
				uy = formUnfolder[float64](o, cached, workers, sy != nil)
				defer uy.release()
			}
			w0 := chunks[0].width()
			bx := make([]float64, f.rows()*w0)
			by := make([]float64, o.rows()*w0)
			for _, ch := range chunks {
				w := ch.width()
				f.formWeight(bx, ch, ux, sx)
				o.formWeight(by, ch, uy, sy)
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

func sameGeom(a, b *im2col.Geom) bool {
	return a == b || (a.InC == b.InC && a.InH == b.InH && a.InW == b.InW && a.OutC == b.OutC &&
		a.KH == b.KH && a.KW == b.KW && a.SH == b.SH && a.SW == b.SW &&
		a.PH == b.PH && a.PW == b.PW && a.DH == b.DH && a.DW == b.DW)
}

// kernelPlan returns how many samples of the Z side the kernel route
// processes at once within the budget, and how many workers share the
// samples of X. The chunk is sized for one worker within half the budget,
// so that it does not depend on GOMAXPROCS; more workers join while their
// scratch fits in what the chunk leaves.
func kernelPlan(g *im2col.Geom, x, y *Conv, budget int64) (chunk, workers int) {
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
					copy(sc.sx[j*out*p:(j+1)*out*p], x.rows64().RawRowView(n*cx+j))
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
