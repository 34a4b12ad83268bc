// Copyright ©2025 The vivit-go Authors. All rights reserved.

package fastblas

import (
	"runtime"
	"unsafe"

	"github.com/vivit-go/vivit/internal/par"
	"github.com/vivit-go/vivit/internal/scratch"
)

// Thin products: C = α·A·op(B) + β·C where A has few rows (a block of
// vectors, as in Lanczos or Gram–Schmidt) and B is large. Packing B, as the
// blocked gemm does, would cost as much as the product itself, so these
// paths read B in place: every element of C is computed by one register
// kernel in a fixed order, independent of the number of goroutines.
const (
	// thinMaxRows is the largest m sent to the thin paths.
	thinMaxRows = 16
	// thinRowsNT and thinColsNN are the rows of B (NT) and columns of C
	// (NN) per parallel task; thinRowsNT is a multiple of the kernel's six
	// B rows.
	thinRowsNT = 66
	thinColsNN = 256
)

// thinSlab is the length of the k slabs of gemmThinNT: six B rows and
// up to sixteen A rows of a slab stay in L1 while every pair of A rows
// passes over them.
const thinSlab = 256

// gemmThinNT sets C = alpha·A·Bᵀ + beta·C for A m×k, B n×k and C m×n,
// all row-major, m ≤ thinMaxRows, n, k ≥ 1. B may be float32 (a matrix
// stored at half the bytes, as in GemmNTMixed); its values are widened
// exactly and everything is computed in float64.
func gemmThinNT[T element](procs, m, n, k int, alpha float64, a []float64, lda int, b []T, ldb int, beta float64, c []float64, ldc int) {
	tasks := (n + thinRowsNT - 1) / thinRowsNT
	if !parallel(procs, m*n*k) {
		for t := 0; t < tasks; t++ {
			thinNTTask(t, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		}
		return
	}
	par.For(tasks, procs, func(_, t int) { thinNTTask(t, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) })
}

// thinNTTask computes columns [t·thinRowsNT, (t+1)·thinRowsNT) of
// gemmThinNT's C.
func thinNTTask[T element](t, m, n, k int, alpha float64, a []float64, lda int, b []T, ldb int, beta float64, c []float64, ldc int) {
	k4 := k / 4 * 4 // the kernel's part; the tail is added in Go
	var acc [thinMaxRows / 2][48]float64
	jEnd := min((t+1)*thinRowsNT, n)
	for j0 := t * thinRowsNT; j0 < jEnd; j0 += 6 {
		nb := min(6, jEnd-j0)
		var brow [6][]T
		for r := range 6 {
			jr := j0 + min(r, nb-1) // short groups repeat the last row
			brow[r] = b[jr*ldb : jr*ldb+k]
		}
		pairs := (m + 1) / 2
		arow := func(i int) []float64 { i = min(i, m-1); return a[i*lda : i*lda+k] }
		for p := range pairs {
			acc[p] = [48]float64{}
		}
		slab := thinSlab
		if pairs == 1 {
			slab = k4 // nothing to reuse: one pass
		}
		for p0 := 0; p0 < k4; p0 += slab {
			p1 := min(p0+slab, k4)
			var bs [6][]T
			for r := range bs {
				bs[r] = brow[r][p0:]
			}
			for p := range pairs {
				dotKernelAny((p1-p0)/4, arow(2 * p)[p0:], arow(2*p + 1)[p0:], &bs, &acc[p])
			}
		}
		for r := range nb {
			for i := range m {
				l := acc[i/2][(r*2+i%2)*4 : (r*2+i%2)*4+4]
				s := (l[0] + l[1]) + (l[2] + l[3])
				ar, br := arow(i), brow[r]
				for p := k4; p < k; p++ {
					s += ar[p] * float64(br[p])
				}
				ci := &c[i*ldc+j0+r]
				if beta == 0 {
					*ci = alpha * s
				} else {
					*ci = alpha*s + beta**ci
				}
			}
		}
	}
}

// dotKernelAny is dotKernel for float64 B rows and dotKernelMixed for
// float32 ones.
func dotKernelAny[T element](n4 int, a0, a1 []float64, b *[6][]T, acc *[48]float64) {
	switch b := any(b).(type) {
	case *[6][]float64:
		dotKernel(n4, a0, a1, b, acc)
	case *[6][]float32:
		dotKernelMixed(n4, a0, a1, b, acc)
	}
}

// GemmNTMixed sets C = alpha·A·Bᵀ + beta·C for A m×k and C m×n in float64
// and B n×k in float32, all row-major: a few vectors (the rows of A)
// against a large matrix held at half the bytes, as a product streaming it
// from memory wants. B's values are widened exactly and every sum is
// accumulated in float64, in an order that does not depend on the number
// of goroutines. C is not read when beta is 0.
func GemmNTMixed(m, n, k int, alpha float64, a []float64, lda int, b []float32, ldb int, beta float64, c []float64, ldc int) {
	if m < 0 || n < 0 || k < 0 || lda < max(1, k) || ldb < max(1, k) || ldc < max(1, n) {
		panic("fastblas: GemmNTMixed: bad dimension or stride")
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleGeneral(m, n, beta, c, ldc)
		return
	}
	_, _, _ = a[(m-1)*lda+k-1], b[(n-1)*ldb+k-1], c[(m-1)*ldc+n-1]
	procs := runtime.GOMAXPROCS(0)
	for i0 := 0; i0 < m; i0 += thinMaxRows {
		mi := min(thinMaxRows, m-i0)
		gemmThinNT(procs, mi, n, k, alpha, a[i0*lda:], lda, b, ldb, beta, c[i0*ldc:], ldc)
	}
}

// gemmThinNN sets C = alpha·A·B + beta·C for A m×k, B k×n and C m×n, all
// row-major, m, n, k ≥ 1.
func gemmThinNN[T element](procs, m, n, k int, alpha float64, a []float64, lda int, b []T, ldb int, beta float64, c []float64, ldc int) {
	var a12 []float64
	if haveAsm && haveAVX512 && m > 2 {
		pooled := scratch.Get(12 * k * ((m + 11) / 12))
		defer scratch.Put(pooled)
		a12 = packRows12(*pooled, m, k, a, lda)
	}
	if a12 != nil && n >= 16 && k*n*int(unsafe.Sizeof(b[0])) >= thinStreamMinBytes {
		tasks := (n/16*16 + streamCols - 1) / streamCols
		run := func(t int) { thinNNStream(t, m, n, k, alpha, a, lda, a12, b, ldb, beta, c, ldc) }
		if !parallel(procs, m*n*k) {
			for t := range tasks {
				run(t)
			}
		} else {
			par.For(tasks, procs, func(_, t int) { run(t) })
		}
		thinTail(m, n/16*16, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	tasks := (n + thinColsNN - 1) / thinColsNN
	if !parallel(procs, m*n*k) {
		for t := 0; t < tasks; t++ {
			thinNNTask(t, m, n, k, alpha, a, lda, a12, b, ldb, beta, c, ldc)
		}
		return
	}
	par.For(tasks, procs, func(_, t int) { thinNNTask(t, m, n, k, alpha, a, lda, a12, b, ldb, beta, c, ldc) })
}

// thinStreamMinBytes is the size of B from which gemmThinNN streams it
// (thinNNStream, on the AVX-512 kernels): beyond L2. A smaller B, which
// the caches hold, is read faster in place (the Lanczos shapes of
// BenchmarkDgemm, 0.9 MiB, 1.4–1.8× longer streamed); at 1.3–85 MiB
// streaming takes 0.4–1.0× the time in place, the least on the largest.
var thinStreamMinBytes = 1 << 20

// streamCols and streamRows shape thinNNStream's work: a task's columns,
// and the rows of B each pass over them reads.
var streamCols, streamRows = 1024, 8

// thinNNStream computes the whole 16-column blocks in columns
// [t·streamCols, (t+1)·streamCols) of gemmThinNN's C on the AVX-512
// kernel, twelve rows of A (a12) at a time, for a B beyond the caches. It
// reads B in streamRows-row passes along its rows, each row a long run in
// memory order, while the sums of the task's blocks stay in L2 between
// the passes: the panel copy of thinNNTask reads the same B as runs of a
// few hundred entries, one row apart, which on these machines moves a
// third of the bandwidth. Every sum is still the kernel's multiply-adds
// over p in order from zero, so C is bitwise thinNNTask's.
func thinNNStream[T element](t, m, n, k int, alpha float64, a []float64, lda int, a12 []float64, b []T, ldb int, beta float64, c []float64, ldc int) {
	j0, j1 := t*streamCols, min((t+1)*streamCols, n/16*16)
	blocks := (j1 - j0) / 16
	acc := scratch.Get(blocks * 192)
	defer scratch.Put(acc)
	for g := 0; 12*g < m; g++ {
		ag := a12[g*12*k : (g+1)*12*k]
		clear(*acc)
		for p0 := 0; p0 < k; p0 += streamRows {
			kb := min(streamRows, k-p0)
			for blk := range blocks {
				axpy12Kernel(kb, ag[p0*12:], b[p0*ldb+j0+16*blk:], ldb, (*[192]float64)((*acc)[blk*192:]))
			}
		}
		for blk := range blocks {
			for i := range min(12, m-12*g) {
				r, j := 12*g+i, j0+16*blk
				storeRow(c[r*ldc+j:r*ldc+j+16], (*acc)[blk*192+i*16:blk*192+i*16+16], alpha, beta)
			}
		}
	}
}

// thinTail computes columns [j0, j1) of gemmThinNN's C one entry at a
// time.
func thinTail[T element](m, j0, j1, k int, alpha float64, a []float64, lda int, b []T, ldb int, beta float64, c []float64, ldc int) {
	for i := 0; i < m; i++ {
		ar := a[i*lda : i*lda+k]
		for j := j0; j < j1; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += ar[p] * float64(b[p*ldb+j])
			}
			ci := &c[i*ldc+j]
			if beta == 0 {
				*ci = alpha * s
			} else {
				*ci = alpha*s + beta**ci
			}
		}
	}
}

// packRows12 writes the m×k matrix a into dst in groups of twelve rows,
// each group k×12 (p-major, axpy12Kernel's layout), the rows past m zero,
// and returns the packed part of dst.
func packRows12(dst []float64, m, k int, a []float64, lda int) []float64 {
	groups := (m + 11) / 12
	dst = dst[:12*k*groups]
	for g := range groups {
		d := dst[g*12*k : (g+1)*12*k]
		for i := range 12 {
			r := 12*g + i
			if r >= m {
				for p := range k {
					d[p*12+i] = 0
				}
				continue
			}
			for p, v := range a[r*lda : r*lda+k] {
				d[p*12+i] = v
			}
		}
	}
	return dst
}

// thinNNTask computes columns [t·thinColsNN, (t+1)·thinColsNN) of
// gemmThinNN's C. With more than two rows of A the kernel passes over B's
// columns several times, reading 16 of them down all k rows each time: a
// 128-byte run per row, rows ldb apart, which on a B beyond the caches
// (thinPanelMinBytes) is one cache miss per row that no prefetcher sees
// coming. So there the task's columns are first copied, row by row (runs
// of up to thinColsNN entries, which stream), into panels of 16 columns
// stored contiguously, small enough together for L2 (thinPanelCols), and
// the kernel reads those. Every element of C is still computed by one
// kernel call over all k, as without the panels. With a12 (A packed by
// packRows12, on the AVX-512 kernels) the kernel takes twelve rows of A
// at a time instead of two, so that B is read once for up to twelve rows.
func thinNNTask[T element](t, m, n, k int, alpha float64, a []float64, lda int, a12 []float64, b []T, ldb int, beta float64, c []float64, ldc int) {
	var acc [32]float64
	jt, j1 := t*thinColsNN, min((t+1)*thinColsNN, n)
	full := jt + (j1-jt)/16*16 // end of the whole 16-column blocks
	w := thinPanelCols(k)
	var panel *[]T
	if m > 2 && full > jt && k*n*int(unsafe.Sizeof(b[0])) >= thinPanelMinBytes {
		panel = scratch.GetOf[T](min(w, full-jt) * k)
		defer scratch.PutOf(panel)
	}
	for jp := jt; jp < full; jp += w {
		wp := min(w, full-jp)
		// The blocks' B, its stride, and how far apart its 16-column
		// blocks start.
		bp, ldp, step := b[jp:], ldb, 1
		if panel != nil {
			// Panel jb/16 holds columns jb… as k contiguous runs of 16.
			pb := *panel
			for p := 0; p < k; p++ {
				row := b[p*ldb+jp : p*ldb+jp+wp]
				for jb := 0; jb < wp; jb += 16 {
					*(*[16]T)(pb[jb*k+p*16:]) = *(*[16]T)(row[jb:])
				}
			}
			bp, ldp, step = pb, 16, k
		}
		if a12 != nil {
			var acc12 [192]float64
			for g := 0; 12*g < m; g++ {
				rows, ag := min(12, m-12*g), a12[g*12*k:(g+1)*12*k]
				for jb := 0; jb < wp; jb += 16 {
					acc12 = [192]float64{}
					axpy12Kernel(k, ag, bp[jb*step:], ldp, &acc12)
					j0 := jp + jb
					for i := range rows {
						r := 12*g + i
						storeRow(c[r*ldc+j0:r*ldc+j0+16], acc12[i*16:i*16+16], alpha, beta)
					}
				}
			}
			continue
		}
		for i0 := 0; i0 < m; i0 += 2 {
			na := min(2, m-i0)
			arow := [2][]float64{a[i0*lda : i0*lda+k], a[(i0+na-1)*lda : (i0+na-1)*lda+k]}
			for jb := 0; jb < wp; jb += 16 {
				axpyKernelAny(k, arow[0], arow[1], bp[jb*step:], ldp, &acc)
				for i := range na {
					j0 := jp + jb
					storeRow(c[(i0+i)*ldc+j0:(i0+i)*ldc+j0+16], acc[i*16:i*16+16], alpha, beta)
				}
			}
		}
	}
	thinTail(m, full, j1, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// axpyKernelAny is axpyKernel for float64 B and axpyKernelMixed for
// float32.
func axpyKernelAny[T element](k int, a0, a1 []float64, b []T, ldb int, acc *[32]float64) {
	switch b := any(b).(type) {
	case []float64:
		axpyKernel(k, a0, a1, b, ldb, acc)
	case []float32:
		axpyKernelMixed(k, a0, a1, b, ldb, acc)
	}
}

// GemmNNMixed sets C = alpha·A·B + beta·C for A m×k and C m×n in float64
// and B k×n in float32, all row-major: a few vectors times a large matrix
// held at half the bytes (a map-back from a float32 block of V), B's
// values widened exactly and every sum accumulated in float64, in an
// order that does not depend on the number of goroutines. C is not read
// when beta is 0.
func GemmNNMixed(m, n, k int, alpha float64, a []float64, lda int, b []float32, ldb int, beta float64, c []float64, ldc int) {
	if m < 0 || n < 0 || k < 0 || lda < max(1, k) || ldb < max(1, n) || ldc < max(1, n) {
		panic("fastblas: GemmNNMixed: bad dimension or stride")
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleGeneral(m, n, beta, c, ldc)
		return
	}
	_, _, _ = a[(m-1)*lda+k-1], b[(k-1)*ldb+n-1], c[(m-1)*ldc+n-1]
	procs := runtime.GOMAXPROCS(0)
	for i0 := 0; i0 < m; i0 += thinMaxRows {
		mi := min(thinMaxRows, m-i0)
		gemmThinNN(procs, mi, n, k, alpha, a[i0*lda:], lda, b, ldb, beta, c[i0*ldc:], ldc)
	}
}

// thinPanelMinBytes is the size of B from which thinNNTask copies it into
// panels. A B that the caches hold is read faster in place: with panels,
// 10 rows times B of 288 rows took 1.5× longer at 5 MiB, as long at 21
// MiB, 8 % less at 42 MiB and 20 % less at 85 MiB (a map-back); the
// Lanczos shapes of BenchmarkDgemm (NN…x1152x100, 0.9 MiB) 1.5–2× longer.
var thinPanelMinBytes = 16 << 20

// thinPanelCols is the width of thinNNTask's panels for k rows: all the
// task's columns while the panels fit 1 MiB (an L2 cache), else fewer,
// down to one block of 16.
func thinPanelCols(k int) int {
	return max(16, min(thinColsNN, (1<<17)/max(k, 1)/16*16))
}

// storeRow sets dst = alpha·src + beta·dst (dst is not read if beta is 0).
func storeRow(dst, src []float64, alpha, beta float64) {
	src = src[:len(dst)]
	if beta == 0 {
		for j, v := range src {
			dst[j] = alpha * v
		}
		return
	}
	for j, v := range src {
		dst[j] = alpha*v + beta*dst[j]
	}
}

// parallel reports whether a thin product of work multiply-adds is worth
// spreading over procs goroutines. The serial path allocates nothing (the
// parallel one allocates its closure).
func parallel(procs, work int) bool { return work >= minParallel && procs > 1 }
