package vivit

import (
	"fmt"
	"math"
	"runtime"
	"time"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/directional"
	"github.com/vivit-go/vivit/eigen"
	"github.com/vivit-go/vivit/gram"
	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/par"
	"github.com/vivit-go/vivit/internal/scratch"
	"github.com/vivit-go/vivit/jacobians"
	"github.com/vivit-go/vivit/lowrank"
	"github.com/vivit-go/vivit/model"
)

// Model is a network (a directed acyclic graph of operations) with its
// loss.
type Model = model.Network

// Batch is a mini-batch of inputs and targets.
type Batch = model.Batch

// Layout says where each named tensor sits in a flat parameter vector.
type Layout = model.Layout

// Block holds the results for one parameter group (the whole network when
// no groups are given).
type Block struct {
	Name   string  // group name; "" for the whole network
	Layout *Layout // the block's tensors, state_dict order
	// Values are the top eigenvalues, descending; fewer than asked for when
	// the GGN block's numerical rank is smaller.
	Values []float64
	// Vectors holds the unit eigenvectors as rows (len(Values) × Layout.Size()),
	// each with its entry of largest magnitude positive; it is empty when
	// Options.SkipVectors is set or no eigenvalue is nonzero.
	Vectors *mat.Dense
	// Gamma and Lambda are the per-sample directional derivatives γ_nk and
	// λ_nk (N × len(Values)); set by Directional only.
	Gamma, Lambda *mat.Dense
	// Rank is the numerical rank of the block's GGN when it is known (all
	// of it was computed, or fewer than k eigenvalues were nonzero), else -1.
	Rank int
	// Side is where the eigenproblem was solved: "gram" (the N·C'×N·C'
	// Gram matrix) or "parameters" (the D×D GGN block); see Options.Side.
	Side string
}

// Vector returns eigenvector j as a flat slice in the block's layout.
func (b *Block) Vector(j int) []float64 { return b.Vectors.RawRowView(j) }

// Tensor returns the named tensor of eigenvector j (a view) and its shape.
func (b *Block) Tensor(j int, name string) ([]float64, []int, bool) {
	return b.Layout.Tensor(b.Vector(j), name)
}

// Result is what TopEigen and Directional return.
type Result struct {
	NumParams        int     // D, all parameters of the model
	BatchSize        int     // N
	CurvatureSamples int     // samples in the curvature (sub-)batch
	Columns          int     // factor columns per sample: C, or M with Monte-Carlo
	Loss             float64 // L = w Σ ℓ_n
	Blocks           []Block // one per group, in order
	// Side is the side of every block ("gram" or "parameters"), or
	// "mixed" when blocks differ (see Block.Side).
	Side   string
	Timing Timing
	// Plan is how the run fitted its memory budget (Options.MemoryBudget).
	Plan *Plan
}

// TopEigen returns the k largest eigenvalues of the GGN of the batch loss
// and their eigenvectors in the model's parameter layout, for the whole
// network or each group of opts.Groups.
func TopEigen(m *Model, b *Batch, k int, opts *Options) (*Result, error) {
	return run(m, b, k, opts, false)
}

// Directional is TopEigen plus the per-sample first- and second-order
// directional derivatives γ_nk = e_kᵀ∇ℓ_n and λ_nk = e_kᵀG_n e_k of every
// sample of the batch along each eigenvector (unnormalised per-sample loss,
// so w Σ_n λ_nk = λ_k and w Σ_n γ_nk = e_kᵀ∇L).
func Directional(m *Model, b *Batch, k int, opts *Options) (*Result, error) {
	return run(m, b, k, opts, true)
}

func run(m *Model, b *Batch, k int, opts *Options, withDirectional bool) (*Result, error) {
	if k < 1 {
		return nil, fmt.Errorf("vivit: k must be at least 1, got %d", k)
	}
	if opts == nil {
		opts = &Options{}
	}
	what := "TopEigen"
	if withDirectional {
		what = "Directional"
	}
	pl, idx, cols, err := planRun(what, m, b, k, opts, withDirectional)
	if err != nil {
		return nil, err
	}
	if pl.Chunked() {
		return runChunked(m, b, k, *opts, pl, idx, cols, withDirectional)
	}
	// Without directional derivatives nothing reads the activations but
	// the factor blocks once the factors are formed.
	p, err := newPassWith(m, b, opts, passSetup{
		freeActs:  !withDirectional,
		earlyGram: !withDirectional && opts.Groups == nil,
	})
	if err != nil {
		return nil, err
	}
	defer p.release()
	res := &Result{
		NumParams: m.NumParams(), BatchSize: b.Len(), CurvatureSamples: len(p.idx),
		Columns: p.cols, Loss: p.w * sum(p.losses), Plan: pl,
	}
	var gradF, wholeF []jacobians.LayerFactor
	if withDirectional {
		p.opts.report("directional", 0, 1)
		t0 := time.Now()
		if gradF, err = p.gradientFactors(); err != nil {
			return nil, err
		}
		if len(p.idx) != b.Len() {
			// λ_nk of samples outside the sub-batch needs their factor
			// columns: backpropagate the whole batch too.
			if wholeF, _, err = p.curvatureFactors(allSamples(b.Len()), p.w, false); err != nil {
				return nil, err
			}
		}
		p.timing.Directional += time.Since(t0)
	}
	p.dropActivations()
	blocks := p.blocks()
	for bi, blk := range blocks {
		out := Block{Name: blk.name, Layout: blk.layout, Rank: -1}
		side, g, err := p.blockMatrix(blk, bi, len(blocks))
		if err != nil {
			return nil, err
		}
		out.Side = side.String()
		p.opts.report("eigensolve", bi, len(blocks))
		t0 := time.Now()
		vals, u, rank, err := topK(g, k, p.opts)
		releaseGram(g) // the solvers keep no reference to it
		if err != nil {
			if stop := p.opts.stopped(); stop != nil {
				return nil, stop
			}
			return nil, fmt.Errorf("vivit: block %q: %w", blk.name, err)
		}
		out.Rank = rank
		p.timing.Eigen += time.Since(t0)

		out.Values = vals
		out.Vectors = &mat.Dense{}
		if len(vals) == 0 {
			// The block's GGN is zero (e.g. dead ReLUs): no direction.
			res.Blocks = append(res.Blocks, out)
			continue
		}
		if side == SideParameters {
			t0 = time.Now()
			out.Vectors, u = parameterSideVectors(blk, u, vals, p.opts.SkipVectors, withDirectional)
			p.timing.MapBack += time.Since(t0)
		} else if p.opts.SkipVectors {
			normalizeColumnSigns(u)
		} else {
			p.opts.report("map-back", bi, len(blocks))
			t0 = time.Now()
			if out.Vectors, err = mapBackNormalized(blk, u, vals, &p.opts); err != nil {
				return nil, err
			}
			p.timing.MapBack += time.Since(t0)
		}

		if withDirectional && len(vals) > 0 {
			p.opts.report("directional", bi, len(blocks))
			t0 = time.Now()
			n := b.Len()
			cross := mat.NewDense(n, p.cols*len(p.idx), nil)
			for i, f := range blk.selectLike(gradF) {
				if err := p.opts.stopped(); err != nil {
					return nil, err
				}
				f.AddCrossTo(cross, blk.factors[i])
			}
			out.Gamma = directional.Gamma(cross, u, vals)
			if wholeF == nil {
				out.Lambda = directional.LambdaOwn(u, vals, p.cols, p.wCurv)
			} else {
				x := mat.NewDense(n*p.cols, p.cols*len(p.idx), nil)
				for i, f := range blk.selectLike(wholeF) {
					if err := p.opts.stopped(); err != nil {
						return nil, err
					}
					f.AddCrossTo(x, blk.factors[i])
				}
				out.Lambda = directional.LambdaCross(x, u, vals, p.cols, p.w)
			}
			p.timing.Directional += time.Since(t0)
		}
		res.Blocks = append(res.Blocks, out)
	}
	sides := make([]string, len(res.Blocks))
	for i, b := range res.Blocks {
		sides[i] = b.Side
	}
	res.Side = sideName(sides)
	res.Timing = p.timing
	return res, nil
}

// mapBackNormalized returns the unit eigenvectors e_j = V ũ_j / √λ_j of
// the block as rows, for the Gram eigenvectors ũ_j (the columns of u),
// with the reference's sign: the entry of largest magnitude positive. The
// columns of u are flipped along, so that γ computed from them matches.
// The error is the run's stop (o's context).
func mapBackNormalized(blk block, u *mat.Dense, vals []float64, o *Options) (*mat.Dense, error) {
	ut := mat.DenseCopyOf(u.T()) // rows are Gram eigenvectors
	for j, l := range vals {
		row := ut.RawRowView(j)
		for i := range row {
			row[i] /= math.Sqrt(l)
		}
	}
	vectors, err := blk.mapBack(ut, o)
	if err != nil {
		return nil, err
	}
	flipped := make([]bool, len(vals))
	par.For(len(vals), runtime.GOMAXPROCS(0), func(_, j int) {
		flipped[j] = normalizeSign(vectors.RawRowView(j))
	})
	r, _ := u.Dims()
	for j, f := range flipped {
		if f {
			for i := 0; i < r; i++ {
				u.Set(i, j, -u.At(i, j))
			}
		}
	}
	return vectors, nil
}

// normalizeColumnSigns flips each column of u so that its entry of largest
// magnitude (the first on ties) is positive: the sign convention of the
// Gram eigenvectors when no parameter-space vector is formed.
func normalizeColumnSigns(u *mat.Dense) {
	r, c := u.Dims()
	col := make([]float64, r)
	for j := 0; j < c; j++ {
		mat.Col(col, j, u)
		if normalizeSign(col) {
			u.SetCol(j, col)
		}
	}
}

// filledRow returns a 1×n matrix of v: the weights of a sum over a
// factor's columns (MulTo).
func filledRow(n int, v float64) *mat.Dense {
	r := mat.NewDense(1, n, nil)
	for i := range r.RawRowView(0) {
		r.RawRowView(0)[i] = v
	}
	return r
}

func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

// normalizeSign flips v in place so that its entry of largest magnitude is
// positive (the first such entry on ties) and reports whether it flipped.
func normalizeSign(v []float64) bool {
	if best := fastblas.ArgMaxAbs(v); best < 0 || v[best] >= 0 {
		return false
	}
	floats.Scale(-1, v)
	return true
}

func contributors(fs []lowrank.Factor) []gram.Contributor {
	cs := make([]gram.Contributor, len(fs))
	for i, f := range fs {
		cs[i] = f
	}
	return cs
}

// float32Tol is the Lanczos tolerance (residuals relative to λ₁) of runs
// with Float32 precision: float32's unit roundoff, 6e-8, rounded up.
const float32Tol = 1e-7

// topK returns the nonzero eigenpairs among the k largest of g (vectors as
// columns) and the numerical rank when it is known (else -1).
func topK(g *mat.SymDense, k int, o Options) ([]float64, *mat.Dense, int, error) {
	n := g.SymmetricDim()
	if k > n {
		k = n
	}
	solver := o.Solver
	if solver == nil {
		solver = eigen.Auto(n, k)
	}
	var (
		vals []float64
		vecs *mat.Dense
		err  error
	)
	if l, ok := solver.(eigen.Lanczos); ok && o.Solver == nil && o.Precision == Float32 {
		// Residuals below the Gram matrix's own float32 rounding would be
		// converged noise; at that tolerance the Gram matrix itself can be
		// held in float32, which halves the bytes each product streams.
		l.Tol = float32Tol
		solver = l
		buf := scratch.Get32(n * n)
		vals, vecs, _, err = l.TopKOperatorContext(o.ctx(), eigen.SymOperator32(g, *buf), k)
		scratch.Put32(buf)
	} else {
		// The Gram matrix is ours: mirror its triangle in place so that
		// solvers which need full storage use it without copying n² values.
		vals, vecs, err = eigen.TopKContext(o.ctx(), solver, eigen.MirrorUpper(g), k)
	}
	if err != nil {
		return nil, nil, 0, fmt.Errorf("eigensolver %s: %w", solver.Name(), err)
	}
	r := eigen.NumericalRank(vals, o.rankTol())
	rank := -1
	if r < len(vals) || len(vals) == n {
		rank = r
	}
	if r == 0 {
		return nil, nil, rank, nil
	}
	return vals[:r], mat.DenseCopyOf(vecs.Slice(0, n, 0, r)), rank, nil
}
