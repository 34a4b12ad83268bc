package model

import "gonum.org/v1/gonum/mat"

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

func (r *reshape) BackwardInput(dst, s, _, _ *mat.Dense, _ int) {
	if dst != s {
		dst.Copy(s)
	}
}
