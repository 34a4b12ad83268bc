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
