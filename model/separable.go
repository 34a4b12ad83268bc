package model

import (
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/lowrank"
)

// Separable factor rows. The backward pass of a network that ends in
// global average pooling (and a linear layer) spreads each factor row s_r,
// one entry per channel, evenly over the positions; layers of diagonal
// Jacobian and residual sums on the way back keep the rows separable,
// S_r[o, p] = s_r[o]·m_n[o, p], with maps m_n of the sample only. A
// convolution reached by such rows forms its block from s and m
// (lowrank.SepConv) at the cost of one factor column per sample instead of
// c. The interfaces below let jacobians follow the structure.

// A DiagonalLayer is a layer whose Jacobian is diagonal and whose input
// and output shapes are equal, when DiagonalJacobian reports true:
// BackwardInput scales each entry of a factor row by a value of its sample
// only (activations, BatchNorm, biases, Identity).
type DiagonalLayer interface {
	Layer
	DiagonalJacobian() bool
}

// A ChannelSpreader is a layer whose backward spreads a factor row of one
// entry per channel (its output) over the channel's positions (its
// input): row r of the input factor is S_r[o, p] = s_r[o]·m_n[o, p].
type ChannelSpreader interface {
	Layer
	// SpreadMaps returns the maps m_n of n samples (n × input entries).
	SpreadMaps(n int) *mat.Dense
}

// A SeparableParamLayer forms its block from separable factor rows
// S_r[o, p] = s_r[o]·m_n[o, p] (s R×out, m N×out·P, R = N·cols) and its
// input in, and reports whether it could.
type SeparableParamLayer interface {
	ParamLayer
	SeparableFactor(s, m, in *mat.Dense, cols int) (lowrank.Factor, bool)
}

// A SeparableBackwardLayer passes separable factor rows S_r[o, p] =
// s_r[o]·m_n[o, p] (s R×out, m N×out·P, R = N·cols) back to its input
// without writing them out, into dst (*mat.Dense or, for float32 rows,
// blas32.General; R rows of the input's entries, overwritten), and
// reports whether it could.
type SeparableBackwardLayer interface {
	Layer
	BackwardSeparable(dst any, s, m *mat.Dense, cols int) bool
}

// DiagonalJacobian reports true: σ' entrywise.
func (e *Elementwise) DiagonalJacobian() bool { return true }

// DiagonalJacobian reports true: γ_c/√(σ²_c + ε) on channel c.
func (l *BatchNorm) DiagonalJacobian() bool { return true }

// DiagonalJacobian reports true: the identity.
func (l *BiasAdd) DiagonalJacobian() bool { return true }

// DiagonalJacobian reports whether the reshape keeps the shape (Identity,
// Dropout): then it is the identity.
func (r *reshape) DiagonalJacobian() bool { return slices.Equal(r.in, r.out) }

// SpreadMaps implements ChannelSpreader: 1/P everywhere, P the positions
// per channel.
func (l *GlobalAvgPool) SpreadMaps(n int) *mat.Dense {
	f := Numel(l.in)
	m := mat.NewDense(n, f, nil)
	inv := 1 / float64(f/l.in[0])
	for i := range m.RawMatrix().Data {
		m.RawMatrix().Data[i] = inv
	}
	return m
}

// SeparableFactor implements SeparableParamLayer: lowrank.SepConv, for a
// convolution of one group.
func (l *Conv2d) SeparableFactor(s, m, in *mat.Dense, cols int) (lowrank.Factor, bool) {
	if l.groups() != 1 {
		return nil, false
	}
	return lowrank.NewSepConv(l.Geom, s, m, in, cols, true, l.Bias != nil), true
}
