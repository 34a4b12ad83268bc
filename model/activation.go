package model

import (
	"math"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/fastblas"
)

// Elementwise is an activation applied entrywise; its input Jacobian is
// diagonal. The derivative is expressed through the forward input x and
// output y so that no extra state is kept.
type Elementwise struct {
	Name  string
	Shape []int
	F     func(x float64) float64
	// DF returns σ'(x) given x and y = σ(x).
	DF func(x, y float64) float64
	// FRows and DFRows, when set, are F and DF over whole rows
	// (y[j] = F(x[j]), d[j] = DF(x[j], y[j])) with exactly the same
	// results. For cheap activations the call per entry costs several
	// times the work: a 3c3d ReLU took 5.6 ms for 1.6 M entries.
	FRows  func(y, x []float64)
	DFRows func(d, x, y []float64)
	// MulDFRows, when set, is dst[j] = s[j]·DF(x[j], y[j]) over whole
	// factor rows with exactly the results of the product (dst may be s);
	// the backward pass then takes it instead of DFRows, one pass per
	// factor row.
	MulDFRows func(dst, s, x, y []float64)
	// MulDFRows32, when set, is MulDFRows on float32 factor rows
	// (BackwardRows32), with exactly the results of the product rounded
	// to float32.
	MulDFRows32 func(dst, s []float32, x, y []float64)
	// XUnused and YUnused say that DF and the row forms do not read x,
	// or y: the backward pass then hands them nil rows (and DF zeros) and
	// the forward pass need not keep that tensor (BackwardReads). The
	// zero value, both read, is always correct.
	XUnused, YUnused bool
}

func (e *Elementwise) Type() string    { return e.Name }
func (e *Elementwise) InShape() []int  { return e.Shape }
func (e *Elementwise) OutShape() []int { return e.Shape }

func (e *Elementwise) Forward(y, x *mat.Dense) {
	n, f := x.Dims()
	checkDims(y, n, f, e.Name+" output")
	parallelSamples(n, func() any { return nil }, func(_ any, i int) {
		xr, yr := x.RawRowView(i), y.RawRowView(i)
		if e.FRows != nil {
			e.FRows(yr, xr)
			return
		}
		for j, v := range xr {
			yr[j] = e.F(v)
		}
	})
}

// BackwardInPlace reports true: row r of the result is row r of s times
// σ' entrywise, so dst may be s.
func (e *Elementwise) BackwardInPlace() bool { return true }

// BackwardReads implements BackwardReader: the tensors σ' reads.
func (e *Elementwise) BackwardReads() (in, out bool) { return !e.XUnused, !e.YUnused }

// operands returns the forward input and output the derivative reads
// (nil for the others) and the number of samples of r factor rows,
// checked against them.
func (e *Elementwise) operands(in, out *mat.Dense, r, cols int) (x, y *mat.Dense, n int) {
	n = r / cols
	if n*cols != r {
		panic("model: factor rows do not match samples × cols")
	}
	if !e.XUnused {
		x = in
	}
	if !e.YUnused {
		y = out
	}
	for _, m := range []*mat.Dense{x, y} {
		if m != nil {
			if mr, _ := m.Dims(); mr*cols != r {
				panic("model: factor rows do not match samples × cols")
			}
		}
	}
	return x, y, n
}

// row returns row i of m, or nil for a nil m.
func row(m *mat.Dense, i int) []float64 {
	if m == nil {
		return nil
	}
	return m.RawRowView(i)
}

func (e *Elementwise) BackwardInput(dst, s, in, out *mat.Dense, cols int) {
	r, f := s.Dims()
	checkDims(dst, r, f, e.Name+" factor destination")
	x, y, n := e.operands(in, out, r, cols)
	if e.MulDFRows != nil {
		parallelSamples(r, func() any { return nil }, func(_ any, k int) {
			i := k / cols
			e.MulDFRows(dst.RawRowView(k), s.RawRowView(k), row(x, i), row(y, i))
		})
		return
	}
	parallelSamples(n, func() any { return make([]float64, f) }, func(scratch any, i int) {
		d := scratch.([]float64)
		e.deriv(d, row(x, i), row(y, i))
		for c := 0; c < cols; c++ {
			sr, dr := s.RawRowView(i*cols+c), dst.RawRowView(i*cols+c)
			for j, v := range sr {
				dr[j] = v * d[j]
			}
		}
	})
}

// deriv writes σ' at the entries of x and y = σ(x) into d; a nil x or y
// (XUnused, YUnused) reads as zeros.
func (e *Elementwise) deriv(d, x, y []float64) {
	switch {
	case e.DFRows != nil:
		e.DFRows(d, x, y)
	case x != nil && y != nil:
		for j := range d {
			d[j] = e.DF(x[j], y[j])
		}
	case x != nil:
		for j := range d {
			d[j] = e.DF(x[j], 0)
		}
	case y != nil:
		for j := range d {
			d[j] = e.DF(0, y[j])
		}
	default:
		for j := range d {
			d[j] = e.DF(0, 0)
		}
	}
}

// BackwardRows32 implements Rows32Layer: the factor rows times σ'
// rounded to float32 (ReLU's is 0 or 1, so its product is exact).
func (e *Elementwise) BackwardRows32(dst, s blas32.General, in, out *mat.Dense, cols int) {
	r, f := s.Rows, s.Cols
	check32(s, r, f, e.Name+" factor")
	check32(dst, r, f, e.Name+" factor destination")
	x, y, n := e.operands(in, out, r, cols)
	sr, dr := rows32Of(s), rows32Of(dst)
	if e.MulDFRows32 != nil {
		parallelSamples(r, func() any { return nil }, func(_ any, k int) {
			i := k / cols
			e.MulDFRows32(dr.row(k), sr.row(k), row(x, i), row(y, i))
		})
		return
	}
	parallelSamples(n, func() any { return make([]float64, f) }, func(scratch any, i int) {
		d := scratch.([]float64)
		e.deriv(d, row(x, i), row(y, i))
		for c := 0; c < cols; c++ {
			drow := dr.row(i*cols + c)
			for j, v := range sr.row(i*cols + c) {
				drow[j] = float32(float64(v) * d[j])
			}
		}
	})
}

// RowForms reports whether the backward pass has the layer's row forms
// in both precisions (MulDFRows, MulDFRows32), which a FactorThroughLayer
// needs to fold the layer into its own pass over the rows.
func (e *Elementwise) RowForms() bool { return e.MulDFRows != nil && e.MulDFRows32 != nil }

// rowStep is an elementwise layer's backward on one factor row at a
// time, in place, for a layer that folds it into its own pass over the
// rows (FactorThroughLayer): x and y are the layer's forward input and
// output (nil where it does not read them).
type rowStep struct {
	e    *Elementwise
	x, y *mat.Dense
}

// rowStep returns e's backward for r factor rows, cols per sample, of
// the forward input in and output out. It panics without the row forms
// (RowForms), or if the rows do not match the samples.
func (e *Elementwise) rowStep(in, out *mat.Dense, r, cols int) *rowStep {
	if !e.RowForms() {
		panic("model: " + e.Name + " has no row forms to fold")
	}
	x, y, _ := e.operands(in, out, r, cols)
	return &rowStep{e, x, y}
}

// applyStep passes the factor row r of sample i back through st in
// place; a nil st leaves it.
func applyStep[R float32 | float64](st *rowStep, r []R, i int) {
	if st == nil {
		return
	}
	switch r := any(r).(type) {
	case []float64:
		st.e.MulDFRows(r, r, row(st.x, i), row(st.y, i))
	case []float32:
		st.e.MulDFRows32(r, r, row(st.x, i), row(st.y, i))
	}
}

// NewReLU returns PyTorch's ReLU; its derivative at 0 is 0, as in autograd.
// The derivative is read off the output, which is positive exactly where
// the input is (NaN in neither), so the input need not be kept.
func NewReLU(shape []int) *Elementwise {
	return &Elementwise{Name: "relu", Shape: shape,
		F:           relu,
		DF:          reluDeriv,
		FRows:       func(y, x []float64) { fastblas.ReLU(y[:len(x)], x) },
		MulDFRows:   func(dst, s, _, y []float64) { fastblas.MulPositive(dst, s, y) },
		MulDFRows32: func(dst, s []float32, _, y []float64) { fastblas.MulPositive32(dst, s, y) },
		XUnused:     true}
}

// relu is max(x, 0) with NaN passed through, as torch.relu.
func relu(x float64) float64 { return max(x, 0) }

// reluDeriv is 1 where y = relu(x) > 0, that is where x > 0.
func reluDeriv(_, y float64) float64 {
	if y > 0 {
		return 1
	}
	return 0
}

// NewTanh returns tanh, with derivative 1 − y².
func NewTanh(shape []int) *Elementwise {
	return &Elementwise{Name: "tanh", Shape: shape, F: math.Tanh,
		DF: func(_, y float64) float64 { return 1 - y*y }, XUnused: true}
}

// NewSigmoid returns the logistic sigmoid, with derivative y(1 − y).
func NewSigmoid(shape []int) *Elementwise {
	return &Elementwise{Name: "sigmoid", Shape: shape,
		F: func(x float64) float64 {
			// Two branches keep exp from overflowing for large |x|.
			if x >= 0 {
				return 1 / (1 + math.Exp(-x))
			}
			ex := math.Exp(x)
			return ex / (1 + ex)
		},
		DF: func(_, y float64) float64 { return y * (1 - y) }, XUnused: true}
}
