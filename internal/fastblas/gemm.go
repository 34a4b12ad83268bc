// Copyright ©2025 The vivit-go Authors. All rights reserved.

package fastblas

import (
	"sync"

	"github.com/vivit-go/vivit/internal/par"
)

// Blocking parameters. The micro-kernel computes an mr×nr block of C from
// packed panels (nr = 8 in float64, 16 in float32: two AVX2 registers per
// row either way). k is processed in slabs of at most kcMax. For each slab,
// op(B) is packed once into a shared buffer (kc×n); then each work unit
// packs an mc×kc block of op(A) into a private buffer (≤ 192 KiB, stays in
// L2) and sweeps it against a range of B panels (kc×nr, 16 KiB, stays in
// L1 while the kernel walks down the A block).
const (
	mr    = 6
	nr    = 8  // float64 micro-tile width
	nr32  = 16 // float32 micro-tile width
	kcMax = 256
	mcMax = 96 // rows of C per work unit (multiple of mr and of gramRows)

	// gramRows is the micro-tile height of Gram products (A·Aᵀ on
	// AVX-512): their A panels are eight rows of the packed B panels, so
	// that A is not packed a second time (gemmJob.computeGram).
	gramRows = 8

	packChunk = 8 // B panels per packing work item

	// minParallel is the m·n·k above which the work is spread over
	// several goroutines.
	minParallel = 64 * 64 * 64

	// A product whose C has at most splitMaxC entries and whose inner
	// dimension is at least 2·sliceMinK is summed over k ranges of at
	// least sliceMinK, at most maxSlices of them (see gemmSplitK).
	splitMaxC = 384 * 384
	sliceMinK = 4 * kcMax
	maxSlices = 8
)

// gramEnabled switches the gram kernels on (tests compare without them).
var gramEnabled = true

// element is the scalar type of a product.
type element interface{ float32 | float64 }

// kernelSet is the micro-kernel and the packing routines of one element
// type. The packers fill an A panel (mr rows) from a row-major or a
// transposed A, and a B panel (nr columns) from a row-major or a
// transposed B; see pack.go.
type kernelSet[T element] struct {
	nr    int
	micro func(kc int, a, b, c []T, ldc int, alpha, beta T)
	// pair, when not nil, is micro on two adjacent B panels at once (an
	// mr×2nr block, AVX-512), with the same operations per entry.
	pair func(kc int, a, b, c []T, ldc int, alpha, beta T)
	// gram, when not nil, is pair for a gramRows×2nr block whose A panel
	// is gramRows rows of a packed B panel (its steps nr apart), with the
	// same operations per entry.
	gram          func(kc int, a, b, c []T, ldc int, alpha, beta T)
	packA, packAT func(dst, a []T, lda, p0, kk, i, rows int)
	packB, packBT func(dst, b []T, ldb, p0, kk, j, cols int)
	jobs          *sync.Pool // of *gemmJob[T]
}

var (
	pair64, pair32 = pairKernels()
	gram64, gram32 = gramKernels()
	kernels64      = kernelSet[float64]{nr: nr, micro: microKernel, pair: pair64, gram: gram64,
		packA: packColsN6, packAT: packRowsT, packB: packRows8, packBT: packColsN8,
		jobs: &sync.Pool{New: func() any { return new(gemmJob[float64]) }}}
	kernels32 = kernelSet[float32]{nr: nr32, micro: microKernel32, pair: pair32, gram: gram32,
		packA: packTransposing32, packAT: packCopying32, packB: packCopying32, packBT: packTransposing32,
		jobs: &sync.Pool{New: func() any { return new(gemmJob[float32]) }}}
)

// kernelsFor returns the kernel set of T.
func kernelsFor[T element]() *kernelSet[T] {
	if ks, ok := any(&kernels64).(*kernelSet[T]); ok {
		return ks
	}
	return any(&kernels32).(*kernelSet[T])
}

type triMode uint8

const (
	triNone  triMode = iota // full C
	triUpper                // only C[i][j], j ≥ i
	triLower                // only C[i][j], j ≤ i
)

// gemmJob holds the state of one gemm call; it is pooled together with its
// packing buffers.
type gemmJob[T element] struct {
	ks *kernelSet[T]
	nr int
	gemmArgs[T]

	kc    int // k slab size
	np    int // number of B panels
	bp    []T
	aBufs [][]T // private A block per worker

	p0, kk int  // current slab
	shared bool // a Gram product: A's panels are B's (computeGram)
	betaK  T    // beta for the current slab (beta, then 1)

	mc     int // rows per unit
	cw     int // columns per unit (multiple of nr)
	tm, tg int // units: tm row blocks × tg column groups

	buf []T
}

const (
	phasePack = iota
	phaseCompute
)

// gemm computes C = alpha*op(A)*op(B) + beta*C for m, n, k ≥ 1 and valid
// arguments, restricted to a triangle of C when tri != triNone (m == n).
func gemm[T element](procs int, aTrans, bTrans bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int, tri triMode) {
	if s := kSlices(m, n, k); s > 1 {
		gemmSplitK(procs, s, aTrans, bTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, tri)
		return
	}
	gemmSlabs(procs, aTrans, bTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, tri)
}

// kSlices returns the number of k ranges gemmSplitK sums a product over,
// or 1 for the slab-by-slab product. It depends on the shape only, never
// on the number of goroutines, so that every element of C is summed in
// the same order on any number of them.
func kSlices(m, n, k int) int {
	if m*n > splitMaxC || k < 2*sliceMinK {
		return 1
	}
	return min(maxSlices, k/sliceMinK)
}

// gemmArgs are the arguments of a gemm call.
type gemmArgs[T element] struct {
	aTrans, bTrans bool
	m, n, k        int
	alpha, beta    T
	a, b, c        []T
	lda, ldb, ldc  int
	tri            triMode
}

// splitJob is the state of one gemmSplitK call, pooled with its partial
// products (s copies of C, m×n each).
type splitJob[T element] struct {
	gemmArgs[T]
	s     int
	parts []T
}

var splitJobs64 = sync.Pool{New: func() any { return new(splitJob[float64]) }}
var splitJobs32 = sync.Pool{New: func() any { return new(splitJob[float32]) }}

// gemmSplitK computes the product over s equal ranges of k, each summed
// slab by slab on one goroutine into its own m×n buffer, and adds the
// buffers into C in order. A small C from a long k (the 288×288 Gram
// matrix of a block of V, from k = 12288) has too few work units per
// slab to share: the goroutines of the slab-by-slab product wait at its
// phases' barriers, and two cores run it 0.8–1.3× as fast as one. Here
// each goroutine sums whole ranges, without barriers (1.6–2×).
func gemmSplitK[T element](procs, s int, aTrans, bTrans bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int, tri triMode) {
	pool := &splitJobs64
	if _, ok := any(alpha).(float32); ok {
		pool = &splitJobs32
	}
	j := pool.Get().(*splitJob[T])
	j.gemmArgs = gemmArgs[T]{aTrans: aTrans, bTrans: bTrans, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc, tri: tri}
	j.s = s
	if cap(j.parts) < s*m*n {
		j.parts = make([]T, s*m*n)
	}
	j.parts = j.parts[:s*m*n]
	// m·n ≤ splitMaxC here, so m·n·k does not overflow.
	if !parallel(procs, m*n*k) {
		for i := range s {
			j.rangeProduct(i)
		}
		for i := range m {
			j.addRow(i)
		}
	} else {
		par.For(s, procs, func(_, i int) { j.rangeProduct(i) })
		par.For(m, procs, func(_, i int) { j.addRow(i) })
	}
	j.a, j.b, j.c = nil, nil, nil
	pool.Put(j)
}

// rangeProduct writes the product over range i of k into parts[i].
func (j *splitJob[T]) rangeProduct(i int) {
	m, n := j.m, j.n
	k0, k1 := i*j.k/j.s, (i+1)*j.k/j.s
	// op(A) is m×k: columns k0… of A, or rows of Aᵀ; op(B) k×n likewise.
	ai, bi := j.a[k0:], j.b[k0:]
	if j.aTrans {
		ai = j.a[k0*j.lda:]
	}
	if !j.bTrans {
		bi = j.b[k0*j.ldb:]
	}
	gemmSlabs(1, j.aTrans, j.bTrans, m, n, k1-k0, j.alpha, ai, j.lda, bi, j.ldb, 0, j.parts[i*m*n:(i+1)*m*n], n, j.tri)
}

// addRow sets row i of C (its triangle's part) to β·C plus the ranges'
// products, added in order.
func (j *splitJob[T]) addRow(i int) {
	m, n := j.m, j.n
	j0, j1 := 0, n
	switch j.tri {
	case triUpper:
		j0 = i
	case triLower:
		j1 = i + 1
	}
	row := j.c[i*j.ldc+j0 : i*j.ldc+j1]
	first := j.parts[i*n+j0 : i*n+j1]
	switch j.beta {
	case 0:
		copy(row, first)
	case 1:
		for q, v := range first {
			row[q] += v
		}
	default:
		for q, v := range first {
			row[q] = j.beta*row[q] + v
		}
	}
	for p := 1; p < j.s; p++ {
		for q, v := range j.parts[p*m*n+i*n+j0 : p*m*n+i*n+j1] {
			row[q] += v
		}
	}
}

// gemmSlabs is gemm slab by slab: each slab of k is packed once and its
// work units (blocks of C) are spread over the goroutines.
func gemmSlabs[T element](procs int, aTrans, bTrans bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int, tri triMode) {
	ks := kernelsFor[T]()
	j := ks.jobs.Get().(*gemmJob[T])
	j.ks, j.nr = ks, ks.nr
	j.aTrans, j.bTrans = aTrans, bTrans
	j.m, j.n, j.k = m, n, k
	j.alpha, j.beta = alpha, beta
	j.a, j.b, j.c = a, b, c
	j.lda, j.ldb, j.ldc = lda, ldb, ldc
	j.tri = tri
	// C = A·Aᵀ (Dsyrk, Ssyrk without transposition): op(A)'s rows are
	// op(B)'s columns, which packB packs.
	j.shared = tri != triNone && !aTrans && bTrans && lda == ldb && &a[0] == &b[0] &&
		ks.gram != nil && haveAsm && haveAVX512 && gramEnabled

	// The slab size depends only on k and the micro-tile grid is fixed, so
	// the summation order of every element of C is independent of the
	// number of goroutines and of the partition into work units.
	nSlabs := (k + kcMax - 1) / kcMax
	j.kc = (k + nSlabs - 1) / nSlabs
	j.np = (n + j.nr - 1) / j.nr

	workers := 1
	if float64(m)*float64(n)*float64(k) >= minParallel {
		workers = procs
	}
	j.partition(workers)
	workers = min(workers, j.tm*j.tg)

	bSize := j.np * j.nr * j.kc
	// Each worker's buffer: its A block, then an edge micro-tile (a local
	// array would escape through the kernel function value).
	aSize := j.mc*j.kc + 2*gramRows*nr32 // the A block, then a pair's micro-tile
	if j.shared {
		// No A block, and a spare panel after the last, which a pair
		// kernel reads for the columns past n that its edge drops.
		bSize += j.nr * j.kc
		aSize = 2 * gramRows * nr32
	}
	need := bSize + workers*aSize
	if cap(j.buf) < need {
		j.buf = make([]T, need)
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
	ks.jobs.Put(j)
}

// partition splits C into work units: tm blocks of mc rows times tg groups
// of cw columns. Column groups are only used when there are too few row
// blocks to keep the workers busy; every unit packs its own A block (but
// a Gram product's, computeGram).
func (j *gemmJob[T]) partition(workers int) {
	rows := mr
	if j.shared {
		rows = gramRows
	}
	j.tm = (j.m + mcMax - 1) / mcMax
	j.mc = roundUp((j.m+j.tm-1)/j.tm, rows)
	j.tm = (j.m + j.mc - 1) / j.mc
	tg := 1
	if workers > 1 {
		want := 3 * workers
		if j.tri != triNone {
			want = 6 * workers // triangular units are uneven
		}
		tg = min(j.np, max(1, (want+j.tm-1)/j.tm))
	}
	width := j.nr
	if j.shared {
		width = 2 * j.nr // the gram kernel's
	}
	j.cw = roundUp((j.n+tg-1)/tg, width)
	j.tg = (j.n + j.cw - 1) / j.cw
}

func roundUp(x, q int) int { return (x + q - 1) / q * q }

func (j *gemmJob[T]) runPhase(phase, nItems, workers int) {
	if workers <= 1 {
		for it := 0; it < nItems; it++ {
			j.item(phase, 0, it)
		}
		return
	}
	par.For(nItems, workers, func(w, it int) { j.item(phase, w, it) })
}

func (j *gemmJob[T]) item(phase, worker, it int) {
	if phase == phasePack {
		j.packB(it)
	} else {
		j.computeUnit(it, j.aBufs[worker])
	}
}

func (j *gemmJob[T]) packB(it int) {
	kk, nr := j.kk, j.nr
	for jp := it * packChunk; jp < min((it+1)*packChunk, j.np); jp++ {
		jj := jp * nr
		dst := j.bp[jp*nr*kk : (jp+1)*nr*kk]
		if j.bTrans {
			j.ks.packBT(dst, j.b, j.ldb, j.p0, kk, jj, min(nr, j.n-jj))
		} else {
			j.ks.packB(dst, j.b, j.ldb, j.p0, kk, jj, min(nr, j.n-jj))
		}
	}
}

func (j *gemmJob[T]) computeUnit(u int, abuf []T) {
	if j.shared {
		j.computeGram(u, abuf)
		return
	}
	nr := j.nr
	i0, i1, j0, j1, ok := j.unit(u)
	if !ok {
		return
	}
	kk := j.kk
	abuf, tile := abuf[:j.mc*kk], abuf[len(abuf)-2*gramRows*nr32:]

	// Pack the A block (rows i0..i1) into the private buffer.
	for i := i0; i < i1; i += mr {
		dst := abuf[(i-i0)*kk : (i-i0+mr)*kk]
		if j.aTrans {
			j.ks.packAT(dst, j.a, j.lda, j.p0, kk, i, min(mr, j.m-i))
		} else {
			j.ks.packA(dst, j.a, j.lda, j.p0, kk, i, min(mr, j.m-i))
		}
	}

	pair := j.ks.pair
	if !haveAsm || !haveAVX512 {
		pair = nil // switched off (tests)
	}
	for jj := j0; jj < j1; {
		if pair != nil && jj+2*nr <= j1 {
			// Two full-width panels: one pair kernel per A panel where
			// both micro-tiles are whole, else each on its own.
			bpan := j.bp[(jj/nr)*nr*kk : (jj/nr+2)*nr*kk]
			for i := i0; i < i1; i += mr {
				apan := abuf[(i-i0)*kk : (i-i0+mr)*kk]
				skip0, full0 := j.tileKind(i, jj, mr, nr)
				skip1, full1 := j.tileKind(i, jj+nr, mr, nr)
				if full0 && full1 {
					pair(kk, apan, bpan, j.c[i*j.ldc+jj:], j.ldc, j.alpha, j.betaK)
					continue
				}
				if !skip0 && !skip1 {
					// Both cut (by the diagonal or C's last rows): one
					// pair kernel on a copy.
					j.edge(tile, apan, bpan, i, jj, mr, 2*nr, pair)
					continue
				}
				if !skip0 {
					j.tile(tile, apan, bpan[:nr*kk], i, jj, nr, full0)
				}
				if !skip1 {
					j.tile(tile, apan, bpan[nr*kk:], i, jj+nr, nr, full1)
				}
			}
			jj += 2 * nr
			continue
		}
		bpan := j.bp[(jj/nr)*nr*kk : (jj/nr+1)*nr*kk]
		cols := min(nr, j.n-jj)
		for i := i0; i < i1; i += mr {
			if skip, full := j.tileKind(i, jj, mr, cols); !skip {
				j.tile(tile, abuf[(i-i0)*kk:(i-i0+mr)*kk], bpan, i, jj, cols, full)
			}
		}
		jj += nr
	}
}

// unit returns the rows [i0, i1) and columns [j0, j1) of C that work unit
// u updates, or ok false when it lies outside the triangle to update.
func (j *gemmJob[T]) unit(u int) (i0, i1, j0, j1 int, ok bool) {
	ti, tg := u/j.tg, u%j.tg
	i0, j0 = ti*j.mc, tg*j.cw
	i1, j1 = min(i0+j.mc, j.m), min(j0+j.cw, j.n)
	switch j.tri {
	case triUpper:
		if j1-1 < i0 {
			return 0, 0, 0, 0, false
		}
		// Columns left of the first panel that touches the triangle
		// contribute nothing.
		j0 = max(j0, i0/j.nr*j.nr)
	case triLower:
		if j0 > i1-1 {
			return 0, 0, 0, 0, false
		}
		j1 = min(j1, i1)
	}
	return i0, i1, j0, j1, true
}

// computeGram is computeUnit for a Gram product (j.shared): the A panel
// of rows i…i+7 is read from the packed B panel that holds those rows (B's
// columns are A's rows), and each gramRows×2nr micro-tile is one call of
// the gram kernel, on a copy (edge) where the unit's last columns, C's
// last rows or the diagonal cut it.
func (j *gemmJob[T]) computeGram(u int, abuf []T) {
	nr, kk := j.nr, j.kk
	i0, i1, j0, j1, ok := j.unit(u)
	if !ok {
		return
	}
	tile := abuf[len(abuf)-2*gramRows*nr32:]
	gram := j.ks.gram
	for jj := j0; jj < j1; jj += 2 * nr {
		cols := min(2*nr, j1-jj)
		bpan := j.bp[(jj/nr)*nr*kk : (jj/nr+2)*nr*kk]
		for i := i0; i < i1; i += gramRows {
			skip, full := j.tileKind(i, jj, gramRows, cols)
			if skip {
				continue
			}
			apan := j.bp[(i/nr)*nr*kk+i%nr:]
			if full {
				gram(kk, apan, bpan, j.c[i*j.ldc+jj:], j.ldc, j.alpha, j.betaK)
				continue
			}
			j.edge(tile, apan, bpan, i, jj, gramRows, cols, gram)
		}
	}
}

// tileKind reports whether the micro-tile of kr rows (the kernel's) at
// row i and column jj with cols columns lies outside the triangle to
// update (skip), or whole inside it and C (full: kr rows of C and the
// kernel's whole width).
func (j *gemmJob[T]) tileKind(i, jj, kr, cols int) (skip, full bool) {
	rows := min(kr, j.m-i)
	width := j.nr
	if kr == gramRows {
		width = 2 * j.nr
	}
	full = rows == kr && cols == width
	switch j.tri {
	case triUpper:
		if jj+cols-1 < i {
			return true, false
		}
		if jj < i+rows-1 {
			full = false
		}
	case triLower:
		if jj > i+rows-1 {
			return true, false
		}
		if jj+cols-1 > i {
			full = false
		}
	}
	return false, full
}

// tile computes one micro-tile: by the kernel in place when it is full,
// else through edge.
func (j *gemmJob[T]) tile(tile, apan, bpan []T, i, jj, cols int, full bool) {
	if full {
		j.ks.micro(j.kk, apan, bpan, j.c[i*j.ldc+jj:], j.ldc, j.alpha, j.betaK)
		return
	}
	j.edge(tile, apan, bpan, i, jj, mr, cols, j.ks.micro)
}

// edge handles a micro-tile of kr rows (the kernel's: mr, or gramRows for
// the gram kernel) that is cut by the border of C or by the diagonal
// (triangular update): kernel (the micro-kernel, or a pair kernel for
// more than nr columns, always the gram kernel) works on a copy in tile.
func (j *gemmJob[T]) edge(tile, apan, bpan []T, i, jj, kr, cols int, kernel func(kc int, a, b, c []T, ldc int, alpha, beta T)) {
	rows := min(kr, j.m-i)
	nr := j.nr
	if cols > nr || kr == gramRows {
		nr *= 2
	}
	tmp := tile[:kr*nr]
	c, ldc := j.c, j.ldc
	if j.betaK != 0 {
		for r := 0; r < rows; r++ {
			copy(tmp[r*nr:r*nr+cols], c[(i+r)*ldc+jj:(i+r)*ldc+jj+cols])
		}
	}
	kernel(j.kk, apan, bpan, tmp, nr, j.alpha, j.betaK)
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
