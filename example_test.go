package vivit_test

import (
	"fmt"
	"log"
	"math"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/example"
)

func ExampleTopEigen() {
	m, b, err := example.Load() // or vivit.LoadModel / vivit.LoadBatch
	if err != nil {
		log.Fatal(err)
	}
	res, err := vivit.TopEigen(m, b, 3, nil)
	if err != nil {
		log.Fatal(err)
	}
	blk := res.Blocks[0]
	fmt.Printf("%d parameters, batch of %d\n", res.NumParams, res.BatchSize)
	for j, v := range blk.Values {
		w, shape, _ := blk.Tensor(j, "2.weight")
		fmt.Printf("λ%d = %.4f; its 2.weight part has shape %v and %d entries\n", j+1, v, shape, len(w))
	}
	// Output:
	// 2410 parameters, batch of 128
	// λ1 = 2.3785; its 2.weight part has shape [10 32] and 320 entries
	// λ2 = 1.7861; its 2.weight part has shape [10 32] and 320 entries
	// λ3 = 1.4673; its 2.weight part has shape [10 32] and 320 entries
}

func ExampleSpectrum() {
	m, b, err := example.Load()
	if err != nil {
		log.Fatal(err)
	}
	res, err := vivit.Spectrum(m, b, &vivit.Options{Groups: vivit.LayerGroups(m)})
	if err != nil {
		log.Fatal(err)
	}
	for _, blk := range res.Blocks {
		fmt.Printf("layer %s %v: rank %d, λ_max %.4f, trace %.4f\n", blk.Name, blk.Layout.Names, len(blk.Values), blk.Values[0], blk.Trace)
	}
	// Output:
	// layer 0 [0.weight 0.bias]: rank 925, λ_max 2.2710, trace 11.6328
	// layer 2 [2.weight 2.bias]: rank 297, λ_max 0.1849, trace 1.1797
}

func ExampleDirectional() {
	m, b, err := example.Load()
	if err != nil {
		log.Fatal(err)
	}
	// Curvature from a Monte-Carlo factor with one sample per input.
	res, err := vivit.Directional(m, b, 2, &vivit.Options{MCSamples: 1, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	blk := res.Blocks[0]
	n, k := blk.Gamma.Dims()
	fmt.Printf("γ and λ: %d samples × %d directions\n", n, k)
	// w Σ_n λ_nk = λ_k: the per-sample curvatures average to the eigenvalue.
	for j, v := range blk.Values {
		var s float64
		for i := 0; i < n; i++ {
			s += blk.Lambda.At(i, j)
		}
		fmt.Printf("λ%d = %.4f, mean of λ_n%d = %.4f\n", j+1, v, j+1, s/float64(n))
	}
	// Output:
	// γ and λ: 128 samples × 2 directions
	// λ1 = 4.3453, mean of λ_n1 = 4.3453
	// λ2 = 2.9203, mean of λ_n2 = 2.9203
}

func ExampleComputeStats() {
	m, b, err := example.Load()
	if err != nil {
		log.Fatal(err)
	}
	st, err := vivit.ComputeStats(m, b, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("loss %.4f, |grad| %.4f, tr(GGN) %.4f\n", st.Loss, st.GradNorm, st.GGNTrace)
	for _, l := range st.Layers {
		fmt.Printf("layer %s: |grad| %.4f, tr %.4f, SNR %.4f\n", l.Layer, l.GradNorm, l.GGNTrace, l.SNR)
	}
	// Output:
	// loss 0.3283, |grad| 0.5294, tr(GGN) 12.8125
	// layer 0: |grad| 0.5038, tr 11.6328, SNR 0.0119
	// layer 2: |grad| 0.1627, tr 1.1797, SNR 0.0125
}

// A ResNet exported from PyTorch (docs/formats.md has the export recipe):
// eigenvectors come back in the checkpoint's layout, by state_dict name.
func ExampleLoadModel() {
	m, err := vivit.LoadModel("testdata/fixtures/resnet_digits/model.onnx")
	if err != nil {
		log.Fatal(err)
	}
	b, err := vivit.LoadBatch("testdata/fixtures/resnet_digits/batch.safetensors", m)
	if err != nil {
		log.Fatal(err)
	}
	res, err := vivit.TopEigen(m, b, 2, nil)
	if err != nil {
		log.Fatal(err)
	}
	blk := res.Blocks[0]
	fmt.Printf("%d parameter tensors, %d parameters\n", len(blk.Layout.Names), res.NumParams)
	for j, v := range blk.Values {
		g, shape, _ := blk.Tensor(j, "layer1.bn1.weight")
		fmt.Printf("λ%d = %.4f; its layer1.bn1.weight part: shape %v, first entry %.4f\n", j+1, v, shape, g[0])
	}
	// Output:
	// 20 parameter tensors, 5122 parameters
	// λ1 = 548.1182; its layer1.bn1.weight part: shape [8], first entry 0.0457
	// λ2 = 159.8314; its layer1.bn1.weight part: shape [8], first entry 0.0438
}

func ExampleNewton() {
	m, b, err := example.Load()
	if err != nil {
		log.Fatal(err)
	}
	// A damped Newton step in the top-5 eigenbasis, damped by the noise of
	// each direction's curvature (the command line's --damping auto).
	st, err := vivit.Newton(m, b, 5, vivit.DefaultDamping, nil)
	if err != nil {
		log.Fatal(err)
	}
	var norm float64
	for _, s := range st.Step {
		norm += s * s
	}
	fmt.Printf("step of %d entries, norm %.4f; the quadratic model predicts a change of %.4f\n", len(st.Step), math.Sqrt(norm), st.PredictedChange)
	// Output:
	// step of 2410 entries, norm 0.1288; the quadratic model predicts a change of -0.0330
}

// A data set too large for one batch, streamed batch by batch: the GGN
// of the whole set's loss.
func ExampleDataSetTopEigen() {
	m, b, err := example.Load()
	if err != nil {
		log.Fatal(err)
	}
	ds := vivit.NewBatchDataSet(b) // or any DataSet: Len and Batch(i, j)
	res, err := vivit.DataSetTopEigen(m, ds, 3, &vivit.DataSetOptions{BatchSize: 32})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d samples in %d batches of %d, method %s\n", res.CurvatureSamples, res.Batches, res.BatchSize, res.Method)
	for j, v := range res.Blocks[0].Values {
		fmt.Printf("λ%d = %.4f\n", j+1, v)
	}
	// Output:
	// 128 samples in 4 batches of 32, method lanczos
	// λ1 = 2.3785
	// λ2 = 1.7861
	// λ3 = 1.4673
}

// The memory a run needs, before running it. A budget too small for the
// whole batch at once is met by chunks of samples where they help (large
// activations and factors), and refused, with the least it needs, where
// they do not (here the Gram matrix dominates).
func ExamplePlanTopEigen() {
	m, b, err := example.Load()
	if err != nil {
		log.Fatal(err)
	}
	for _, budget := range []int64{1 << 30, 16 << 20} {
		pl, err := vivit.PlanTopEigen(m, b, 10, &vivit.Options{MemoryBudget: budget})
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(pl)
	}
	// Output:
	// 77.5 MiB of 1 GiB
	// vivit: TopEigen (chunked, with a 12.3 MiB matrix) needs at least 18.6 MiB of memory, more than the budget of 16 MiB (Options.MemoryBudget, --memory)
}
