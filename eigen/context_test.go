package eigen

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
)

// slowOp is a symmetric operator that cancels its context at its third
// block product.
type slowOp struct {
	a       *mat.SymDense
	cancel  func()
	applies int
}

func (o *slowOp) Size() int { return o.a.SymmetricDim() }
func (o *slowOp) ApplyTo(dst, x *mat.Dense) {
	o.applies++
	if o.applies == 3 {
		o.cancel()
	}
	SymOperator(o.a).ApplyTo(dst, x)
}

// TestLanczosContext: a cancelled context stops Lanczos at its next block
// step with an error wrapping context.Canceled; an uncancelled one gives
// the same pairs as TopK.
func TestLanczosContext(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	n := 300
	x := mat.NewDense(n, n, nil)
	for i := range x.RawMatrix().Data {
		x.RawMatrix().Data[i] = rng.NormFloat64()
	}
	a := mat.NewSymDense(n, nil)
	a.SymOuterK(1, x)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	op := &slowOp{a: a, cancel: cancel}
	_, _, _, err := Lanczos{}.TopKOperatorContext(ctx, op, 10)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want one wrapping context.Canceled", err)
	}
	if op.applies != 3 {
		t.Fatalf("%d block products, want 3: the step after the cancellation stops", op.applies)
	}
	want, _, err := Lanczos{}.TopK(a, 10)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := TopKContext(context.Background(), Lanczos{}, a, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("eigenvalue %d: %v with a context, %v without", i, got[i], want[i])
		}
	}
	// A solver without TopKContext is checked before it starts.
	done, stop := context.WithTimeout(context.Background(), time.Nanosecond)
	defer stop()
	<-done.Done()
	if _, _, err := TopKContext(done, Dense{}, a, 3); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dense with an expired context: %v", err)
	}
}
