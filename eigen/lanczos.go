package eigen

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// Lanczos is a block Lanczos solver with full reorthogonalisation and
// thick restarts. Its zero value uses the documented defaults.
//
// Each step applies the operator to a block of orthonormal vectors,
// orthogonalises the images against the whole basis twice (classical
// Gram–Schmidt with matrix products) and appends them to the basis; the
// projected matrix H = Qᵀ·A·Q is formed explicitly from the same products,
// so the Rayleigh–Ritz step is exact for the current basis whatever its
// history. Directions that vanish (an exhausted Krylov space, a
// rank-deficient block) are replaced by fresh random vectors orthogonalised
// against the basis, so low-rank and tiny matrices are handled and zero
// eigenvalues come out with orthonormal vectors of the null space. When the
// basis would exceed MaxBasis, it is restarted from the leading Ritz
// vectors and the pending block.
//
// Multiplicities: a block method with block size b finds at most b copies
// of an exactly repeated eigenvalue (a single-vector method finds one). If
// the converged top k hold b or more Ritz values equal to within 1e-9·λ₁
// and further copies could belong to the top k, Lanczos repeats the solve
// with block size k, which finds every copy needed. The returned
// eigenvalues therefore carry their multiplicities within the top k.
type Lanczos struct {
	// Tol bounds the residuals of the returned pairs:
	// ‖A·u_i − λ_i·u_i‖ ≤ Tol·λ₁ for i < k, measured after the solve with
	// a fresh application of the operator. 0 means 1e-13, about a hundred
	// times the rounding floor for n of a few thousand; tolerances much
	// below 1e-14 may be unreachable and end in ErrNotConverged.
	Tol float64
	// BlockSize is the number of vectors per step. 0 means min(k, 2): small
	// blocks need the fewest products; the multiplicity check above makes
	// larger ones unnecessary for correctness. Values below 2 are raised to
	// min(k, 2).
	BlockSize int
	// MaxBasis is the largest number of basis vectors kept before a
	// restart. 0 means max(100, 2·k); it is raised to at least
	// k + 4·BlockSize and capped at n (then there is no restart).
	MaxBasis int
	// MaxApplies caps the number of operator–vector products before
	// TopKOperator gives up with ErrNotConverged. 0 means 20·n + 1000.
	MaxApplies int
	// Seed seeds the random start block and any refill (PCG): results are
	// deterministic for a given seed.
	Seed uint64
}

// Name returns "lanczos".
func (Lanczos) Name() string { return "lanczos" }

// TopK implements Solver; it calls TopKOperator on SymOperator(a).
func (l Lanczos) TopK(a mat.Symmetric, k int) ([]float64, *mat.Dense, error) {
	n := a.SymmetricDim()
	checkK(n, k)
	values, vectors, _, err := l.TopKOperator(SymOperator(a), k)
	return values, vectors, err
}

const (
	defaultLanczosTol = 1e-13
	// clusterTol is the relative distance below which Ritz values count as
	// copies of one eigenvalue for the multiplicity check.
	clusterTol = 1e-9
)

// params resolves the defaults for a solve with block size b (0: from l).
func (l Lanczos) params(n, k, b int) (bs, mb, maxApplies int, tol float64) {
	if b <= 0 {
		b = l.BlockSize
		if b <= 0 {
			b = 2
		}
	}
	b = min(max(b, 2), k, n)
	mb = l.MaxBasis
	if mb <= 0 {
		mb = max(100, 2*k)
	}
	mb = min(max(mb, k+4*b), n)
	maxApplies = l.MaxApplies
	if maxApplies <= 0 {
		maxApplies = 20*n + 1000
	}
	tol = l.Tol
	if tol <= 0 {
		tol = defaultLanczosTol
	}
	return b, mb, maxApplies, tol
}

// TopKOperator returns the k largest eigenvalues of the symmetric positive
// semi-definite operator op in descending order, the matching unit
// eigenvectors as the columns of an n×k matrix, and statistics of the run.
// k must be in [1, n]. If the tolerance is not reached within MaxApplies
// products, the error wraps ErrNotConverged and the best approximations
// found are returned with it.
func (l Lanczos) TopKOperator(op Operator, k int) ([]float64, *mat.Dense, Stats, error) {
	return l.TopKOperatorContext(context.Background(), op, k)
}

// TopKOperatorContext is TopKOperator, stopped between block steps once
// ctx is done: the error then wraps ctx.Err() and no pairs are returned.
func (l Lanczos) TopKOperatorContext(ctx context.Context, op Operator, k int) ([]float64, *mat.Dense, Stats, error) {
	n := op.Size()
	checkK(n, k)
	b, _, _, _ := l.params(n, k, 0)
	values, vectors, theta, st, err := l.solve(ctx, op, k, b)
	if err != nil || !needsBiggerBlock(theta, k, b) {
		return values, vectors, st, err
	}
	values, vectors, _, st2, err := l.solve(ctx, op, k, k)
	st2.Iterations += st.Iterations
	st2.Applies += st.Applies
	return values, vectors, st2, err
}

// needsBiggerBlock reports whether the Ritz values theta (descending) of a
// solve with block size b hold a cluster of at least b numerically equal
// values that starts in the top k and does not fill it: a block of b
// vectors cannot see more than b copies, so more might be missing.
func needsBiggerBlock(theta []float64, k, b int) bool {
	if b >= k || len(theta) == 0 {
		return false
	}
	scale := math.Max(math.Abs(theta[0]), math.Abs(theta[len(theta)-1]))
	for s := 0; s < k; {
		j := s + 1
		for j < len(theta) && theta[j-1]-theta[j] <= clusterTol*scale {
			j++
		}
		if c := j - s; c >= b && c < k-s {
			return true
		}
		s = j
	}
	return false
}

// solve runs block Lanczos with block size b. It returns the top k pairs,
// all Ritz values of the final basis and statistics.
func (l Lanczos) solve(ctx context.Context, op Operator, k, b int) (values []float64, vectors *mat.Dense, theta []float64, st Stats, err error) {
	n := op.Size()
	b, mb, maxApplies, tol := l.params(n, k, b)
	s := newLanczosState(op, n, b, mb, l.Seed)

	keep := max(k, min(mb-2*b, k+(mb-k-2*b)/2))
	if err := s.newPending(0, min(b, n)); err != nil {
		return nil, nil, nil, st, err
	}
	var (
		sinceRR     float64 // modelled work since the last Rayleigh–Ritz step
		verifyFails int
		// Convergence tracking: the worst residual over tolerance at the
		// last Rayleigh–Ritz step, its iteration, and the iteration at
		// which convergence is predicted (0: none).
		lastRatio float64
		lastIt    int
		nextRR    int
	)
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, nil, st, fmt.Errorf("lanczos stopped after %d products: %w", st.Applies, err)
		}
		pb := s.pb
		s.applyPending()
		st.Iterations++
		st.Applies += pb
		cols := s.cols
		npb := min(b, n-cols)
		if npb > 0 {
			if err := s.newPending(pb, npb); err != nil {
				return nil, nil, nil, st, err
			}
		}
		restart := npb > 0 && cols+npb > mb
		exhausted := st.Applies >= maxApplies
		// Work model, in units of one matrix entry touched: a product costs
		// n² per vector, orthogonalisation 4·n·cols per vector; the
		// Rayleigh–Ritz step about 5·cols³ and the residuals 2·n·cols·k.
		// Without a prediction, Rayleigh–Ritz is done when the work since
		// the last one has caught up with its cost.
		fn, fc := float64(n), float64(cols)
		sinceRR += fn*fn*float64(pb) + 4*fn*fc*float64(pb)
		due := npb == 0 || restart || exhausted
		if nextRR > 0 {
			due = due || st.Iterations >= nextRR
		} else {
			due = due || sinceRR >= 5*fc*fc*fc+2*fn*fc*float64(k)
		}
		if cols < k || !due {
			continue
		}
		sinceRR = 0
		p := k
		if restart {
			p = min(keep, cols)
		}
		theta, yt, scale := s.rayleighRitz(p)
		ytk := yt.Slice(0, k, 0, cols).(*mat.Dense)
		worst := maxResidual(s.residuals(theta[:k], ytk))
		if worst > tol*scale && (npb == 0 || exhausted) {
			// Inverse iteration can lose orthogonality between a large
			// cluster of tiny Ritz values (a rank-deficient operator) and
			// the rest; before giving up, redo the last step densely.
			theta, yt, scale = s.rayleighRitzDense(p)
			ytk = yt.Slice(0, k, 0, cols).(*mat.Dense)
			worst = maxResidual(s.residuals(theta[:k], ytk))
		}
		converged := worst <= tol*scale
		if converged || npb == 0 || exhausted {
			values, vectors, maxRes := s.finish(theta[:k], ytk, scale)
			st.Applies += k
			st.MaxResidual = maxRes
			if maxRes <= tol || (scale == 0 && maxRes == 0) {
				return values, vectors, theta, st, nil
			}
			verifyFails++
			if npb == 0 || exhausted || verifyFails >= 3 {
				return values, vectors, theta, st, fmt.Errorf("%w: lanczos residual %.3g·λ₁ > tol %.3g after %d products (n = %d, k = %d)",
					ErrNotConverged, maxRes, tol, st.Applies, n, k)
			}
		}
		// Predict the iteration of convergence from the rate at which the
		// worst residual fell since the last check (geometric model; Lanczos
		// converges at least that fast once the rate settles).
		nextRR = 0
		if ratio := worst / (tol * scale); scale > 0 && ratio > 1 {
			if lastRatio > ratio && st.Iterations > lastIt {
				rate := math.Log(lastRatio/ratio) / float64(st.Iterations-lastIt)
				// Convergence often speeds up: aim at half the predicted
				// distance, and let the gap between checks at most double.
				steps := math.Ceil(0.5 * math.Log(ratio) / rate)
				steps = min(steps, float64(2*(st.Iterations-lastIt)+1))
				nextRR = st.Iterations + int(max(steps, 1))
			}
			lastRatio, lastIt = ratio, st.Iterations
		}
		if restart {
			st.Applies += s.restart(yt)
		}
	}
}

// lanczosState holds the basis as rows: vectors are the rows of row-major
// matrices, which suits gonum's Dgemm for thin blocks.
type lanczosState struct {
	op   Operator
	ra   rowApplier
	n    int
	b    int
	mb   int
	q    []float64 // (mb+b)×n: applied basis rows [0, cols), pending [cols, cols+pb)
	aq   []float64 // mb×n: A applied to the basis rows [0, cols)
	h    []float64 // mb×mb: H = Qᵀ·A·Q on [0, cols)
	w    []float64 // b×n: the new block being orthogonalised
	wn   []float64 // norms of the rows of w: before and after each pass
	c    []float64 // (mb+b)×b coefficients
	cols int
	pb   int
	rng  *rand.Rand
	// restarts counts restarts, for the periodic refresh.
	restarts int
}

func newLanczosState(op Operator, n, b, mb int, seed uint64) *lanczosState {
	s := &lanczosState{
		op:  op,
		n:   n,
		b:   b,
		mb:  mb,
		q:   make([]float64, (mb+b)*n),
		aq:  make([]float64, mb*n),
		h:   make([]float64, mb*mb),
		w:   make([]float64, b*n),
		wn:  make([]float64, 3*b),
		c:   make([]float64, (mb+b)*b),
		rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
	}
	s.ra, _ = op.(rowApplier)
	return s
}

func rowsOf(data []float64, n, r0, r1 int) blas64.General {
	return blas64.General{Rows: r1 - r0, Cols: n, Stride: n, Data: data[r0*n : r1*n]}
}

// apply sets the rows of dst to the operator applied to the rows of x.
func (s *lanczosState) apply(dst, x blas64.General) {
	if s.ra != nil {
		s.ra.applyRows(dst, x)
		return
	}
	n, b := s.n, x.Rows
	xc := mat.NewDense(n, b, nil)
	xc.Copy(mat.NewDense(b, n, x.Data[:b*n]).T())
	y := mat.NewDense(n, b, nil)
	s.op.ApplyTo(y, xc)
	mat.NewDense(b, n, dst.Data[:b*n]).Copy(y.T())
}

// applyPending applies the operator to the pending block, extends H and
// leaves in w the images orthogonalised twice against the basis, the
// pending block included, which then joins the applied basis.
func (s *lanczosState) applyPending() {
	n, cols, pb := s.n, s.cols, s.pb
	ap := rowsOf(s.aq, n, cols, cols+pb)
	s.apply(ap, rowsOf(s.q, n, cols, cols+pb))
	all := rowsOf(s.q, n, 0, cols+pb)
	w := rowsOf(s.w, n, 0, pb)
	copy(w.Data, ap.Data)
	for i := 0; i < pb; i++ {
		s.wn[i] = norm(w.Data[i*n : (i+1)*n])
	}
	// ct[j][i] = q_i·w_j: the new columns of H on the first pass.
	ct := blas64.General{Rows: pb, Cols: cols + pb, Stride: cols + pb, Data: s.c[:(cols+pb)*pb]}
	for pass := 0; pass < 2; pass++ {
		mulVecs(false, 1, all, w, 0, ct)
		if pass == 0 {
			mb, r := s.mb, cols+pb
			for j := 0; j < pb; j++ {
				for i := 0; i < cols; i++ {
					s.h[i*mb+cols+j] = ct.Data[j*r+i]
					s.h[(cols+j)*mb+i] = ct.Data[j*r+i]
				}
				for i := 0; i < pb; i++ {
					s.h[(cols+i)*mb+cols+j] = (ct.Data[j*r+cols+i] + ct.Data[i*r+cols+j]) / 2
				}
			}
		}
		mulVecs(true, -1, all, ct, 1, w)
		for i := 0; i < pb; i++ {
			s.wn[(pass+1)*s.b+i] = norm(w.Data[i*n : (i+1)*n])
		}
	}
	s.cols += pb
	s.pb = 0
}

// newPending orthonormalises the first nw rows of w (the block just
// produced by applyPending; nw = 0 at the start) against the basis and
// stores np of them as the pending block, replacing directions that vanish
// by random vectors.
func (s *lanczosState) newPending(nw, np int) error {
	n, cols := s.n, s.cols
	tmp := make([]float64, cols+np)
	accepted := 0
	fails := 0
	for i := 0; accepted < np; i++ {
		dst := s.q[(cols+accepted)*n : (cols+accepted+1)*n]
		from := cols
		var prev float64
		if i < nw {
			copy(dst, s.w[i*n:(i+1)*n])
			n1, n2 := s.wn[s.b+i], s.wn[2*s.b+i]
			prev = n2
			if n2 < 0.5*n1 {
				from = 0
			}
		} else {
			for j := range dst {
				dst[j] = s.rng.NormFloat64()
			}
			prev = norm(dst)
			from = 0
		}
		if s.orthonormalize(dst, from, cols+accepted, prev, tmp) {
			accepted++
			continue
		}
		if i >= nw {
			fails++
			if fails > 20 {
				return fmt.Errorf("%w: lanczos cannot extend a basis of %d vectors in R^%d", ErrNotConverged, cols+accepted, n)
			}
		}
	}
	s.pb = np
	return nil
}

// orthonormalize makes x orthogonal to the basis rows [0, r) and
// normalises it. The caller guarantees that x is already orthogonal to the
// rows [0, from); prev is the norm of x before that earlier projection.
// Classical Gram–Schmidt passes are repeated, against all rows after the
// first, until a pass no longer halves the norm ("twice is enough"). It
// reports false if x vanishes numerically.
func (s *lanczosState) orthonormalize(x []float64, from, r int, prev float64, tmp []float64) bool {
	n := s.n
	for range 6 {
		if from < r {
			rows := rowsOf(s.q, n, from, r)
			mulVecs(false, 1, rows, vecRow(x), 0, vecRow(tmp[:r-from]))
			mulVecs(true, -1, rows, vecRow(tmp[:r-from]), 1, vecRow(x))
		}
		nrm := norm(x)
		if !(nrm > 1e-300) {
			return false
		}
		if nrm >= 0.5*prev {
			for j := range x {
				x[j] /= nrm
			}
			return true
		}
		prev = nrm
		from = 0
	}
	return false
}

// rayleighRitz returns the Ritz values of the current basis in descending
// order, the transposed Ritz coefficient vectors of the top p as the rows
// of a p×cols matrix, and the largest Ritz value magnitude (the scale of
// the tolerance).
func (s *lanczosState) rayleighRitz(p int) ([]float64, *mat.Dense, float64) {
	cols, mb := s.cols, s.mb
	h := make([]float64, cols*cols)
	for i := 0; i < cols; i++ {
		copy(h[i*cols:(i+1)*cols], s.h[i*mb:i*mb+cols])
	}
	// The tridiagonal path needs only O(cols²·p) beyond the reduction, a
	// few times cheaper than mat.EigenSym with all vectors.
	theta, _, z, err := topKFull(h, cols, p)
	if err != nil {
		return s.rayleighRitzDense(p)
	}
	yt := mat.NewDense(p, cols, nil)
	yt.Copy(z.T())
	return theta, yt, math.Max(math.Abs(theta[0]), math.Abs(theta[cols-1]))
}

// rayleighRitzDense is rayleighRitz with mat.EigenSym.
func (s *lanczosState) rayleighRitzDense(p int) ([]float64, *mat.Dense, float64) {
	cols, mb := s.cols, s.mb
	hs := mat.NewSymDense(cols, nil)
	raw := hs.RawSymmetric()
	for i := 0; i < cols; i++ {
		copy(raw.Data[i*raw.Stride+i:i*raw.Stride+cols], s.h[i*mb+i:i*mb+cols])
	}
	var es mat.EigenSym
	if !es.Factorize(hs, true) {
		// Does not happen in practice; fall back to the diagonal so that
		// the caller reports no convergence instead of panicking.
		theta := make([]float64, cols)
		yt := mat.NewDense(p, cols, nil)
		for i := range theta {
			theta[i] = s.h[i*mb+i]
		}
		for i := 0; i < p; i++ {
			yt.Set(i, i, 1)
		}
		return theta, yt, maxAbs(theta)
	}
	vals := es.Values(nil)
	var y mat.Dense
	es.VectorsTo(&y)
	theta := make([]float64, cols)
	for i := range theta {
		theta[i] = vals[cols-1-i]
	}
	yt := mat.NewDense(p, cols, nil)
	for i := 0; i < p; i++ {
		for j := 0; j < cols; j++ {
			yt.Set(i, j, y.At(j, cols-1-i))
		}
	}
	return theta, yt, math.Max(math.Abs(vals[0]), math.Abs(vals[cols-1]))
}

// ritzRows returns U = Yᵀ·Q and A·U = Yᵀ·(A·Q) as rows.
func (s *lanczosState) ritzRows(yt *mat.Dense) (u, au blas64.General) {
	k, _ := yt.Dims()
	n, cols := s.n, s.cols
	u = blas64.General{Rows: k, Cols: n, Stride: n, Data: make([]float64, k*n)}
	au = blas64.General{Rows: k, Cols: n, Stride: n, Data: make([]float64, k*n)}
	mulVecs(true, 1, rowsOf(s.q, n, 0, cols), yt.RawMatrix(), 0, u)
	mulVecs(true, 1, rowsOf(s.aq, n, 0, cols), yt.RawMatrix(), 0, au)
	return u, au
}

// residuals returns ‖A·u_i − θ_i·u_i‖ for the Ritz pairs given by theta
// and the rows of yt, using the stored products A·Q.
func (s *lanczosState) residuals(theta []float64, yt *mat.Dense) []float64 {
	u, au := s.ritzRows(yt)
	n := s.n
	res := make([]float64, len(theta))
	for i, t := range theta {
		ui := u.Data[i*n : (i+1)*n]
		ai := au.Data[i*n : (i+1)*n]
		var ss float64
		for j := range ui {
			r := ai[j] - t*ui[j]
			ss += r * r
		}
		res[i] = math.Sqrt(ss)
	}
	return res
}

// finish forms the Ritz vectors, normalises them and their signs, and
// measures their residuals with a fresh application of the operator. It
// returns the values, the vectors as columns and the largest residual
// relative to scale.
func (s *lanczosState) finish(theta []float64, yt *mat.Dense, scale float64) ([]float64, *mat.Dense, float64) {
	k := len(theta)
	n := s.n
	u, _ := s.ritzRows(yt)
	vectors := mat.NewDense(n, k, nil)
	vectors.Copy(mat.NewDense(k, n, u.Data).T())
	for j := 0; j < k; j++ {
		if nrm := mat.Norm(vectors.ColView(j), 2); nrm > 0 {
			for i := 0; i < n; i++ {
				vectors.Set(i, j, vectors.At(i, j)/nrm)
			}
		}
	}
	normalizeSigns(vectors)
	av := mat.NewDense(n, k, nil)
	s.op.ApplyTo(av, vectors)
	var worst float64
	for j := 0; j < k; j++ {
		var ss float64
		for i := 0; i < n; i++ {
			r := av.At(i, j) - theta[j]*vectors.At(i, j)
			ss += r * r
		}
		worst = max(worst, math.Sqrt(ss))
	}
	if scale > 0 {
		worst /= scale
	}
	return append([]float64(nil), theta...), vectors, worst
}

// refreshEvery is the number of restarts after which the kept Ritz vectors
// are reorthonormalised and multiplied by the operator afresh: each restart
// forms U = Yᵀ·Q and A·U = Yᵀ·(A·Q) from stored products, so rounding
// errors of order ε·‖A‖ accumulate in them.
const refreshEvery = 32

// restart replaces the applied basis by the Ritz vectors given by the rows
// of yt, keeping the pending block. It returns the number of
// operator–vector products it used.
func (s *lanczosState) restart(yt *mat.Dense) int {
	p, _ := yt.Dims()
	n, mb, pb := s.n, s.mb, s.pb
	u, au := s.ritzRows(yt)
	copy(s.q[p*n:(p+pb)*n], s.q[s.cols*n:(s.cols+pb)*n])
	copy(s.q[:p*n], u.Data)
	copy(s.aq[:p*n], au.Data)
	s.cols = p
	applies := 0
	s.restarts++
	if s.restarts%refreshEvery == 0 {
		tmp := make([]float64, p+pb)
		for i := 0; i < p+pb; i++ {
			row := s.q[i*n : (i+1)*n]
			if !s.orthonormalize(row, 0, i, norm(row), tmp) {
				// Cannot happen for rows orthonormal to working precision;
				// keep the row rather than corrupt the basis.
				continue
			}
		}
		u = rowsOf(s.q, n, 0, p)
		au = rowsOf(s.aq, n, 0, p)
		s.apply(au, u)
		applies = p
	}
	hp := blas64.General{Rows: p, Cols: p, Stride: p, Data: make([]float64, p*p)}
	mulVecs(false, 1, au, u, 0, hp)
	for i := 0; i < p; i++ {
		for j := 0; j < p; j++ {
			s.h[i*mb+j] = (hp.Data[i*p+j] + hp.Data[j*p+i]) / 2
		}
	}
	return applies
}

func maxResidual(res []float64) float64 {
	var worst float64
	for _, r := range res {
		worst = max(worst, r)
	}
	return worst
}

func norm(x []float64) float64 {
	return goBLAS.Dnrm2(len(x), x, 1)
}
