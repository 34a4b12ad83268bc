package model

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestForwardKeep checks which activations a graph's backward passes read
// and that ForwardKeep keeps exactly those (with the input and output),
// with Forward's values, on a graph with a fan-out, a residual sum and
// activations that read their input or their output.
func TestForwardKeep(t *testing.T) {
	shape := []int{4}
	nodes := []Node{
		{Name: "fc1", Op: NewLinear(0, 4, 4, true), Inputs: []int{0}},     // 1: reads its input
		{Name: "relu", Op: NewReLU(shape), Inputs: []int{1}},              // 2: reads its output
		{Name: "tanh", Op: NewTanh(shape), Inputs: []int{2}},              // 3: reads its output
		{Name: "add", Op: NewAdd(shape, 2), Inputs: []int{2, 3}},          // 4: reads neither
		{Name: "gelu", Op: NewGELU(shape), Inputs: []int{4}},              // 5: reads its input
		{Name: "fc2", Op: NewLinear(1, 4, 2, false), Inputs: []int{5}},    // 6
		{Name: "affine", Op: NewAffine([]int{2}, 2, 1), Inputs: []int{6}}, // 7: reads neither
	}
	net, err := NewNetwork(shape, nodes, Loss{Kind: MSE, Reduction: Sum}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	net.InitDefault(rng)
	if got, want := net.CarriesFactor(), []bool{false, true, true, true, true, true, true, true}; !slices.Equal(got, want) {
		t.Errorf("CarriesFactor = %v, want %v", got, want)
	}
	reads := net.BackwardReads()
	if want := []bool{true, false, true, true, true, true, false, false}; !slices.Equal(reads, want) {
		t.Fatalf("BackwardReads = %v, want %v", reads, want)
	}
	x := randMat(rng, 3, 4)
	all := net.Forward(x)
	for _, tc := range []struct {
		keep []bool
		kept []int
	}{
		{reads, []int{0, 2, 3, 4, 5, 7}},
		{nil, []int{0, 7}},
	} {
		acts, err := net.ForwardKeep(context.Background(), x, tc.keep)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range acts {
			switch {
			case slices.Contains(tc.kept, i) && (a == nil || !mat.Equal(a, all[i])):
				t.Errorf("keep %v: tensor %d not kept with Forward's values", tc.keep, i)
			case !slices.Contains(tc.kept, i) && a != nil:
				t.Errorf("keep %v: tensor %d kept", tc.keep, i)
			}
		}
		ReleaseActivations(acts)
	}

	// Before the first parameter node no factor is carried, and nothing
	// there is read but the first parameter node's input.
	pre := []Node{
		{Name: "tanh", Op: NewTanh(shape), Inputs: []int{0}},
		{Name: "fc", Op: NewLinear(0, 4, 2, true), Inputs: []int{1}},
	}
	net2, err := NewNetwork(shape, pre, Loss{Kind: MSE, Reduction: Sum}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := net2.BackwardReads(), []bool{false, true, false}; !slices.Equal(got, want) {
		t.Errorf("BackwardReads before the first parameter node = %v, want %v", got, want)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := net.ForwardKeep(ctx, x, reads); !errors.Is(err, context.Canceled) {
		t.Errorf("ForwardKeep on a cancelled context: %v", err)
	}
}
