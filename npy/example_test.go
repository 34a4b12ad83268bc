package npy_test

import (
	"bytes"
	"fmt"
	"log"
	"strings"

	"github.com/vivit-go/vivit/npy"
)

func Example() {
	var buf bytes.Buffer
	a := &npy.Array{Shape: []int{2, 3}, Data: []float64{1, 2, 3, 4, 5, 6}}
	if err := npy.Write(&buf, a); err != nil {
		log.Fatal(err)
	}
	b := buf.Bytes()
	fmt.Printf("%q\n", b[:8])
	fmt.Printf("%q\n", strings.TrimRight(string(b[10:128]), " \n"))
	fmt.Println(len(b), "bytes, data at offset 128")

	got, err := npy.Read(&buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Shape, got.Data)
	// Output:
	// "\x93NUMPY\x01\x00"
	// "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"
	// 176 bytes, data at offset 128
	// [2 3] [1 2 3 4 5 6]
}

func ExampleReadInt64() {
	// Class labels saved by numpy.save(f, np.array([[3, 1], [4, 1]], order="F")).
	header := "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 2), }"
	var buf bytes.Buffer
	buf.WriteString("\x93NUMPY\x01\x00")
	buf.Write([]byte{byte(len(header)), 0})
	buf.WriteString(header)
	for _, v := range []byte{3, 4, 1, 1} { // column by column
		buf.Write([]byte{v, 0, 0, 0, 0, 0, 0, 0})
	}
	labels, shape, err := npy.ReadInt64(&buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(shape, labels)

	_, _, err = npy.ReadInt64(strings.NewReader("PK\x03\x04"))
	fmt.Println(err)
	// Output:
	// [2 2] [3 1 4 1]
	// npy: not an npy file: starts with "PK\x03\x04", want "\x93NUMPY"
}
