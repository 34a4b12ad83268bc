// Copyright ©2025 The vivit-go Authors. All rights reserved.

package fastblas

import (
	"sync"

	"github.com/vivit-go/vivit/internal/par"
)

// Blocking parameters. The micro-kernel computes an mr×nr block of C from
// packed panels. k is processed in slabs of at most kcMax. For each slab,
// op(B) is packed once into a shared buffer (kc×n); then each work unit
// packs an mc×kc block of op(A) into a private buffer (≤ 192 KiB, stays in
// L2) and sweeps it against a range of B panels (kc×nr, 16 KiB, stays in
// L1 while the kernel walks down the A block).
const (
	mr    = 6
	nr    = 8
	kcMax = 256
	mcMax = 96 // rows of C per work unit (multiple of mr)

	packChunk = 8 // B panels per packing work item

	// minParallel is the m·n·k above which the work is spread over
	// several goroutines.
	minParallel = 64 * 64 * 64
)

type triMode uint8

const (
	triNone  triMode = iota // full C
	triUpper                // only C[i][j], j ≥ i
	triLower                // only C[i][j], j ≤ i
)

// gemmJob holds the state of one gemm call; it is pooled together with its
// packing buffers.
type gemmJob struct {
	aTrans, bTrans bool
	m, n, k        int
	alpha, beta    float64
	a, b, c        []float64
	lda, ldb, ldc  int
	tri            triMode

	kc    int // k slab size
	np    int // number of B panels
	bp    []float64
	aBufs [][]float64 // private A block per worker

	p0, kk int     // current slab
	betaK  float64 // beta for the current slab (beta, then 1)

	mc     int // rows per unit
	cw     int // columns per unit (multiple of nr)
	tm, tg int // units: tm row blocks × tg column groups

	buf []float64
}

var jobPool = sync.Pool{New: func() any { return new(gemmJob) }}

const (
	phasePack = iota
	phaseCompute
)

// gemm computes C = alpha*op(A)*op(B) + beta*C for m, n, k ≥ 1 and valid
// arguments, restricted to a triangle of C when tri != triNone (m == n).
func gemm(procs int, aTrans, bTrans bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int, tri triMode) {
	j := jobPool.Get().(*gemmJob)
	j.aTrans, j.bTrans = aTrans, bTrans
	j.m, j.n, j.k = m, n, k
	j.alpha, j.beta = alpha, beta
	j.a, j.b, j.c = a, b, c
	j.lda, j.ldb, j.ldc = lda, ldb, ldc
	j.tri = tri

	// The slab size depends only on k and the micro-tile grid is fixed, so
	// the summation order of every element of C is independent of the
	// number of goroutines and of the partition into work units.
	nSlabs := (k + kcMax - 1) / kcMax
	j.kc = (k + nSlabs - 1) / nSlabs
	j.np = (n + nr - 1) / nr

	workers := 1
	if float64(m)*float64(n)*float64(k) >= minParallel {
		workers = procs
	}
	j.partition(workers)
	workers = min(workers, j.tm*j.tg)

	bSize := j.np * nr * j.kc
	aSize := j.mc * j.kc
	need := bSize + workers*aSize
	if cap(j.buf) < need {
		j.buf = make([]float64, need)
	}
	j.bp = j.buf[:bSize]
	j.aBufs = j.aBufs[:0]
	for w := range workers {
		off := bSize + w*aSize
		j.aBufs = append(j.aBufs, j.buf[off:off+aSize])
	}
	nPack := (j.np + packChunk - 1) / packChunk

	for p0 := 0; p0 < k; p0 += j.kc {
		j.p0 = p0
		j.kk = min(j.kc, k-p0)
		j.betaK = beta
		if p0 > 0 {
			j.betaK = 1
		}
		j.runPhase(phasePack, nPack, workers)
		j.runPhase(phaseCompute, j.tm*j.tg, workers)
	}

	j.a, j.b, j.c, j.bp = nil, nil, nil, nil
	clear(j.aBufs)
	jobPool.Put(j)
}

// partition splits C into work units: tm blocks of mc rows times tg groups
// of cw columns. Column groups are only used when there are too few row
// blocks to keep the workers busy; every unit packs its own A block.
func (j *gemmJob) partition(workers int) {
	j.tm = (j.m + mcMax - 1) / mcMax
	j.mc = roundUp((j.m+j.tm-1)/j.tm, mr)
	j.tm = (j.m + j.mc - 1) / j.mc
	tg := 1
	if workers > 1 {
		want := 3 * workers
		if j.tri != triNone {
			want = 6 * workers // triangular units are uneven
		}
		tg = min(j.np, max(1, (want+j.tm-1)/j.tm))
	}
	j.cw = roundUp((j.n+tg-1)/tg, nr)
	j.tg = (j.n + j.cw - 1) / j.cw
}

func roundUp(x, q int) int { return (x + q - 1) / q * q }

func (j *gemmJob) runPhase(phase, nItems, workers int) {
	if workers <= 1 {
		for it := 0; it < nItems; it++ {
			j.item(phase, 0, it)
		}
		return
	}
	par.For(nItems, workers, func(w, it int) { j.item(phase, w, it) })
}

func (j *gemmJob) item(phase, worker, it int) {
	if phase == phasePack {
		j.packB(it)
	} else {
		j.computeUnit(it, j.aBufs[worker])
	}
}

func (j *gemmJob) packB(it int) {
	kk := j.kk
	for jp := it * packChunk; jp < min((it+1)*packChunk, j.np); jp++ {
		jj := jp * nr
		dst := j.bp[jp*nr*kk : (jp+1)*nr*kk]
		if j.bTrans {
			packColsN8(dst, j.b, j.ldb, j.p0, kk, jj, min(nr, j.n-jj))
		} else {
			packRows8(dst, j.b, j.ldb, j.p0, kk, jj, min(nr, j.n-jj))
		}
	}
}

func (j *gemmJob) computeUnit(u int, abuf []float64) {
	ti, tg := u/j.tg, u%j.tg
	i0, j0 := ti*j.mc, tg*j.cw
	i1, j1 := min(i0+j.mc, j.m), min(j0+j.cw, j.n)
	switch j.tri {
	case triUpper:
		if j1-1 < i0 {
			return
		}
		// Columns left of the first micro-tile that touches the triangle
		// contribute nothing.
		j0 = max(j0, i0/nr*nr)
	case triLower:
		if j0 > i1-1 {
			return
		}
		j1 = min(j1, i1)
	}
	kk := j.kk

	// Pack the A block (rows i0..i1) into the private buffer.
	for i := i0; i < i1; i += mr {
		dst := abuf[(i-i0)*kk : (i-i0+mr)*kk]
		if j.aTrans {
			packRowsT(dst, j.a, j.lda, j.p0, kk, i, min(mr, j.m-i))
		} else {
			packColsN6(dst, j.a, j.lda, j.p0, kk, i, min(mr, j.m-i))
		}
	}

	c, ldc := j.c, j.ldc
	alpha, beta := j.alpha, j.betaK
	for jj := j0; jj < j1; jj += nr {
		bpan := j.bp[(jj/nr)*nr*kk : (jj/nr+1)*nr*kk]
		cols := min(nr, j.n-jj)
		for i := i0; i < i1; i += mr {
			rows := min(mr, j.m-i)
			full := rows == mr && cols == nr
			switch j.tri {
			case triUpper:
				if jj+cols-1 < i {
					continue
				}
				if jj < i+rows-1 {
					full = false
				}
			case triLower:
				if jj > i+rows-1 {
					continue
				}
				if jj+cols-1 > i {
					full = false
				}
			}
			apan := abuf[(i-i0)*kk : (i-i0+mr)*kk]
			if full {
				microKernel(kk, apan, bpan, c[i*ldc+jj:], ldc, alpha, beta)
			} else {
				j.edge(apan, bpan, i, jj, rows, cols)
			}
		}
	}
}

// edge handles a micro-tile that is cut by the border of C or by the
// diagonal (triangular update): the kernel works on a copy.
func (j *gemmJob) edge(apan, bpan []float64, i, jj, rows, cols int) {
	var tmp [mr * nr]float64
	c, ldc := j.c, j.ldc
	if j.betaK != 0 {
		for r := 0; r < rows; r++ {
			copy(tmp[r*nr:r*nr+cols], c[(i+r)*ldc+jj:(i+r)*ldc+jj+cols])
		}
	}
	microKernel(j.kk, apan, bpan, tmp[:], nr, j.alpha, j.betaK)
	for r := 0; r < rows; r++ {
		lo, hi := 0, cols
		switch j.tri {
		case triUpper:
			lo = max(0, i+r-jj) // j ≥ i
		case triLower:
			hi = min(cols, i+r-jj+1) // j ≤ i
		}
		if lo < hi {
			copy(c[(i+r)*ldc+jj+lo:(i+r)*ldc+jj+hi], tmp[r*nr+lo:r*nr+hi])
		}
	}
}
