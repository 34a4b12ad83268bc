package model

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/internal/backend"
	"github.com/vivit-go/vivit/lowrank"
)

// Linear is PyTorch's nn.Linear: y = x Wᵀ + b with W of shape [out, in].
type Linear struct {
	In, Out int
	Weight  *Param
	Bias    *Param // nil without bias
	w       *mat.Dense
}

// NewLinear returns a Linear layer with zero parameters named
// "<index>.weight" and "<index>.bias".
func NewLinear(index, in, out int, bias bool) *Linear {
	l := &Linear{In: in, Out: out}
	l.Weight = &Param{Name: fmt.Sprintf("%d.weight", index), Shape: []int{out, in}, Data: make([]float64, out*in)}
	if bias {
		l.Bias = &Param{Name: fmt.Sprintf("%d.bias", index), Shape: []int{out}, Data: make([]float64, out)}
	}
	l.w = mat.NewDense(out, in, l.Weight.Data)
	return l
}

func (l *Linear) Type() string    { return "linear" }
func (l *Linear) InShape() []int  { return []int{l.In} }
func (l *Linear) OutShape() []int { return []int{l.Out} }
func (l *Linear) W() *mat.Dense   { return l.w }
func (l *Linear) Params() []*Param {
	if l.Bias == nil {
		return []*Param{l.Weight}
	}
	return []*Param{l.Weight, l.Bias}
}

func (l *Linear) Forward(y, x *mat.Dense) {
	n, _ := x.Dims()
	checkDims(x, n, l.In, "linear input")
	checkDims(y, n, l.Out, "linear output")
	backend.Mul(y, x, l.w.T())
	if l.Bias != nil {
		for i := 0; i < n; i++ {
			row := y.RawRowView(i)
			for j, b := range l.Bias.Data {
				row[j] += b
			}
		}
	}
}

// BackwardReads implements BackwardReader: the input, for the factor block.
func (l *Linear) BackwardReads() (in, out bool) { return true, false }

func (l *Linear) BackwardInput(dst, s, in, out *mat.Dense, cols int) {
	r, _ := s.Dims()
	checkDims(s, r, l.Out, "linear factor")
	checkDims(dst, r, l.In, "linear factor destination")
	backend.Mul(dst, s, l.w)
}

func (l *Linear) Factor(s, in *mat.Dense, cols int) lowrank.Factor {
	return lowrank.NewLinear(s, in, cols, true, l.Bias != nil)
}
