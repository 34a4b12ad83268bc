package vivit_test

import (
	"strings"

	"gonum.org/v1/gonum/mat"
)

func denseRows(m *mat.Dense) [][]float64 {
	r, _ := m.Dims()
	out := make([][]float64, r)
	for i := range out {
		out[i] = append([]float64(nil), m.RawRowView(i)...)
	}
	return out
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
