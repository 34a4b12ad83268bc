package lowrank

import (
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/vivit-go/vivit/internal/fastblas"
	"github.com/vivit-go/vivit/internal/par"
)

// sparseZMax is the largest factor density at which the kernel route
// forms Z = S_m·Bᵀ from a sparse copy of the factor rows: after max
// pooling at most a quarter of a factor row is nonzero (3c3d: 11–16 %),
// and skipping the zeros beats the dense product there.
const sparseZMax = 0.3

// sparseZ reports whether the kernel route forms f's Z blocks sparsely.
func (f *Conv) sparseZ() bool { return f.density() <= sparseZMax }

// sparseRows is the factor S in compressed sparse rows, one row per
// factor row and output channel: row r·out + o holds the nonzeros of
// S_r[o·P : (o+1)·P] (values and their positions). Each sample's entries
// are followed by one spare slot (see sparseRows), which the sample's
// last row does not include.
type sparseRows struct {
	ptr     []int // where each row starts; len rows·out + 1
	rowsPer int   // rows per sample, c·out
	idx     []int32
	vals    []float64
}

// span returns the entries of row row.
func (sr *sparseRows) span(row int) (lo, hi int) {
	lo, hi = sr.ptr[row], sr.ptr[row+1]
	if (row+1)%sr.rowsPer == 0 {
		hi-- // the sample's spare slot
	}
	return lo, hi
}

// sparseRowsBytes is the size of f's sparseRows (from the exact counts).
func sparseRowsBytes(f *Conv) int64 {
	nnz := int64(f.n())
	for _, c := range f.sampleCounts() {
		nnz += int64(c)
	}
	return 12*nnz + 8*int64(f.rows()*f.G.OutC+1)
}

// nonzero is 1 if v is not zero, else 0; the compiler makes it a flag
// set, not a branch, which a random sparsity pattern would mispredict.
func nonzero(v float64) int {
	if v != 0 {
		return 1
	}
	return 0
}

// compress writes the nonzeros of row, as positions base+q and values,
// into idx and vals from index pos, and returns the index after them. It
// is branch-free, writing every entry and advancing past nonzeros only, so
// idx and vals must hold one spare entry after the last nonzero.
func compress(idx []int32, vals []float64, pos int, row []float64, base int32) int {
	for q, v := range row {
		idx[pos], vals[pos] = base+int32(q), v
		pos += nonzero(v)
	}
	return pos
}

// sparseRows returns f's factor rows in compressed sparse rows, built in
// parallel over samples. Every sample's entries are followed by one spare
// slot, which the branch-free fill may write past its last nonzero.
func (f *Conv) sparseRows() *sparseRows {
	n, out, p := f.n(), f.G.OutC, f.G.P()
	rowsPer := f.C * out
	starts := make([]int, n+1) // of sample i's entries: starts[i] + i
	for i, nz := range f.sampleCounts() {
		starts[i+1] = starts[i] + nz
	}
	sr := &sparseRows{
		ptr:     make([]int, n*rowsPer+1),
		rowsPer: rowsPer,
		idx:     make([]int32, starts[n]+n),
		vals:    make([]float64, starts[n]+n),
	}
	par.For(n, formWorkers(), func(_, i int) {
		pos := starts[i] + i
		idx, vals := sr.idx[:starts[i+1]+i+1], sr.vals[:starts[i+1]+i+1]
		for j := 0; j < f.C; j++ {
			row := f.rows64().RawRowView(i*f.C + j)
			for o := 0; o < out; o++ {
				sr.ptr[(i*f.C+j)*out+o] = pos
				pos = compress(idx, vals, pos, row[o*p:(o+1)*p], 0)
			}
		}
	})
	sr.ptr[n*rowsPer] = starts[n] + n
	return sr
}

// sparseForm returns f's factor rows in compressed sparse rows when
// products with them should skip the zeros (sparseZ) and the copy takes at
// most half the budget, with the budget that is left; else nil and the
// whole budget.
func (f *Conv) sparseForm(budget int64) (*sparseRows, int64) {
	if !f.sparseZ() {
		return nil, budget
	}
	if b := sparseRowsBytes(f); b <= budget/2 {
		return f.sparseRows(), budget - b
	}
	return nil, budget
}

// mulTo sets the rows of z (rows×P, stride P) to the sparse rows
// [first, first+rows) times the P×P matrix b.
func (sr *sparseRows) mulTo(z []float64, first, rows int, b blas64.General) {
	p := b.Cols
	for r := 0; r < rows; r++ {
		lo, hi := sr.span(first + r)
		fastblas.CombRowsIdx(z[r*p:(r+1)*p], sr.vals[lo:hi], sr.idx[lo:hi], b.Data, b.Stride)
	}
}

// formWeightSparse is formWeight from the factor rows in compressed sparse
// form: row o of S_r's block of the chunk is the combination of the rows
// of the unfolded input (output positions) that S_r[o] selects
// (fastblas.CombRowsIdx), ρ·out·P·K multiply-adds per factor row instead
// of out·P·K.
func (f *Conv) formWeightSparse(dst []float64, ch chunk, u *unfolder[float64], sr *sparseRows) {
	k, out := f.G.K(), f.G.OutC
	kc := ch.k1 - ch.k0
	w := (ch.o1 - ch.o0) * kc
	if u.kp {
		panic("lowrank: sparse forming with a dense unfolder")
	}
	par.For(f.n(), u.workers(), func(wk, i int) {
		ut := u.sample(wk, i)[ch.k0:]
		for j := 0; j < f.C; j++ {
			r := i*f.C + j
			row := dst[r*w : (r+1)*w]
			for o := ch.o0; o < ch.o1; o++ {
				lo, hi := sr.span(r*out + o)
				fastblas.CombRowsIdx(row[(o-ch.o0)*kc:(o-ch.o0+1)*kc], sr.vals[lo:hi], sr.idx[lo:hi], ut, k)
			}
		}
	})
}
