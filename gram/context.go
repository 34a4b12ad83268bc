package gram

import (
	"context"

	"gonum.org/v1/gonum/mat"
)

// IntoContext is Into, stopped between blocks once ctx is done: it then
// returns an error wrapping ctx.Err() and g holds a partial sum. One
// block's AddGramTo runs to its end.
func IntoContext(ctx context.Context, g *mat.SymDense, fs ...Contributor) error {
	if len(fs) == 0 {
		panic("gram: no factors")
	}
	n := fs[0].Cols()
	if g.SymmetricDim() != n {
		panic("gram: destination shape mismatch")
	}
	ClearUpper(g)
	for _, f := range fs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.Cols() != n {
			panic("gram: factors have different column counts")
		}
		f.AddGramTo(g)
	}
	return ctx.Err()
}
