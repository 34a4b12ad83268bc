package lowrank

import "gonum.org/v1/gonum/mat"

// Factor is one block of rows of V.
type Factor interface {
	// Dim returns the number of parameters (rows of this block of V).
	Dim() int
	// Cols returns the number of columns of V.
	Cols() int
	// MulTo writes V u_j into row j of dst (k×Dim) for each row u_j of u (k×Cols).
	MulTo(dst, u *mat.Dense)
	// TransMulTo writes Vᵀ v_j into row j of dst (k×Cols) for each row v_j of v (k×Dim).
	TransMulTo(dst, v *mat.Dense)
	// AddGramTo adds VᵀV to dst (Cols×Cols, upper triangle).
	AddGramTo(dst *mat.SymDense)
	// AddCrossTo adds VᵀY to dst (Cols × y.Cols()). y must be a factor of
	// the same layer and parameters (same concrete type); anything else
	// panics.
	AddCrossTo(dst *mat.Dense, y Factor)
	// AddDiagTo adds the diagonal of V Vᵀ (length Dim) to dst.
	AddDiagTo(dst []float64)
	// Select returns the factor restricted to the tensors with keep[i]
	// true, in the layer's state_dict order; nil if none is kept.
	Select(keep []bool) Factor
}

// selected returns which of a layer block's weight and bias a Select with
// keep (indexing the layer's tensors, weight then bias) leaves covered,
// and whether any is.
func selected(weight, bias bool, keep []bool) (w, b, ok bool) {
	w, b = weight && keep[0], bias && len(keep) > 1 && keep[1]
	return w, b, w || b
}

// Precision is the floating-point type of a factor's large products.
type Precision int

const (
	// Float64, the zero value, computes everything in float64.
	Float64 Precision = iota
	// Float32 runs the large products of AddGramTo and MulTo in float32,
	// like the PyTorch tools, on inputs rounded to float32 and with results
	// accumulated and returned in float64: about twice the rate on those
	// products, relative errors about 1e-6 instead of 1e-12. Where a
	// factor type or route has no float32 product, it computes in float64.
	Float32
)

// String returns "float64" or "float32".
func (p Precision) String() string {
	if p == Float32 {
		return "float32"
	}
	return "float64"
}

// A Precisioner is a factor whose large products can run in float32.
type Precisioner interface {
	SetPrecision(Precision)
}

// A RowsDropper is a factor that can stop referencing the factor rows and
// layer inputs it was built on once its Gram matrix has been formed,
// keeping what MulTo needs (lowrank.Conv, whose Gram route kept its weight
// block). DropRows reports whether it did; the caller may then recycle the
// rows and inputs. Afterwards the factor supports Dim, Cols, MulTo,
// Select and Release only (the others panic), and so do copies Selected
// from it; copies Selected before still reference the rows.
type RowsDropper interface {
	DropRows() bool
}
