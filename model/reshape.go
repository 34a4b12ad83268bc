package model

import (
	"slices"

	"gonum.org/v1/gonum/mat"
)

// reshape changes a sample's shape but not its flat storage (flatten).
type reshape struct {
	name    string
	in, out []int
}

func (r *reshape) Type() string    { return r.name }
func (r *reshape) InShape() []int  { return r.in }
func (r *reshape) OutShape() []int { return r.out }

func (r *reshape) Forward(y, x *mat.Dense) { y.Copy(x) }

// BackwardInPlace reports true: a reshape leaves the factor rows as they
// are.
func (r *reshape) BackwardInPlace() bool { return true }

// BackwardReads implements BackwardReader: neither.
func (r *reshape) BackwardReads() (in, out bool) { return false, false }

func (r *reshape) BackwardInput(dst, s, _, _ *mat.Dense, _ int) {
	if dst != s {
		dst.Copy(s)
	}
}

// NewFlatten returns PyTorch's Flatten (start_dim 1, end_dim -1) on
// per-sample shape shape: a reshape to one axis, of type "flatten".
func NewFlatten(shape []int) Layer {
	return &reshape{name: "flatten", in: slices.Clone(shape), out: []int{Numel(shape)}}
}

// NewDropout returns PyTorch's Dropout in evaluation mode, where it is
// the identity, on per-sample shape shape; its type is "dropout".
func NewDropout(shape []int) Layer {
	s := slices.Clone(shape)
	return &reshape{name: "dropout", in: s, out: s}
}
