package lowrank

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/gram"
	"github.com/vivit-go/vivit/internal/backend"
	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/par"
	"github.com/vivit-go/vivit/internal/scratch"
)

// Linear is the block of V for a linear layer's weight [out, in] and bias
// [out]: column r is vec(S_r A_{r/c}ᵀ) for the weight and S_r for the bias.
type Linear struct {
	S            *mat.Dense // (n·c)×out backpropagated factor rows
	A            *mat.Dense // n×in layer inputs
	C            int        // factor columns per sample
	Weight, Bias bool       // which tensors the block covers
	// Precision of the Gram tiles and the products of MulTo.
	Precision Precision
}

// SetPrecision implements Precisioner.
func (l *Linear) SetPrecision(p Precision) { l.Precision = p }

// NewLinear returns the block for factor rows s and inputs a.
func NewLinear(s, a *mat.Dense, c int, weight, bias bool) *Linear {
	r, _ := s.Dims()
	n, _ := a.Dims()
	if n*c != r {
		panic("lowrank: factor rows do not match samples × columns")
	}
	return &Linear{S: s, A: a, C: c, Weight: weight, Bias: bias}
}

func (l *Linear) dims() (n, out, in int) {
	n, in = l.A.Dims()
	_, out = l.S.Dims()
	return n, out, in
}

func (l *Linear) Dim() int {
	_, out, in := l.dims()
	d := 0
	if l.Weight {
		d += out * in
	}
	if l.Bias {
		d += out
	}
	return d
}

func (l *Linear) Cols() int { r, _ := l.S.Dims(); return r }

func (l *Linear) Select(keep []bool) Factor {
	w, b, ok := selected(l.Weight, l.Bias, keep)
	if !ok {
		return nil
	}
	return &Linear{S: l.S, A: l.A, C: l.C, Weight: w, Bias: b, Precision: l.Precision}
}

func checkShape(m *mat.Dense, r, c int) {
	if mr, mc := m.Dims(); mr != r || mc != c {
		panic("lowrank: shape mismatch")
	}
}

// aggregate sets bcat[i][j·out:(j+1)·out] = B_j[i] = Σ_c' u_j[i·c+c'] S_{i·c+c'}
// for the rows u_j of u: per sample and vector, a combination of the
// sample's c factor rows.
func (l *Linear) aggregate(bcat, u *mat.Dense) {
	k, _ := u.Dims()
	n, out, _ := l.dims()
	sr := l.S.RawMatrix()
	par.For(n, par.ProcsFor(n*k*out*l.C), func(_, i int) {
		rows := sr.Data[i*l.C*sr.Stride:]
		br := bcat.RawRowView(i)
		for j := 0; j < k; j++ {
			fastblas.CombRows(br[j*out:(j+1)*out], u.RawRowView(j)[i*l.C:(i+1)*l.C], rows, sr.Stride)
		}
	})
}

// batchedMapBackMax bounds, in float64s, the temporary of MulTo's single
// product for all vectors; above it each vector gets its own product,
// which is then large enough to run near the peak anyway.
const batchedMapBackMax = 1 << 19

func (l *Linear) MulTo(dst, u *mat.Dense) {
	k, _ := u.Dims()
	n, out, in := l.dims()
	checkShape(u, k, l.Cols())
	checkShape(dst, k, l.Dim())
	// bcat = [B_1 … B_k] (n × k·out) with B_j[i] = Σ_c u_j[i·c+c'] S_{i·c+c'};
	// the weight part of vector j is B_jᵀ A.
	bbuf := scratch.Get(n * k * out)
	defer scratch.Put(bbuf)
	bcat := mat.NewDense(n, k*out, *bbuf)
	l.aggregate(bcat, u)
	off := 0
	if l.Weight && l.Precision == Float32 {
		l.mulWeight32(dst, bcat, k)
		off = out * in
	} else if l.Weight {
		if k*out*in <= batchedMapBackMax {
			// One product for all vectors, (k·out × n)·(n × in): small
			// per-vector products run far below the peak.
			wbuf := scratch.Get(k * out * in)
			defer scratch.Put(wbuf)
			w := mat.NewDense(k*out, in, *wbuf)
			backend.Mul(w, bcat.T(), l.A)
			for j := 0; j < k; j++ {
				copy(dst.RawRowView(j)[:out*in], w.RawMatrix().Data[j*out*in:(j+1)*out*in])
			}
		} else {
			for j := 0; j < k; j++ {
				bj := bcat.Slice(0, n, j*out, (j+1)*out)
				backend.Mul(mat.NewDense(out, in, dst.RawRowView(j)[:out*in]), bj.T(), l.A)
			}
		}
		off = out * in
	}
	if l.Bias {
		// The bias part of vector j is Σ_i B_j[i]: sum bcat's rows, all
		// vectors at once.
		sums := scratch.Get(k * out)
		defer scratch.Put(sums)
		copy(*sums, bcat.RawRowView(0))
		for i := 1; i < n; i++ {
			floats.Add(*sums, bcat.RawRowView(i))
		}
		for j := 0; j < k; j++ {
			copy(dst.RawRowView(j)[off:off+out], (*sums)[j*out:(j+1)*out])
		}
	}
}

// mulWeight32 writes the weight parts B_jᵀ A of the k vectors into the
// rows of dst with float32 products: one for all vectors when the
// temporary is small, else one per vector.
func (l *Linear) mulWeight32(dst, bcat *mat.Dense, k int) {
	n, out, in := l.dims()
	b32, a32 := narrowed(bcat), narrowed(l.A)
	defer scratch.Put32(b32)
	defer scratch.Put32(a32)
	var sgemm fastblas.Implementation
	if k*out*in <= batchedMapBackMax {
		w := scratch.Get32(k * out * in)
		defer scratch.Put32(w)
		sgemm.Sgemm(blas.Trans, blas.NoTrans, k*out, in, n, 1, *b32, k*out, *a32, in, 0, *w, in)
		widenRows(dst, *w, k, out, in)
		return
	}
	w := scratch.Get32(out * in)
	defer scratch.Put32(w)
	for j := 0; j < k; j++ {
		sgemm.Sgemm(blas.Trans, blas.NoTrans, out, in, n, 1, (*b32)[j*out:], k*out, *a32, in, 0, *w, in)
		widenRows(dst.Slice(j, j+1, 0, out*in).(*mat.Dense), *w, 1, out, in)
	}
}

// widenRows sets the first out·in entries of row j of dst to the j-th
// out×in block of w, in parallel over rows of the blocks.
func widenRows(dst *mat.Dense, w []float32, k, out, in int) {
	par.For(k*out, par.ProcsFor(k*out*in), func(_, r int) {
		j, o := r/out, r%out
		fastblas.Widen(dst.RawRowView(j)[o*in:(o+1)*in], w[r*in:(r+1)*in])
	})
}

func (l *Linear) TransMulTo(dst, v *mat.Dense) {
	k, _ := v.Dims()
	n, out, in := l.dims()
	checkShape(v, k, l.Dim())
	checkShape(dst, k, l.Cols())
	t := mat.NewDense(n, out, nil)
	for j := 0; j < k; j++ {
		row := v.RawRowView(j)
		off := 0
		if l.Weight {
			backend.Mul(t, l.A, mat.NewDense(out, in, row[:out*in]).T())
			off = out * in
		} else {
			t.Zero()
		}
		if l.Bias {
			bias := row[off : off+out]
			for i := 0; i < n; i++ {
				floats.Add(t.RawRowView(i), bias)
			}
		}
		d := dst.RawRowView(j)
		for r := range d {
			d[r] = floats.Dot(l.S.RawRowView(r), t.RawRowView(r/l.C))
		}
	}
}

// kernelWeights returns α, β of the Hadamard kernel: the weight contributes
// α·(A Aᵀ), the bias β·1.
func (l *Linear) kernelWeights() (alpha, beta float64) {
	if l.Weight {
		alpha = 1
	}
	if l.Bias {
		beta = 1
	}
	return alpha, beta
}

func (l *Linear) AddGramTo(dst *mat.SymDense) {
	r := l.Cols()
	if dst.SymmetricDim() != r {
		panic("lowrank: Gram destination has wrong size")
	}
	alpha, beta := l.kernelWeights()
	var k *mat.Dense
	if l.Weight {
		k = new(mat.Dense)
		backend.Mul(k, l.A, l.A.T())
	}
	if l.Precision == Float32 {
		_, out := l.S.Dims()
		st := narrowedT(l.S)
		defer scratch.Put32(st)
		gram.AddSymHadamard32(dst, *st, r, out, k, l.C, alpha, beta)
		return
	}
	gram.AddSymHadamard(dst, l.S, k, l.C, alpha, beta)
}

// narrowed returns m rounded to float32, row-major without padding, in a
// buffer from scratch.Get32.
func narrowed(m *mat.Dense) *[]float32 {
	r, c := m.Dims()
	b := scratch.Get32(r * c)
	par.For(r, par.ProcsFor(r*c), func(_, i int) {
		fastblas.Narrow((*b)[i*c:(i+1)*c], m.RawRowView(i))
	})
	return b
}

// narrowedT returns mᵀ rounded to float32 (c×r row-major for m r×c), in a
// buffer from scratch.Get32, transposed in 64×64 tiles.
func narrowedT(m *mat.Dense) *[]float32 {
	const tile = 64
	r, c := m.Dims()
	b := scratch.Get32(r * c)
	t := *b
	par.For((r+tile-1)/tile, par.ProcsFor(r*c), func(_, bi int) {
		i0 := bi * tile
		for j0 := 0; j0 < c; j0 += tile {
			for i := i0; i < min(i0+tile, r); i++ {
				row := m.RawRowView(i)
				for j := j0; j < min(j0+tile, c); j++ {
					t[j*r+i] = float32(row[j])
				}
			}
		}
	})
	return b
}

func (l *Linear) AddCrossTo(dst *mat.Dense, y Factor) {
	o, ok := y.(*Linear)
	if !ok || o.Weight != l.Weight || o.Bias != l.Bias {
		panic("lowrank: cross product of factors of different layers")
	}
	var p mat.Dense
	backend.Mul(&p, l.S, o.S.T())
	alpha, beta := l.kernelWeights()
	var k *mat.Dense
	if l.Weight {
		k = new(mat.Dense)
		backend.Mul(k, l.A, o.A.T())
	}
	gram.AddExpandedHadamard(dst, &p, k, l.C, o.C, alpha, beta)
}

func (l *Linear) AddDiagTo(dst []float64) {
	n, out, in := l.dims()
	if len(dst) != l.Dim() {
		panic("lowrank: diagonal destination has wrong length")
	}
	// diag over weight (o, i) is Σ_n Q[n,o] A[n,i]² with Q[n,o] = Σ_j S[n·c+j, o]².
	q := mat.NewDense(n, out, nil)
	for i := 0; i < n; i++ {
		qr := q.RawRowView(i)
		for j := 0; j < l.C; j++ {
			for o, v := range l.S.RawRowView(i*l.C + j) {
				qr[o] += v * v
			}
		}
	}
	off := 0
	if l.Weight {
		a2 := mat.NewDense(n, in, nil)
		a2.MulElem(l.A, l.A)
		var w mat.Dense
		backend.Mul(&w, q.T(), a2)
		floats.Add(dst[:out*in], w.RawMatrix().Data)
		off = out * in
	}
	if l.Bias {
		for i := 0; i < n; i++ {
			floats.Add(dst[off:off+out], q.RawRowView(i))
		}
	}
}
