package torchpt_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/vivit-go/vivit/torchpt"
)

// A state_dict written as torch.save writes it, and read back.
func Example() {
	var b bytes.Buffer
	err := torchpt.Write(&b, []torchpt.Tensor{
		{Name: "0.weight", Shape: []int{2, 3}, F32: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "0.bias", Shape: []int{2}, F32: []float32{0.5, -0.5}},
	})
	if err != nil {
		log.Fatal(err)
	}
	f, err := torchpt.Read(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range f.Tensors {
		v, _ := t.Float64s()
		fmt.Println(t.Name, t.DType, t.Shape, v)
	}
	// Output:
	// 0.weight float32 [2 3] [1 2 3 4 5 6]
	// 0.bias float32 [2] [0.5 -0.5]
}
