package lowrank

import (
	"gonum.org/v1/gonum/floats"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/par"
)

// A CentredDiager is a factor that adds the diagonal of V P Vᵀ, with P =
// I − 11ᵀ/R the centring projector over its R columns, to dst (length
// Dim): Σ_r (V[p,r] − v̄_p)² with v̄_p the mean of row p. For the factor of
// per-sample gradients (one column per sample) that is N times their
// variance.
//
// Expanding it as diag(VVᵀ) − R·v̄² would cancel catastrophically where
// the columns agree to many digits (a well-determined gradient: E[g²] ≫
// var). Implementations use the corrected two-pass algorithm instead
// (Chan, Golub and LeVeque, 1983): a first pass forms the mean, a second
// the deviations d_r = V[p,r] − v̄_p, and the result is Σ d² − (Σ d)²/R,
// whose error is a few ulps of Σ d², not of Σ V². It reads every entry of
// V twice, O(R·Dim) like AddDiagTo, and forms at most one row of V (per
// worker) or one chunk of it at a time.
type CentredDiager interface {
	AddCentredDiagTo(dst []float64)
}

// centredRow adds the centred sum of squares of the values x_r = s_r·a_r
// (r over the rows, a_r rows of length len(acc)) to dst:
// Σ_r (x_r − x̄)² by the corrected two-pass algorithm. s holds the
// scalars, row(r) the vectors; mean, sq, sum and t are scratch of
// len(dst).
func centredRow(dst []float64, s []float64, row func(r int) []float64, mean, sq, sum, t []float64) {
	rn := float64(len(s))
	clear(mean)
	zeros := 0
	for r, v := range s {
		if v == 0 {
			zeros++
			continue
		}
		floats.AddScaled(mean, v, row(r))
	}
	floats.Scale(1/rn, mean)
	clear(sq)
	clear(sum)
	for r, v := range s {
		if v == 0 {
			continue
		}
		floats.ScaleTo(t, v, row(r))
		floats.Sub(t, mean)
		fastblas.AddMul(sq, t, t)
		floats.Add(sum, t)
	}
	// Rows with s_r = 0 deviate by −x̄ each.
	z := float64(zeros)
	for i, m := range mean {
		sq[i] += z * m * m
		sum[i] -= z * m
		dst[i] += sq[i] - sum[i]*sum[i]/rn
	}
}

// AddCentredDiagTo implements CentredDiager, one output channel (a row
// of the weight and its bias) at a time, channels in parallel.
func (l *Linear) AddCentredDiagTo(dst []float64) {
	n, out, in := l.dims()
	if len(dst) != l.Dim() {
		panic("lowrank: diagonal destination has wrong length")
	}
	rows := n * l.C
	procs := par.ProcsFor(rows * out * in)
	w := max(in, 1)
	scr := make([][]float64, procs)
	for i := range scr {
		scr[i] = make([]float64, 4*w+rows)
	}
	one := []float64{1}
	par.For(out, procs, func(wk, o int) {
		b := scr[wk]
		mean, sq, sum, t, s := b[:w], b[w:2*w], b[2*w:3*w], b[3*w:4*w], b[4*w:]
		for r := range s {
			s[r] = l.S.At(r, o)
		}
		if l.Weight {
			centredRow(dst[o*in:(o+1)*in], s, func(r int) []float64 { return l.A.RawRowView(r / l.C) }, mean[:in], sq[:in], sum[:in], t[:in])
		}
		if l.Bias {
			off := 0
			if l.Weight {
				off = out * in
			}
			centredRow(dst[off+o:off+o+1], s, func(int) []float64 { return one }, mean[:1], sq[:1], sum[:1], t[:1])
		}
	})
}

// AddCentredDiagTo implements CentredDiager on chunks of V formed as
// AddDiagTo forms them (within the budget): two passes over each chunk.
func (f *Conv) AddCentredDiagTo(dst []float64) {
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
		w0 := chunks[0].width()
		buf := make([]float64, r*w0)
		acc := make([]float64, 3*w0)
		for _, ch := range chunks {
			w := ch.width()
			f.formWeight(buf, ch, u, sr)
			res, mean, sum := acc[:w], acc[w0:w0+w], acc[2*w0:2*w0+w]
			centredCols(res, buf[:r*w], w, mean, sum)
			kc := ch.k1 - ch.k0
			for o := ch.o0; o < ch.o1; o++ {
				floats.Add(dst[o*k+ch.k0:o*k+ch.k1], res[(o-ch.o0)*kc:(o-ch.o0+1)*kc])
			}
		}
		off = f.G.OutC * k
	}
	if f.Bias {
		out := f.G.OutC
		b := f.biasCols()
		res := make([]float64, 3*out)
		centredCols(res[:out], b.Data, out, res[out:2*out], res[2*out:])
		floats.Add(dst[off:off+out], res[:out])
	}
}

// centredCols sets res to the centred sums of squares of the columns of
// the row-major x (rows × w): Σ_r (x[r,j] − x̄_j)² by the corrected
// two-pass algorithm. mean and sum are scratch of length w.
func centredCols(res, x []float64, w int, mean, sum []float64) {
	rows := len(x) / w
	clear(mean)
	for r := 0; r < rows; r++ {
		floats.Add(mean, x[r*w:(r+1)*w])
	}
	floats.Scale(1/float64(rows), mean)
	clear(res)
	clear(sum)
	for r := 0; r < rows; r++ {
		row := x[r*w : (r+1)*w]
		floats.Sub(row, mean) // the chunk is scratch: deviations in place
		fastblas.AddMul(res, row, row)
		floats.Add(sum, row)
	}
	for j, s := range sum {
		res[j] -= s * s / float64(rows)
	}
}
