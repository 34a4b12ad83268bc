package eigen_test

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/eigen"
)

// gram returns VᵀV for a small V with two independent columns and a
// repeated one: rank 2.
func gram() *mat.SymDense {
	v := mat.NewDense(3, 3, []float64{
		1, 0, 1,
		0, 2, 0,
		0, 0, 0,
	})
	var g mat.SymDense
	g.SymOuterK(1, v.T())
	return &g
}

// rounded rounds to 4 decimals, without negative zeros, for stable output.
func rounded(x []float64) []float64 {
	r := make([]float64, len(x))
	for i, v := range x {
		r[i] = math.Round(v*1e4) / 1e4
		if r[i] == 0 {
			r[i] = 0
		}
	}
	return r
}

func Example() {
	g := gram()
	values, vectors, err := eigen.Dense{}.TopK(g, 2)
	if err != nil {
		panic(err)
	}
	fmt.Println("values:", rounded(values))
	for j := range values {
		fmt.Println("vector:", rounded(mat.Col(nil, j, vectors)))
	}
	// Output:
	// values: [4 2]
	// vector: [0 1 0]
	// vector: [0.7071 0 0.7071]
}

func ExampleLanczos_TopKOperator() {
	// The zero value uses the defaults: tolerance 1e-13·λ₁.
	values, _, stats, err := eigen.Lanczos{}.TopKOperator(eigen.SymOperator(gram()), 3)
	if err != nil {
		panic(err)
	}
	fmt.Println("values:", rounded(values))
	fmt.Println("rank:", eigen.NumericalRank(values, 0))
	fmt.Println("residual below tolerance:", stats.MaxResidual <= 1e-13)
	// Output:
	// values: [4 2 0]
	// rank: 2
	// residual below tolerance: true
}

func ExampleValues() {
	values, err := eigen.Values(gram())
	if err != nil {
		panic(err)
	}
	fmt.Println(rounded(values))
	// Output:
	// [4 2 0]
}

func ExampleAuto() {
	s := eigen.Auto(3, 1) // a tiny matrix: a direct solver
	values, _, err := s.TopK(gram(), 1)
	if err != nil {
		panic(err)
	}
	fmt.Println(rounded(values))
	// Output:
	// [4]
}
