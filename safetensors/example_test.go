package safetensors_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/vivit-go/vivit/safetensors"
)

func Example() {
	var buf bytes.Buffer
	err := safetensors.Write(&buf, []safetensors.Tensor{
		{Name: "0.weight", Shape: []int{2, 3}, F32: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "0.bias", Shape: []int{2}, F64: []float64{0.5, -0.5}},
		{Name: "targets", Shape: []int{2}, I64: []int64{7, 1}},
	}, map[string]string{"architecture": `{"layers": []}`})
	if err != nil {
		log.Fatal(err)
	}

	f, err := safetensors.Parse(buf.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("metadata:", f.Metadata["architecture"])
	for _, t := range f.Tensors {
		fmt.Printf("%s %s %v [%d, %d)\n", t.Name, t.DType, t.Shape, t.Begin, t.End)
	}
	w, shape, err := f.Float64s("0.weight")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(shape, w)
	y, _, err := f.Int64s("targets")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(y)
	_, _, err = f.Float64s("targets")
	fmt.Println(err)
	// Output:
	// metadata: {"layers": []}
	// 0.weight F32 [2 3] [0, 24)
	// 0.bias F64 [2] [24, 40)
	// targets I64 [2] [40, 56)
	// [2 3] [1 2 3 4 5 6]
	// [7 1]
	// safetensors: tensor "targets": unsupported dtype: dtype I64 cannot be read as float64 (want F32 or F64)
}

func ExampleParse_errors() {
	// A header whose tensors overlap.
	header := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`
	b := append([]byte{byte(len(header)), 0, 0, 0, 0, 0, 0, 0}, header...)
	b = append(b, make([]byte, 8)...)
	_, err := safetensors.Parse(b)
	fmt.Println(err)
	// Output:
	// safetensors: tensor "b": overlapping tensors: data_offsets [4, 8] overlap tensor "a" at [0, 8]
}
