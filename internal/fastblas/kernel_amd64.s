// Copyright ©2025 The vivit-go Authors. All rights reserved.

//go:build amd64 && !purego

#include "textflag.h"

// One rank-1 update of the 6×8 accumulator block Y4..Y15 with the packed
// A values at AO(SI) (6 doubles) and the packed B values at BO(DI)
// (8 doubles). Y0, Y1 hold the B row, Y2, Y3 the broadcast A values.
#define KSTEP(AO, BO) \
	VMOVUPD      BO(DI), Y0; \
	VMOVUPD      BO+32(DI), Y1; \
	VBROADCASTSD AO(SI), Y2; \
	VBROADCASTSD AO+8(SI), Y3; \
	VFMADD231PD  Y0, Y2, Y4; \
	VFMADD231PD  Y1, Y2, Y5; \
	VFMADD231PD  Y0, Y3, Y6; \
	VFMADD231PD  Y1, Y3, Y7; \
	VBROADCASTSD AO+16(SI), Y2; \
	VBROADCASTSD AO+24(SI), Y3; \
	VFMADD231PD  Y0, Y2, Y8; \
	VFMADD231PD  Y1, Y2, Y9; \
	VFMADD231PD  Y0, Y3, Y10; \
	VFMADD231PD  Y1, Y3, Y11; \
	VBROADCASTSD AO+32(SI), Y2; \
	VBROADCASTSD AO+40(SI), Y3; \
	VFMADD231PD  Y0, Y2, Y12; \
	VFMADD231PD  Y1, Y2, Y13; \
	VFMADD231PD  Y0, Y3, Y14; \
	VFMADD231PD  Y1, Y3, Y15

// Scale one accumulator row pair by alpha (Y0) and store to (DX).
#define STORE0(R0, R1) \
	VMULPD  Y0, R0, R0; \
	VMULPD  Y0, R1, R1; \
	VMOVUPD R0, (DX); \
	VMOVUPD R1, 32(DX); \
	ADDQ    R8, DX

// Same, adding beta (Y1) times the old contents of C.
#define STOREB(R0, R1) \
	VMULPD      Y0, R0, R0; \
	VMULPD      Y0, R1, R1; \
	VFMADD231PD (DX), Y1, R0; \
	VFMADD231PD 32(DX), Y1, R1; \
	VMOVUPD     R0, (DX); \
	VMOVUPD     R1, 32(DX); \
	ADDQ        R8, DX

// func kern6x8(kc int, a, b, c *float64, ldc int, alpha, beta float64)
TEXT ·kern6x8(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $3, R8

	// Prefetch the C block; it is needed only at the end.
	MOVQ       DX, R9
	PREFETCHT0 (R9)
	PREFETCHT0 56(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 56(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 56(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 56(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 56(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 56(R9)

	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11
	VXORPD Y12, Y12, Y12
	VXORPD Y13, Y13, Y13
	VXORPD Y14, Y14, Y14
	VXORPD Y15, Y15, Y15

	MOVQ  CX, BX
	SHRQ  $3, BX
	ANDQ  $7, CX
	TESTQ BX, BX
	JZ    tail

	PCALIGN $64
loop8:
	KSTEP(0, 0)
	KSTEP(48, 64)
	KSTEP(96, 128)
	KSTEP(144, 192)
	KSTEP(192, 256)
	KSTEP(240, 320)
	KSTEP(288, 384)
	KSTEP(336, 448)
	ADDQ $384, SI
	ADDQ $512, DI
	DECQ BX
	JNZ  loop8

tail:
	TESTQ CX, CX
	JZ    store

loop1:
	KSTEP(0, 0)
	ADDQ $48, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop1

store:
	VBROADCASTSD alpha+40(FP), Y0
	// VEX encodings only: legacy-SSE instructions with dirty upper YMM
	// halves cost hundreds of cycles on this class of CPU.
	VMOVSD       beta+48(FP), X1
	VXORPD       X2, X2, X2
	VUCOMISD     X2, X1
	JNE          withbeta
	JPS          withbeta

	STORE0(Y4, Y5)
	STORE0(Y6, Y7)
	STORE0(Y8, Y9)
	STORE0(Y10, Y11)
	STORE0(Y12, Y13)
	STORE0(Y14, Y15)
	VZEROUPPER
	RET

withbeta:
	VBROADCASTSD beta+48(FP), Y1
	STOREB(Y4, Y5)
	STOREB(Y6, Y7)
	STOREB(Y8, Y9)
	STOREB(Y10, Y11)
	STOREB(Y12, Y13)
	STOREB(Y14, Y15)
	VZEROUPPER
	RET

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// Store the eight accumulators Y4..Y11 to 256 bytes at (DX).
#define STOREACC8 \
	VMOVUPD Y4, (DX); \
	VMOVUPD Y5, 32(DX); \
	VMOVUPD Y6, 64(DX); \
	VMOVUPD Y7, 96(DX); \
	VMOVUPD Y8, 128(DX); \
	VMOVUPD Y9, 160(DX); \
	VMOVUPD Y10, 192(DX); \
	VMOVUPD Y11, 224(DX)

// Load the twelve accumulators Y4..Y15 from 384 bytes at (DX).
#define LOADACC12 \
	VMOVUPD (DX), Y4; \
	VMOVUPD 32(DX), Y5; \
	VMOVUPD 64(DX), Y6; \
	VMOVUPD 96(DX), Y7; \
	VMOVUPD 128(DX), Y8; \
	VMOVUPD 160(DX), Y9; \
	VMOVUPD 192(DX), Y10; \
	VMOVUPD 224(DX), Y11; \
	VMOVUPD 256(DX), Y12; \
	VMOVUPD 288(DX), Y13; \
	VMOVUPD 320(DX), Y14; \
	VMOVUPD 352(DX), Y15

// Store them back.
#define STOREACC12 \
	STOREACC8; \
	VMOVUPD Y12, 256(DX); \
	VMOVUPD Y13, 288(DX); \
	VMOVUPD Y14, 320(DX); \
	VMOVUPD Y15, 352(DX)

// One B row (at BR, offset AX) into the accumulators A0 (with the A row
// in Y0) and A1 (with the A row in Y1), through the temporary T.
#define DOTROW(BR, T, A0, A1) \
	VMOVUPD     (BR)(AX*1), T; \
	VFMADD231PD T, Y0, A0; \
	VFMADD231PD T, Y1, A1

// func dot2x6(n4 int, a0, a1 *float64, b *[6]*float64, acc *[48]float64)
//
// acc[(r*2+i)*4+l] += Σ_{q<n4} a_i[4q+l]·b_r[4q+l]: adds the partial sums,
// lane by lane, of the twelve dot products of two A rows with six B rows
// over their first 4·n4 elements. n4 must be ≥ 1.
TEXT ·dot2x6(SB), NOSPLIT, $0-40
	MOVQ n4+0(FP), CX
	MOVQ a0+8(FP), SI
	MOVQ a1+16(FP), DI
	MOVQ b+24(FP), DX
	MOVQ (DX), R8
	MOVQ 8(DX), R9
	MOVQ 16(DX), R10
	MOVQ 24(DX), R11
	MOVQ 32(DX), R12
	MOVQ 40(DX), R13
	MOVQ acc+32(FP), DX
	XORQ AX, AX
	LOADACC12

dotloop:
	VMOVUPD     (SI)(AX*1), Y0
	VMOVUPD     (DI)(AX*1), Y1
	DOTROW(R8, Y2, Y4, Y5)
	DOTROW(R9, Y3, Y6, Y7)
	DOTROW(R10, Y2, Y8, Y9)
	DOTROW(R11, Y3, Y10, Y11)
	DOTROW(R12, Y2, Y12, Y13)
	DOTROW(R13, Y3, Y14, Y15)
	ADDQ        $32, AX
	DECQ        CX
	JNZ         dotloop

	STOREACC12
	VZEROUPPER
	RET

// One float32 B row (at BR, offset BX), widened, into the accumulators
// A0 and A1 as in DOTROW.
#define DOTROW32(BR, T, A0, A1) \
	VCVTPS2PD   (BR)(BX*1), T; \
	VFMADD231PD T, Y0, A0; \
	VFMADD231PD T, Y1, A1

// func dot2x6Mixed(n4 int, a0, a1 *float64, b *[6]*float32, acc *[48]float64)
//
// dot2x6 with float32 B rows, widened exactly before the float64
// multiply-adds.
TEXT ·dot2x6Mixed(SB), NOSPLIT, $0-40
	MOVQ n4+0(FP), CX
	MOVQ a0+8(FP), SI
	MOVQ a1+16(FP), DI
	MOVQ b+24(FP), DX
	MOVQ (DX), R8
	MOVQ 8(DX), R9
	MOVQ 16(DX), R10
	MOVQ 24(DX), R11
	MOVQ 32(DX), R12
	MOVQ 40(DX), R13
	MOVQ acc+32(FP), DX
	XORQ AX, AX
	XORQ BX, BX
	LOADACC12

dotmixedloop:
	VMOVUPD (SI)(AX*1), Y0
	VMOVUPD (DI)(AX*1), Y1
	DOTROW32(R8, Y2, Y4, Y5)
	DOTROW32(R9, Y3, Y6, Y7)
	DOTROW32(R10, Y2, Y8, Y9)
	DOTROW32(R11, Y3, Y10, Y11)
	DOTROW32(R12, Y2, Y12, Y13)
	DOTROW32(R13, Y3, Y14, Y15)
	ADDQ    $32, AX
	ADDQ    $16, BX
	DECQ    CX
	JNZ     dotmixedloop

	STOREACC12
	VZEROUPPER
	RET

// func axpy2x16(k int, a0, a1, b *float64, ldb int, acc *[32]float64)
//
// acc[i*16+j] = Σ_{p<k} a_i[p]·b[p*ldb+j], i < 2, j < 16: two rows of a
// product A·B over a 16-column strip of B. k must be ≥ 1.
TEXT ·axpy2x16(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a0+8(FP), SI
	MOVQ a1+16(FP), DI
	MOVQ b+24(FP), R8
	MOVQ ldb+32(FP), R9
	SHLQ $3, R9
	MOVQ acc+40(FP), DX
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11

axpyloop:
	VMOVUPD      (R8), Y0
	VMOVUPD      32(R8), Y1
	VMOVUPD      64(R8), Y2
	VMOVUPD      96(R8), Y3
	VBROADCASTSD (SI), Y12
	VBROADCASTSD (DI), Y13
	VFMADD231PD  Y0, Y12, Y4
	VFMADD231PD  Y1, Y12, Y5
	VFMADD231PD  Y2, Y12, Y6
	VFMADD231PD  Y3, Y12, Y7
	VFMADD231PD  Y0, Y13, Y8
	VFMADD231PD  Y1, Y13, Y9
	VFMADD231PD  Y2, Y13, Y10
	VFMADD231PD  Y3, Y13, Y11
	ADDQ         $8, SI
	ADDQ         $8, DI
	ADDQ         R9, R8
	DECQ         CX
	JNZ          axpyloop

	STOREACC8
	VZEROUPPER
	RET

// func axpy2x16Mixed(k int, a0, a1 *float64, b *float32, ldb int, acc *[32]float64)
//
// axpy2x16 for a float32 B, widened exactly as it is loaded.
TEXT ·axpy2x16Mixed(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a0+8(FP), SI
	MOVQ a1+16(FP), DI
	MOVQ b+24(FP), R8
	MOVQ ldb+32(FP), R9
	SHLQ $2, R9
	MOVQ acc+40(FP), DX
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11

axpymixedloop:
	VCVTPS2PD    (R8), Y0
	VCVTPS2PD    16(R8), Y1
	VCVTPS2PD    32(R8), Y2
	VCVTPS2PD    48(R8), Y3
	VBROADCASTSD (SI), Y12
	VBROADCASTSD (DI), Y13
	VFMADD231PD  Y0, Y12, Y4
	VFMADD231PD  Y1, Y12, Y5
	VFMADD231PD  Y2, Y12, Y6
	VFMADD231PD  Y3, Y12, Y7
	VFMADD231PD  Y0, Y13, Y8
	VFMADD231PD  Y1, Y13, Y9
	VFMADD231PD  Y2, Y13, Y10
	VFMADD231PD  Y3, Y13, Y11
	ADDQ         $8, SI
	ADDQ         $8, DI
	ADDQ         R9, R8
	DECQ         CX
	JNZ          axpymixedloop

	STOREACC8
	VZEROUPPER
	RET

// func addMul4(n4 int, dst, x, y *float64)
//
// dst[i] += x[i]·y[i] for i < 4·n4, n4 ≥ 1.
TEXT ·addMul4(SB), NOSPLIT, $0-32
	MOVQ n4+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ x+16(FP), SI
	MOVQ y+24(FP), DX
	XORQ AX, AX
	CMPQ CX, $2
	JL   addmul1

addmul2:
	VMOVUPD     (DI)(AX*1), Y0
	VMOVUPD     32(DI)(AX*1), Y1
	VMOVUPD     (SI)(AX*1), Y2
	VMOVUPD     32(SI)(AX*1), Y3
	VFMADD231PD (DX)(AX*1), Y2, Y0
	VFMADD231PD 32(DX)(AX*1), Y3, Y1
	VMOVUPD     Y0, (DI)(AX*1)
	VMOVUPD     Y1, 32(DI)(AX*1)
	ADDQ        $64, AX
	SUBQ        $2, CX
	CMPQ        CX, $2
	JGE         addmul2
	TESTQ       CX, CX
	JZ          addmuldone

addmul1:
	VMOVUPD     (DI)(AX*1), Y0
	VMOVUPD     (SI)(AX*1), Y2
	VFMADD231PD (DX)(AX*1), Y2, Y0
	VMOVUPD     Y0, (DI)(AX*1)

addmuldone:
	VZEROUPPER
	RET

// func combRows(n16, k int, a, b *float64, ldb int, c *float64)
//
// c[j] = Σ_{p<k} a[p]·b[p*ldb+j] for j < 16·n16: a short linear
// combination of the rows of b, 16 columns at a time. n16, k ≥ 1.
TEXT ·combRows(SB), NOSPLIT, $0-48
	MOVQ n16+0(FP), BX
	MOVQ k+8(FP), R10
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), R8
	MOVQ ldb+32(FP), R9
	SHLQ $3, R9
	MOVQ c+40(FP), DX

combstrip:
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	MOVQ   R8, DI
	XORQ   AX, AX
	MOVQ   R10, CX

combloop:
	VBROADCASTSD (SI)(AX*8), Y0
	VFMADD231PD  (DI), Y0, Y4
	VFMADD231PD  32(DI), Y0, Y5
	VFMADD231PD  64(DI), Y0, Y6
	VFMADD231PD  96(DI), Y0, Y7
	ADDQ         R9, DI
	INCQ         AX
	DECQ         CX
	JNZ          combloop

	VMOVUPD Y4, (DX)
	VMOVUPD Y5, 32(DX)
	VMOVUPD Y6, 64(DX)
	VMOVUPD Y7, 96(DX)
	ADDQ    $128, R8
	ADDQ    $128, DX
	DECQ    BX
	JNZ     combstrip
	VZEROUPPER
	RET

// One rank-1 update of the 6×16 float32 accumulator block Y4..Y15 with the
// packed A values at AO(SI) (6 floats) and the packed B values at BO(DI)
// (16 floats): KSTEP with single-precision lanes.
#define KSTEP32(AO, BO) \
	VMOVUPS      BO(DI), Y0; \
	VMOVUPS      BO+32(DI), Y1; \
	VBROADCASTSS AO(SI), Y2; \
	VBROADCASTSS AO+4(SI), Y3; \
	VFMADD231PS  Y0, Y2, Y4; \
	VFMADD231PS  Y1, Y2, Y5; \
	VFMADD231PS  Y0, Y3, Y6; \
	VFMADD231PS  Y1, Y3, Y7; \
	VBROADCASTSS AO+8(SI), Y2; \
	VBROADCASTSS AO+12(SI), Y3; \
	VFMADD231PS  Y0, Y2, Y8; \
	VFMADD231PS  Y1, Y2, Y9; \
	VFMADD231PS  Y0, Y3, Y10; \
	VFMADD231PS  Y1, Y3, Y11; \
	VBROADCASTSS AO+16(SI), Y2; \
	VBROADCASTSS AO+20(SI), Y3; \
	VFMADD231PS  Y0, Y2, Y12; \
	VFMADD231PS  Y1, Y2, Y13; \
	VFMADD231PS  Y0, Y3, Y14; \
	VFMADD231PS  Y1, Y3, Y15

#define STORE0S(R0, R1) \
	VMULPS  Y0, R0, R0; \
	VMULPS  Y0, R1, R1; \
	VMOVUPS R0, (DX); \
	VMOVUPS R1, 32(DX); \
	ADDQ    R8, DX

#define STOREBS(R0, R1) \
	VMULPS      Y0, R0, R0; \
	VMULPS      Y0, R1, R1; \
	VFMADD231PS (DX), Y1, R0; \
	VFMADD231PS 32(DX), Y1, R1; \
	VMOVUPS     R0, (DX); \
	VMOVUPS     R1, 32(DX); \
	ADDQ        R8, DX

// func kern6x16(kc int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·kern6x16(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	MOVQ       DX, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)

	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	MOVQ  CX, BX
	SHRQ  $3, BX
	ANDQ  $7, CX
	TESTQ BX, BX
	JZ    tail32

	PCALIGN $64
loop8s:
	KSTEP32(0, 0)
	KSTEP32(24, 64)
	KSTEP32(48, 128)
	KSTEP32(72, 192)
	KSTEP32(96, 256)
	KSTEP32(120, 320)
	KSTEP32(144, 384)
	KSTEP32(168, 448)
	ADDQ $192, SI
	ADDQ $512, DI
	DECQ BX
	JNZ  loop8s

tail32:
	TESTQ CX, CX
	JZ    store32

loop1s:
	KSTEP32(0, 0)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop1s

store32:
	VBROADCASTSS alpha+40(FP), Y0
	VMOVSS       beta+44(FP), X1
	VXORPS       X2, X2, X2
	VUCOMISS     X2, X1
	JNE          withbeta32
	JPS          withbeta32

	STORE0S(Y4, Y5)
	STORE0S(Y6, Y7)
	STORE0S(Y8, Y9)
	STORE0S(Y10, Y11)
	STORE0S(Y12, Y13)
	STORE0S(Y14, Y15)
	VZEROUPPER
	RET

withbeta32:
	VBROADCASTSS beta+44(FP), Y1
	STOREBS(Y4, Y5)
	STOREBS(Y6, Y7)
	STOREBS(Y8, Y9)
	STOREBS(Y10, Y11)
	STOREBS(Y12, Y13)
	STOREBS(Y14, Y15)
	VZEROUPPER
	RET

// func addMulMixed4(n4 int, dst, x *float64, y *float32)
//
// dst[i] += x[i]·float64(y[i]) for i < 4·n4, n4 ≥ 1.
TEXT ·addMulMixed4(SB), NOSPLIT, $0-32
	MOVQ n4+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ x+16(FP), SI
	MOVQ y+24(FP), DX

addmulmixed:
	VCVTPS2PD   (DX), Y1
	VMOVUPD     (DI), Y0
	VFMADD231PD (SI), Y1, Y0
	VMOVUPD     Y0, (DI)
	ADDQ        $32, DI
	ADDQ        $32, SI
	ADDQ        $16, DX
	DECQ        CX
	JNZ         addmulmixed
	VZEROUPPER
	RET

// func narrow4(n4 int, dst *float32, src *float64)
//
// dst[i] = float32(src[i]) for i < 4·n4, n4 ≥ 1 (round to nearest even).
TEXT ·narrow4(SB), NOSPLIT, $0-24
	MOVQ n4+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI

narrowloop:
	VCVTPD2PSY (SI), X0
	VMOVUPS    X0, (DI)
	ADDQ       $32, SI
	ADDQ       $16, DI
	DECQ       CX
	JNZ        narrowloop
	VZEROUPPER
	RET

// func widen4(n4 int, dst *float64, src *float32)
//
// dst[i] = float64(src[i]) for i < 4·n4, n4 ≥ 1.
TEXT ·widen4(SB), NOSPLIT, $0-24
	MOVQ n4+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI

widenloop:
	VCVTPS2PD (SI), Y0
	VMOVUPD   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       widenloop
	VZEROUPPER
	RET

// func widenAdd4(n4 int, dst *float64, src *float32)
TEXT ·widenAdd4(SB), NOSPLIT, $0-24
	MOVQ n4+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI

widenaddloop:
	VCVTPS2PD (SI), Y0
	VADDPD    (DI), Y0, Y0
	VMOVUPD   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       widenaddloop
	VZEROUPPER
	RET

// func maxAbs16(n16 int, x *float64, init float64) float64
//
// Returns the largest of init and |x[i]|, i < 16·n16, n16 ≥ 1, ignoring
// NaNs: MAXPD returns its second operand when either is NaN, and the
// accumulators are always that operand.
TEXT ·maxAbs16(SB), NOSPLIT, $0-32
	MOVQ         n16+0(FP), CX
	MOVQ         x+8(FP), SI
	VBROADCASTSD init+16(FP), Y0
	VMOVAPD      Y0, Y1
	VMOVAPD      Y0, Y2
	VMOVAPD      Y0, Y3
	VPCMPEQQ     Y15, Y15, Y15
	VPSRLQ       $1, Y15, Y15 // 0x7fff…: clears the sign bit

maxabsloop:
	VANDPD (SI), Y15, Y4
	VANDPD 32(SI), Y15, Y5
	VANDPD 64(SI), Y15, Y6
	VANDPD 96(SI), Y15, Y7
	VMAXPD Y0, Y4, Y0
	VMAXPD Y1, Y5, Y1
	VMAXPD Y2, Y6, Y2
	VMAXPD Y3, Y7, Y3
	ADDQ   $128, SI
	DECQ   CX
	JNZ    maxabsloop

	VMAXPD       Y1, Y0, Y0
	VMAXPD       Y3, Y2, Y2
	VMAXPD       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPD       X1, X0, X0
	VPERMILPD    $1, X0, X1
	VMAXSD       X1, X0, X0
	VMOVSD       X0, ret+24(FP)
	VZEROUPPER
	RET

// combLanes are the column offsets 0…15 of combRowsIdx's last strip, as
// int64s, for its masks.
DATA ·combLanes<>+0(SB)/8, $0
DATA ·combLanes<>+8(SB)/8, $1
DATA ·combLanes<>+16(SB)/8, $2
DATA ·combLanes<>+24(SB)/8, $3
DATA ·combLanes<>+32(SB)/8, $4
DATA ·combLanes<>+40(SB)/8, $5
DATA ·combLanes<>+48(SB)/8, $6
DATA ·combLanes<>+56(SB)/8, $7
DATA ·combLanes<>+64(SB)/8, $8
DATA ·combLanes<>+72(SB)/8, $9
DATA ·combLanes<>+80(SB)/8, $10
DATA ·combLanes<>+88(SB)/8, $11
DATA ·combLanes<>+96(SB)/8, $12
DATA ·combLanes<>+104(SB)/8, $13
DATA ·combLanes<>+112(SB)/8, $14
DATA ·combLanes<>+120(SB)/8, $15
GLOBL ·combLanes<>(SB), RODATA|NOPTR, $128

// func combRowsIdx(n, k int, a *float64, idx *int32, b *float64, ldb int, c *float64)
//
// c[j] = Σ_{p<k} a[p]·b[idx[p]*ldb+j] for j < n: combRows over the rows
// idx of b (a sparse row times a dense matrix), 32 columns at a time (eight
// accumulators: two FMAs per cycle despite their latency), then 16, then
// the last up to 15 columns in one strip of masked loads and stores. Every
// column sums its terms in the order of p. n, k ≥ 1; the caller checks the
// rows' bounds.
TEXT ·combRowsIdx(SB), NOSPLIT, $0-56
	MOVQ n+0(FP), BX // columns left
	MOVQ k+8(FP), R10
	MOVQ a+16(FP), SI
	MOVQ idx+24(FP), R11
	MOVQ b+32(FP), R8
	MOVQ ldb+40(FP), R9
	SHLQ $3, R9
	MOVQ c+48(FP), DX

idxstrip32:
	CMPQ   BX, $32
	JLT    idxstrip16
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11
	XORQ   AX, AX
	MOVQ   R10, CX

idxloop32:
	MOVLQSX      (R11)(AX*4), DI
	IMULQ        R9, DI
	ADDQ         R8, DI
	VBROADCASTSD (SI)(AX*8), Y0
	VFMADD231PD  (DI), Y0, Y4
	VFMADD231PD  32(DI), Y0, Y5
	VFMADD231PD  64(DI), Y0, Y6
	VFMADD231PD  96(DI), Y0, Y7
	VFMADD231PD  128(DI), Y0, Y8
	VFMADD231PD  160(DI), Y0, Y9
	VFMADD231PD  192(DI), Y0, Y10
	VFMADD231PD  224(DI), Y0, Y11
	INCQ         AX
	DECQ         CX
	JNZ          idxloop32

	VMOVUPD Y4, (DX)
	VMOVUPD Y5, 32(DX)
	VMOVUPD Y6, 64(DX)
	VMOVUPD Y7, 96(DX)
	VMOVUPD Y8, 128(DX)
	VMOVUPD Y9, 160(DX)
	VMOVUPD Y10, 192(DX)
	VMOVUPD Y11, 224(DX)
	ADDQ    $256, R8
	ADDQ    $256, DX
	SUBQ    $32, BX
	JMP     idxstrip32

idxstrip16:
	CMPQ   BX, $16
	JLT    idxtail
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	XORQ   AX, AX
	MOVQ   R10, CX

idxloop16:
	MOVLQSX      (R11)(AX*4), DI
	IMULQ        R9, DI
	ADDQ         R8, DI
	VBROADCASTSD (SI)(AX*8), Y0
	VFMADD231PD  (DI), Y0, Y4
	VFMADD231PD  32(DI), Y0, Y5
	VFMADD231PD  64(DI), Y0, Y6
	VFMADD231PD  96(DI), Y0, Y7
	INCQ         AX
	DECQ         CX
	JNZ          idxloop16

	VMOVUPD Y4, (DX)
	VMOVUPD Y5, 32(DX)
	VMOVUPD Y6, 64(DX)
	VMOVUPD Y7, 96(DX)
	ADDQ    $128, R8
	ADDQ    $128, DX
	SUBQ    $16, BX

idxtail:
	TESTQ BX, BX
	JZ    idxdone

	// Masks of the columns left: lane j of Y8…Y11 is set if j < BX.
	VMOVQ        BX, X1
	VPBROADCASTQ X1, Y1
	VMOVDQU      ·combLanes<>+0(SB), Y8
	VMOVDQU      ·combLanes<>+32(SB), Y9
	VMOVDQU      ·combLanes<>+64(SB), Y10
	VMOVDQU      ·combLanes<>+96(SB), Y11
	VPCMPGTQ     Y8, Y1, Y8
	VPCMPGTQ     Y9, Y1, Y9
	VPCMPGTQ     Y10, Y1, Y10
	VPCMPGTQ     Y11, Y1, Y11
	VXORPD       Y4, Y4, Y4
	VXORPD       Y5, Y5, Y5
	VXORPD       Y6, Y6, Y6
	VXORPD       Y7, Y7, Y7
	XORQ         AX, AX
	MOVQ         R10, CX

idxlooptail:
	MOVLQSX      (R11)(AX*4), DI
	IMULQ        R9, DI
	ADDQ         R8, DI
	VBROADCASTSD (SI)(AX*8), Y0
	VMASKMOVPD   (DI), Y8, Y1
	VFMADD231PD  Y1, Y0, Y4
	VMASKMOVPD   32(DI), Y9, Y2
	VFMADD231PD  Y2, Y0, Y5
	VMASKMOVPD   64(DI), Y10, Y3
	VFMADD231PD  Y3, Y0, Y6
	VMASKMOVPD   96(DI), Y11, Y12
	VFMADD231PD  Y12, Y0, Y7
	INCQ         AX
	DECQ         CX
	JNZ          idxlooptail

	VMASKMOVPD Y4, Y8, (DX)
	VMASKMOVPD Y5, Y9, 32(DX)
	VMASKMOVPD Y6, Y10, 64(DX)
	VMASKMOVPD Y7, Y11, 96(DX)

idxdone:
	VZEROUPPER
	RET

// func add8x32(n8 int, dst, src *float32)
//
// dst[i] += src[i] for i < 8·n8, n8 ≥ 1.
TEXT ·add8x32(SB), NOSPLIT, $0-24
	MOVQ n8+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI

add32loop:
	VMOVUPS (DI), Y0
	VADDPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     add32loop
	VZEROUPPER
	RET

// One rank-1 update of the 6×8 accumulator block Y4..Y15 with the packed
// A values at AO(SI) and the 8 doubles of B at x + offs[p] (DI + 8·AX):
// KSTEP with the B row read in place through the offset table at OO(R10).
#define KSTEPI(AO, OO) \
	MOVLQSX      OO(R10), AX; \
	VMOVUPD      (DI)(AX*8), Y0; \
	VMOVUPD      32(DI)(AX*8), Y1; \
	VBROADCASTSD AO(SI), Y2; \
	VBROADCASTSD AO+8(SI), Y3; \
	VFMADD231PD  Y0, Y2, Y4; \
	VFMADD231PD  Y1, Y2, Y5; \
	VFMADD231PD  Y0, Y3, Y6; \
	VFMADD231PD  Y1, Y3, Y7; \
	VBROADCASTSD AO+16(SI), Y2; \
	VBROADCASTSD AO+24(SI), Y3; \
	VFMADD231PD  Y0, Y2, Y8; \
	VFMADD231PD  Y1, Y2, Y9; \
	VFMADD231PD  Y0, Y3, Y10; \
	VFMADD231PD  Y1, Y3, Y11; \
	VBROADCASTSD AO+32(SI), Y2; \
	VBROADCASTSD AO+40(SI), Y3; \
	VFMADD231PD  Y0, Y2, Y12; \
	VFMADD231PD  Y1, Y2, Y13; \
	VFMADD231PD  Y0, Y3, Y14; \
	VFMADD231PD  Y1, Y3, Y15

#define STOREI(R0, R1) \
	VMOVUPD R0, (DX); \
	VMOVUPD R1, 32(DX); \
	ADDQ    R8, DX

// func kernShifted6x8(kc int, a, x *float64, offs *int32, c *float64, ldc int)
//
// c[r*ldc+j] = Σ_{p<kc} a[p*6+r]·x[offs[p]+j], r < 6, j < 8. kc ≥ 1.
TEXT ·kernShifted6x8(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ offs+24(FP), R10
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $3, R8

	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11
	VXORPD Y12, Y12, Y12
	VXORPD Y13, Y13, Y13
	VXORPD Y14, Y14, Y14
	VXORPD Y15, Y15, Y15

	MOVQ  CX, BX
	SHRQ  $2, BX
	ANDQ  $3, CX
	TESTQ BX, BX
	JZ    tailI

	PCALIGN $64
loop4I:
	KSTEPI(0, 0)
	KSTEPI(48, 4)
	KSTEPI(96, 8)
	KSTEPI(144, 12)
	ADDQ $192, SI
	ADDQ $16, R10
	DECQ BX
	JNZ  loop4I

tailI:
	TESTQ CX, CX
	JZ    storeI

loop1I:
	KSTEPI(0, 0)
	ADDQ $48, SI
	ADDQ $4, R10
	DECQ CX
	JNZ  loop1I

storeI:
	STOREI(Y4, Y5)
	STOREI(Y6, Y7)
	STOREI(Y8, Y9)
	STOREI(Y10, Y11)
	STOREI(Y12, Y13)
	STOREI(Y14, Y15)
	VZEROUPPER
	RET

// KSTEPI with float32 lanes: 16 floats of B at x + offs[p] (DI + 4·AX).
#define KSTEPI32(AO, OO) \
	MOVLQSX      OO(R10), AX; \
	VMOVUPS      (DI)(AX*4), Y0; \
	VMOVUPS      32(DI)(AX*4), Y1; \
	VBROADCASTSS AO(SI), Y2; \
	VBROADCASTSS AO+4(SI), Y3; \
	VFMADD231PS  Y0, Y2, Y4; \
	VFMADD231PS  Y1, Y2, Y5; \
	VFMADD231PS  Y0, Y3, Y6; \
	VFMADD231PS  Y1, Y3, Y7; \
	VBROADCASTSS AO+8(SI), Y2; \
	VBROADCASTSS AO+12(SI), Y3; \
	VFMADD231PS  Y0, Y2, Y8; \
	VFMADD231PS  Y1, Y2, Y9; \
	VFMADD231PS  Y0, Y3, Y10; \
	VFMADD231PS  Y1, Y3, Y11; \
	VBROADCASTSS AO+16(SI), Y2; \
	VBROADCASTSS AO+20(SI), Y3; \
	VFMADD231PS  Y0, Y2, Y12; \
	VFMADD231PS  Y1, Y2, Y13; \
	VFMADD231PS  Y0, Y3, Y14; \
	VFMADD231PS  Y1, Y3, Y15

#define STOREI32(R0, R1) \
	VMOVUPS R0, (DX); \
	VMOVUPS R1, 32(DX); \
	ADDQ    R8, DX

// func kernShifted6x16(kc int, a, x *float32, offs *int32, c *float32, ldc int)
//
// kernShifted6x8 in float32: c[r*ldc+j] = Σ_{p<kc} a[p*6+r]·x[offs[p]+j],
// r < 6, j < 16. kc ≥ 1.
TEXT ·kernShifted6x16(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ offs+24(FP), R10
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8

	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	MOVQ  CX, BX
	SHRQ  $2, BX
	ANDQ  $3, CX
	TESTQ BX, BX
	JZ    tailI32

	PCALIGN $64
loop4I32:
	KSTEPI32(0, 0)
	KSTEPI32(24, 4)
	KSTEPI32(48, 8)
	KSTEPI32(72, 12)
	ADDQ $96, SI
	ADDQ $16, R10
	DECQ BX
	JNZ  loop4I32

tailI32:
	TESTQ CX, CX
	JZ    storeI32

loop1I32:
	KSTEPI32(0, 0)
	ADDQ $24, SI
	ADDQ $4, R10
	DECQ CX
	JNZ  loop1I32

storeI32:
	STOREI32(Y4, Y5)
	STOREI32(Y6, Y7)
	STOREI32(Y8, Y9)
	STOREI32(Y10, Y11)
	STOREI32(Y12, Y13)
	STOREI32(Y14, Y15)
	VZEROUPPER
	RET

// KSTEPI32 for a 6×8 float32 block: 8 floats of B at x + offs[p] into
// the accumulators Y4..Y9.
#define KSTEPI8S(AO, OO) \
	MOVLQSX      OO(R10), AX; \
	VMOVUPS      (DI)(AX*4), Y0; \
	VBROADCASTSS AO(SI), Y2; \
	VBROADCASTSS AO+4(SI), Y3; \
	VFMADD231PS  Y0, Y2, Y4; \
	VFMADD231PS  Y0, Y3, Y5; \
	VBROADCASTSS AO+8(SI), Y2; \
	VBROADCASTSS AO+12(SI), Y3; \
	VFMADD231PS  Y0, Y2, Y6; \
	VFMADD231PS  Y0, Y3, Y7; \
	VBROADCASTSS AO+16(SI), Y2; \
	VBROADCASTSS AO+20(SI), Y3; \
	VFMADD231PS  Y0, Y2, Y8; \
	VFMADD231PS  Y0, Y3, Y9

#define STOREI8S(R0) \
	VMOVUPS R0, (DX); \
	ADDQ    R8, DX

// func kernShifted6x8s(kc int, a, x *float32, offs *int32, c *float32, ldc int)
//
// kernShifted6x16 on 8 columns: c[r*ldc+j] = Σ_{p<kc} a[p*6+r]·x[offs[p]+j],
// r < 6, j < 8. kc ≥ 1.
TEXT ·kernShifted6x8s(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ offs+24(FP), R10
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8

	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9

	MOVQ  CX, BX
	SHRQ  $2, BX
	ANDQ  $3, CX
	TESTQ BX, BX
	JZ    tailI8s

	PCALIGN $64
loop4I8s:
	KSTEPI8S(0, 0)
	KSTEPI8S(24, 4)
	KSTEPI8S(48, 8)
	KSTEPI8S(72, 12)
	ADDQ $96, SI
	ADDQ $16, R10
	DECQ BX
	JNZ  loop4I8s

tailI8s:
	TESTQ CX, CX
	JZ    storeI8s

loop1I8s:
	KSTEPI8S(0, 0)
	ADDQ $24, SI
	ADDQ $4, R10
	DECQ CX
	JNZ  loop1I8s

storeI8s:
	STOREI8S(Y4)
	STOREI8S(Y5)
	STOREI8S(Y6)
	STOREI8S(Y7)
	STOREI8S(Y8)
	STOREI8S(Y9)
	VZEROUPPER
	RET

// One rank-1 update of the 6×16 float64 block Z4..Z15 (rows in pairs of
// registers: columns 0–7 from the B panel at DI, 8–15 from the next panel
// at DI+R11) with the packed A values at AO(SI).
#define KSTEPZ(AO, BO) \
	VMOVUPD      BO(DI), Z0; \
	VMOVUPD      BO(DI)(R11*1), Z1; \
	VBROADCASTSD AO(SI), Z2; \
	VBROADCASTSD AO+8(SI), Z3; \
	VFMADD231PD  Z0, Z2, Z4; \
	VFMADD231PD  Z1, Z2, Z5; \
	VFMADD231PD  Z0, Z3, Z6; \
	VFMADD231PD  Z1, Z3, Z7; \
	VBROADCASTSD AO+16(SI), Z2; \
	VBROADCASTSD AO+24(SI), Z3; \
	VFMADD231PD  Z0, Z2, Z8; \
	VFMADD231PD  Z1, Z2, Z9; \
	VFMADD231PD  Z0, Z3, Z10; \
	VFMADD231PD  Z1, Z3, Z11; \
	VBROADCASTSD AO+32(SI), Z2; \
	VBROADCASTSD AO+40(SI), Z3; \
	VFMADD231PD  Z0, Z2, Z12; \
	VFMADD231PD  Z1, Z2, Z13; \
	VFMADD231PD  Z0, Z3, Z14; \
	VFMADD231PD  Z1, Z3, Z15

#define STORE0Z(R0, R1) \
	VMULPD  Z0, R0, R0; \
	VMULPD  Z0, R1, R1; \
	VMOVUPD R0, (DX); \
	VMOVUPD R1, 64(DX); \
	ADDQ    R8, DX

#define STOREBZ(R0, R1) \
	VMULPD      Z0, R0, R0; \
	VMULPD      Z0, R1, R1; \
	VFMADD231PD (DX), Z1, R0; \
	VFMADD231PD 64(DX), Z1, R1; \
	VMOVUPD     R0, (DX); \
	VMOVUPD     R1, 64(DX); \
	ADDQ        R8, DX

// func kern6x16z(kc int, a, b, c *float64, ldc int, alpha, beta float64)
//
// kern6x8 on two adjacent packed B panels (the second kc·8 values after
// the first) with AVX-512: the 6×16 block C[r*ldc+j], j < 16. Every entry
// is computed with the operations of kern6x8, in the same order.
TEXT ·kern6x16z(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $3, R8
	MOVQ CX, R11
	SHLQ $6, R11 // kc·8 doubles: the second panel

	VPXORQ Z4, Z4, Z4
	VPXORQ Z5, Z5, Z5
	VPXORQ Z6, Z6, Z6
	VPXORQ Z7, Z7, Z7
	VPXORQ Z8, Z8, Z8
	VPXORQ Z9, Z9, Z9
	VPXORQ Z10, Z10, Z10
	VPXORQ Z11, Z11, Z11
	VPXORQ Z12, Z12, Z12
	VPXORQ Z13, Z13, Z13
	VPXORQ Z14, Z14, Z14
	VPXORQ Z15, Z15, Z15

	MOVQ  CX, BX
	SHRQ  $3, BX
	ANDQ  $7, CX
	TESTQ BX, BX
	JZ    tailz

	PCALIGN $64
loop8z:
	KSTEPZ(0, 0)
	KSTEPZ(48, 64)
	KSTEPZ(96, 128)
	KSTEPZ(144, 192)
	KSTEPZ(192, 256)
	KSTEPZ(240, 320)
	KSTEPZ(288, 384)
	KSTEPZ(336, 448)
	ADDQ $384, SI
	ADDQ $512, DI
	DECQ BX
	JNZ  loop8z

tailz:
	TESTQ CX, CX
	JZ    storez

loop1z:
	KSTEPZ(0, 0)
	ADDQ $48, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop1z

storez:
	VBROADCASTSD alpha+40(FP), Z0
	VMOVSD       beta+48(FP), X1
	VXORPD       X2, X2, X2
	VUCOMISD     X2, X1
	JNE          withbetaz
	JPS          withbetaz

	STORE0Z(Z4, Z5)
	STORE0Z(Z6, Z7)
	STORE0Z(Z8, Z9)
	STORE0Z(Z10, Z11)
	STORE0Z(Z12, Z13)
	STORE0Z(Z14, Z15)
	VZEROUPPER
	RET

withbetaz:
	VBROADCASTSD beta+48(FP), Z1
	STOREBZ(Z4, Z5)
	STOREBZ(Z6, Z7)
	STOREBZ(Z8, Z9)
	STOREBZ(Z10, Z11)
	STOREBZ(Z12, Z13)
	STOREBZ(Z14, Z15)
	VZEROUPPER
	RET

// KSTEPZ in float32: 16 floats from each of two adjacent B panels.
#define KSTEPZ32(AO, BO) \
	VMOVUPS      BO(DI), Z0; \
	VMOVUPS      BO(DI)(R11*1), Z1; \
	VBROADCASTSS AO(SI), Z2; \
	VBROADCASTSS AO+4(SI), Z3; \
	VFMADD231PS  Z0, Z2, Z4; \
	VFMADD231PS  Z1, Z2, Z5; \
	VFMADD231PS  Z0, Z3, Z6; \
	VFMADD231PS  Z1, Z3, Z7; \
	VBROADCASTSS AO+8(SI), Z2; \
	VBROADCASTSS AO+12(SI), Z3; \
	VFMADD231PS  Z0, Z2, Z8; \
	VFMADD231PS  Z1, Z2, Z9; \
	VFMADD231PS  Z0, Z3, Z10; \
	VFMADD231PS  Z1, Z3, Z11; \
	VBROADCASTSS AO+16(SI), Z2; \
	VBROADCASTSS AO+20(SI), Z3; \
	VFMADD231PS  Z0, Z2, Z12; \
	VFMADD231PS  Z1, Z2, Z13; \
	VFMADD231PS  Z0, Z3, Z14; \
	VFMADD231PS  Z1, Z3, Z15

#define STORE0ZS(R0, R1) \
	VMULPS  Z0, R0, R0; \
	VMULPS  Z0, R1, R1; \
	VMOVUPS R0, (DX); \
	VMOVUPS R1, 64(DX); \
	ADDQ    R8, DX

#define STOREBZS(R0, R1) \
	VMULPS      Z0, R0, R0; \
	VMULPS      Z0, R1, R1; \
	VFMADD231PS (DX), Z1, R0; \
	VFMADD231PS 64(DX), Z1, R1; \
	VMOVUPS     R0, (DX); \
	VMOVUPS     R1, 64(DX); \
	ADDQ        R8, DX

// func kern6x32z(kc int, a, b, c *float32, ldc int, alpha, beta float32)
//
// kern6x16 on two adjacent packed B panels with AVX-512: the 6×32 block,
// every entry computed with kern6x16's operations in the same order.
TEXT ·kern6x32z(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8
	MOVQ CX, R11
	SHLQ $6, R11 // kc·16 floats: the second panel

	VPXORQ Z4, Z4, Z4
	VPXORQ Z5, Z5, Z5
	VPXORQ Z6, Z6, Z6
	VPXORQ Z7, Z7, Z7
	VPXORQ Z8, Z8, Z8
	VPXORQ Z9, Z9, Z9
	VPXORQ Z10, Z10, Z10
	VPXORQ Z11, Z11, Z11
	VPXORQ Z12, Z12, Z12
	VPXORQ Z13, Z13, Z13
	VPXORQ Z14, Z14, Z14
	VPXORQ Z15, Z15, Z15

	MOVQ  CX, BX
	SHRQ  $3, BX
	ANDQ  $7, CX
	TESTQ BX, BX
	JZ    tailzs

	PCALIGN $64
loop8zs:
	KSTEPZ32(0, 0)
	KSTEPZ32(24, 64)
	KSTEPZ32(48, 128)
	KSTEPZ32(72, 192)
	KSTEPZ32(96, 256)
	KSTEPZ32(120, 320)
	KSTEPZ32(144, 384)
	KSTEPZ32(168, 448)
	ADDQ $192, SI
	ADDQ $512, DI
	DECQ BX
	JNZ  loop8zs

tailzs:
	TESTQ CX, CX
	JZ    storezs

loop1zs:
	KSTEPZ32(0, 0)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop1zs

storezs:
	VBROADCASTSS alpha+40(FP), Z0
	VMOVSS       beta+44(FP), X1
	VXORPS       X2, X2, X2
	VUCOMISS     X2, X1
	JNE          withbetazs
	JPS          withbetazs

	STORE0ZS(Z4, Z5)
	STORE0ZS(Z6, Z7)
	STORE0ZS(Z8, Z9)
	STORE0ZS(Z10, Z11)
	STORE0ZS(Z12, Z13)
	STORE0ZS(Z14, Z15)
	VZEROUPPER
	RET

withbetazs:
	VBROADCASTSS beta+44(FP), Z1
	STOREBZS(Z4, Z5)
	STOREBZS(Z6, Z7)
	STOREBZS(Z8, Z9)
	STOREBZS(Z10, Z11)
	STOREBZS(Z12, Z13)
	STOREBZS(Z14, Z15)
	VZEROUPPER
	RET

// KSTEPI with AVX-512: 16 doubles of B at x + offs[p] (two registers).
#define KSTEPIZ(AO, OO) \
	MOVLQSX      OO(R10), AX; \
	VMOVUPD      (DI)(AX*8), Z0; \
	VMOVUPD      64(DI)(AX*8), Z1; \
	VBROADCASTSD AO(SI), Z2; \
	VBROADCASTSD AO+8(SI), Z3; \
	VFMADD231PD  Z0, Z2, Z4; \
	VFMADD231PD  Z1, Z2, Z5; \
	VFMADD231PD  Z0, Z3, Z6; \
	VFMADD231PD  Z1, Z3, Z7; \
	VBROADCASTSD AO+16(SI), Z2; \
	VBROADCASTSD AO+24(SI), Z3; \
	VFMADD231PD  Z0, Z2, Z8; \
	VFMADD231PD  Z1, Z2, Z9; \
	VFMADD231PD  Z0, Z3, Z10; \
	VFMADD231PD  Z1, Z3, Z11; \
	VBROADCASTSD AO+32(SI), Z2; \
	VBROADCASTSD AO+40(SI), Z3; \
	VFMADD231PD  Z0, Z2, Z12; \
	VFMADD231PD  Z1, Z2, Z13; \
	VFMADD231PD  Z0, Z3, Z14; \
	VFMADD231PD  Z1, Z3, Z15

// KSTEPIZ in float32: 32 floats of B at x + offs[p].
#define KSTEPIZ32(AO, OO) \
	MOVLQSX      OO(R10), AX; \
	VMOVUPS      (DI)(AX*4), Z0; \
	VMOVUPS      64(DI)(AX*4), Z1; \
	VBROADCASTSS AO(SI), Z2; \
	VBROADCASTSS AO+4(SI), Z3; \
	VFMADD231PS  Z0, Z2, Z4; \
	VFMADD231PS  Z1, Z2, Z5; \
	VFMADD231PS  Z0, Z3, Z6; \
	VFMADD231PS  Z1, Z3, Z7; \
	VBROADCASTSS AO+8(SI), Z2; \
	VBROADCASTSS AO+12(SI), Z3; \
	VFMADD231PS  Z0, Z2, Z8; \
	VFMADD231PS  Z1, Z2, Z9; \
	VFMADD231PS  Z0, Z3, Z10; \
	VFMADD231PS  Z1, Z3, Z11; \
	VBROADCASTSS AO+16(SI), Z2; \
	VBROADCASTSS AO+20(SI), Z3; \
	VFMADD231PS  Z0, Z2, Z12; \
	VFMADD231PS  Z1, Z2, Z13; \
	VFMADD231PS  Z0, Z3, Z14; \
	VFMADD231PS  Z1, Z3, Z15

// Store one row of two ZMM accumulators (128 bytes) to (DX).
#define STOREIZ(R0, R1) \
	VMOVUPD R0, (DX); \
	VMOVUPD R1, 64(DX); \
	ADDQ    R8, DX

#define ZEROZ12 \
	VPXORQ Z4, Z4, Z4; \
	VPXORQ Z5, Z5, Z5; \
	VPXORQ Z6, Z6, Z6; \
	VPXORQ Z7, Z7, Z7; \
	VPXORQ Z8, Z8, Z8; \
	VPXORQ Z9, Z9, Z9; \
	VPXORQ Z10, Z10, Z10; \
	VPXORQ Z11, Z11, Z11; \
	VPXORQ Z12, Z12, Z12; \
	VPXORQ Z13, Z13, Z13; \
	VPXORQ Z14, Z14, Z14; \
	VPXORQ Z15, Z15, Z15

#define STOREZ12 \
	STOREIZ(Z4, Z5); \
	STOREIZ(Z6, Z7); \
	STOREIZ(Z8, Z9); \
	STOREIZ(Z10, Z11); \
	STOREIZ(Z12, Z13); \
	STOREIZ(Z14, Z15)

// func kernShifted6x16z(kc int, a, x *float64, offs *int32, c *float64, ldc int)
//
// kernShifted6x8 on 16 columns with AVX-512.
TEXT ·kernShifted6x16z(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ offs+24(FP), R10
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $3, R8
	ZEROZ12

	MOVQ  CX, BX
	SHRQ  $2, BX
	ANDQ  $3, CX
	TESTQ BX, BX
	JZ    tailIZ

	PCALIGN $64
loop4IZ:
	KSTEPIZ(0, 0)
	KSTEPIZ(48, 4)
	KSTEPIZ(96, 8)
	KSTEPIZ(144, 12)
	ADDQ $192, SI
	ADDQ $16, R10
	DECQ BX
	JNZ  loop4IZ

tailIZ:
	TESTQ CX, CX
	JZ    storeIZ

loop1IZ:
	KSTEPIZ(0, 0)
	ADDQ $48, SI
	ADDQ $4, R10
	DECQ CX
	JNZ  loop1IZ

storeIZ:
	STOREZ12
	VZEROUPPER
	RET

// func kernShifted6x32z(kc int, a, x *float32, offs *int32, c *float32, ldc int)
//
// kernShifted6x16 on 32 columns with AVX-512.
TEXT ·kernShifted6x32z(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ offs+24(FP), R10
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8
	ZEROZ12

	MOVQ  CX, BX
	SHRQ  $2, BX
	ANDQ  $3, CX
	TESTQ BX, BX
	JZ    tailIZ32

	PCALIGN $64
loop4IZ32:
	KSTEPIZ32(0, 0)
	KSTEPIZ32(24, 4)
	KSTEPIZ32(48, 8)
	KSTEPIZ32(72, 12)
	ADDQ $96, SI
	ADDQ $16, R10
	DECQ BX
	JNZ  loop4IZ32

tailIZ32:
	TESTQ CX, CX
	JZ    storeIZ32

loop1IZ32:
	KSTEPIZ32(0, 0)
	ADDQ $24, SI
	ADDQ $4, R10
	DECQ CX
	JNZ  loop1IZ32

storeIZ32:
	STOREZ12
	VZEROUPPER
	RET

// One step of kernShifted12x8z: the B row at x + offs[p] (DI + 8·AX) into the
// twelve accumulators, A values of rows 0–5 at AO(SI), 6–11 at AO(R9).
#define KERNSHIFTED12X8ZSTEP(AO, OO) \
	MOVLQSX OO(R10), AX; \
	VMOVUPD (DI)(AX*8), Z0; \
	VFMADD231PD.BCST AO+0(SI), Z0, Z4; \
	VFMADD231PD.BCST AO+8(SI), Z0, Z5; \
	VFMADD231PD.BCST AO+16(SI), Z0, Z6; \
	VFMADD231PD.BCST AO+24(SI), Z0, Z7; \
	VFMADD231PD.BCST AO+32(SI), Z0, Z8; \
	VFMADD231PD.BCST AO+40(SI), Z0, Z9; \
	VFMADD231PD.BCST AO+0(R9), Z0, Z10; \
	VFMADD231PD.BCST AO+8(R9), Z0, Z11; \
	VFMADD231PD.BCST AO+16(R9), Z0, Z12; \
	VFMADD231PD.BCST AO+24(R9), Z0, Z13; \
	VFMADD231PD.BCST AO+32(R9), Z0, Z14; \
	VFMADD231PD.BCST AO+40(R9), Z0, Z15

// func kernShifted12x8z(kc int, a0, a1, x *float64, offs *int32, c *float64, ldc int)
//
// The shifted product of two A panels (rows 0–5 from a0, 6–11 from a1)
// on 8 columns: c[r*ldc+j] = Σ_p a_r[p]·x[offs[p]+j], overwriting c;
// each entry with the operations of the 6-row kernels. kc ≥ 1.
TEXT ·kernShifted12x8z(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a0+8(FP), SI
	MOVQ a1+16(FP), R9
	MOVQ x+24(FP), DI
	MOVQ offs+32(FP), R10
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $3, R8
	VPXORQ Z4, Z4, Z4
	VPXORQ Z5, Z5, Z5
	VPXORQ Z6, Z6, Z6
	VPXORQ Z7, Z7, Z7
	VPXORQ Z8, Z8, Z8
	VPXORQ Z9, Z9, Z9
	VPXORQ Z10, Z10, Z10
	VPXORQ Z11, Z11, Z11
	VPXORQ Z12, Z12, Z12
	VPXORQ Z13, Z13, Z13
	VPXORQ Z14, Z14, Z14
	VPXORQ Z15, Z15, Z15

	MOVQ  CX, BX
	SHRQ  $2, BX
	ANDQ  $3, CX
	TESTQ BX, BX
	JZ    tail_kernShifted12x8z

	PCALIGN $64
loop4_kernShifted12x8z:
	KERNSHIFTED12X8ZSTEP(0, 0)
	KERNSHIFTED12X8ZSTEP(48, 4)
	KERNSHIFTED12X8ZSTEP(96, 8)
	KERNSHIFTED12X8ZSTEP(144, 12)
	ADDQ $192, SI
	ADDQ $192, R9
	ADDQ $16, R10
	DECQ BX
	JNZ  loop4_kernShifted12x8z

tail_kernShifted12x8z:
	TESTQ CX, CX
	JZ    store_kernShifted12x8z

loop1_kernShifted12x8z:
	KERNSHIFTED12X8ZSTEP(0, 0)
	ADDQ $48, SI
	ADDQ $48, R9
	ADDQ $4, R10
	DECQ CX
	JNZ  loop1_kernShifted12x8z

store_kernShifted12x8z:
	VMOVUPD Z4, (DX)
	ADDQ R8, DX
	VMOVUPD Z5, (DX)
	ADDQ R8, DX
	VMOVUPD Z6, (DX)
	ADDQ R8, DX
	VMOVUPD Z7, (DX)
	ADDQ R8, DX
	VMOVUPD Z8, (DX)
	ADDQ R8, DX
	VMOVUPD Z9, (DX)
	ADDQ R8, DX
	VMOVUPD Z10, (DX)
	ADDQ R8, DX
	VMOVUPD Z11, (DX)
	ADDQ R8, DX
	VMOVUPD Z12, (DX)
	ADDQ R8, DX
	VMOVUPD Z13, (DX)
	ADDQ R8, DX
	VMOVUPD Z14, (DX)
	ADDQ R8, DX
	VMOVUPD Z15, (DX)
	ADDQ R8, DX
	VZEROUPPER
	RET

// One step of kernShifted12x16z: the B row at x + offs[p] (DI + 4·AX) into the
// twelve accumulators, A values of rows 0–5 at AO(SI), 6–11 at AO(R9).
#define KERNSHIFTED12X16ZSTEP(AO, OO) \
	MOVLQSX OO(R10), AX; \
	VMOVUPS (DI)(AX*4), Z0; \
	VFMADD231PS.BCST AO+0(SI), Z0, Z4; \
	VFMADD231PS.BCST AO+4(SI), Z0, Z5; \
	VFMADD231PS.BCST AO+8(SI), Z0, Z6; \
	VFMADD231PS.BCST AO+12(SI), Z0, Z7; \
	VFMADD231PS.BCST AO+16(SI), Z0, Z8; \
	VFMADD231PS.BCST AO+20(SI), Z0, Z9; \
	VFMADD231PS.BCST AO+0(R9), Z0, Z10; \
	VFMADD231PS.BCST AO+4(R9), Z0, Z11; \
	VFMADD231PS.BCST AO+8(R9), Z0, Z12; \
	VFMADD231PS.BCST AO+12(R9), Z0, Z13; \
	VFMADD231PS.BCST AO+16(R9), Z0, Z14; \
	VFMADD231PS.BCST AO+20(R9), Z0, Z15

// func kernShifted12x16z(kc int, a0, a1, x *float32, offs *int32, c *float32, ldc int)
//
// The shifted product of two A panels (rows 0–5 from a0, 6–11 from a1)
// on 16 columns: c[r*ldc+j] = Σ_p a_r[p]·x[offs[p]+j], overwriting c;
// each entry with the operations of the 6-row kernels. kc ≥ 1.
TEXT ·kernShifted12x16z(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a0+8(FP), SI
	MOVQ a1+16(FP), R9
	MOVQ x+24(FP), DI
	MOVQ offs+32(FP), R10
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	VPXORQ Z4, Z4, Z4
	VPXORQ Z5, Z5, Z5
	VPXORQ Z6, Z6, Z6
	VPXORQ Z7, Z7, Z7
	VPXORQ Z8, Z8, Z8
	VPXORQ Z9, Z9, Z9
	VPXORQ Z10, Z10, Z10
	VPXORQ Z11, Z11, Z11
	VPXORQ Z12, Z12, Z12
	VPXORQ Z13, Z13, Z13
	VPXORQ Z14, Z14, Z14
	VPXORQ Z15, Z15, Z15

	MOVQ  CX, BX
	SHRQ  $2, BX
	ANDQ  $3, CX
	TESTQ BX, BX
	JZ    tail_kernShifted12x16z

	PCALIGN $64
loop4_kernShifted12x16z:
	KERNSHIFTED12X16ZSTEP(0, 0)
	KERNSHIFTED12X16ZSTEP(24, 4)
	KERNSHIFTED12X16ZSTEP(48, 8)
	KERNSHIFTED12X16ZSTEP(72, 12)
	ADDQ $96, SI
	ADDQ $96, R9
	ADDQ $16, R10
	DECQ BX
	JNZ  loop4_kernShifted12x16z

tail_kernShifted12x16z:
	TESTQ CX, CX
	JZ    store_kernShifted12x16z

loop1_kernShifted12x16z:
	KERNSHIFTED12X16ZSTEP(0, 0)
	ADDQ $24, SI
	ADDQ $24, R9
	ADDQ $4, R10
	DECQ CX
	JNZ  loop1_kernShifted12x16z

store_kernShifted12x16z:
	VMOVUPS Z4, (DX)
	ADDQ R8, DX
	VMOVUPS Z5, (DX)
	ADDQ R8, DX
	VMOVUPS Z6, (DX)
	ADDQ R8, DX
	VMOVUPS Z7, (DX)
	ADDQ R8, DX
	VMOVUPS Z8, (DX)
	ADDQ R8, DX
	VMOVUPS Z9, (DX)
	ADDQ R8, DX
	VMOVUPS Z10, (DX)
	ADDQ R8, DX
	VMOVUPS Z11, (DX)
	ADDQ R8, DX
	VMOVUPS Z12, (DX)
	ADDQ R8, DX
	VMOVUPS Z13, (DX)
	ADDQ R8, DX
	VMOVUPS Z14, (DX)
	ADDQ R8, DX
	VMOVUPS Z15, (DX)
	ADDQ R8, DX
	VZEROUPPER
	RET

// One step of kernShifted12x8s: the B row at x + offs[p] (DI + 4·AX) into the
// twelve accumulators, A values of rows 0–5 at AO(SI), 6–11 at AO(R9).
#define KERNSHIFTED12X8SSTEP(AO, OO) \
	MOVLQSX OO(R10), AX; \
	VMOVUPS (DI)(AX*4), Y0; \
	VBROADCASTSS AO+0(SI), Y2; \
	VFMADD231PS  Y0, Y2, Y4; \
	VBROADCASTSS AO+4(SI), Y3; \
	VFMADD231PS  Y0, Y3, Y5; \
	VBROADCASTSS AO+8(SI), Y2; \
	VFMADD231PS  Y0, Y2, Y6; \
	VBROADCASTSS AO+12(SI), Y3; \
	VFMADD231PS  Y0, Y3, Y7; \
	VBROADCASTSS AO+16(SI), Y2; \
	VFMADD231PS  Y0, Y2, Y8; \
	VBROADCASTSS AO+20(SI), Y3; \
	VFMADD231PS  Y0, Y3, Y9; \
	VBROADCASTSS AO+0(R9), Y2; \
	VFMADD231PS  Y0, Y2, Y10; \
	VBROADCASTSS AO+4(R9), Y3; \
	VFMADD231PS  Y0, Y3, Y11; \
	VBROADCASTSS AO+8(R9), Y2; \
	VFMADD231PS  Y0, Y2, Y12; \
	VBROADCASTSS AO+12(R9), Y3; \
	VFMADD231PS  Y0, Y3, Y13; \
	VBROADCASTSS AO+16(R9), Y2; \
	VFMADD231PS  Y0, Y2, Y14; \
	VBROADCASTSS AO+20(R9), Y3; \
	VFMADD231PS  Y0, Y3, Y15

// func kernShifted12x8s(kc int, a0, a1, x *float32, offs *int32, c *float32, ldc int)
//
// The shifted product of two A panels (rows 0–5 from a0, 6–11 from a1)
// on 8 columns: c[r*ldc+j] = Σ_p a_r[p]·x[offs[p]+j], overwriting c;
// each entry with the operations of the 6-row kernels. kc ≥ 1.
TEXT ·kernShifted12x8s(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a0+8(FP), SI
	MOVQ a1+16(FP), R9
	MOVQ x+24(FP), DI
	MOVQ offs+32(FP), R10
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	MOVQ  CX, BX
	SHRQ  $2, BX
	ANDQ  $3, CX
	TESTQ BX, BX
	JZ    tail_kernShifted12x8s

	PCALIGN $64
loop4_kernShifted12x8s:
	KERNSHIFTED12X8SSTEP(0, 0)
	KERNSHIFTED12X8SSTEP(24, 4)
	KERNSHIFTED12X8SSTEP(48, 8)
	KERNSHIFTED12X8SSTEP(72, 12)
	ADDQ $96, SI
	ADDQ $96, R9
	ADDQ $16, R10
	DECQ BX
	JNZ  loop4_kernShifted12x8s

tail_kernShifted12x8s:
	TESTQ CX, CX
	JZ    store_kernShifted12x8s

loop1_kernShifted12x8s:
	KERNSHIFTED12X8SSTEP(0, 0)
	ADDQ $24, SI
	ADDQ $24, R9
	ADDQ $4, R10
	DECQ CX
	JNZ  loop1_kernShifted12x8s

store_kernShifted12x8s:
	VMOVUPS Y4, (DX)
	ADDQ R8, DX
	VMOVUPS Y5, (DX)
	ADDQ R8, DX
	VMOVUPS Y6, (DX)
	ADDQ R8, DX
	VMOVUPS Y7, (DX)
	ADDQ R8, DX
	VMOVUPS Y8, (DX)
	ADDQ R8, DX
	VMOVUPS Y9, (DX)
	ADDQ R8, DX
	VMOVUPS Y10, (DX)
	ADDQ R8, DX
	VMOVUPS Y11, (DX)
	ADDQ R8, DX
	VMOVUPS Y12, (DX)
	ADDQ R8, DX
	VMOVUPS Y13, (DX)
	ADDQ R8, DX
	VMOVUPS Y14, (DX)
	ADDQ R8, DX
	VMOVUPS Y15, (DX)
	ADDQ R8, DX
	VZEROUPPER
	RET

// The double 1.0, for the 0/1 masks of mulPositive4.
DATA one64<>+0(SB)/8, $0x3ff0000000000000
GLOBL one64<>(SB), RODATA|NOPTR, $8

// func relu4(n4 int, dst, x *float64)
//
// dst[i] = x[i] unless x[i] ≤ 0 (then +0), for i < 4·n4, n4 ≥ 1: Go's
// max(x, 0), NaN and −0 included (NaN is unordered, so not ≤ 0).
TEXT ·relu4(SB), NOSPLIT, $0-24
	MOVQ   n4+0(FP), CX
	MOVQ   dst+8(FP), DI
	MOVQ   x+16(FP), SI
	VXORPD Y1, Y1, Y1

reluloop:
	VMOVUPD (SI), Y0
	VCMPPD  $0x16, Y1, Y0, Y2 // x !≤ 0 (NLE_UQ)
	VANDPD  Y0, Y2, Y0
	VMOVUPD Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     reluloop
	VZEROUPPER
	RET

// func mulPositive4(n4 int, dst, s, x *float64)
//
// dst[i] = s[i]·(1 if x[i] > 0 else 0), for i < 4·n4, n4 ≥ 1: the
// product, so that a NaN in s stays NaN where x ≤ 0.
TEXT ·mulPositive4(SB), NOSPLIT, $0-32
	MOVQ         n4+0(FP), CX
	MOVQ         dst+8(FP), DI
	MOVQ         s+16(FP), DX
	MOVQ         x+24(FP), SI
	VXORPD       Y1, Y1, Y1
	VBROADCASTSD one64<>(SB), Y3

mulposloop:
	VMOVUPD (SI), Y0
	VCMPPD  $0x1e, Y1, Y0, Y2 // x > 0 (GT_OQ)
	VANDPD  Y3, Y2, Y2        // 1 or 0
	VMULPD  (DX), Y2, Y2
	VMOVUPD Y2, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     mulposloop
	VZEROUPPER
	RET

// func mulPositive32x4(n4 int, dst, s *float32, x *float64)
//
// dst[i] = s[i]·(1 if x[i] > 0 else 0) in float32, for i < 4·n4, n4 ≥ 1:
// mulPositive4 on float32 factor rows with a float64 mask source.
TEXT ·mulPositive32x4(SB), NOSPLIT, $0-32
	MOVQ         n4+0(FP), CX
	MOVQ         dst+8(FP), DI
	MOVQ         s+16(FP), DX
	MOVQ         x+24(FP), SI
	VXORPD       Y1, Y1, Y1
	VBROADCASTSD one64<>(SB), Y3

mulpos32loop:
	VMOVUPD   (SI), Y0
	VCMPPD    $0x1e, Y1, Y0, Y2 // x > 0 (GT_OQ)
	VANDPD    Y3, Y2, Y2        // 1 or 0
	VCVTPD2PSY Y2, X2
	VMULPS    (DX), X2, X2
	VMOVUPS   X2, (DI)
	ADDQ      $32, SI
	ADDQ      $16, DX
	ADDQ      $16, DI
	DECQ      CX
	JNZ       mulpos32loop
	VZEROUPPER
	RET

// ZERODOTSUM clears the dot-and-sum kernels' running sums Y4..Y7.
#define ZERODOTSUM \
	VXORPD Y4, Y4, Y4; \
	VXORPD Y5, Y5, Y5; \
	VXORPD Y6, Y6, Y6; \
	VXORPD Y7, Y7, Y7

// REDUCEDOTSUM adds the lanes of the dot-product sums Y4, Y5 into DOT
// and of the plain sums Y6, Y7 into SUM (the dot-and-sum kernels' end).
#define REDUCEDOTSUM(DOT, SUM) \
	VADDPD       Y5, Y4, Y4; \
	VADDPD       Y7, Y6, Y6; \
	VEXTRACTF128 $1, Y4, X5; \
	VADDPD       X5, X4, X4; \
	VHADDPD      X4, X4, X4; \
	VMOVSD       X4, DOT; \
	VEXTRACTF128 $1, Y6, X7; \
	VADDPD       X7, X6, X6; \
	VHADDPD      X6, X6, X6; \
	VMOVSD       X6, SUM

// func dotSum32x8(n8 int, s *float32, x *float64) (dot, sum float64)
//
// Σ s[i]·x[i] and Σ s[i] in float64 over i < 8·n8, n8 ≥ 1, in two running
// sums each per lane.
TEXT ·dotSum32x8(SB), NOSPLIT, $0-40
	MOVQ   n8+0(FP), CX
	MOVQ   s+8(FP), SI
	MOVQ   x+16(FP), DX
	ZERODOTSUM

dotsum32loop:
	VCVTPS2PD   (SI), Y0
	VCVTPS2PD   16(SI), Y1
	VFMADD231PD (DX), Y0, Y4
	VFMADD231PD 32(DX), Y1, Y5
	VADDPD      Y0, Y6, Y6
	VADDPD      Y1, Y7, Y7
	ADDQ        $32, SI
	ADDQ        $64, DX
	DECQ        CX
	JNZ         dotsum32loop
	REDUCEDOTSUM(dot+24(FP), sum+32(FP))
	VZEROUPPER
	RET

// func scale32x8(n8 int, s *float32, a float32)
//
// s[i] *= a for i < 8·n8, n8 ≥ 1.
TEXT ·scale32x8(SB), NOSPLIT, $0-20
	MOVQ         n8+0(FP), CX
	MOVQ         s+8(FP), DI
	VBROADCASTSS a+16(FP), Y1

scale32loop:
	VMULPS  (DI), Y1, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	DECQ    CX
	JNZ     scale32loop
	VZEROUPPER
	RET

// The twelve-row thin kernels keep the 12×16 sums in Z0..Z23 (row i in
// Z(2i), Z(2i+1)), loaded from and stored back to 1536 bytes at (DX).
#define LOADACC24 \
	VMOVUPD 0(DX), Z0; \
	VMOVUPD 64(DX), Z1; \
	VMOVUPD 128(DX), Z2; \
	VMOVUPD 192(DX), Z3; \
	VMOVUPD 256(DX), Z4; \
	VMOVUPD 320(DX), Z5; \
	VMOVUPD 384(DX), Z6; \
	VMOVUPD 448(DX), Z7; \
	VMOVUPD 512(DX), Z8; \
	VMOVUPD 576(DX), Z9; \
	VMOVUPD 640(DX), Z10; \
	VMOVUPD 704(DX), Z11; \
	VMOVUPD 768(DX), Z12; \
	VMOVUPD 832(DX), Z13; \
	VMOVUPD 896(DX), Z14; \
	VMOVUPD 960(DX), Z15; \
	VMOVUPD 1024(DX), Z16; \
	VMOVUPD 1088(DX), Z17; \
	VMOVUPD 1152(DX), Z18; \
	VMOVUPD 1216(DX), Z19; \
	VMOVUPD 1280(DX), Z20; \
	VMOVUPD 1344(DX), Z21; \
	VMOVUPD 1408(DX), Z22; \
	VMOVUPD 1472(DX), Z23

#define STOREACC24 \
	VMOVUPD Z0, 0(DX); \
	VMOVUPD Z1, 64(DX); \
	VMOVUPD Z2, 128(DX); \
	VMOVUPD Z3, 192(DX); \
	VMOVUPD Z4, 256(DX); \
	VMOVUPD Z5, 320(DX); \
	VMOVUPD Z6, 384(DX); \
	VMOVUPD Z7, 448(DX); \
	VMOVUPD Z8, 512(DX); \
	VMOVUPD Z9, 576(DX); \
	VMOVUPD Z10, 640(DX); \
	VMOVUPD Z11, 704(DX); \
	VMOVUPD Z12, 768(DX); \
	VMOVUPD Z13, 832(DX); \
	VMOVUPD Z14, 896(DX); \
	VMOVUPD Z15, 960(DX); \
	VMOVUPD Z16, 1024(DX); \
	VMOVUPD Z17, 1088(DX); \
	VMOVUPD Z18, 1152(DX); \
	VMOVUPD Z19, 1216(DX); \
	VMOVUPD Z20, 1280(DX); \
	VMOVUPD Z21, 1344(DX); \
	VMOVUPD Z22, 1408(DX); \
	VMOVUPD Z23, 1472(DX)

// One p of the twelve-row kernels: B's sixteen entries in Z24, Z25, times
// a[p·12+i] for each row i, added to the sums; then the next p.
#define AXPY12STEP \
	VBROADCASTSD 0(SI), Z26; \
	VFMADD231PD  Z24, Z26, Z0; \
	VFMADD231PD  Z25, Z26, Z1; \
	VBROADCASTSD 8(SI), Z27; \
	VFMADD231PD  Z24, Z27, Z2; \
	VFMADD231PD  Z25, Z27, Z3; \
	VBROADCASTSD 16(SI), Z26; \
	VFMADD231PD  Z24, Z26, Z4; \
	VFMADD231PD  Z25, Z26, Z5; \
	VBROADCASTSD 24(SI), Z27; \
	VFMADD231PD  Z24, Z27, Z6; \
	VFMADD231PD  Z25, Z27, Z7; \
	VBROADCASTSD 32(SI), Z26; \
	VFMADD231PD  Z24, Z26, Z8; \
	VFMADD231PD  Z25, Z26, Z9; \
	VBROADCASTSD 40(SI), Z27; \
	VFMADD231PD  Z24, Z27, Z10; \
	VFMADD231PD  Z25, Z27, Z11; \
	VBROADCASTSD 48(SI), Z26; \
	VFMADD231PD  Z24, Z26, Z12; \
	VFMADD231PD  Z25, Z26, Z13; \
	VBROADCASTSD 56(SI), Z27; \
	VFMADD231PD  Z24, Z27, Z14; \
	VFMADD231PD  Z25, Z27, Z15; \
	VBROADCASTSD 64(SI), Z26; \
	VFMADD231PD  Z24, Z26, Z16; \
	VFMADD231PD  Z25, Z26, Z17; \
	VBROADCASTSD 72(SI), Z27; \
	VFMADD231PD  Z24, Z27, Z18; \
	VFMADD231PD  Z25, Z27, Z19; \
	VBROADCASTSD 80(SI), Z26; \
	VFMADD231PD  Z24, Z26, Z20; \
	VFMADD231PD  Z25, Z26, Z21; \
	VBROADCASTSD 88(SI), Z27; \
	VFMADD231PD  Z24, Z27, Z22; \
	VFMADD231PD  Z25, Z27, Z23; \
	ADDQ         $96, SI; \
	ADDQ         R9, R8

// func axpy12x16z(k int, a *float64, b *float64, ldb int, acc *[192]float64)
//
// acc[i·16+j] += Σ_{p<k} a[p·12+i]·b[p·ldb+j] for i < 12, j < 16, k ≥ 1
// (AVX-512): twelve rows of A, packed p-major, against sixteen columns of
// B, one multiply-add per p in order onto the loaded sum, so that from
// zero every sum is axpy2x16's.
TEXT ·axpy12x16z(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), R8
	MOVQ ldb+24(FP), R9
	SHLQ $3, R9
	MOVQ acc+32(FP), DX
	LOADACC24

	PCALIGN $32
axpy12x16zloop:
	VMOVUPD (R8), Z24
	VMOVUPD 64(R8), Z25
	AXPY12STEP
	DECQ    CX
	JNZ     axpy12x16zloop

	STOREACC24
	VZEROUPPER
	RET

// func axpy12x16zMixed(k int, a *float64, b *float32, ldb int, acc *[192]float64)
//
// axpy12x16z for a float32 B, widened exactly as it is loaded.
TEXT ·axpy12x16zMixed(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), R8
	MOVQ ldb+24(FP), R9
	SHLQ $2, R9
	MOVQ acc+32(FP), DX
	LOADACC24

	PCALIGN $32
axpy12x16zMixedloop:
	VCVTPS2PD (R8), Z24
	VCVTPS2PD 32(R8), Z25
	AXPY12STEP
	DECQ      CX
	JNZ       axpy12x16zMixedloop

	STOREACC24
	VZEROUPPER
	RET

// func dotSumScale64x8(n8 int, s, x, d *float64, a float64) (dot, sum float64)
//
// Returns Σ s[i]·x[i] and Σ s[i] and sets d[i] = a·s[i], for i < 8·n8,
// n8 ≥ 1, in one pass (d may be s): BatchNorm's block and backward on a
// channel of a factor row.
TEXT ·dotSumScale64x8(SB), NOSPLIT, $0-56
	MOVQ         n8+0(FP), CX
	MOVQ         s+8(FP), SI
	MOVQ         x+16(FP), DX
	MOVQ         d+24(FP), DI
	VBROADCASTSD a+32(FP), Y8
	ZERODOTSUM

dss64loop:
	VMOVUPD     (SI), Y0
	VMOVUPD     32(SI), Y1
	VFMADD231PD (DX), Y0, Y4
	VFMADD231PD 32(DX), Y1, Y5
	VADDPD      Y0, Y6, Y6
	VADDPD      Y1, Y7, Y7
	VMULPD      Y8, Y0, Y0
	VMULPD      Y8, Y1, Y1
	VMOVUPD     Y0, (DI)
	VMOVUPD     Y1, 32(DI)
	ADDQ        $64, SI
	ADDQ        $64, DX
	ADDQ        $64, DI
	DECQ        CX
	JNZ         dss64loop
	REDUCEDOTSUM(dot+40(FP), sum+48(FP))
	VZEROUPPER
	RET

// func dotSumScale32x8(n8 int, s *float32, x *float64, d *float32, a float32) (dot, sum float64)
//
// dotSum32x8 of s and x, and d[i] = a·s[i] in float32, for i < 8·n8,
// n8 ≥ 1, in one pass (d may be s).
TEXT ·dotSumScale32x8(SB), NOSPLIT, $0-56
	MOVQ         n8+0(FP), CX
	MOVQ         s+8(FP), SI
	MOVQ         x+16(FP), DX
	MOVQ         d+24(FP), DI
	VBROADCASTSS a+32(FP), Y8
	ZERODOTSUM

dss32loop:
	VMOVUPS     (SI), Y2
	VCVTPS2PD   X2, Y0
	VEXTRACTF128 $1, Y2, X3
	VCVTPS2PD   X3, Y1
	VFMADD231PD (DX), Y0, Y4
	VFMADD231PD 32(DX), Y1, Y5
	VADDPD      Y0, Y6, Y6
	VADDPD      Y1, Y7, Y7
	VMULPS      Y8, Y2, Y2
	VMOVUPS     Y2, (DI)
	ADDQ        $32, SI
	ADDQ        $64, DX
	ADDQ        $32, DI
	DECQ        CX
	JNZ         dss32loop
	REDUCEDOTSUM(dot+40(FP), sum+48(FP))
	VZEROUPPER
	RET

// func dotSum64x8(n8 int, s, x *float64) (dot, sum float64)
//
// dotSumScale64x8 without the scaled copy: the same sums in the same
// order.
TEXT ·dotSum64x8(SB), NOSPLIT, $0-40
	MOVQ   n8+0(FP), CX
	MOVQ   s+8(FP), SI
	MOVQ   x+16(FP), DX
	ZERODOTSUM

ds64loop:
	VMOVUPD     (SI), Y0
	VMOVUPD     32(SI), Y1
	VFMADD231PD (DX), Y0, Y4
	VFMADD231PD 32(DX), Y1, Y5
	VADDPD      Y0, Y6, Y6
	VADDPD      Y1, Y7, Y7
	ADDQ        $64, SI
	ADDQ        $64, DX
	DECQ        CX
	JNZ         ds64loop
	REDUCEDOTSUM(dot+24(FP), sum+32(FP))
	VZEROUPPER
	RET

// func countNonzero64x8(n8 int, x *float64) int
// The number of entries of x[:8·n8] that compare unequal to zero (NaN
// included, ±0 not): VCMPPD's predicate 4 (NEQ_UQ), a four-bit mask per
// four entries, counted by POPCNT.
TEXT ·countNonzero64x8(SB), NOSPLIT, $0-24
	MOVQ   n8+0(FP), CX
	MOVQ   x+8(FP), SI
	VXORPD Y15, Y15, Y15
	XORQ   AX, AX

cnz64loop:
	VCMPPD    $4, (SI), Y15, Y0
	VCMPPD    $4, 32(SI), Y15, Y1
	VMOVMSKPD Y0, DX
	VMOVMSKPD Y1, BX
	POPCNTL   DX, DX
	POPCNTL   BX, BX
	ADDQ      DX, AX
	ADDQ      BX, AX
	ADDQ      $64, SI
	DECQ      CX
	JNZ       cnz64loop
	VZEROUPPER
	MOVQ      AX, ret+16(FP)
	RET

// func countNonzero32x16(n16 int, x *float32) int
// countNonzero64x8 for float32: an eight-bit mask per eight entries.
TEXT ·countNonzero32x16(SB), NOSPLIT, $0-24
	MOVQ   n16+0(FP), CX
	MOVQ   x+8(FP), SI
	VXORPS Y15, Y15, Y15
	XORQ   AX, AX

cnz32loop:
	VCMPPS    $4, (SI), Y15, Y0
	VCMPPS    $4, 32(SI), Y15, Y1
	VMOVMSKPS Y0, DX
	VMOVMSKPS Y1, BX
	POPCNTL   DX, DX
	POPCNTL   BX, BX
	ADDQ      DX, AX
	ADDQ      BX, AX
	ADDQ      $64, SI
	DECQ      CX
	JNZ       cnz32loop
	VZEROUPPER
	MOVQ      AX, ret+16(FP)
	RET

// ZEROGRAMACC zeroes the accumulators of kern8x16z and kern8x32z.
#define ZEROGRAMACC \
	VPXORQ Z16, Z16, Z16; \
	VPXORQ Z17, Z17, Z17; \
	VPXORQ Z18, Z18, Z18; \
	VPXORQ Z19, Z19, Z19; \
	VPXORQ Z20, Z20, Z20; \
	VPXORQ Z21, Z21, Z21; \
	VPXORQ Z22, Z22, Z22; \
	VPXORQ Z23, Z23, Z23; \
	VPXORQ Z24, Z24, Z24; \
	VPXORQ Z25, Z25, Z25; \
	VPXORQ Z26, Z26, Z26; \
	VPXORQ Z27, Z27, Z27; \
	VPXORQ Z28, Z28, Z28; \
	VPXORQ Z29, Z29, Z29; \
	VPXORQ Z30, Z30, Z30; \
	VPXORQ Z31, Z31, Z31

// KSTEP8Z(O) is one k step of kern8x16z: the eight A values at O(SI) (one
// k of a B panel: eight rows, 64 bytes), the two B panels' sixteen values
// at O(DI) and O(DI)(R11*1), into the accumulators Z16–Z31 (row r in
// Z16+2r, Z17+2r).
#define KSTEP8Z(O) \
	VMOVUPD      O(DI), Z0; \
	VMOVUPD      O(DI)(R11*1), Z1; \
	VBROADCASTSD O(SI), Z2; \
	VBROADCASTSD O+8(SI), Z3; \
	VFMADD231PD  Z0, Z2, Z16; \
	VFMADD231PD  Z1, Z2, Z17; \
	VFMADD231PD  Z0, Z3, Z18; \
	VFMADD231PD  Z1, Z3, Z19; \
	VBROADCASTSD O+16(SI), Z2; \
	VBROADCASTSD O+24(SI), Z3; \
	VFMADD231PD  Z0, Z2, Z20; \
	VFMADD231PD  Z1, Z2, Z21; \
	VFMADD231PD  Z0, Z3, Z22; \
	VFMADD231PD  Z1, Z3, Z23; \
	VBROADCASTSD O+32(SI), Z2; \
	VBROADCASTSD O+40(SI), Z3; \
	VFMADD231PD  Z0, Z2, Z24; \
	VFMADD231PD  Z1, Z2, Z25; \
	VFMADD231PD  Z0, Z3, Z26; \
	VFMADD231PD  Z1, Z3, Z27; \
	VBROADCASTSD O+48(SI), Z2; \
	VBROADCASTSD O+56(SI), Z3; \
	VFMADD231PD  Z0, Z2, Z28; \
	VFMADD231PD  Z1, Z2, Z29; \
	VFMADD231PD  Z0, Z3, Z30; \
	VFMADD231PD  Z1, Z3, Z31

// func kern8x16z(kc int, a, b, c *float64, ldc int, alpha, beta float64)
//
// The 8×16 block C[r*ldc+j] = alpha·Σ_p a[p*8+r]·b[p*8+j] + beta·C (b's
// columns 8–15 in the second panel, kc·8 values after the first) of a
// product whose A panel is a packed B panel (a Gram product, A·Aᵀ): every
// entry is summed over p in order by fused multiply-adds from zero and
// stored as kern6x16z stores it, so its results are bitwise kern6x16z's.
TEXT ·kern8x16z(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $3, R8
	MOVQ CX, R11
	SHLQ $6, R11 // kc·8 doubles: the second panel

	ZEROGRAMACC

	MOVQ  CX, BX
	SHRQ  $2, BX
	ANDQ  $3, CX
	TESTQ BX, BX
	JZ    tail8z

	PCALIGN $64
loop8x16z:
	KSTEP8Z(0)
	KSTEP8Z(64)
	KSTEP8Z(128)
	KSTEP8Z(192)
	ADDQ $256, SI
	ADDQ $256, DI
	DECQ BX
	JNZ  loop8x16z

tail8z:
	TESTQ CX, CX
	JZ    store8z

loop8x16z1:
	KSTEP8Z(0)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop8x16z1

store8z:
	VBROADCASTSD alpha+40(FP), Z0
	VMOVSD       beta+48(FP), X1
	VXORPD       X2, X2, X2
	VUCOMISD     X2, X1
	JNE          withbeta8z
	JPS          withbeta8z

	STORE0Z(Z16, Z17)
	STORE0Z(Z18, Z19)
	STORE0Z(Z20, Z21)
	STORE0Z(Z22, Z23)
	STORE0Z(Z24, Z25)
	STORE0Z(Z26, Z27)
	STORE0Z(Z28, Z29)
	STORE0Z(Z30, Z31)
	VZEROUPPER
	RET

withbeta8z:
	VBROADCASTSD beta+48(FP), Z1
	STOREBZ(Z16, Z17)
	STOREBZ(Z18, Z19)
	STOREBZ(Z20, Z21)
	STOREBZ(Z22, Z23)
	STOREBZ(Z24, Z25)
	STOREBZ(Z26, Z27)
	STOREBZ(Z28, Z29)
	STOREBZ(Z30, Z31)
	VZEROUPPER
	RET

// KSTEP8ZS(O) is KSTEP8Z in float32: the eight A values at O(SI) (half of
// one k of a sixteen-row B panel), the two panels' thirty-two values.
#define KSTEP8ZS(O) \
	VMOVUPS      O(DI), Z0; \
	VMOVUPS      O(DI)(R11*1), Z1; \
	VBROADCASTSS O(SI), Z2; \
	VBROADCASTSS O+4(SI), Z3; \
	VFMADD231PS  Z0, Z2, Z16; \
	VFMADD231PS  Z1, Z2, Z17; \
	VFMADD231PS  Z0, Z3, Z18; \
	VFMADD231PS  Z1, Z3, Z19; \
	VBROADCASTSS O+8(SI), Z2; \
	VBROADCASTSS O+12(SI), Z3; \
	VFMADD231PS  Z0, Z2, Z20; \
	VFMADD231PS  Z1, Z2, Z21; \
	VFMADD231PS  Z0, Z3, Z22; \
	VFMADD231PS  Z1, Z3, Z23; \
	VBROADCASTSS O+16(SI), Z2; \
	VBROADCASTSS O+20(SI), Z3; \
	VFMADD231PS  Z0, Z2, Z24; \
	VFMADD231PS  Z1, Z2, Z25; \
	VFMADD231PS  Z0, Z3, Z26; \
	VFMADD231PS  Z1, Z3, Z27; \
	VBROADCASTSS O+24(SI), Z2; \
	VBROADCASTSS O+28(SI), Z3; \
	VFMADD231PS  Z0, Z2, Z28; \
	VFMADD231PS  Z1, Z2, Z29; \
	VFMADD231PS  Z0, Z3, Z30; \
	VFMADD231PS  Z1, Z3, Z31

// func kern8x32z(kc int, a, b, c *float32, ldc int, alpha, beta float32)
//
// kern8x16z in float32: the 8×32 block, A's eight values of each k 64
// bytes apart (rows 0–7 or 8–15 of a sixteen-row B panel); bitwise
// kern6x32z's results.
TEXT ·kern8x32z(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8
	MOVQ CX, R11
	SHLQ $6, R11 // kc·16 floats: the second panel

	ZEROGRAMACC

	MOVQ  CX, BX
	SHRQ  $2, BX
	ANDQ  $3, CX
	TESTQ BX, BX
	JZ    tail8zs

	PCALIGN $64
loop8x32z:
	KSTEP8ZS(0)
	KSTEP8ZS(64)
	KSTEP8ZS(128)
	KSTEP8ZS(192)
	ADDQ $256, SI
	ADDQ $256, DI
	DECQ BX
	JNZ  loop8x32z

tail8zs:
	TESTQ CX, CX
	JZ    store8zs

loop8x32z1:
	KSTEP8ZS(0)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop8x32z1

store8zs:
	VBROADCASTSS alpha+40(FP), Z0
	VMOVSS       beta+44(FP), X1
	VXORPS       X2, X2, X2
	VUCOMISS     X2, X1
	JNE          withbeta8zs
	JPS          withbeta8zs

	STORE0ZS(Z16, Z17)
	STORE0ZS(Z18, Z19)
	STORE0ZS(Z20, Z21)
	STORE0ZS(Z22, Z23)
	STORE0ZS(Z24, Z25)
	STORE0ZS(Z26, Z27)
	STORE0ZS(Z28, Z29)
	STORE0ZS(Z30, Z31)
	VZEROUPPER
	RET

withbeta8zs:
	VBROADCASTSS beta+44(FP), Z1
	STOREBZS(Z16, Z17)
	STOREBZS(Z18, Z19)
	STOREBZS(Z20, Z21)
	STOREBZS(Z22, Z23)
	STOREBZS(Z24, Z25)
	STOREBZS(Z26, Z27)
	STOREBZS(Z28, Z29)
	STOREBZS(Z30, Z31)
	VZEROUPPER
	RET
