package eigen

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// sytrdBlock is the panel width of sytrdFull.
const sytrdBlock = 32

// Chunk sizes of the parallel kernels of sytrdFull (measured best on a
// 2-core machine for n = 1280).
const symvChunk, syr2kChunk = 64, 64

// sytrdFull reduces the symmetric n×n matrix held in the lower triangle
// of the row-major array a to tridiagonal form T = Qᵀ·A·Q, with the output
// of Dsytrd(blas.Lower): d and e hold T, tau and the part of a below the
// subdiagonal hold the Householder reflectors of Q = H_0·…·H_{n-2}
// (v[i+1] = 1, v[i+2:] in a[i+2:, i]), and a[i+1, i] = e[i]. The strict
// upper triangle is used as workspace.
//
// It is Dsytrd's blocked algorithm (Dlatrd panels) with its two kernels
// replaced by parallel ones built on matrix–vector products: gonum's Dsymv
// and Dsyr2k are serial (and OpenBLAS's Dsytrd was slower here too).
func sytrdFull(n int, a, d, e, tau []float64) {
	nb := sytrdBlock
	i := 0
	if n > 2*nb {
		vr := make([]float64, nb*n) // the panel's v vectors as rows
		wr := make([]float64, nb*n) // and its w vectors
		tmp := make([]float64, 2*nb)
		ws := make([]float64, (n/symvChunk+1)*n) // symvLower's buffers
		xc := make([]float64, 2*nb*n)
		y := make([]float64, 2*nb*n)
		for ; n-i > 2*nb; i += nb {
			m := n - i
			latrdFull(n, i, a, d, e, tau, vr[:nb*m], wr[:nb*m], tmp, ws)
			// A[i+nb:, i+nb:] −= V·Wᵀ + W·Vᵀ (lower triangle) with the
			// panel's V and W from row nb: X = [V W] as columns, Y = [W V]
			// as rows.
			mt := m - nb
			for r := 0; r < mt; r++ {
				for l := 0; l < nb; l++ {
					xc[r*2*nb+l] = vr[l*m+nb+r]
					xc[r*2*nb+nb+l] = wr[l*m+nb+r]
				}
			}
			for l := 0; l < nb; l++ {
				copy(y[l*mt:(l+1)*mt], wr[l*m+nb:(l+1)*m])
				copy(y[(nb+l)*mt:(nb+l+1)*mt], vr[l*m+nb:(l+1)*m])
			}
			syr2kLower(mt, a[(i+nb)*n+i+nb:], n,
				blas64.General{Rows: mt, Cols: 2 * nb, Stride: 2 * nb, Data: xc[:mt*2*nb]},
				blas64.General{Rows: 2 * nb, Cols: mt, Stride: mt, Data: y[:2*nb*mt]})
		}
	}
	// The last columns unblocked.
	lapackImpl.Dsytd2(blas.Lower, n-i, a[i*n+i:], n, d[i:], e[i:], tau[i:])
}

// syr2kLower sets the lower triangle of the m×m matrix c (stride ldc) to
// c − x·y, for x m×r and y r×m: row j of c gets −yᵀ·x_j on its columns ≤ j.
// The work is split into column chunks run in parallel; a chunk's part of
// y stays in cache while the rows of c stream past.
func syr2kLower(m int, c []float64, ldc int, x, y blas64.General) {
	chunk := syr2kChunk
	do := func(lo int) {
		hi := min(lo+chunk, m)
		sub := blas64.General{Rows: y.Rows, Cols: hi - lo, Stride: y.Stride, Data: y.Data[lo:]}
		for j := lo; j < m; j++ {
			gemv(blas.Trans, -1, sub, x.Data[j*x.Stride:j*x.Stride+x.Cols], 1, c[j*ldc+lo:j*ldc+hi])
		}
	}
	parallelFor((m+chunk-1)/chunk, m*m*x.Cols/2, func(t int) { do(t * chunk) })
}

// symvLower sets y = A·v for the symmetric m×m matrix A held in the lower
// triangle of a (stride lda), in parallel over row chunks: each chunk
// contributes its rectangle left of the diagonal (as A and Aᵀ) and its
// diagonal block into its own buffer, and the buffers are summed in a
// fixed order so that the result does not depend on scheduling.
func symvLower(m int, a []float64, lda int, v, y, ws []float64) {
	chunk := symvChunk
	tasks := (m + chunk - 1) / chunk
	if m < 4*chunk {
		symv(m, 1, a, lda, v, 0, y)
		return
	}
	part := make([][]float64, tasks)
	if len(ws) < tasks*m {
		ws = make([]float64, tasks*m)
	}
	parallelFor(tasks, m*m/2, func(t int) {
		// Longest rows first, for balance.
		t = tasks - 1 - t
		lo, hi := t*chunk, min((t+1)*chunk, m)
		z := ws[t*m : t*m+hi]
		if lo > 0 {
			rect := blas64.General{Rows: hi - lo, Cols: lo, Stride: lda, Data: a[lo*lda:]}
			gemv(blas.NoTrans, 1, rect, v[:lo], 0, z[lo:hi])
			gemv(blas.Trans, 1, rect, v[lo:hi], 0, z[:lo])
		} else {
			clear(z[lo:hi])
		}
		symv(hi-lo, 1, a[lo*lda+lo:], lda, v[lo:hi], 1, z[lo:hi])
		part[t] = z
	})
	clear(y[:m])
	for _, z := range part {
		for i, zi := range z {
			y[i] += zi
		}
	}
}

// latrdFull reduces the nb columns from i of the lower-storage matrix a
// (Dlatrd, lower), leaving in the rows of vr and wr (length m = n−i, panel
// coordinates) the vectors V and W such that the trailing matrix is
// updated by A −= V·Wᵀ + W·Vᵀ.
func latrdFull(n, i int, a, d, e, tau, vr, wr, tmp, ws []float64) {
	nb := sytrdBlock
	m := n - i
	clear(vr)
	clear(wr)
	for j := 0; j < nb; j++ {
		c := i + j
		// Update column c, rows c:n, with the panel's earlier reflectors:
		// a[c:, c] −= V[c:, :j]·W[c, :j]ᵀ + W[c:, :j]·V[c, :j]ᵀ.
		lc := j // panel-local index of row/column c
		for l := 0; l < j; l++ {
			vc, wc := vr[l*m+lc], wr[l*m+lc]
			vl, wl := vr[l*m:(l+1)*m], wr[l*m:(l+1)*m]
			for r := lc; r < m; r++ {
				a[(i+r)*n+c] -= vl[r]*wc + wl[r]*vc
			}
		}
		d[c] = a[c*n+c]
		// Generate the reflector annihilating a[c+2:, c].
		k := n - c - 1
		beta, t := lapackImpl.Dlarfg(k, a[(c+1)*n+c], a[min(c+2, n-1)*n+c:], n)
		e[c] = beta
		tau[c] = t
		a[(c+1)*n+c] = beta
		// v = [1, a[c+2:, c]] in panel coordinates from lc+1.
		v := vr[j*m+lc+1 : (j+1)*m]
		v[0] = 1
		for r := 1; r < k; r++ {
			v[r] = a[(c+1+r)*n+c]
		}
		w := wr[j*m+lc+1 : (j+1)*m]
		// w = A[c+1:, c+1:]·v on the not yet updated trailing matrix.
		symvLower(k, a[(c+1)*n+c+1:], n, v, w, ws)
		if j > 0 {
			// Pending update of the panel: w −= V·(Wᵀv) + W·(Vᵀv).
			vv := blas64.General{Rows: j, Cols: k, Stride: m, Data: vr[lc+1:]}
			ww := blas64.General{Rows: j, Cols: k, Stride: m, Data: wr[lc+1:]}
			wv, vw := tmp[:j], tmp[nb:nb+j]
			gemv(blas.NoTrans, 1, ww, v, 0, wv)
			gemv(blas.NoTrans, 1, vv, v, 0, vw)
			gemv(blas.Trans, -1, vv, wv, 1, w)
			gemv(blas.Trans, -1, ww, vw, 1, w)
		}
		// w = tau·w − ½·tau²·(wᵀv)·v.
		var wv float64
		for r := range w {
			w[r] *= t
			wv += w[r] * v[r]
		}
		alpha := -0.5 * t * wv
		for r := range w {
			w[r] += alpha * v[r]
		}
	}
}
