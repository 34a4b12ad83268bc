package vivit_test

import (
	"math"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/bench"
	"github.com/vivit-go/vivit/eigen"
	"github.com/vivit-go/vivit/example"
	"github.com/vivit-go/vivit/example/digits"
	"github.com/vivit-go/vivit/internal/backend"
)

// digitsDenseGGN returns the GGN of the mean cross-entropy of the trained
// 64-32-10 tanh MLP m over the whole batch b, built without the engine:
// hand-written Jacobians of the MLP, the full 10-column factor of the
// softmax Hessian (s_j = √p_j (e_j − p)), and rank updates of a dense
// 2,410×2,410 matrix (upper triangle mirrored).
func digitsDenseGGN(m *vivit.Model, b *vivit.Batch) *mat.SymDense {
	ps := m.Params()
	w1, b1, w2, b2 := ps[0].Data, ps[1].Data, ps[2].Data, ps[3].Data
	const in, hid, out = 64, 32, 10
	d := m.NumParams()
	n := b.Len()
	g := blas64.Symmetric{Uplo: blas.Upper, N: d, Stride: d, Data: make([]float64, d*d)}
	const chunk = 64 // samples per rank update
	rows := make([]float64, chunk*out*d)
	h := make([]float64, hid)
	z := make([]float64, out)
	p := make([]float64, out)
	delta := make([]float64, hid)
	w := 1 / float64(n)
	for n0 := 0; n0 < n; n0 += chunk {
		nc := min(chunk, n-n0)
		clear(rows)
		for i := 0; i < nc; i++ {
			x := b.Inputs.RawRowView(n0 + i)
			for j := 0; j < hid; j++ {
				s := b1[j]
				for k := 0; k < in; k++ {
					s += w1[j*in+k] * x[k]
				}
				h[j] = math.Tanh(s)
			}
			zmax := math.Inf(-1)
			for c := 0; c < out; c++ {
				s := b2[c]
				for j := 0; j < hid; j++ {
					s += w2[c*hid+j] * h[j]
				}
				z[c] = s
				zmax = math.Max(zmax, s)
			}
			var tot float64
			for c := range z {
				p[c] = math.Exp(z[c] - zmax)
				tot += p[c]
			}
			for c := range p {
				p[c] /= tot
			}
			for col := 0; col < out; col++ {
				// s = √w √p_col (e_col − p); the row is J_nᵀ s.
				row := rows[(i*out+col)*d : (i*out+col+1)*d]
				sc := math.Sqrt(w * p[col])
				var s [out]float64
				for c := range s {
					s[c] = -sc * p[c]
				}
				s[col] += sc
				gw1, gb1 := row[:hid*in], row[hid*in:hid*in+hid]
				gw2, gb2 := row[hid*in+hid:hid*in+hid+out*hid], row[hid*in+hid+out*hid:]
				for c := 0; c < out; c++ {
					for j := 0; j < hid; j++ {
						gw2[c*hid+j] = s[c] * h[j]
					}
					gb2[c] = s[c]
				}
				for j := 0; j < hid; j++ {
					var v float64
					for c := 0; c < out; c++ {
						v += w2[c*hid+j] * s[c]
					}
					delta[j] = v * (1 - h[j]*h[j])
					gb1[j] = delta[j]
					for k := 0; k < in; k++ {
						gw1[j*in+k] = delta[j] * x[k]
					}
				}
			}
		}
		backend.Syrk(blas.Trans, 1, blas64.General{Rows: nc * out, Cols: d, Stride: d, Data: rows[:nc*out*d]}, 1, g)
	}
	return mat.NewSymDense(d, g.Data)
}

// TestDigitsDataSet is the acceptance case of the data-set methods: the
// whole digits data set (1,797 samples) and the embedded trained MLP
// (2,410 parameters), streamed in batches of 256 with a 256 MiB budget,
// against a dense float64 GGN built independently: top-10 eigenvalues
// within 1e-8 relative, eigenvectors within 1e-7, heap peak under
// 400 MiB.
func TestDigitsDataSet(t *testing.T) {
	if testing.Short() {
		t.Skip("dense 2,410×2,410 reference from 17,970 Jacobian rows")
	}
	m, _, err := example.Load()
	if err != nil {
		t.Fatal(err)
	}
	pixels, labels, err := digits.Load()
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, len(labels))
	for i := range idx {
		idx[i] = i
	}
	b := digits.Batch(pixels, labels, idx)
	const k = 10
	var res *vivit.DataSetResult
	var runErr error
	t0 := time.Now()
	peak := bench.PeakHeap(func() {
		res, runErr = vivit.DataSetTopEigen(m, vivit.NewBatchDataSet(b), k, &vivit.DataSetOptions{
			Options:   vivit.Options{MemoryBudget: 256 << 20},
			BatchSize: 256,
		})
	})
	elapsed := time.Since(t0)
	if runErr != nil {
		t.Fatal(runErr)
	}
	t.Logf("method %s, %d batches, %d passes, %v, heap peak %.1f MiB, timing %+v", res.Method, res.Batches, res.Passes, elapsed, float64(peak)/(1<<20), res.Timing)
	if res.Method != "lanczos" {
		t.Errorf("method %q, want lanczos (cheaper than the 2,410² block's rank updates)", res.Method)
	}
	if peak > 400<<20 {
		t.Errorf("heap peak %.1f MiB, want under 400", float64(peak)/(1<<20))
	}

	t1 := time.Now()
	ref := digitsDenseGGN(m, b)
	// The reference solver is Tridiagonal (Householder reduction, bisection
	// and inverse iteration), not the Lanczos solver the engine picks.
	vals, vecs, err := eigen.Tridiagonal{}.TopK(ref, k+1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reference: %v", time.Since(t1))
	// The dense parameter side on the same reference.
	t2 := time.Now()
	lres, err := vivit.DataSetTopEigen(m, vivit.NewBatchDataSet(b), k, &vivit.DataSetOptions{
		Options: vivit.Options{MemoryBudget: 256 << 20}, BatchSize: 256, Method: vivit.MethodParameters,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("parameters: %v", time.Since(t2))
	for _, res := range []*vivit.DataSetResult{res, lres} {
		checkDigits(t, res, vals, vecs, ref)
	}
}

// checkDigits compares a data-set result with the reference eigenpairs
// and GGN.
func checkDigits(t *testing.T, res *vivit.DataSetResult, vals []float64, vecs *mat.Dense, ref *mat.SymDense) {
	t.Helper()
	k := len(vals) - 1
	blk := res.Blocks[0]
	for j := 0; j < k; j++ {
		want := vals[j]
		if e := math.Abs(blk.Values[j]-want) / want; !(e <= 1e-8) {
			t.Errorf("λ_%d = %.17g, want %.17g (rel error %.3g)", j, blk.Values[j], want, e)
		}
		v := mat.Col(nil, j, vecs)
		got := blk.Vector(j)
		// Sign-invariant comparison.
		var dot float64
		for i := range v {
			dot += v[i] * got[i]
		}
		s := math.Copysign(1, dot)
		var e float64
		for i := range v {
			e = math.Max(e, math.Abs(got[i]-s*v[i]))
		}
		gap := vals[j] - vals[j+1]
		if j > 0 {
			gap = math.Min(gap, vals[j-1]-vals[j])
		}
		gap /= vals[0]
		if !(e <= 1e-7) {
			t.Errorf("%s: eigenvector %d: max error %.3g (relative gap %.2g)", res.Method, j, e, gap)
		}
		tol := 1e-12
		if res.Method == "lanczos" {
			tol = vivit.DefaultStreamTol
		}
		if !(res.Residuals[0][j] <= tol) {
			t.Errorf("residual %d: %.3g", j, res.Residuals[0][j])
		}
	}
	var tr float64
	for i := 0; i < ref.SymmetricDim(); i++ {
		tr += ref.At(i, i)
	}
	if e := math.Abs(res.Trace[0]-tr) / tr; !(e <= 1e-12) {
		t.Errorf("trace %.17g, want %.17g", res.Trace[0], tr)
	}
}
