package lowrank

import (
	"testing"

	"gonum.org/v1/gonum/mat"
)

// testColumns checks ColumnsTo against the explicit block v (Dim × Cols):
// the whole range, every single column, and a middle range written into a
// strided view, with the factor's own method and through the MulTo
// fallback.
func testColumns(t *testing.T, f Factor, v *mat.Dense) {
	t.Helper()
	const tol = 1e-12
	d, cols := v.Dims()
	check := func(name string, f Factor, r0, r1 int) {
		t.Helper()
		k := r1 - r0
		// A view two columns wider than the factor, with poison around it.
		buf := mat.NewDense(k, d+2, nil)
		for i := 0; i < k; i++ {
			for j := 0; j < d+2; j++ {
				buf.Set(i, j, 7)
			}
		}
		dst := buf.Slice(0, k, 1, d+1).(*mat.Dense)
		ColumnsTo(f, dst, r0)
		want := v.Slice(0, d, r0, r1).T()
		scale := mat.Norm(v, 1) + 1
		if e := maxAbsDiff(dst, want); !(e <= tol*scale) {
			t.Errorf("%s ColumnsTo [%d, %d): max error %.3g", name, r0, r1, e)
		}
		for i := 0; i < k; i++ {
			if buf.At(i, 0) != 7 || buf.At(i, d+1) != 7 {
				t.Errorf("%s ColumnsTo [%d, %d) wrote outside its destination", name, r0, r1)
				return
			}
		}
	}
	for _, g := range []struct {
		name string
		f    Factor
	}{{"own", f}, {"fallback", mulOnly{f}}} {
		if _, ok := f.(ColumnFormer); !ok {
			t.Errorf("%T does not implement ColumnFormer", f)
		}
		check(g.name, g.f, 0, cols)
		for r := 0; r < cols; r++ {
			check(g.name, g.f, r, r+1)
		}
		if cols > 2 {
			check(g.name, g.f, 1, cols-1)
		}
	}
}

// mulOnly hides a factor's ColumnsTo, to test ColumnsTo's fallback.
type mulOnly struct{ Factor }
