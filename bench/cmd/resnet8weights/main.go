// Command resnet8weights writes the weights and the batch of
// bench.ResNet8(32, 1) to one safetensors file, for
// bench/reference/resnet8.py, which rebuilds the network in PyTorch from
// it and exports the ONNX file and the batch of bench/testdata:
//
//	go run ./bench/cmd/resnet8weights -out /tmp/resnet8_go.safetensors
//	python3 bench/reference/resnet8.py export --weights /tmp/resnet8_go.safetensors
//
// The file holds every parameter under its state_dict name (float64),
// each BatchNorm's running statistics (NAME.running_mean,
// NAME.running_var) and eps (in the metadata), the batch ("inputs" [N 3
// 32 32] float64, "targets" [N] int64), and in the metadata the loss and
// the exact top-10 GGN eigenvalues vivit computes in float64 on this
// model and batch ("loss", "top10", JSON), which the export checks the
// PyTorch rebuild against.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/bench"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/safetensors"
)

func main() {
	out := flag.String("out", "resnet8_go.safetensors", "output `file`")
	n := flag.Int("n", 32, "batch size")
	flag.Parse()
	m, b, err := bench.ResNet8(*n, 1)
	if err != nil {
		log.Fatal(err)
	}
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		ts = append(ts, safetensors.Tensor{Name: p.Name, Shape: p.Shape, F64: p.Data})
	}
	meta := map[string]string{}
	eps := map[string]float64{}
	for _, nd := range m.Nodes {
		bn, ok := nd.Op.(*model.BatchNorm)
		if !ok {
			continue
		}
		c := len(bn.Mean)
		ts = append(ts,
			safetensors.Tensor{Name: nd.Name + ".running_mean", Shape: []int{c}, F64: bn.Mean},
			safetensors.Tensor{Name: nd.Name + ".running_var", Shape: []int{c}, F64: bn.Var})
		eps[nd.Name] = bn.Eps
	}
	y := make([]int64, b.Len())
	for i, c := range b.Targets.Classes {
		y[i] = int64(c)
	}
	ts = append(ts,
		safetensors.Tensor{Name: "inputs", Shape: []int{b.Len(), 3, 32, 32}, F64: b.Inputs.RawMatrix().Data},
		safetensors.Tensor{Name: "targets", Shape: []int{b.Len()}, I64: y})
	res, err := vivit.TopEigen(m, b, 10, nil)
	if err != nil {
		log.Fatal(err)
	}
	for k, v := range map[string]any{"eps": eps, "loss": res.Loss, "top10": res.Blocks[0].Values} {
		js, err := json.Marshal(v)
		if err != nil {
			log.Fatal(err)
		}
		meta[k] = string(js)
	}
	if err := safetensors.WriteFile(*out, ts, meta); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d parameters, loss %.6g, top-10 %v\n", *out, m.NumParams(), res.Loss, res.Blocks[0].Values)
}
