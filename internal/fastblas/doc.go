// Copyright ©2025 The vivit-go Authors. All rights reserved.

// Package fastblas provides a faster BLAS for gonum without cgo.
//
// Implementation embeds gonum's pure-Go implementation
// (gonum.org/v1/gonum/blas/gonum) and overrides
//
//   - Dgemm: C = α op(A) op(B) + β C, all transpose combinations;
//   - Dsyrk: C = α A Aᵀ + β C or α Aᵀ A + β C, upper or lower triangle;
//   - Sgemm and Ssyrk, the same in float32;
//
// with a packed, cache-blocked, multi-threaded GEMM (GotoBLAS/BLIS
// structure) around AVX2/FMA register-blocked micro-kernels written in Go
// assembly: 6×8 in float64, 6×16 in float32 (the same two registers per
// row, twice the lanes). Where the CPU has AVX-512 (AVX512F, with the OS
// saving the ZMM state), two adjacent B panels go through one 6×16
// (float64) or 6×32 (float32) kernel on 512-bit registers, which on CPUs
// with full-width 512-bit units (AMD Zen 5, recent Intel server cores)
// doubles the multiply-add rate; each entry is computed with the same
// operations in the same order as by the AVX2 kernel, so results are
// bitwise the same with and without AVX-512. One generic driver serves
// both types. Everything else is gonum's. Call Use to register it with
// blas64 and blas32 (and thereby gonum/mat, lapack/gonum, ...); nothing is
// registered implicitly.
//
// # Algorithm
//
// k is split into slabs of at most 256 (the slab size depends only on k).
// For each slab, op(B) is packed into 8-column panels shared by all workers;
// then C is divided into work units of ≤ 96 rows (split further into column
// groups when there are few row blocks), each of which packs its own
// 96×kc block of op(A) into 6-row panels (L2-resident) and sweeps it
// against the B panels (L1-resident) with the micro-kernel. A Gram product
// on AVX-512 (Dsyrk or Ssyrk of A·Aᵀ, where op(A)'s rows are op(B)'s
// columns) packs nothing more: its A panels are eight rows of the B
// panels, read in place by 8×16 (float32 8×32) kernels, again with the
// same operations per entry. Units are handed
// to min(GOMAXPROCS, units) goroutines. A small C (at most 384² entries)
// from a long k (at least 2048) has too few units per slab to share, so
// its k is cut into 2–8 ranges of at least 1024 instead: each range is
// summed slab by slab on one goroutine into its own copy of C, and the
// copies are added into C in order. The micro-tile grid and the number of
// ranges depend on the shape only, so every element of C is computed with
// the same operations in the same order whatever the number of
// goroutines: results are bitwise reproducible, independent of
// GOMAXPROCS. Buffers are pooled (sync.Pool); steady-state calls do not
// allocate.
//
// # When the fast path is used
//
// On amd64 with AVX2 and FMA (detected with CPUID/XGETBV; build tag purego
// disables the assembly), for well-formed calls with m·n·k ≥ 216. Calls
// that are invalid (they panic with gonum's messages) or tiny are
// delegated to gonum; Dsyrk also delegates k == 0 and α == 0. On other
// architectures Implementation behaves exactly like gonum's (a pure-Go
// kernel exists and is tested, but is not used by default).
//
// Thin products, C = α·A·op(B) + β·C with A not transposed and m ≤ 16 (a
// block of vectors against a large matrix, as in Lanczos), skip the
// packing, which would cost as much as the product: B is read in place by
// register kernels of two A rows × six B rows (A·Bᵀ, in k slabs that keep
// the B rows in L1 across all A rows) or two A rows × sixteen columns
// (A·B). For A·B with more than two A rows and a B beyond L2 (a map-back
// of eigenvectors from a kept block of V), the AVX-512 kernel takes twelve
// A rows × sixteen columns and B is streamed along its rows: a task holds
// the sums of 1024 columns in L2 and adds eight rows of B at a time, each
// a run of 8 KiB in memory order (2.2–3× faster than reading B's columns
// down all its rows on a B of 42–85 MB, BenchmarkDgemm NN10x36864x288 and
// BenchmarkGemmNNMixed). Without AVX-512, a task's columns of B are first
// copied, row by row, into contiguous 16-column panels that the kernel
// then reads from cache. Every entry of C is the same multiply-adds in the
// same order on every path, and tasks are fixed, so results do not depend
// on the path or the number of goroutines. GemmNTMixed and
// GemmNNMixed are the thin products with B in float32 (widened exactly,
// accumulated in float64): a matrix streamed from memory at half the
// bytes.
//
// Shifted is a product whose B operand is read in place from a vector at
// fixed offsets (row p of B is a run of the vector starting at offset
// p): a convolution's unfolded input without the unfolding, on kernels
// that load each B row from its offset instead of a packed panel. Its
// blocks are 8 or 16 (AVX-512) columns wide in float64, 8, 16 or 32
// (AVX-512) in float32.
//
// Serial is Implementation without goroutines, for callers that spread
// many small products over the cores themselves; its results are bitwise
// those of Implementation. The package also exports small kernels of
// the engine's hot loops: AddMul (dst += x∘y) and CombRows (a short linear
// combination of matrix rows), AddMulMixed, Add32, Narrow, Widen and
// WidenAdd for float32 data, ReLU and MulPositive (ReLU's forward and its
// derivative times a factor row; MulPositive32 on float32 rows), DotSum32
// and Scale32 (BatchNorm's pass over float32 factor rows), and ArgMaxAbs
// (the entry of largest magnitude, at memory speed).
//
// # Semantics
//
// On the accelerated path, as reference BLAS: β == 0 overwrites C (NaN in C is not propagated);
// α == 0 does not reference A and B (gonum's Dgemm multiplies by zero and
// so may turn Inf/NaN in A or B into NaN). With non-finite inputs, 0·Inf
// products may give NaN where gonum's loops skip zero elements. Rounding
// differs from gonum within the usual O(k·ε) bound (FMA, different
// summation order).
//
// # Performance
//
// go test -bench . -count 3 on a 2-core AMD EPYC, AVX2 kernels only (the
// machine was shared, numbers are medians), GFlop/s = 2mnk/time (Dsyrk:
// n(n+1)k/time):
//
//	shape (m×n×k)              1 core: gonum  fast    2 cores: gonum  fast
//	NN 256×256×256                     4.3    29.7             7.9    39.4
//	NN 512×512×512                     3.4    28.6             6.4    54.6
//	NN 1280×1280×1280                  3.9    30.8             6.1    65.9
//	NT 1152×1152×512                   3.5    32.0             6.4    50.6
//	TN 5120×784×128                    4.7    34.3             4.8    65.6
//	NN 1280×128×128                    4.5    33.4             7.3    64.1
//	Dsyrk U,N n=512,k=512              4.9    33.4             4.6    59.6
//	Dsyrk U,N n=1152,k=512             4.4    32.0             4.6    55.7
//	NT 2×1152×1152 (thin)                                      5.5    28–29
//	NT 4×1152×1152 (thin)                                      5.3    34–42
//	NT 16×1152×1152 (thin)                                     5.7    39–43
//
// The micro-kernel alone runs at ~41 GFlop/s per core (peak of a plain FMA
// loop on this machine: ~45). On the project's current machine (AMD EPYC,
// Zen 5, full-width AVX-512) with one core (GOMAXPROCS=1, go test -bench
// 'Dgemm|Sgemm|Kernel'): the AVX2 kernels alone 56–58 GFlop/s in float64
// and 118–120 in float32; with the AVX-512 pair kernels Dgemm NN 512³
// 110 GFlop/s and Sgemm NN 512³ 193.
//
// Sgemm against Dgemm, 2 cores, same shapes (go test -bench 'gemm/.*/fast'):
// NN 512³ 92–95 against 66–69 GFlop/s, NN 1280³ 114 against 73–75,
// NT 1152×1152×512 124–127 against 70–71, TN 5120×784×128 125–129 against
// 67–69, NN 1280×128×128 83–88 against 44–61: 1.4–1.8×. The float32 path
// packs with generic loops (no unrolled or assembly packers) and has no
// thin path: products with fewer than five rows go to gonum.
package fastblas
