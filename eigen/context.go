package eigen

import (
	"context"

	"gonum.org/v1/gonum/mat"
)

// ContextSolver is a Solver that can be stopped while it runs: TopKContext
// is TopK that gives up, with an error wrapping ctx.Err(), soon after ctx
// is done (Lanczos checks between its block steps). Solvers that do not
// implement it run to the end of their TopK (see TopKContext).
type ContextSolver interface {
	Solver
	TopKContext(ctx context.Context, a mat.Symmetric, k int) (values []float64, vectors *mat.Dense, err error)
}

// TopKContext runs s on a, through its TopKContext if s is a ContextSolver;
// other solvers are checked before and after their TopK only. The error
// wraps ctx.Err() when ctx is done.
func TopKContext(ctx context.Context, s Solver, a mat.Symmetric, k int) ([]float64, *mat.Dense, error) {
	if cs, ok := s.(ContextSolver); ok {
		return cs.TopKContext(ctx, a, k)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	values, vectors, err := s.TopK(a, k)
	if err == nil {
		err = ctx.Err()
	}
	return values, vectors, err
}

// TopKContext is TopK, stopped between block steps once ctx is done.
func (l Lanczos) TopKContext(ctx context.Context, a mat.Symmetric, k int) ([]float64, *mat.Dense, error) {
	n := a.SymmetricDim()
	checkK(n, k)
	values, vectors, _, err := l.TopKOperatorContext(ctx, SymOperator(a), k)
	return values, vectors, err
}
