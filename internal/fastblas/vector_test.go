// Copyright ©2026 The vivit-go Authors. All rights reserved.

package fastblas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// argMaxAbsRef is the definition: the first index of largest |v_i|,
// NaNs ignored, -1 if there is none.
func argMaxAbsRef(v []float64) int {
	best, bestAbs := -1, -1.0
	for i, x := range v {
		if a := math.Abs(x); a > bestAbs {
			best, bestAbs = i, a
		}
	}
	return best
}

func TestArgMaxAbs(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, c := range []struct {
		v    []float64
		want int
	}{
		{nil, -1},
		{[]float64{nan}, -1},
		{[]float64{nan, nan, nan}, -1},
		{[]float64{0}, 0},
		{[]float64{math.Copysign(0, -1), 0}, 0},
		{[]float64{1, -2, 2}, 1},
		{[]float64{nan, -3, 3, nan}, 1},
		{[]float64{1, -inf, inf}, 1},
	} {
		bothKernels(func(asm bool) {
			if got := ArgMaxAbs(c.v); got != c.want {
				t.Errorf("asm=%v ArgMaxAbs(%v) = %d, want %d", asm, c.v, got, c.want)
			}
		})
	}

	// Random vectors around the 16-element and 512-element steps, with the
	// maximum planted twice (first copy wins) and NaNs sprinkled in.
	rnd := rand.New(rand.NewPCG(45, 46))
	for _, n := range []int{1, 15, 16, 17, 33, 511, 512, 513, 1024, 1500, 4099} {
		for trial := 0; trial < 8; trial++ {
			v := make([]float64, n)
			for i := range v {
				v[i] = rnd.NormFloat64()
			}
			if trial%2 == 1 {
				i, j := rnd.IntN(n), rnd.IntN(n)
				v[i], v[j] = 10, -10
			}
			if trial >= 4 {
				for range 3 {
					v[rnd.IntN(n)] = nan
				}
			}
			want := argMaxAbsRef(v)
			bothKernels(func(asm bool) {
				if got := ArgMaxAbs(v); got != want {
					t.Fatalf("asm=%v n=%d trial %d: ArgMaxAbs = %d, want %d", asm, n, trial, got, want)
				}
			})
		}
	}
}

func BenchmarkArgMaxAbs(b *testing.B) {
	rnd := rand.New(rand.NewPCG(47, 48))
	v := make([]float64, 1<<16)
	for i := range v {
		v[i] = rnd.NormFloat64()
	}
	b.SetBytes(int64(8 * len(v)))
	for range b.N {
		ArgMaxAbs(v)
	}
}

// BenchmarkCountNonzero counts a float32 factor sample's entries (16·1024
// per class, half of them zero, as behind a ReLU), with the assembly and
// the portable loop.
func BenchmarkCountNonzero(b *testing.B) {
	rnd := rand.New(rand.NewPCG(49, 50))
	x := make([]float32, 9*16*1024)
	for i := range x {
		if rnd.IntN(2) == 0 {
			x[i] = float32(rnd.NormFloat64())
		}
	}
	b.SetBytes(int64(4 * len(x)))
	for _, asm := range []bool{true, false} {
		b.Run(fmt.Sprintf("asm=%v", asm), func(b *testing.B) {
			old := haveAsm
			defer func() { haveAsm = old }()
			haveAsm = haveAsm && asm
			for range b.N {
				CountNonzero(x)
			}
		})
	}
}

// TestCombRowsIdx checks the indexed row combination against its
// definition for lengths around the 32- and 16-column strips and the masked last strip, repeated and
// unordered rows, assembly and portable; c's padding is left alone, and a
// row outside b panics.
func TestCombRowsIdx(t *testing.T) {
	rnd := rand.New(rand.NewPCG(53, 54))
	bothKernels(func(asm bool) {
		for _, n := range []int{0, 1, 3, 4, 5, 15, 16, 17, 20, 31, 32, 33, 36, 47, 48, 63, 64, 75, 144, 147} {
			for _, k := range []int{0, 1, 2, 7} {
				ldb, rows := n+3, 9
				b := randMat(rnd, rows, n, ldb)
				a := randMat(rnd, 1, k, k)
				idx := make([]int32, k)
				for p := range idx {
					idx[p] = int32(rnd.IntN(rows))
				}
				if k > 1 {
					idx[1] = idx[0] // a repeated row
				}
				c := randMat(rnd, 1, n+1, n+1)
				pad := c[n]
				CombRowsIdx(c[:n], a, idx, b, ldb)
				for j := 0; j < n; j++ {
					var want, scale float64
					for p, i := range idx {
						want += a[p] * b[int(i)*ldb+j]
						scale += math.Abs(a[p] * b[int(i)*ldb+j])
					}
					if !(math.Abs(c[j]-want) <= 4e-16*float64(k)*scale) {
						t.Fatalf("asm=%v n=%d k=%d: c[%d] = %v, want %v", asm, n, k, j, c[j], want)
					}
				}
				if math.Float64bits(c[n]) != math.Float64bits(pad) {
					t.Fatalf("asm=%v n=%d k=%d: wrote past c", asm, n, k)
				}
			}
		}
	})
	defer func() {
		if recover() == nil {
			t.Error("a row outside b did not panic")
		}
	}()
	CombRowsIdx(make([]float64, 4), []float64{1}, []int32{3}, make([]float64, 12), 4)
}

// TestReLUMulPositive checks ReLU and MulPositive bitwise against their
// scalar definitions on every length around the kernels' step of four,
// with NaN, ±Inf, ±0 and subnormal entries, with the assembly and the
// portable code, and MulPositive in place; MulPositive32 likewise.
func TestReLUMulPositive(t *testing.T) {
	special := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), 5e-324, -5e-324, 1.5, -2.5}
	bothKernels(func(asm bool) {
		for n := 0; n <= 23; n++ {
			x, s := make([]float64, n+2), make([]float64, n+2)
			for i := range x {
				x[i] = special[(i*7)%len(special)]
				s[i] = special[(i*5+3)%len(special)]
			}
			got, want := make([]float64, n), make([]float64, n)
			ReLU(got, x)
			for i := range want {
				want[i] = max(x[i], 0)
			}
			for i := range want {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
					t.Fatalf("asm=%v n=%d: ReLU entry %d of %v = %v, want %v", asm, n, i, x[i], got[i], want[i])
				}
			}
			MulPositive(got, s, x)
			for i := range want {
				d := 0.0
				if x[i] > 0 {
					d = 1
				}
				want[i] = s[i] * d
			}
			inPlace := append([]float64(nil), s...)
			MulPositive(inPlace[:n], inPlace, x)
			for i := range want {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) || math.Float64bits(inPlace[i]) != math.Float64bits(want[i]) {
					t.Fatalf("asm=%v n=%d: MulPositive entry %d (s %v, x %v) = %v, in place %v, want %v", asm, n, i, s[i], x[i], got[i], inPlace[i], want[i])
				}
			}
			s32, got32 := make([]float32, n+2), make([]float32, n)
			for i := range s32 {
				s32[i] = float32(s[i])
			}
			MulPositive32(got32, s32, x)
			MulPositive32(s32[:n], s32, x)
			for i := range got32 {
				d := float32(0)
				if x[i] > 0 {
					d = 1
				}
				w := float32(s[i]) * d
				if math.Float32bits(got32[i]) != math.Float32bits(w) || math.Float32bits(s32[i]) != math.Float32bits(w) {
					t.Fatalf("asm=%v n=%d: MulPositive32 entry %d (s %v, x %v) = %v, in place %v, want %v", asm, n, i, s[i], x[i], got32[i], s32[i], w)
				}
			}
		}
	})
}

// TestCountNonzero checks the branch-free count, in float64 and float32:
// signed zeros are zero, NaN, infinities and subnormals are not.
func TestCountNonzero(t *testing.T) {
	x := []float64{0, math.Copysign(0, -1), 1, -2, math.NaN(), math.Inf(-1), 5e-324, 0}
	if got := CountNonzero(x); got != 5 {
		t.Errorf("CountNonzero = %d, want 5", got)
	}
	x32 := []float32{0, float32(math.Copysign(0, -1)), 1, -2, float32(math.NaN()), float32(math.Inf(-1)), math.SmallestNonzeroFloat32, 0}
	if got := CountNonzero(x32); got != 5 {
		t.Errorf("CountNonzero (float32) = %d, want 5", got)
	}
}

// TestCountNonzeroKernels checks the count, with the assembly and the
// portable code, on every length around the kernels' steps (eight float64,
// sixteen float32) and every offset into the slice, on entries drawn from
// zeros of both signs, NaN, infinities, subnormals and ordinary numbers.
func TestCountNonzeroKernels(t *testing.T) {
	rnd := rand.New(rand.NewPCG(21, 22))
	pool := []float64{0, math.Copysign(0, -1), 0, 0, 1, -2.5, math.NaN(), math.Inf(1), math.Inf(-1), 5e-324, -1e-310, 1e300}
	pool32 := []float32{0, float32(math.Copysign(0, -1)), 0, 0, 1, -2.5, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), math.SmallestNonzeroFloat32, -1e-40, 3e38}
	bothKernels(func(asm bool) {
		for n := 0; n <= 70; n++ {
			for off := 0; off < 3; off++ {
				x := make([]float64, off+n)
				x32 := make([]float32, off+n)
				want, want32 := 0, 0
				for i := off; i < off+n; i++ {
					x[i], x32[i] = pool[rnd.IntN(len(pool))], pool32[rnd.IntN(len(pool32))]
					if x[i] != 0 || x[i] != x[i] {
						want++
					}
					if x32[i] != 0 || x32[i] != x32[i] {
						want32++
					}
				}
				if got := CountNonzero(x[off:]); got != want {
					t.Fatalf("asm %v, n %d, offset %d: CountNonzero = %d, want %d", asm, n, off, got, want)
				}
				if got := CountNonzero(x32[off:]); got != want32 {
					t.Fatalf("asm %v, n %d, offset %d: CountNonzero (float32) = %d, want %d", asm, n, off, got, want32)
				}
			}
		}
	})
}

// TestDotSum32Scale32 checks DotSum32 against float64 sums in order (to
// rounding: the kernel sums in eight lanes) and Scale32 bitwise, on every
// length around the kernels' step of eight, with the assembly and the
// portable code.
func TestDotSum32Scale32(t *testing.T) {
	bothKernels(func(asm bool) {
		for n := 0; n <= 37; n++ {
			s, x := make([]float32, n), make([]float64, n+3)
			var dot, sum, mag float64
			for i := range s {
				s[i] = float32(math.Sin(float64(3*i+1))) * 4
				x[i] = math.Cos(float64(i)) * 3
				dot += float64(s[i]) * x[i]
				sum += float64(s[i])
				mag += math.Abs(float64(s[i])) * (1 + math.Abs(x[i]))
			}
			d, u := DotSum32(s, x)
			if !(math.Abs(d-dot) <= 1e-14*mag) || !(math.Abs(u-sum) <= 1e-14*mag) {
				t.Fatalf("asm=%v n=%d: DotSum32 = %v, %v, want %v, %v", asm, n, d, u, dot, sum)
			}
			want := make([]float32, n)
			for i, v := range s {
				want[i] = v * -1.7
			}
			Scale32(-1.7, s)
			for i := range s {
				if math.Float32bits(s[i]) != math.Float32bits(want[i]) {
					t.Fatalf("asm=%v n=%d: Scale32 entry %d = %v, want %v", asm, n, i, s[i], want[i])
				}
			}
		}
	})
}

// TestDotSumScale checks DotSumScale: on float32 rows bitwise DotSum32 and
// Scale32, on float64 rows the sums to rounding (and bitwise DotSum's)
// and the scaled row bitwise, in place and into another row, on every length around the
// kernels' step of eight, with the assembly and the portable code.
func TestDotSumScale(t *testing.T) {
	const a = -1.7
	bothKernels(func(asm bool) {
		for n := 0; n <= 37; n++ {
			s64, x := make([]float64, n), make([]float64, n+3)
			s32 := make([]float32, n)
			var dot, sum, mag float64
			for i := range s64 {
				s64[i] = math.Sin(float64(3*i+1)) * 4
				s32[i] = float32(s64[i])
				x[i] = math.Cos(float64(i)) * 3
				dot += s64[i] * x[i]
				sum += s64[i]
				mag += math.Abs(s64[i]) * (1 + math.Abs(x[i]))
			}
			for _, inPlace := range []bool{false, true} {
				d64 := make([]float64, n)
				src := slices.Clone(s64)
				if inPlace {
					d64 = src
				}
				gd, gs := DotSumScale(d64, src, x, a)
				if !(math.Abs(gd-dot) <= 1e-14*mag) || !(math.Abs(gs-sum) <= 1e-14*mag) {
					t.Fatalf("asm=%v n=%d: DotSumScale = %v, %v, want %v, %v", asm, n, gd, gs, dot, sum)
				}
				if wd, ws := DotSum(s64, x); math.Float64bits(wd) != math.Float64bits(gd) || math.Float64bits(ws) != math.Float64bits(gs) {
					t.Fatalf("asm=%v n=%d: DotSum = %v, %v, DotSumScale %v, %v", asm, n, wd, ws, gd, gs)
				}
				for i, v := range s64 {
					if math.Float64bits(d64[i]) != math.Float64bits(a*v) {
						t.Fatalf("asm=%v n=%d: entry %d = %v, want %v", asm, n, i, d64[i], a*v)
					}
				}
				d32 := make([]float32, n)
				src32 := slices.Clone(s32)
				if inPlace {
					d32 = src32
				}
				wd, ws := DotSum32(s32, x)
				want := slices.Clone(s32)
				Scale32(float32(a), want)
				gd, gs = DotSumScale(d32, src32, x, a)
				if math.Float64bits(gd) != math.Float64bits(wd) || math.Float64bits(gs) != math.Float64bits(ws) {
					t.Fatalf("asm=%v n=%d: float32 DotSumScale = %v, %v, DotSum32 %v, %v", asm, n, gd, gs, wd, ws)
				}
				for i := range want {
					if math.Float32bits(d32[i]) != math.Float32bits(want[i]) {
						t.Fatalf("asm=%v n=%d: float32 entry %d = %v, want %v", asm, n, i, d32[i], want[i])
					}
				}
			}
		}
	})
}

// TestWidenNarrowRows checks the row-wise conversions against Widen and
// Narrow row by row, with padded rows whose padding must stay untouched.
func TestWidenNarrowRows(t *testing.T) {
	const rows, cols, lds, ldd = 5, 7, 9, 8
	src := make([]float32, rows*lds)
	for i := range src {
		src[i] = float32(i) * 0.37
	}
	dst := make([]float64, rows*ldd)
	for i := range dst {
		dst[i] = -1
	}
	WidenRows(rows, cols, dst, ldd, src, lds)
	back := make([]float32, rows*lds)
	NarrowRows(rows, cols, back, lds, dst, ldd)
	for i := range rows {
		for j := range ldd {
			want := -1.0
			if j < cols {
				want = float64(src[i*lds+j])
			}
			if dst[i*ldd+j] != want {
				t.Fatalf("WidenRows: entry (%d, %d) = %v, want %v", i, j, dst[i*ldd+j], want)
			}
		}
		for j := range lds {
			want := float32(0)
			if j < cols {
				want = src[i*lds+j]
			}
			if back[i*lds+j] != want {
				t.Fatalf("NarrowRows: entry (%d, %d) = %v, want %v", i, j, back[i*lds+j], want)
			}
		}
	}
}
