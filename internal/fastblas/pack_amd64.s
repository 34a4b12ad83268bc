// Copyright ©2025 The vivit-go Authors. All rights reserved.

//go:build amd64 && !purego

#include "textflag.h"

// func packA6N(dst, src *float64, lda, n4 int)
//
// Transposes 6 rows of src (row stride lda elements) into groups of 6:
// dst[p*6+r] = src[r*lda+p] for p < 4*n4.
TEXT ·packA6N(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lda+16(FP), R8
	MOVQ n4+24(FP), CX
	SHLQ $3, R8
	LEAQ (SI)(R8*2), R9  // row 2
	LEAQ (R9)(R8*2), R10 // row 4
	TESTQ CX, CX
	JZ    done

loop:
	VMOVUPD (SI), Y0        // r0
	VMOVUPD (SI)(R8*1), Y1  // r1
	VMOVUPD (R9), Y2        // r2
	VMOVUPD (R9)(R8*1), Y3  // r3
	VMOVUPD (R10), Y4       // r4
	VMOVUPD (R10)(R8*1), Y5 // r5

	VUNPCKLPD Y1, Y0, Y6 // r0[0] r1[0] | r0[2] r1[2]
	VUNPCKHPD Y1, Y0, Y7 // r0[1] r1[1] | r0[3] r1[3]
	VUNPCKLPD Y3, Y2, Y8 // r2[0] r3[0] | r2[2] r3[2]
	VUNPCKHPD Y3, Y2, Y9 // r2[1] r3[1] | r2[3] r3[3]
	VUNPCKLPD Y5, Y4, Y10 // r4[0] r5[0] | r4[2] r5[2]
	VUNPCKHPD Y5, Y4, Y11 // r4[1] r5[1] | r4[3] r5[3]

	VPERM2F128 $0x20, Y8, Y6, Y0 // p0: r0..r3
	VPERM2F128 $0x20, Y9, Y7, Y1 // p1
	VPERM2F128 $0x31, Y8, Y6, Y2 // p2
	VPERM2F128 $0x31, Y9, Y7, Y3 // p3

	VMOVUPD      Y0, (DI)
	VMOVUPD      X10, 32(DI)
	VMOVUPD      Y1, 48(DI)
	VMOVUPD      X11, 80(DI)
	VMOVUPD      Y2, 96(DI)
	VEXTRACTF128 $1, Y10, 128(DI)
	VMOVUPD      Y3, 144(DI)
	VEXTRACTF128 $1, Y11, 176(DI)

	ADDQ $32, SI
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $192, DI
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET

// func packB8T(dst, src *float64, ldb, n4 int)
//
// Transposes 8 rows of src (row stride ldb elements) into groups of 8:
// dst[p*8+c] = src[c*ldb+p] for p < 4*n4.
TEXT ·packB8T(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ldb+16(FP), R8
	MOVQ n4+24(FP), CX
	SHLQ $3, R8
	LEAQ (SI)(R8*2), R9  // row 2
	LEAQ (R9)(R8*2), R10 // row 4
	LEAQ (R10)(R8*2), R11 // row 6
	TESTQ CX, CX
	JZ    done

loop:
	VMOVUPD (SI), Y0
	VMOVUPD (SI)(R8*1), Y1
	VMOVUPD (R9), Y2
	VMOVUPD (R9)(R8*1), Y3
	VUNPCKLPD Y1, Y0, Y4
	VUNPCKHPD Y1, Y0, Y5
	VUNPCKLPD Y3, Y2, Y6
	VUNPCKHPD Y3, Y2, Y7
	VPERM2F128 $0x20, Y6, Y4, Y0
	VPERM2F128 $0x20, Y7, Y5, Y1
	VPERM2F128 $0x31, Y6, Y4, Y2
	VPERM2F128 $0x31, Y7, Y5, Y3
	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 64(DI)
	VMOVUPD Y2, 128(DI)
	VMOVUPD Y3, 192(DI)

	VMOVUPD (R10), Y8
	VMOVUPD (R10)(R8*1), Y9
	VMOVUPD (R11), Y10
	VMOVUPD (R11)(R8*1), Y11
	VUNPCKLPD Y9, Y8, Y12
	VUNPCKHPD Y9, Y8, Y13
	VUNPCKLPD Y11, Y10, Y14
	VUNPCKHPD Y11, Y10, Y15
	VPERM2F128 $0x20, Y14, Y12, Y8
	VPERM2F128 $0x20, Y15, Y13, Y9
	VPERM2F128 $0x31, Y14, Y12, Y10
	VPERM2F128 $0x31, Y15, Y13, Y11
	VMOVUPD Y8, 32(DI)
	VMOVUPD Y9, 96(DI)
	VMOVUPD Y10, 160(DI)
	VMOVUPD Y11, 224(DI)

	ADDQ $32, SI
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $256, DI
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET

// TRANSPOSE4x4(r0, r1, r2, r3, t0, t1, t2, t3) transposes the 4×4 float32
// block in the rows r0..r3 (X registers): afterwards r0..r3 hold its
// columns. t0..t3 are clobbered: t0 = r0[0] r1[0] r0[1] r1[1],
// t1 = r0[2] r1[2] r0[3] r1[3], t2 and t3 likewise of r2 and r3; the
// columns are the low and high halves of t0 and t2 (columns 0, 1) and of
// t1 and t3 (columns 2, 3).
#define TRANSPOSE4x4(r0, r1, r2, r3, t0, t1, t2, t3) \
	VUNPCKLPS r1, r0, t0 \
	VUNPCKHPS r1, r0, t1 \
	VUNPCKLPS r3, r2, t2 \
	VUNPCKHPS r3, r2, t3 \
	VMOVLHPS  t2, t0, r0 \
	VMOVHLPS  t0, t2, r1 \
	VMOVLHPS  t3, t1, r2 \
	VMOVHLPS  t1, t3, r3

// func packA6N32(dst, src *float32, lda, n4 int)
//
// packA6N in float32: dst[p*6+r] = src[r*lda+p] for r < 6, p < 4*n4.
TEXT ·packA6N32(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lda+16(FP), R8
	MOVQ n4+24(FP), CX
	SHLQ $2, R8
	LEAQ (SI)(R8*2), R9  // row 2
	LEAQ (R9)(R8*2), R10 // row 4
	TESTQ CX, CX
	JZ    done32a

loop32a:
	VMOVUPS (SI), X0
	VMOVUPS (SI)(R8*1), X1
	VMOVUPS (R9), X2
	VMOVUPS (R9)(R8*1), X3
	VMOVUPS (R10), X4
	VMOVUPS (R10)(R8*1), X5
	TRANSPOSE4x4(X0, X1, X2, X3, X6, X7, X8, X9)
	VUNPCKLPS X5, X4, X10 // r4[0] r5[0] r4[1] r5[1]
	VUNPCKHPS X5, X4, X11 // r4[2] r5[2] r4[3] r5[3]
	VMOVUPS X0, (DI)
	VMOVQ   X10, 16(DI)
	VMOVUPS X1, 24(DI)
	VMOVHPS X10, 40(DI)
	VMOVUPS X2, 48(DI)
	VMOVQ   X11, 64(DI)
	VMOVUPS X3, 72(DI)
	VMOVHPS X11, 88(DI)

	ADDQ $16, SI
	ADDQ $16, R9
	ADDQ $16, R10
	ADDQ $96, DI
	DECQ CX
	JNZ  loop32a

done32a:
	VZEROUPPER
	RET

// func packB16T32(dst, src *float32, ldb, n4 int)
//
// Transposes 16 rows of src (row stride ldb elements) into groups of 16:
// dst[p*16+c] = src[c*ldb+p] for p < 4*n4.
TEXT ·packB16T32(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ldb+16(FP), R8
	MOVQ n4+24(FP), CX
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9 // 3 rows
	MOVQ R8, R11
	SHLQ $2, R11        // 4 rows
	TESTQ CX, CX
	JZ    done32b

loop32b:
	MOVQ SI, BX
	VMOVUPS (BX), X0
	VMOVUPS (BX)(R8*1), X1
	VMOVUPS (BX)(R8*2), X2
	VMOVUPS (BX)(R9*1), X3
	ADDQ R11, BX
	VMOVUPS (BX), X4
	VMOVUPS (BX)(R8*1), X5
	VMOVUPS (BX)(R8*2), X6
	VMOVUPS (BX)(R9*1), X7
	ADDQ R11, BX
	TRANSPOSE4x4(X0, X1, X2, X3, X12, X13, X14, X15)
	TRANSPOSE4x4(X4, X5, X6, X7, X12, X13, X14, X15)
	VMOVUPS X0, (DI)
	VMOVUPS X4, 16(DI)
	VMOVUPS X1, 64(DI)
	VMOVUPS X5, 80(DI)
	VMOVUPS X2, 128(DI)
	VMOVUPS X6, 144(DI)
	VMOVUPS X3, 192(DI)
	VMOVUPS X7, 208(DI)

	VMOVUPS (BX), X0
	VMOVUPS (BX)(R8*1), X1
	VMOVUPS (BX)(R8*2), X2
	VMOVUPS (BX)(R9*1), X3
	ADDQ R11, BX
	VMOVUPS (BX), X4
	VMOVUPS (BX)(R8*1), X5
	VMOVUPS (BX)(R8*2), X6
	VMOVUPS (BX)(R9*1), X7
	TRANSPOSE4x4(X0, X1, X2, X3, X12, X13, X14, X15)
	TRANSPOSE4x4(X4, X5, X6, X7, X12, X13, X14, X15)
	VMOVUPS X0, 32(DI)
	VMOVUPS X4, 48(DI)
	VMOVUPS X1, 96(DI)
	VMOVUPS X5, 112(DI)
	VMOVUPS X2, 160(DI)
	VMOVUPS X6, 176(DI)
	VMOVUPS X3, 224(DI)
	VMOVUPS X7, 240(DI)

	ADDQ $16, SI
	ADDQ $256, DI
	DECQ CX
	JNZ  loop32b

done32b:
	VZEROUPPER
	RET

// func packAT6x32(dst, src *float32, lda, kk int)
//
// Copies 6 consecutive values of kk rows of src (row stride lda elements)
// into groups of 6: dst[p*6+r] = src[p*lda+r] for r < 6, p < kk, kk ≥ 1.
TEXT ·packAT6x32(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lda+16(FP), R8
	MOVQ kk+24(FP), CX
	SHLQ $2, R8

loopat6:
	MOVUPS (SI), X0
	MOVQ   16(SI), X1
	MOVUPS X0, (DI)
	MOVQ   X1, 16(DI)
	ADDQ   R8, SI
	ADDQ   $24, DI
	DECQ   CX
	JNZ    loopat6
	RET
