package gram

import (
	"gonum.org/v1/gonum/mat"
)

// AddExpandedHadamard adds p ⊙ (α·K⁺ + β) to dst, where K⁺ blows up k over
// blocks of c1 rows and c2 columns: dst[r][s] += p[r][s]·(α·k[r/c1][s/c2] + β).
// p and dst are (n1·c1)×(n2·c2), k is n1×n2. k may be nil when α is 0.
func AddExpandedHadamard(dst, p, k *mat.Dense, c1, c2 int, alpha, beta float64) {
	r, s := p.Dims()
	if dr, ds := dst.Dims(); dr != r || ds != s {
		panic("gram: destination shape mismatch")
	}
	if r%c1 != 0 || s%c2 != 0 {
		panic("gram: rows or columns not divisible by the columns per sample")
	}
	if alpha != 0 {
		if kr, ks := k.Dims(); kr != r/c1 || ks != s/c2 {
			panic("gram: input Gram shape mismatch")
		}
	}
	for i := 0; i < r; i++ {
		pr, dr := p.RawRowView(i), dst.RawRowView(i)
		if alpha == 0 {
			for j, v := range pr {
				dr[j] += beta * v
			}
			continue
		}
		kr := k.RawRowView(i / c1)
		for j0 := 0; j0 < s; j0 += c2 {
			f := alpha*kr[j0/c2] + beta
			for j := j0; j < j0+c2; j++ {
				dr[j] += f * pr[j]
			}
		}
	}
}

// AddExpandedHadamardSym is AddExpandedHadamard for a symmetric destination:
// only the upper triangle of p is read and of dst written.
func AddExpandedHadamardSym(dst *mat.SymDense, p, k *mat.Dense, c int, alpha, beta float64) {
	n := dst.SymmetricDim()
	if r, s := p.Dims(); r != n || s != n {
		panic("gram: destination shape mismatch")
	}
	if n%c != 0 {
		panic("gram: size not divisible by the columns per sample")
	}
	raw := dst.RawSymmetric()
	for i := 0; i < n; i++ {
		pr := p.RawRowView(i)
		dr := raw.Data[i*raw.Stride : i*raw.Stride+n]
		if alpha == 0 {
			for j := i; j < n; j++ {
				dr[j] += beta * pr[j]
			}
			continue
		}
		kr := k.RawRowView(i / c)
		j := i
		for j < n {
			blockEnd := (j/c + 1) * c
			f := alpha*kr[j/c] + beta
			for ; j < blockEnd; j++ {
				dr[j] += f * pr[j]
			}
		}
	}
}
