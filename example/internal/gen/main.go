// Command gen trains the embedded example network on the digits data and
// writes model.safetensors and batch.safetensors. It is deterministic: the
// same source gives the same files.
package main

import (
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"path/filepath"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/checkpoint"
	"github.com/vivit-go/vivit/example/digits"
	"github.com/vivit-go/vivit/safetensors"
)

const (
	architecture = `{"input_shape": [64], "layers": [{"type": "linear", "in": 64, "out": 32, "bias": true}, {"type": "tanh"}, {"type": "linear", "in": 32, "out": 10, "bias": true}], "loss": {"type": "cross_entropy", "reduction": "mean"}}`
	trainSize    = 1500 // the rest is held out
	heldOut      = 128  // size of the embedded batch
	batchSize    = 64
	epochs       = 40
	lr           = 0.1
	momentum     = 0.9
	seed         = 2021
)

func main() {
	out := flag.String("out", ".", "output directory")
	flag.Parse()
	log.SetFlags(0)
	pixels, labels, err := digits.Load()
	if err != nil {
		log.Fatal(err)
	}
	arch, err := checkpoint.ParseArchitecture([]byte(architecture))
	if err != nil {
		log.Fatal(err)
	}
	net, err := arch.Build()
	if err != nil {
		log.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	net.InitDefault(rng) // PyTorch's default initialisation
	velocity := make([]float64, net.NumParams())
	order := rng.Perm(trainSize)
	for epoch := 0; epoch < epochs; epoch++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var total float64
		for start := 0; start+batchSize <= trainSize; start += batchSize {
			b := digits.Batch(pixels, labels, order[start:start+batchSize])
			loss, grad, err := vivit.Gradient(net, b)
			if err != nil {
				log.Fatal(err)
			}
			total += loss
			off := 0
			for _, p := range net.Params() {
				for i := range p.Data {
					velocity[off+i] = momentum*velocity[off+i] + grad[off+i]
					p.Data[i] -= lr * velocity[off+i]
				}
				off += len(p.Data)
			}
		}
		if epoch%10 == 9 {
			log.Printf("epoch %d: mean training loss %.4f", epoch+1, total/float64(trainSize/batchSize))
		}
	}
	// Round the weights to float32, as a PyTorch checkpoint stores them, so
	// that the embedded model is exactly what the file holds.
	var tensors []safetensors.Tensor
	for _, p := range net.Params() {
		f32 := make([]float32, len(p.Data))
		for i, v := range p.Data {
			f32[i] = float32(v)
			p.Data[i] = float64(f32[i])
		}
		tensors = append(tensors, safetensors.Tensor{Name: p.Name, Shape: p.Shape, F32: f32})
	}
	idx := make([]int, 0, digits.Size-trainSize)
	for i := trainSize; i < digits.Size; i++ {
		idx = append(idx, i)
	}
	test := digits.Batch(pixels, labels, idx)
	acc := digits.Accuracy(net, test)
	log.Printf("held-out accuracy on %d images: %.1f%%", len(idx), 100*acc)
	if err := safetensors.WriteFile(filepath.Join(*out, "model.safetensors"), tensors, map[string]string{
		checkpoint.ArchitectureKey: architecture,
		"description":              fmt.Sprintf("64-32-10 tanh MLP, SGD (lr %g, momentum %g, batch %d, %d epochs) on the first %d UCI digits; held-out accuracy %.1f%%", lr, momentum, batchSize, epochs, trainSize, 100*acc),
	}); err != nil {
		log.Fatal(err)
	}
	hb := idx[:heldOut]
	x := make([]float32, 0, heldOut*64)
	y := make([]int64, 0, heldOut)
	for _, i := range hb {
		for _, v := range pixels[i] {
			x = append(x, float32(v))
		}
		y = append(y, int64(labels[i]))
	}
	if err := safetensors.WriteFile(filepath.Join(*out, "batch.safetensors"), []safetensors.Tensor{
		{Name: "inputs", Shape: []int{heldOut, 64}, F32: x},
		{Name: "targets", Shape: []int{heldOut}, I64: y},
	}, map[string]string{"description": fmt.Sprintf("UCI digits %d..%d (held out), pixels / 16", trainSize, trainSize+heldOut-1)}); err != nil {
		log.Fatal(err)
	}
}
