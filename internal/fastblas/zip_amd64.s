// Code in this file interleaves two rows (Zip2, Zip2Add) with AVX2.

//go:build amd64 && !purego

#include "textflag.h"

// ZIP64 leaves a[0:4] and b[0:4] interleaved in Y4 (entries 0–3) and Y5
// (entries 4–7).
#define ZIP64 \
	VMOVUPD    (SI), Y0; \
	VMOVUPD    (DX), Y1; \
	VUNPCKLPD  Y1, Y0, Y2; \
	VUNPCKHPD  Y1, Y0, Y3; \
	VPERM2F128 $0x20, Y3, Y2, Y4; \
	VPERM2F128 $0x31, Y3, Y2, Y5

// ZIP32 leaves a[0:8] and b[0:8] interleaved in Y4 (entries 0–7) and Y5
// (entries 8–15).
#define ZIP32 \
	VMOVUPS    (SI), Y0; \
	VMOVUPS    (DX), Y1; \
	VUNPCKLPS  Y1, Y0, Y2; \
	VUNPCKHPS  Y1, Y0, Y3; \
	VPERM2F128 $0x20, Y3, Y2, Y4; \
	VPERM2F128 $0x31, Y3, Y2, Y5

// func zip2x64(n4 int, dst, a, b *float64)
TEXT ·zip2x64(SB), NOSPLIT, $0-32
	MOVQ n4+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), DX

zip64loop:
	ZIP64
	VMOVUPD Y4, (DI)
	VMOVUPD Y5, 32(DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $64, DI
	DECQ    CX
	JNZ     zip64loop
	VZEROUPPER
	RET

// func zip2Add64(n4 int, dst, a, b *float64)
TEXT ·zip2Add64(SB), NOSPLIT, $0-32
	MOVQ n4+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), DX

zipadd64loop:
	ZIP64
	VADDPD  (DI), Y4, Y4
	VADDPD  32(DI), Y5, Y5
	VMOVUPD Y4, (DI)
	VMOVUPD Y5, 32(DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $64, DI
	DECQ    CX
	JNZ     zipadd64loop
	VZEROUPPER
	RET

// func zip2x32(n8 int, dst, a, b *float32)
TEXT ·zip2x32(SB), NOSPLIT, $0-32
	MOVQ n8+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), DX

zip32loop:
	ZIP32
	VMOVUPS Y4, (DI)
	VMOVUPS Y5, 32(DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $64, DI
	DECQ    CX
	JNZ     zip32loop
	VZEROUPPER
	RET

// func zip2Add32(n8 int, dst, a, b *float32)
TEXT ·zip2Add32(SB), NOSPLIT, $0-32
	MOVQ n8+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), DX

zipadd32loop:
	ZIP32
	VADDPS  (DI), Y4, Y4
	VADDPS  32(DI), Y5, Y5
	VMOVUPS Y4, (DI)
	VMOVUPS Y5, 32(DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $64, DI
	DECQ    CX
	JNZ     zipadd32loop
	VZEROUPPER
	RET
