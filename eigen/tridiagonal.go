package eigen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/lapack/gonum"
	"gonum.org/v1/gonum/mat"
)

// Tridiagonal reduces the matrix to tridiagonal form T = Qᵀ·A·Q
// (Householder reflectors: Dsytrd's blocked algorithm with parallel
// kernels, see sytrdFull), computes the eigenvalues of T (Dsterf on each
// unreduced block), finds the eigenvectors of the top k by inverse
// iteration on T (like LAPACK's Dstein), and maps them back with the
// reflectors of Q (the Dormtr product, done by Dormqr). Eigenvectors of
// close eigenvalues (gap below 1e-3·‖T‖₁ within a block) are
// reorthogonalised against each other, so repeated eigenvalues get
// orthonormal vectors with the right multiplicity. Pure Go; the reduction
// (4/3·n³ flops) dominates. Memory: about n² float64s plus n·k.
type Tridiagonal struct{}

// Name returns "tridiagonal".
func (Tridiagonal) Name() string { return "tridiagonal" }

var lapackImpl gonum.Implementation

// tridiag holds a Householder tridiagonalisation T = Qᵀ·A·Q.
type tridiag struct {
	n    int
	a    []float64 // n×n row-major, reflectors below the subdiagonal
	tau  []float64 // n-1 reflector scales
	d, e []float64 // diagonal and subdiagonal of T
}

func tridiagonalize(a mat.Symmetric) *tridiag {
	n := a.SymmetricDim()
	t := &tridiag{
		n:   n,
		a:   fullCopy(a),
		d:   make([]float64, n),
		e:   make([]float64, max(n-1, 0)),
		tau: make([]float64, max(n-1, 0)),
	}
	t.reduce()
	return t
}

// reduce tridiagonalises t.a (both triangles) in place, with the output
// conventions of Dsytrd(blas.Lower).
func (t *tridiag) reduce() {
	sytrdFull(t.n, t.a, t.d, t.e, t.tau)
}

// valuesPure returns all eigenvalues of a in descending order.
func valuesPure(a mat.Symmetric) ([]float64, error) {
	t := tridiagonalize(a)
	if !lapackImpl.Dsterf(t.n, t.d, t.e) {
		return nil, fmt.Errorf("%w: Dsterf failed (n = %d)", ErrNotConverged, t.n)
	}
	slices.Reverse(t.d)
	return t.d, nil
}

// TopK implements Solver.
func (Tridiagonal) TopK(a mat.Symmetric, k int) ([]float64, *mat.Dense, error) {
	n := a.SymmetricDim()
	checkK(n, k)
	_, values, z, err := topKFull(fullCopy(a), n, k)
	if err != nil {
		return nil, nil, err
	}
	normalizeSigns(z)
	return values, z, nil
}

// topKFull computes the top k eigenpairs of the symmetric n×n matrix held
// (both triangles, or at least the lower one) in the row-major array a,
// which it overwrites. It returns all eigenvalues in descending order, the
// top k, and their eigenvectors as the columns of an n×k matrix.
func topKFull(a []float64, n, k int) (all, values []float64, z *mat.Dense, err error) {
	t := &tridiag{
		n:   n,
		a:   a,
		d:   make([]float64, n),
		e:   make([]float64, max(n-1, 0)),
		tau: make([]float64, max(n-1, 0)),
	}
	t.reduce()

	// Split T into unreduced blocks where an off-diagonal entry is
	// negligible relative to its neighbours (the Dsteqr criterion).
	const eps = 0x1p-52
	e := append([]float64(nil), t.e...)
	starts := []int{0}
	for i := range e {
		if math.Abs(e[i]) <= eps*math.Sqrt(math.Abs(t.d[i]))*math.Sqrt(math.Abs(t.d[i+1])) {
			e[i] = 0
		}
		if e[i] == 0 {
			starts = append(starts, i+1)
		}
	}
	starts = append(starts, n)

	type ev struct {
		v          float64
		blk, index int
	}
	evs := make([]ev, 0, n)
	for b := 0; b+1 < len(starts); b++ {
		s, f := starts[b], starts[b+1]
		dd := append([]float64(nil), t.d[s:f]...)
		ee := append([]float64(nil), e[s:max(f-1, s)]...)
		if !lapackImpl.Dsterf(f-s, dd, ee) {
			return nil, nil, nil, fmt.Errorf("%w: Dsterf failed (n = %d)", ErrNotConverged, n)
		}
		for i, v := range dd {
			evs = append(evs, ev{v: v, blk: b, index: i})
		}
	}
	// Descending by value; ties keep block order so that the result is
	// deterministic.
	slices.SortStableFunc(evs, func(x, y ev) int {
		switch {
		case x.v > y.v:
			return -1
		case x.v < y.v:
			return 1
		}
		return 0
	})
	all = make([]float64, n)
	for i := range evs {
		all[i] = evs[i].v
	}
	top := evs[:k]

	values = make([]float64, k)
	z = mat.NewDense(n, k, nil)
	zr := z.RawMatrix()
	rng := rand.New(rand.NewPCG(1, 0x5eed))
	for b := 0; b+1 < len(starts); b++ {
		// The selected eigenvalues of this block, ascending, with their
		// column in the output.
		var w []float64
		var col []int
		for j := k - 1; j >= 0; j-- {
			if top[j].blk == b {
				w = append(w, top[j].v)
				col = append(col, j)
			}
		}
		if len(w) == 0 {
			continue
		}
		s, f := starts[b], starts[b+1]
		vecs, ok := stein(t.d[s:f], e[s:max(f-1, s)], w, rng)
		if !ok {
			return nil, nil, nil, fmt.Errorf("%w: inverse iteration failed (n = %d)", ErrNotConverged, n)
		}
		for i, j := range col {
			values[j] = w[i]
			for r, v := range vecs[i] {
				zr.Data[(s+r)*zr.Stride+j] = v
			}
		}
	}
	if n > 1 {
		// Z ← Q·Z with Q = diag(1, H_0·…·H_{n-2}) acting on rows 1:n.
		work := []float64{0}
		lapackImpl.Dormqr(blas.Left, blas.NoTrans, n-1, k, n-1, t.a[n:], n, t.tau, zr.Data[zr.Stride:], zr.Stride, work, -1)
		work = make([]float64, int(work[0]))
		lapackImpl.Dormqr(blas.Left, blas.NoTrans, n-1, k, n-1, t.a[n:], n, t.tau, zr.Data[zr.Stride:], zr.Stride, work, len(work))
	}
	return all, values, z, nil
}

// stein computes by inverse iteration the eigenvectors of the unreduced
// symmetric tridiagonal matrix with diagonal d and off-diagonal e that
// belong to the eigenvalues w (ascending), like LAPACK's Dstein: vectors of
// eigenvalues closer than 1e-3·‖T‖₁ are orthogonalised against each other.
// It returns the vectors (unit 2-norm) and whether all iterations converged.
func stein(d, e, w []float64, rng *rand.Rand) ([][]float64, bool) {
	const (
		eps    = 0x1p-52
		maxIts = 5
		extra  = 2
	)
	bs := len(d)
	z := make([][]float64, len(w))
	if bs == 1 {
		for j := range z {
			z[j] = []float64{1}
		}
		return z, true
	}
	var onenrm float64
	for i := range d {
		s := math.Abs(d[i])
		if i > 0 {
			s += math.Abs(e[i-1])
		}
		if i < bs-1 {
			s += math.Abs(e[i])
		}
		onenrm = max(onenrm, s)
	}
	if onenrm == 0 {
		onenrm = math.SmallestNonzeroFloat64
	}
	ortol := 1e-3 * onenrm
	dtpcrt := math.Sqrt(0.1 / float64(bs))

	var lu tridiagLU
	ok := true
	gpind := 0
	var xjm float64
	for j := range w {
		xj := w[j]
		if j > 0 {
			if pertol := 10 * math.Abs(eps*xj); xj-xjm < pertol {
				xj = xjm + pertol
			}
			if math.Abs(xj-xjm) > ortol {
				gpind = j
			}
		}
		x := make([]float64, bs)
		for i := range x {
			x[i] = 2*rng.Float64() - 1
		}
		lu.factor(d, e, xj)
		nrmchk := 0
		for its := 1; ; its++ {
			if its > maxIts {
				ok = false
				break
			}
			scl := float64(bs) * onenrm * max(eps, math.Abs(lu.u0[bs-1])) / maxAbs(x)
			for i := range x {
				x[i] *= scl
			}
			lu.solve(x)
			// Twice-is-enough modified Gram–Schmidt against the cluster.
			for range 2 {
				for i := gpind; i < j; i++ {
					axpy(-dot(x, z[i]), z[i], x)
				}
			}
			if maxAbs(x) < dtpcrt {
				continue
			}
			nrmchk++
			if nrmchk < extra+1 {
				continue
			}
			break
		}
		nrm := math.Sqrt(dot(x, x))
		for i := range x {
			x[i] /= nrm
		}
		z[j] = x
		xjm = xj
	}
	return z, ok
}

// tridiagLU is the LU factorisation with partial pivoting of T − λ·I for a
// symmetric tridiagonal T: P·(T − λI) = L·U, U with two superdiagonals.
type tridiagLU struct {
	u0, u1, u2, l []float64
	piv           []bool
	tol           float64
}

func (f *tridiagLU) factor(d, e []float64, lambda float64) {
	m := len(d)
	f.u0 = resize(f.u0, m)
	f.u1 = resize(f.u1, m)
	f.u2 = resize(f.u2, m)
	f.l = resize(f.l, m)
	if cap(f.piv) < m {
		f.piv = make([]bool, m)
	}
	f.piv = f.piv[:m]
	for i := range m {
		f.u0[i] = d[i] - lambda
		f.u1[i], f.u2[i], f.l[i], f.piv[i] = 0, 0, 0, false
		if i < m-1 {
			f.u1[i] = e[i]
		}
	}
	for i := 0; i < m-1; i++ {
		sub := e[i]
		if math.Abs(f.u0[i]) >= math.Abs(sub) {
			if f.u0[i] != 0 {
				f.l[i] = sub / f.u0[i]
				f.u0[i+1] -= f.l[i] * f.u1[i]
			}
			continue
		}
		// Interchange rows i and i+1.
		fact := f.u0[i] / sub
		f.u0[i] = sub
		f.l[i] = fact
		tmp := f.u0[i+1]
		f.u0[i+1] = f.u1[i] - fact*tmp
		f.u1[i] = tmp
		if i < m-2 {
			f.u2[i] = f.u1[i+1]
			f.u1[i+1] = -fact * f.u2[i]
		}
		f.piv[i] = true
	}
	var big float64
	for i := range m {
		big = max(big, math.Abs(f.u0[i]), math.Abs(f.u1[i]), math.Abs(f.u2[i]))
	}
	f.tol = 0x1p-52 * big
	if f.tol == 0 {
		f.tol = 0x1p-52
	}
}

// solve overwrites x with (T − λI)⁻¹·x, perturbing pivots smaller than tol
// (as LAPACK's Dlagts with job = −1) so that a singular shift still gives a
// large, finite solution.
func (f *tridiagLU) solve(x []float64) {
	m := len(x)
	for i := 0; i < m-1; i++ {
		if f.piv[i] {
			x[i], x[i+1] = x[i+1], x[i]-f.l[i]*x[i+1]
		} else {
			x[i+1] -= f.l[i] * x[i]
		}
	}
	for i := m - 1; i >= 0; i-- {
		s := x[i]
		if i+1 < m {
			s -= f.u1[i] * x[i+1]
		}
		if i+2 < m {
			s -= f.u2[i] * x[i+2]
		}
		p := f.u0[i]
		if math.Abs(p) < f.tol {
			p = math.Copysign(f.tol, p)
		}
		x[i] = s / p
	}
}

func resize(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

func maxAbs(x []float64) float64 {
	var m float64
	for _, v := range x {
		m = max(m, math.Abs(v))
	}
	return m
}

func dot(x, y []float64) float64 {
	var s float64
	for i, v := range x {
		s += v * y[i]
	}
	return s
}

func axpy(alpha float64, x, y []float64) {
	for i, v := range x {
		y[i] += alpha * v
	}
}
