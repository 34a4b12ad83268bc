package vivit

import (
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/gram"
	"github.com/vivit-go/vivit/internal/backend"
	"github.com/vivit-go/vivit/internal/scratch"
	"github.com/vivit-go/vivit/lowrank"
)

// Side is the space in which a block's eigenproblem is solved. The GGN
// block G = V Vᵀ (D×D, D the block's parameters) and the Gram matrix
// Ĝ = VᵀV (R×R, R = N·C' factor columns) share their nonzero
// eigenvalues, and their eigenvectors map into each other (e = V u/√λ,
// u = Vᵀe/√λ), so either gives the same results; the smaller is the
// cheaper.
type Side int

const (
	// SideAuto picks the cheaper side per block (see Options.Side).
	SideAuto Side = iota
	// SideGram forms the R×R Gram matrix VᵀV, the engine's usual route.
	SideGram
	// SideParameters forms the D×D GGN block V Vᵀ itself.
	SideParameters
)

// String returns "auto", "gram" or "parameters".
func (s Side) String() string {
	switch s {
	case SideGram:
		return "gram"
	case SideParameters:
		return "parameters"
	}
	return "auto"
}

// ParseSide parses the names of String.
func ParseSide(s string) (Side, error) {
	for _, v := range []Side{SideAuto, SideGram, SideParameters} {
		if v.String() == s {
			return v, nil
		}
	}
	return SideAuto, fmt.Errorf("vivit: unknown side %q (want auto, gram or parameters)", s)
}

// parameterSideBytes is the memory of the parameter side for a block of d
// parameters and r columns within a budget: the d×d matrix and one chunk
// of V's columns (paramChunkRows).
func parameterSideBytes(d, r int, budget int64) int64 {
	return 8 * (int64(d)*int64(d) + int64(paramChunkRows(d, r, budget))*int64(d))
}

// paramChunkRows is the number of V's columns formed at once for the
// parameter side: as many as fit in a quarter of the budget (at most 2^22
// float64s, beyond which larger rank updates gain nothing), at least one.
func paramChunkRows(d, r int, budget int64) int {
	words := min(budgetOrDefault(budget)/8/4, 1<<22)
	return max(1, min(r, int(words/int64(max(d, 1)))))
}

// sideCosts returns the modelled cost, in multiply-adds, of each side for
// a block of d parameters and r columns: forming the matrix (the Gram
// matrix as if from an explicit V, r²·d/2; the GGN block r·d²/2 plus
// forming V's columns, r·d) plus a dense eigensolve (n³ for an n×n
// matrix). Structured factors form their Gram matrices faster than an
// explicit V, but the eigensolve keeps the order: whenever d < r the
// parameter side costs less in both terms.
func sideCosts(d, r int) (gram, params float64) {
	fd, fr := float64(d), float64(r)
	gram = fr*fr*fd/2 + fr*fr*fr
	params = fr*fd*fd/2 + fr*fd + fd*fd*fd
	return gram, params
}

// chooseSide returns the side for a block of d parameters with r Gram
// columns: the one asked for, or under SideAuto the parameter side when
// it is modelled cheaper (sideCosts) and its matrix fits the memory
// budget. Float32 runs stay on the Gram side, whose products have
// float32 paths; the parameter side computes in float64.
func (o *Options) chooseSide(d, r int) Side {
	switch o.Side {
	case SideGram, SideParameters:
		return o.Side
	}
	if o.Precision == Float32 {
		return SideGram
	}
	g, p := sideCosts(d, r)
	if p < g && parameterSideBytes(d, r, o.scratch()) <= budgetOrDefault(o.MemoryBudget) {
		return SideParameters
	}
	return SideGram
}

// blockMatrix returns the side a block's eigenproblem is solved on and its
// matrix there: the Gram matrix VᵀV or the D×D GGN block V Vᵀ. On error
// no matrix is returned (a partial one is released).
func (p *pass) blockMatrix(blk block, bi, nblocks int) (Side, *mat.SymDense, error) {
	side := p.opts.chooseSide(blk.layout.Size(), p.cols*len(p.idx))
	var g *mat.SymDense
	var err error
	if side == SideParameters {
		g = p.paramGGN(blk, bi, nblocks)
		err = p.opts.stopped()
	} else {
		g, err = p.gram(blk, bi, nblocks)
	}
	if err != nil {
		if g != nil {
			releaseGram(g)
		}
		return side, nil, err
	}
	return side, g, nil
}

// paramGGN forms the block's GGN V Vᵀ (D×D, upper triangle) on recycled
// storage, reporting it as the "gram" stage and timing it there.
func (p *pass) paramGGN(blk block, bi, nblocks int) *mat.SymDense {
	p.opts.report("gram", bi, nblocks)
	t0 := time.Now()
	d := blk.layout.Size()
	g := newGram(d)
	gram.ClearUpper(g)
	addParamGGN(g, blk.factors, p.opts.scratch())
	p.timing.Gram += time.Since(t0)
	return g
}

// addParamGGN adds V Vᵀ of the block whose rows are the factors fs (in
// order) to the upper triangle of g (D×D, D the factors' total Dim): V's
// columns are formed in chunks (lowrank.ColumnsTo) of paramChunkRows
// columns, each added by one rank update. Scratch memory: one chunk.
func addParamGGN(g *mat.SymDense, fs []lowrank.Factor, budget int64) {
	d := 0
	for _, f := range fs {
		d += f.Dim()
	}
	if g.SymmetricDim() != d {
		panic("vivit: parameter-side GGN has the wrong size")
	}
	r := fs[0].Cols()
	rows := paramChunkRows(d, r, budget)
	buf := scratch.Get(rows * d)
	defer scratch.Put(buf)
	gr := g.RawSymmetric()
	for r0 := 0; r0 < r; r0 += rows {
		k := min(rows, r-r0)
		chunk := mat.NewDense(k, d, (*buf)[:k*d])
		off := 0
		for _, f := range fs {
			lowrank.ColumnsTo(f, chunk.Slice(0, k, off, off+f.Dim()).(*mat.Dense), r0)
			off += f.Dim()
		}
		backend.Syrk(blas.Trans, 1, chunk.RawMatrix(), 1, blas64.Symmetric{Uplo: blas.Upper, N: d, Stride: gr.Stride, Data: gr.Data})
	}
}

// gramVectors returns the Gram eigenvectors u_j = Vᵀe_j/√λ_j (as the
// columns of an R×k matrix) of the unit parameter-space eigenvectors e_j,
// the rows of e (k×D, in the block's layout).
func gramVectors(blk block, e *mat.Dense, vals []float64) *mat.Dense {
	k, _ := e.Dims()
	r := blk.factors[0].Cols()
	sum := mat.NewDense(k, r, nil)
	part := mat.NewDense(k, r, nil)
	off := 0
	for _, f := range blk.factors {
		d := f.Dim()
		f.TransMulTo(part, e.Slice(0, k, off, off+d).(*mat.Dense))
		sum.Add(sum, part)
		off += d
	}
	for j, l := range vals {
		row := sum.RawRowView(j)
		s := 1 / math.Sqrt(l)
		for i := range row {
			row[i] *= s
		}
	}
	return mat.DenseCopyOf(sum.T())
}

// parameterSideVectors turns the eigenvectors of a parameter-side solve
// (the columns of vecs, D×k, unit, entry of largest magnitude positive)
// into the block's Vectors (rows; empty with SkipVectors) and, when
// gram is set, the matching Gram eigenvectors (columns) for the
// directional derivatives. With SkipVectors the Gram eigenvectors take
// the Gram side's sign convention, as Options.SkipVectors documents.
func parameterSideVectors(blk block, vecs *mat.Dense, vals []float64, skip, gram bool) (vectors, u *mat.Dense) {
	e := mat.DenseCopyOf(vecs.T())
	if gram {
		u = gramVectors(blk, e, vals)
		if skip {
			normalizeColumnSigns(u)
		}
	}
	if skip {
		return &mat.Dense{}, u
	}
	return e, u
}

// sideName summarises the sides of a result's blocks: the common name, or
// "mixed".
func sideName(sides []string) string {
	if len(sides) == 0 {
		return ""
	}
	for _, s := range sides[1:] {
		if s != sides[0] {
			return "mixed"
		}
	}
	return sides[0]
}
