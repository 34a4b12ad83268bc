package vivit

import (
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/jacobians"
	"github.com/vivit-go/vivit/lowrank"
)

// gradVariance returns the population variance over the n samples of the
// per-sample gradients, per parameter, from the gradient factors (one
// column per sample: the columns are the per-sample gradients), laid out
// like the factors.
//
// It is the centred two-pass form (1/N) Σ_n (g_n − ḡ)², computed by the
// corrected two-pass algorithm of lowrank.CentredDiager, never as
// E[g²] − E[g]²: where the per-sample gradients agree to many digits
// (E[g²] ≫ var) the difference would lose them all to cancellation. N = 1
// gives exactly 0. Factors that lack the method fall back to forming the
// per-sample gradients of their block a few samples at a time. It stops
// between layers once o's context is done.
func gradVariance(grads []jacobians.LayerFactor, n, d int, o *Options) ([]float64, error) {
	v, err := gradM2(grads, n, d, o)
	if err != nil {
		return nil, err
	}
	floats.Scale(1/float64(n), v)
	return v, nil
}

// gradM2 returns Σ_n (g_n − ḡ)² per parameter, the centred sum of squares
// of gradVariance before its division by n.
func gradM2(grads []jacobians.LayerFactor, n, d int, o *Options) ([]float64, error) {
	v := make([]float64, d)
	if n < 2 {
		return v, nil
	}
	off := 0
	for _, gf := range grads {
		if err := o.stopped(); err != nil {
			return nil, err
		}
		f := gf.Factor
		dim := f.Dim()
		dst := v[off : off+dim]
		if c, ok := f.(lowrank.CentredDiager); ok {
			c.AddCentredDiagTo(dst)
		} else {
			centredByColumns(dst, f, n)
		}
		off += dim
	}
	return v, nil
}

// centredByColumns adds Σ_r (V[:,r] − v̄)² of the factor f (n columns) to
// dst by forming its columns V e_r, at most 8 MiB of them at a time: the
// corrected two-pass algorithm on any factor.
func centredByColumns(dst []float64, f lowrank.Factor, n int) {
	dim := f.Dim()
	mean := mat.NewDense(1, dim, nil)
	f.MulTo(mean, filledRow(n, 1/float64(n)))
	m := mean.RawRowView(0)
	chunk := max(1, min(n, (1<<20)/max(dim, 1)))
	sum := make([]float64, dim)
	for n0 := 0; n0 < n; n0 += chunk {
		n1 := min(n0+chunk, n)
		u := mat.NewDense(n1-n0, n, nil)
		for i := n0; i < n1; i++ {
			u.Set(i-n0, i, 1)
		}
		cols := mat.NewDense(n1-n0, dim, nil)
		f.MulTo(cols, u)
		for i := 0; i < n1-n0; i++ {
			row := cols.RawRowView(i)
			floats.Sub(row, m)
			fastblas.AddMul(dst, row, row)
			floats.Add(sum, row)
		}
	}
	for i, s := range sum {
		dst[i] -= s * s / float64(n)
	}
}
