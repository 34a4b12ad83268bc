package eigen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// problem is a symmetric matrix with a known spectrum: A = Q·diag(λ)·Qᵀ.
type problem struct {
	name   string
	a      *mat.SymDense
	lambda []float64  // descending
	q      *mat.Dense // eigenvectors as columns, in the order of lambda
	ks     []int      // the k to test
	// maxMult is the largest multiplicity of an eigenvalue among the top k
	// (for solvers that resolve multiplicities only up to a block size).
	maxMult int
}

// randOrthogonal returns a random n×n orthogonal matrix from the QR
// factorisation of a Gaussian matrix.
func randOrthogonal(n int, rng *rand.Rand) *mat.Dense {
	g := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			g.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q mat.Dense
	qr.QTo(&q)
	return &q
}

// withSpectrum builds Q·diag(λ)·Qᵀ for λ sorted descending.
func withSpectrum(name string, lambda []float64, rng *rand.Rand, ks ...int) problem {
	n := len(lambda)
	lambda = append([]float64(nil), lambda...)
	slices.SortFunc(lambda, func(x, y float64) int { return -cmpFloat(x, y) })
	q := randOrthogonal(n, rng)
	return fromEigen(name, lambda, q, ks...)
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func fromEigen(name string, lambda []float64, q *mat.Dense, ks ...int) problem {
	n := len(lambda)
	qd := mat.DenseCopyOf(q)
	for j, l := range lambda {
		for i := 0; i < n; i++ {
			qd.Set(i, j, l*qd.At(i, j))
		}
	}
	var full mat.Dense
	full.Mul(qd, q.T())
	a := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			a.SetSym(i, j, (full.At(i, j)+full.At(j, i))/2)
		}
	}
	p := problem{name: name, a: a, lambda: lambda, q: q, ks: ks}
	for _, k := range ks {
		for i := 0; i < k; i++ {
			m := 0
			for _, l := range lambda {
				if l == lambda[i] {
					m++
				}
			}
			p.maxMult = max(p.maxMult, min(m, k))
		}
	}
	return p
}

func problems() []problem {
	rng := rand.New(rand.NewPCG(42, 7))
	var ps []problem

	decay := make([]float64, 80)
	for i := range decay {
		decay[i] = 10 * math.Pow(0.7, float64(i))
	}
	ps = append(ps, withSpectrum("decay/n=80", decay, rng, 1, 5, 10, 80))

	// GGN-like: fast decay to many exact zeros.
	ggn := make([]float64, 150)
	for i := 0; i < 60; i++ {
		ggn[i] = math.Pow(0.8, float64(i))
	}
	ps = append(ps, withSpectrum("ggn/n=150,rank=60", ggn, rng, 10, 70))

	flat := make([]float64, 200)
	for i := range flat {
		flat[i] = 1 - float64(i)/float64(len(flat))
	}
	ps = append(ps, withSpectrum("flat/n=200", flat, rng, 1, 10, 200))

	low := make([]float64, 40)
	copy(low, []float64{5, 4, 3, 2, 1})
	ps = append(ps, withSpectrum("lowrank/n=40,rank=5", low, rng, 3, 8, 40))

	rep := make([]float64, 60)
	for i := range rep {
		rep[i] = math.Pow(0.5, float64(i/3)) // each value three times
	}
	ps = append(ps, withSpectrum("repeated3/n=60", rep, rng, 3, 6, 9))

	// MSE-like Kronecker structure I_3 ⊗ K: every eigenvalue of K three
	// times, eigenvectors e_c ⊗ v.
	{
		m := 30
		kl := make([]float64, m)
		for i := range kl {
			kl[i] = 4 * math.Pow(0.75, float64(i))
		}
		qk := randOrthogonal(m, rng)
		n := 3 * m
		q := mat.NewDense(n, n, nil)
		lambda := make([]float64, n)
		for i := 0; i < m; i++ {
			for c := 0; c < 3; c++ {
				col := 3*i + c
				lambda[col] = kl[i]
				for r := 0; r < m; r++ {
					q.Set(c*m+r, col, qk.At(r, i))
				}
			}
		}
		ps = append(ps, fromEigen("kron3/n=90", lambda, q, 3, 6, 10))
	}

	// Close but distinct eigenvalues at the top.
	cl := make([]float64, 50)
	for i := range cl {
		cl[i] = math.Pow(0.6, float64(i))
	}
	cl[1] = 1 - 1e-9
	ps = append(ps, withSpectrum("cluster/n=50", cl, rng, 2, 5))

	// A 5-fold top eigenvalue in a large spectrum of distinct values: the
	// Krylov space is far from exhausted when the top pairs converge.
	r5 := make([]float64, 400)
	for i := range r5 {
		r5[i] = math.Pow(0.97, float64(max(i-4, 0)))
	}
	ps = append(ps, withSpectrum("repeated5/n=400", r5, rng, 4, 8))

	ps = append(ps, withSpectrum("n=1", []float64{2.5}, rng, 1))
	ps = append(ps, withSpectrum("n=2", []float64{3, 1}, rng, 1, 2))
	ps = append(ps, withSpectrum("n=2,repeated", []float64{2, 2}, rng, 1, 2))
	ps = append(ps, withSpectrum("n=3", []float64{1, 0.5, 0}, rng, 1, 2, 3))
	ps = append(ps, withSpectrum("n=3,rank=1", []float64{7, 0, 0}, rng, 1, 3))
	ps = append(ps, withSpectrum("k=n/n=12", []float64{9, 8, 8, 5, 4, 3, 3, 3, 2, 1, 0.5, 0}, rng, 12))
	ps = append(ps, withSpectrum("zero/n=6", make([]float64, 6), rng, 1, 2, 6))
	return ps
}

// solvers is the list every conformance test runs against.
func solvers() []Solver {
	s := []Solver{
		Dense{},
		Tridiagonal{},
		Lanczos{},
		Lanczos{MaxBasis: 1},                // restarts as often as possible
		Lanczos{MaxBasis: 24, BlockSize: 4}, // restarts
		Lanczos{BlockSize: 32},              // block size k
	}
	return append(s, backendSolvers()...)
}

func solverName(s Solver) string {
	if l, ok := s.(Lanczos); ok {
		return fmt.Sprintf("%s(b=%d,m=%d)", l.Name(), l.BlockSize, l.MaxBasis)
	}
	return s.Name()
}

func TestSolvers(t *testing.T) {
	ps := problems()
	for _, s := range solvers() {
		t.Run(solverName(s), func(t *testing.T) {
			testSolver(t, s, ps)
		})
	}
}

// testSolver is the conformance suite of Solver implementations.
func testSolver(t *testing.T, s Solver, ps []problem) {
	for _, p := range ps {
		for _, k := range p.ks {
			t.Run(fmt.Sprintf("%s/k=%d", p.name, k), func(t *testing.T) {
				values, vectors, err := s.TopK(p.a, k)
				if err != nil {
					t.Fatalf("TopK: %v", err)
				}
				checkPairs(t, p, k, values, vectors, 1e-12)
				// Deterministic: a second call gives identical results.
				v2, u2, err := s.TopK(p.a, k)
				if err != nil {
					t.Fatalf("second TopK: %v", err)
				}
				if !slices.Equal(values, v2) || !mat.Equal(vectors, u2) {
					t.Errorf("results differ between calls")
				}
			})
		}
	}
}

// multiplicityInTop returns the largest number of copies of one eigenvalue
// that the top k hold.
func multiplicityInTop(lambda []float64, k int) int {
	m := 0
	for i := 0; i < k; {
		j := i
		for j < k && lambda[j] == lambda[i] {
			j++
		}
		m = max(m, j-i)
		i = j
	}
	return m
}

// checkPairs checks values, residuals, orthonormality, signs and
// eigenspaces against the known decomposition of p.
func checkPairs(t *testing.T, p problem, k int, values []float64, vectors *mat.Dense, tol float64) {
	t.Helper()
	n := len(p.lambda)
	if len(values) != k {
		t.Fatalf("got %d values, want %d", len(values), k)
	}
	if r, c := vectors.Dims(); r != n || c != k {
		t.Fatalf("vectors are %d×%d, want %d×%d", r, c, n, k)
	}
	scale := p.lambda[0]
	if scale == 0 {
		scale = 1
	}
	for i := 0; i < k; i++ {
		if d := math.Abs(values[i] - p.lambda[i]); !(d <= tol*scale) {
			t.Errorf("λ_%d = %.17g, want %.17g (error %.2g·λ₁)", i, values[i], p.lambda[i], d/scale)
		}
		if i > 0 && values[i] > values[i-1] {
			t.Errorf("values not descending at %d: %g > %g", i, values[i], values[i-1])
		}
	}
	// Residuals.
	var av mat.Dense
	av.Mul(p.a, vectors)
	for j := 0; j < k; j++ {
		var ss float64
		for i := 0; i < n; i++ {
			r := av.At(i, j) - values[j]*vectors.At(i, j)
			ss += r * r
		}
		if r := math.Sqrt(ss); !(r <= tol*scale) {
			t.Errorf("residual of pair %d = %.2g·λ₁", j, r/scale)
		}
	}
	// Orthonormality.
	var g mat.Dense
	g.Mul(vectors.T(), vectors)
	for i := 0; i < k; i++ {
		g.Set(i, i, g.At(i, i)-1)
	}
	if e := mat.Norm(&g, math.Inf(1)); !(e <= tol) {
		t.Errorf("‖UᵀU − I‖ = %.2g", e)
	}
	// Sign convention: the entry of largest magnitude is positive.
	for j := 0; j < k; j++ {
		best, bi := -1.0, 0
		for i := 0; i < n; i++ {
			if a := math.Abs(vectors.At(i, j)); a > best {
				best, bi = a, i
			}
		}
		if vectors.At(bi, j) < 0 {
			t.Errorf("vector %d: largest entry %g is negative", j, vectors.At(bi, j))
		}
	}
	// Eigenspaces: split the true spectrum into clusters separated by gaps
	// of at least 1e-3·λ₁; every cluster entirely among the top k must be
	// spanned by the matching computed vectors.
	for i := 0; i < k; {
		j := i + 1
		for j < n && p.lambda[j-1]-p.lambda[j] < 1e-3*scale {
			j++
		}
		if j > k {
			break
		}
		var proj mat.Dense
		proj.Mul(p.q.Slice(0, n, i, j).T(), vectors.Slice(0, n, i, j))
		f := mat.Norm(&proj, 2) // Frobenius norm
		if d := float64(j-i) - f*f; !(d <= 1e-9) {
			t.Errorf("eigenspace of λ_%d…λ_%d: ‖PᵀU‖²_F = %d − %.2g", i, j-1, j-i, d)
		}
		i = j
	}
}

func TestValues(t *testing.T) {
	for _, p := range problems() {
		t.Run(p.name, func(t *testing.T) {
			v, err := Values(p.a)
			if err != nil {
				t.Fatal(err)
			}
			scale := max(p.lambda[0], 1e-300)
			if len(v) != len(p.lambda) {
				t.Fatalf("got %d values, want %d", len(v), len(p.lambda))
			}
			var es mat.EigenSym
			es.Factorize(p.a, false)
			dense := es.Values(nil)
			slices.Reverse(dense)
			for i := range v {
				if d := math.Abs(v[i] - p.lambda[i]); !(d <= 1e-12*scale) && !(d <= 1e-12) {
					t.Errorf("λ_%d = %.17g, want %.17g", i, v[i], p.lambda[i])
				}
				if d := math.Abs(v[i] - dense[i]); !(d <= 1e-12*scale) && !(d <= 1e-12) {
					t.Errorf("λ_%d = %.17g, EigenSym %.17g", i, v[i], dense[i])
				}
				if i > 0 && v[i] > v[i-1] {
					t.Errorf("not descending at %d", i)
				}
			}
		})
	}
}

// ggnLike returns VᵀV for a random 2000×n V whose columns are scaled by a
// decaying factor: a Gram matrix like the engine's.
func ggnLike(n int, seed uint64) *mat.SymDense {
	rng := rand.New(rand.NewPCG(seed, 3))
	const rows = 2000
	v := mat.NewDense(rows, n, nil)
	for j := 0; j < n; j++ {
		s := math.Pow(0.97, float64(j))
		for i := 0; i < rows; i++ {
			v.Set(i, j, s*rng.NormFloat64())
		}
	}
	var g mat.Dense
	g.Mul(v.T(), v)
	a := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			a.SetSym(i, j, g.At(i, j))
		}
	}
	return a
}

func TestGGNAgainstDense(t *testing.T) {
	const n, k = 640, 10
	a := ggnLike(n, 1)
	want, wantU, err := Dense{}.TopK(a, k)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range solvers()[1:] {
		t.Run(solverName(s), func(t *testing.T) {
			got, u, err := s.TopK(a, k)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < k; i++ {
				if d := math.Abs(got[i] - want[i]); !(d <= 1e-12*want[0]) {
					t.Errorf("λ_%d = %.17g, dense %.17g (%.2g·λ₁)", i, got[i], want[i], d/want[0])
				}
				// Eigengaps here are ≳ 1e-2·λ₁: vectors agree closely, and the
				// sign convention makes them agree entrywise.
				var diff mat.VecDense
				diff.SubVec(u.ColView(i), wantU.ColView(i))
				if d := mat.Norm(&diff, math.Inf(1)); !(d <= 1e-10) {
					t.Errorf("u_%d differs from dense by %.2g", i, d)
				}
			}
		})
	}
	vals, err := Values(a)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < k; i++ {
		if d := math.Abs(vals[i] - want[i]); !(d <= 1e-12*want[0]) {
			t.Errorf("Values: λ_%d = %.17g, dense %.17g", i, vals[i], want[i])
		}
	}
}

// plainOp hides the fast path of SymOperator, to test the generic one.
type plainOp struct{ a *mat.SymDense }

func (o plainOp) Size() int { return o.a.SymmetricDim() }
func (o plainOp) ApplyTo(dst, x *mat.Dense) {
	dst.Mul(o.a, x)
}

func TestLanczosOperator(t *testing.T) {
	for _, p := range problems() {
		k := p.ks[len(p.ks)-1]
		t.Run(p.name, func(t *testing.T) {
			values, vectors, st, err := Lanczos{}.TopKOperator(plainOp{p.a}, k)
			if err != nil {
				t.Fatal(err)
			}
			checkPairs(t, p, k, values, vectors, 1e-12)
			if st.Iterations < 1 || st.Applies < k {
				t.Errorf("implausible stats %+v", st)
			}
			if st.MaxResidual > defaultLanczosTol {
				t.Errorf("MaxResidual %.2g above the default tolerance", st.MaxResidual)
			}
		})
	}
}

func TestLanczosNotConverged(t *testing.T) {
	a := ggnLike(200, 5)
	_, _, st, err := Lanczos{MaxApplies: 20, BlockSize: 2}.TopKOperator(SymOperator(a), 5)
	if !errors.Is(err, ErrNotConverged) {
		t.Fatalf("err = %v, want ErrNotConverged", err)
	}
	if st.MaxResidual <= defaultLanczosTol {
		t.Errorf("MaxResidual %.2g ≤ tol with a failure", st.MaxResidual)
	}
	// An unreachable tolerance fails too, once the space is exhausted.
	_, _, _, err = Lanczos{Tol: 1e-30}.TopKOperator(SymOperator(ggnLike(20, 6)), 3)
	if !errors.Is(err, ErrNotConverged) {
		t.Fatalf("err = %v, want ErrNotConverged", err)
	}
}

func TestBadK(t *testing.T) {
	a := mat.NewSymDense(3, nil)
	for _, s := range solvers() {
		for _, k := range []int{0, 4, -1} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: TopK(k=%d) on n=3 did not panic", solverName(s), k)
					}
				}()
				s.TopK(a, k)
			}()
		}
	}
}

func TestNumericalRank(t *testing.T) {
	for _, c := range []struct {
		v    []float64
		rtol float64
		want int
	}{
		{[]float64{1, 1e-5, 1e-11, 0, -1e-17}, 0, 2},
		{[]float64{1, 1e-5, 1e-11, 0}, 1e-3, 1},
		{[]float64{0, 0}, 0, 0},
		{nil, 0, 0},
		{[]float64{3}, 0, 1},
	} {
		if got := NumericalRank(c.v, c.rtol); got != c.want {
			t.Errorf("NumericalRank(%v, %g) = %d, want %d", c.v, c.rtol, got, c.want)
		}
	}
}

func TestAuto(t *testing.T) {
	p := withSpectrum("auto", []float64{4, 3, 2, 1, 0.5, 0.25, 0, 0}, rand.New(rand.NewPCG(1, 1)))
	for _, nk := range [][2]int{{8, 1}, {8, 8}, {100, 5}, {2000, 10}, {2000, 1500}} {
		s := Auto(nk[0], nk[1])
		if s == nil || s.Name() == "" {
			t.Fatalf("Auto(%d, %d) = %v", nk[0], nk[1], s)
		}
		values, vectors, err := s.TopK(p.a, 3)
		if err != nil {
			t.Fatal(err)
		}
		checkPairs(t, p, 3, values, vectors, 1e-12)
	}
}

func TestSymOperator(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	p := withSpectrum("op", []float64{3, 2, 1, 0.5, 0.1}, rng)
	// A lower-triangle SymDense view must give the same operator.
	op := SymOperator(p.a)
	x := mat.NewDense(5, 2, []float64{1, 0, 2, 1, 0, 0, -1, 3, 0.5, 0.5})
	var got, want mat.Dense
	op.ApplyTo(&got, x)
	want.Mul(p.a, x)
	if !mat.EqualApprox(&got, &want, 1e-14) {
		t.Errorf("ApplyTo = %v, want %v", mat.Formatted(&got), mat.Formatted(&want))
	}
	if op.Size() != 5 {
		t.Errorf("Size = %d", op.Size())
	}
}

// TestMirrorUpper checks that a mirrored Gram matrix gives the same
// operator as the copying path, without a copy, for sizes around the tile
// of the mirror and large enough to run in parallel, and that every
// solver accepts it.
func TestMirrorUpper(t *testing.T) {
	for _, n := range []int{1, 63, 64, 65, 130, 400} { // 400: mirrored in parallel
		a := ggnLike(n, uint64(n))
		want := SymOperator(a).(*symOp).a.Data
		b := mat.NewSymDense(n, nil)
		b.CopySym(a)
		f := MirrorUpper(b)
		op := SymOperator(f).(*symOp)
		if !slices.Equal(op.a.Data[:n*n], want) {
			t.Fatalf("n=%d: mirrored operator differs from the copy", n)
		}
		if &op.a.Data[0] != &b.RawSymmetric().Data[0] {
			t.Errorf("n=%d: FullSymDense was copied", n)
		}
		if !mat.Equal(f, a) {
			t.Errorf("n=%d: mirroring changed the matrix", n)
		}
	}
	a := ggnLike(40, 1)
	b := mat.NewSymDense(40, nil)
	b.CopySym(a)
	f := MirrorUpper(b)
	for _, s := range solvers() {
		wantV, _, err := Dense{}.TopK(a, 3)
		if err != nil {
			t.Fatal(err)
		}
		gotV, _, err := s.TopK(f, 3)
		if err != nil {
			t.Fatalf("%s: %v", solverName(s), err)
		}
		for i := range wantV {
			if !(math.Abs(gotV[i]-wantV[i]) <= 1e-12*wantV[0]) {
				t.Errorf("%s: λ_%d = %v, want %v", solverName(s), i, gotV[i], wantV[i])
			}
		}
	}
}

func TestLanczosMultiplicity(t *testing.T) {
	var p problem
	for _, q := range problems() {
		if q.name == "repeated5/n=400" {
			p = q
		}
	}
	const k = 8
	op := SymOperator(p.a)
	// Block size 2 alone finds two copies of the 5-fold eigenvalue…
	values, _, theta, _, err := Lanczos{}.solve(context.Background(), op, k, 2)
	if err != nil {
		t.Fatal(err)
	}
	if values[2] == p.lambda[2] {
		t.Logf("block size 2 found a third copy by itself: %v", values)
	}
	if !needsBiggerBlock(theta, k, 2) {
		t.Fatalf("cluster not detected: %v", values)
	}
	// …and TopKOperator detects it and repeats with block size k.
	values, vectors, st, err := Lanczos{}.TopKOperator(op, k)
	if err != nil {
		t.Fatal(err)
	}
	checkPairs(t, p, k, values, vectors, 1e-12)
	t.Logf("stats %+v", st)

	for _, c := range []struct {
		theta []float64
		k, b  int
		want  bool
	}{
		{[]float64{3, 3, 2, 1}, 3, 2, true},     // two copies; a third may hide behind 2
		{[]float64{3, 2, 2, 1}, 3, 2, false},    // the cluster fills the top k
		{[]float64{3, 3, 3, 2}, 4, 3, true},     // b copies, one more place
		{[]float64{3, 3, 3, 2}, 4, 4, false},    // b ≥ k
		{[]float64{3, 2, 1, 0}, 4, 2, false},    // no cluster
		{[]float64{3, 3, 2, 1}, 2, 2, false},    // b ≥ k
		{[]float64{0, 0, 0, 0, 0}, 3, 2, false}, // zero matrix: one cluster fills all
	} {
		if got := needsBiggerBlock(c.theta, c.k, c.b); got != c.want {
			t.Errorf("needsBiggerBlock(%v, k=%d, b=%d) = %v, want %v", c.theta, c.k, c.b, got, c.want)
		}
	}
}

// TestSytrdFull checks sytrdFull's output as Dsytrd's: with Q from the
// reflectors (Dorgtr, which reads Dsytrd's layout), QᵀQ = I and QᵀAQ = T
// to a few n·ε·‖A‖. Entries of T need not equal Dsytrd's that closely:
// the later reflectors depend on rounding in earlier ones (on 386, with
// other summation orders, d differs by 2e-10 at n = 130), so the first
// reflector, fixed by A's first column, is compared with Dsytrd's.
func TestSytrdFull(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 3, 5, 64, 65, 97, 130, 200, 333} {
		a := make([]float64, n*n)
		for i := 0; i < n; i++ {
			for j := 0; j <= i; j++ {
				v := rng.NormFloat64()
				a[i*n+j], a[j*n+i] = v, v
			}
		}
		ref := append([]float64(nil), a...)
		d, e, tau := make([]float64, n), make([]float64, max(n-1, 0)), make([]float64, max(n-1, 0))
		sytrdFull(n, a, d, e, tau)
		if n > 1 {
			d2, e2, tau2 := make([]float64, n), make([]float64, n-1), make([]float64, n-1)
			work := []float64{0}
			ref2 := append([]float64(nil), ref...)
			lapackImpl.Dsytrd(blas.Lower, n, ref2, n, d2, e2, tau2, work, -1)
			work = make([]float64, int(work[0]))
			lapackImpl.Dsytrd(blas.Lower, n, ref2, n, d2, e2, tau2, work, len(work))
			if !(math.Abs(d[0]-d2[0]) <= 1e-15) || !(math.Abs(e[0]-e2[0]) <= 1e-13) || !(math.Abs(tau[0]-tau2[0]) <= 1e-13) {
				t.Errorf("n=%d: d[0], e[0], tau[0] = %g, %g, %g; Dsytrd %g, %g, %g", n, d[0], e[0], tau[0], d2[0], e2[0], tau2[0])
			}
			for i := 2; i < n; i++ {
				if !(math.Abs(a[i*n]-ref2[i*n]) <= 1e-13) {
					t.Errorf("n=%d: first reflector entry %d = %g, Dsytrd %g", n, i, a[i*n], ref2[i*n])
				}
			}
		}
		for i := 0; i+1 < n; i++ {
			a[(i+1)*n+i] = e[i] // Dsytrd's layout; sytrdFull's contract
		}
		work := []float64{0}
		lapackImpl.Dorgtr(blas.Lower, n, a, n, tau, work, -1)
		work = make([]float64, max(1, int(work[0])))
		lapackImpl.Dorgtr(blas.Lower, n, a, n, tau, work, len(work))
		q := mat.NewDense(n, n, a)
		var qtq, aq, qtaq mat.Dense
		qtq.Mul(q.T(), q)
		aq.Mul(mat.NewDense(n, n, ref), q)
		qtaq.Mul(q.T(), &aq)
		tol := 20 * float64(n) * 0x1p-52 * mat.Norm(mat.NewDense(n, n, ref), 2)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				wantI, wantT := 0.0, 0.0
				switch {
				case i == j:
					wantI, wantT = 1, d[i]
				case i == j+1:
					wantT = e[j]
				case j == i+1:
					wantT = e[i]
				}
				if !(math.Abs(qtq.At(i, j)-wantI) <= 20*float64(n)*0x1p-52) {
					t.Fatalf("n=%d: (QᵀQ)[%d,%d] = %g", n, i, j, qtq.At(i, j))
				}
				if !(math.Abs(qtaq.At(i, j)-wantT) <= tol) {
					t.Fatalf("n=%d: (QᵀAQ)[%d,%d] = %g, T has %g (tolerance %g)", n, i, j, qtaq.At(i, j), wantT, tol)
				}
			}
		}
	}
}

func TestDeterministicAcrossProcs(t *testing.T) {
	a := ggnLike(400, 2)
	for _, s := range []Solver{Tridiagonal{}, Lanczos{}} {
		prev := runtime.GOMAXPROCS(1)
		v1, u1, err1 := s.TopK(a, 8)
		runtime.GOMAXPROCS(max(prev, 2))
		v2, u2, err2 := s.TopK(a, 8)
		runtime.GOMAXPROCS(prev)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !slices.Equal(v1, v2) || !mat.Equal(u1, u2) {
			t.Errorf("%s: results depend on GOMAXPROCS", s.Name())
		}
	}
}

// widened32 returns fl32(a) as a float64 SymDense: the matrix that
// SymOperator32(a) applies exactly.
func widened32(a *mat.SymDense) *mat.SymDense {
	n := a.SymmetricDim()
	w := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			w.SetSym(i, j, float64(float32(a.At(i, j))))
		}
	}
	return w
}

// TestSymOperator32 checks the float32 operator: its products against
// dense products with fl32(a) (upper, lower and non-raw storage, sizes
// around the narrowing tile and large enough to run in parallel), that a
// long enough buf is used in place, and that Lanczos on it matches the
// dense solver on fl32(a) to 1e-10, repeated eigenvalues included, with
// eigenvalues within 2⁻²⁴·‖a‖_F of a's.
func TestSymOperator32(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 5, 63, 64, 65, 400} {
		a := ggnLike(n, uint64(n)+3)
		w := widened32(a)
		x := mat.NewDense(n, 3, nil)
		for i := range x.RawMatrix().Data {
			x.RawMatrix().Data[i] = rng.NormFloat64()
		}
		var want mat.Dense
		want.Mul(w, x)
		// Lower storage, with NaN in the unused upper half.
		lowerData := make([]float64, n*n)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				lowerData[i*n+j] = math.NaN()
				if j <= i {
					lowerData[i*n+j] = a.At(i, j)
				}
			}
		}
		views := map[string]mat.Symmetric{
			"upper": a,
			"lower": lowerSym{blas64.Symmetric{N: n, Stride: n, Uplo: blas.Lower, Data: lowerData}},
			"other": plainSym{a},
		}
		for name, v := range views {
			buf := make([]float32, n*n+1)
			op := SymOperator32(v, buf)
			if &op.(*sym32Op).a[0] != &buf[0] {
				t.Errorf("n=%d %s: buf was not used", n, name)
			}
			var got mat.Dense
			op.ApplyTo(&got, x)
			if !mat.EqualApprox(&got, &want, 1e-13*float64(n)) {
				t.Fatalf("n=%d %s: ApplyTo differs from the product with fl32(a)", n, name)
			}
			if op.Size() != n {
				t.Errorf("n=%d %s: Size = %d", n, name, op.Size())
			}
		}
	}
	for _, p := range problems() {
		k := p.ks[len(p.ks)-1]
		t.Run(p.name, func(t *testing.T) {
			w := widened32(p.a)
			wantV, wantU, err := Dense{}.TopK(w, k)
			if err != nil {
				t.Fatal(err)
			}
			values, vectors, _, err := Lanczos{Tol: 1e-13}.TopKOperator(SymOperator32(p.a, nil), k)
			if err != nil {
				t.Fatal(err)
			}
			scale := math.Max(wantV[0], 1e-300)
			bound := 0x1p-24 * mat.Norm(p.a, 2) * 1.01
			for i := range values {
				if d := math.Abs(values[i] - wantV[i]); !(d <= 1e-10*scale) {
					t.Errorf("λ_%d = %v, dense on fl32(a) %v", i, values[i], wantV[i])
				}
				if d := math.Abs(values[i] - p.lambda[i]); !(d <= bound+1e-15*scale) {
					t.Errorf("λ_%d = %v, a's %v: off by %.3g > 2⁻²⁴‖a‖_F = %.3g", i, values[i], p.lambda[i], d, bound)
				}
			}
			// Eigenvectors of simple, well-separated eigenvalues agree with
			// the dense ones up to sign.
			n := len(p.lambda)
			for i := range values {
				gap := math.Inf(1)
				for j := range wantV {
					if j != i {
						gap = math.Min(gap, math.Abs(wantV[j]-wantV[i]))
					}
				}
				if i == len(wantV)-1 && k < n {
					continue // its gap to λ_{k+1} is unknown here
				}
				if gap < 1e-3*scale {
					continue
				}
				dot := mat.Dot(vectors.ColView(i), wantU.ColView(i))
				if !(math.Abs(math.Abs(dot)-1) <= 1e-9*scale/gap) {
					t.Errorf("vector %d: |u·u_dense| = %v", i, math.Abs(dot))
				}
			}
		})
	}
}

// plainSym hides a SymDense's raw storage.
type plainSym struct{ a *mat.SymDense }

func (s plainSym) Dims() (int, int)    { return s.a.Dims() }
func (s plainSym) At(i, j int) float64 { return s.a.At(i, j) }
func (s plainSym) T() mat.Matrix       { return s }
func (s plainSym) SymmetricDim() int   { return s.a.SymmetricDim() }

// lowerSym is a symmetric matrix in raw lower storage (which SymDense
// does not offer).
type lowerSym struct{ raw blas64.Symmetric }

func (s lowerSym) Dims() (int, int) { return s.raw.N, s.raw.N }
func (s lowerSym) At(i, j int) float64 {
	if j > i {
		i, j = j, i
	}
	return s.raw.Data[i*s.raw.Stride+j]
}
func (s lowerSym) T() mat.Matrix                  { return s }
func (s lowerSym) SymmetricDim() int              { return s.raw.N }
func (s lowerSym) RawSymmetric() blas64.Symmetric { return s.raw }
