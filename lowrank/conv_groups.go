package lowrank

import (
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/model/im2col"
)

// GroupedConv is the block of V for a grouped convolution (nn.Conv2d with
// groups G > 1): weight [out, in/G, kh, kw] (flattened to out×K, K =
// (in/G)·kh·kw) and bias [out]. Group g is an independent convolution of
// input channels g·in/G … and output channels g·out/G …, and its weight
// rows are a contiguous slice of the weight, so the weight block of V is
// the G weight blocks of Conv factors on the groups' slices of the factor
// rows S and the inputs, stacked: each is a Conv (Weight only) on column
// views of S and A, with its own cost-chosen routes, scratch budget and
// kept weight block (see Conv).
//
// # Costs
//
// With R factor rows, P output positions and out·K = out·(in/G)·kh·kw
// weights in all (1/G of an ungrouped convolution of the same channels):
// Gram matrices and cross products are the sums of the groups', on the
// explicit route ρ·R·out·P·K multiply-adds to form the groups' blocks of V
// (thin products of K columns: kh·kw for a depthwise layer) and
// R²·out·K/2 for the G rank-(out/G·K) updates of the R×R result, each
// group's route chosen by Conv's cost model. Products with vectors,
// diagonals and columns run group by group into the matching slices of
// the parameters, TransMulTo through one k×R scratch matrix. Groups run
// one after another, each parallel inside, so one operation's scratch
// stays within the budget; the weight blocks a Gram route keeps for MulTo
// are per group (R·out·K float64s in all when every group keeps its own,
// the whole weight block: for a depthwise layer kh·kw/P of S).
//
// The bias block (R×out, column r holding S_r 1, the sums over positions)
// is formed once, at construction (R·out·P additions), and held as an
// Explicit: R·out float64s beyond S, 1/P of S.
type GroupedConv struct {
	G      *im2col.Geom // one group's geometry
	Groups int
	S      *mat.Dense // (n·c)×(out·P) backpropagated factor rows, all groups
	C      int        // factor columns per sample

	a *mat.Dense // the layer inputs, all groups

	convs []*Conv   // weight blocks per group; nil when the weight is not covered
	bias  *Explicit // bias block; nil when the bias is not covered
}

// NewGroupedConv returns the block for groups groups of geometry g each,
// factor rows s ((n·c) × groups·g.OutSize()) and layer inputs a (n ×
// groups·g.InSize()). It references s and a.
func NewGroupedConv(g *im2col.Geom, groups int, s, a *mat.Dense, c int, weight, bias bool) *GroupedConv {
	r, sc := s.Dims()
	n, ac := a.Dims()
	if groups < 1 || n*c != r {
		panic("lowrank: factor rows do not match samples × columns")
	}
	if sc != groups*g.OutSize() || ac != groups*g.InSize() {
		panic("lowrank: factor or inputs do not match the convolution")
	}
	f := &GroupedConv{G: g, Groups: groups, S: s, C: c, a: a}
	if weight {
		f.convs = make([]*Conv, groups)
		for i := range f.convs {
			sg := s.Slice(0, r, i*g.OutSize(), (i+1)*g.OutSize()).(*mat.Dense)
			ag := a.Slice(0, n, i*g.InSize(), (i+1)*g.InSize()).(*mat.Dense)
			f.convs[i] = NewConv(g, sg, ag, c, true, false)
		}
	}
	if bias {
		out, p := groups*g.OutC, g.P()
		vt := mat.NewDense(r, out, nil)
		for i := 0; i < r; i++ {
			row, si := vt.RawRowView(i), s.RawRowView(i)
			for o := range row {
				row[o] = floats.Sum(si[o*p : (o+1)*p])
			}
		}
		f.bias = NewExplicit(vt, []int{out})
	}
	return f
}

// HeldWords returns the float64s the block holds beyond the layer inputs:
// S and the bias block.
func (f *GroupedConv) HeldWords() int64 {
	r, c := f.S.Dims()
	w := int64(r) * int64(c)
	if f.bias != nil {
		w += int64(f.bias.Cols()) * int64(f.bias.Dim())
	}
	return w
}

// SetPrecision implements Precisioner. With more than one group the
// groups' blocks are on column views of S, where Conv's float32 products
// (which need a sample's factor rows contiguous) do not apply: they
// compute in float64.
func (f *GroupedConv) SetPrecision(p Precision) {
	for _, c := range f.convs {
		c.SetPrecision(p)
	}
}

// SetBudget implements Budgeter: every group's operations get the whole
// budget, since groups run one after another.
func (f *GroupedConv) SetBudget(bytes int64) {
	for _, c := range f.convs {
		c.SetBudget(bytes)
	}
}

// Release hands the weight blocks the groups' Gram routes kept back for
// reuse (see Conv.Release).
func (f *GroupedConv) Release() {
	for _, c := range f.convs {
		c.Release()
	}
}

// weightDim returns the size of one group's weight block.
func (f *GroupedConv) weightDim() int { return f.G.OutC * f.G.K() }

// biasOff returns where the bias block starts in the parameters.
func (f *GroupedConv) biasOff() int { return len(f.convs) * f.weightDim() }

func (f *GroupedConv) Dim() int {
	d := f.biasOff()
	if f.bias != nil {
		d += f.bias.Dim()
	}
	return d
}

func (f *GroupedConv) Cols() int { r, _ := f.S.Dims(); return r }

func (f *GroupedConv) Select(keep []bool) Factor {
	w, b, ok := selected(f.convs != nil, f.bias != nil, keep)
	if !ok {
		return nil
	}
	g := *f
	if !w {
		g.convs = nil
	}
	if !b {
		g.bias = nil
	}
	return &g
}

// cols returns the columns j0 … j0+w−1 of m as a view.
func cols(m *mat.Dense, j0, w int) *mat.Dense {
	r, _ := m.Dims()
	return m.Slice(0, r, j0, j0+w).(*mat.Dense)
}

func (f *GroupedConv) MulTo(dst, u *mat.Dense) {
	k, _ := u.Dims()
	checkShape(u, k, f.Cols())
	checkShape(dst, k, f.Dim())
	if k == 0 {
		return
	}
	wd := f.weightDim()
	for i, c := range f.convs {
		c.MulTo(cols(dst, i*wd, wd), u)
	}
	if f.bias != nil {
		f.bias.MulTo(cols(dst, f.biasOff(), f.bias.Dim()), u)
	}
}

// TransMulTo adds the groups' products in a k×Cols scratch matrix.
func (f *GroupedConv) TransMulTo(dst, v *mat.Dense) {
	k, _ := v.Dims()
	checkShape(v, k, f.Dim())
	checkShape(dst, k, f.Cols())
	dst.Zero()
	if k == 0 {
		return
	}
	t := mat.NewDense(k, f.Cols(), nil)
	wd := f.weightDim()
	for i, c := range f.convs {
		c.TransMulTo(t, cols(v, i*wd, wd))
		dst.Add(dst, t)
	}
	if f.bias != nil {
		f.bias.TransMulTo(t, cols(v, f.biasOff(), f.bias.Dim()))
		dst.Add(dst, t)
	}
}

func (f *GroupedConv) AddGramTo(dst *mat.SymDense) {
	for _, c := range f.convs {
		c.AddGramTo(dst)
	}
	if f.bias != nil {
		f.bias.AddGramTo(dst)
	}
}

// AddCrossTo adds VᵀY for y a GroupedConv of the same layer, group by
// group. When both were built on the same inputs, the groups' blocks of y
// are given x's views of them, so that Conv unfolds shared samples once.
func (f *GroupedConv) AddCrossTo(dst *mat.Dense, y Factor) {
	o, ok := y.(*GroupedConv)
	if !ok || o.Groups != f.Groups || !sameGeom(o.G, f.G) || (o.convs == nil) != (f.convs == nil) || (o.bias == nil) != (f.bias == nil) {
		panic("lowrank: cross product of factors of different layers")
	}
	for i, c := range f.convs {
		oc := o.convs[i]
		if f.a == o.a && oc.A != c.A {
			shared := *oc
			shared.A = c.A
			oc = &shared
		}
		c.AddCrossTo(dst, oc)
	}
	if f.bias != nil {
		f.bias.AddCrossTo(dst, o.bias)
	}
}

func (f *GroupedConv) AddDiagTo(dst []float64) {
	if len(dst) != f.Dim() {
		panic("lowrank: diagonal destination has wrong length")
	}
	wd := f.weightDim()
	for i, c := range f.convs {
		c.AddDiagTo(dst[i*wd : (i+1)*wd])
	}
	if f.bias != nil {
		f.bias.AddDiagTo(dst[f.biasOff():])
	}
}

// AddCentredDiagTo implements CentredDiager, group by group; the bias
// block on a copy (R·out float64s).
func (f *GroupedConv) AddCentredDiagTo(dst []float64) {
	if len(dst) != f.Dim() {
		panic("lowrank: diagonal destination has wrong length")
	}
	wd := f.weightDim()
	for i, c := range f.convs {
		c.AddCentredDiagTo(dst[i*wd : (i+1)*wd])
	}
	if f.bias != nil {
		// centredCols works in place: on a copy of the bias block.
		out := f.bias.Dim()
		res := make([]float64, 3*out)
		centredCols(res[:out], slices.Clone(f.bias.raw().Data), out, res[out:2*out], res[2*out:])
		floats.Add(dst[f.biasOff():], res[:out])
	}
}

// ColumnsTo implements ColumnFormer, group by group.
func (f *GroupedConv) ColumnsTo(dst *mat.Dense, r0 int) {
	k, _ := dst.Dims()
	checkShape(dst, k, f.Dim())
	if k == 0 {
		return
	}
	wd := f.weightDim()
	for i, c := range f.convs {
		c.ColumnsTo(cols(dst, i*wd, wd), r0)
	}
	if f.bias != nil {
		f.bias.ColumnsTo(cols(dst, f.biasOff(), f.bias.Dim()), r0)
	}
}
