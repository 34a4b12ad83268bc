package vivit_test

import (
	"errors"
	"math"
	"testing"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/bench"
)

// TestChunkedEqualsWhole checks that a budget small enough to chunk the
// factor backpropagation gives the results of an unbudgeted run.
func TestChunkedEqualsWhole(t *testing.T) {
	n := 12
	if testing.Short() {
		n = 8
	}
	m, b, err := bench.ThreeC3D(n, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, mc := range []int{0, 1} {
		ref, err := vivit.TopEigen(m, b, 4, &vivit.Options{MCSamples: mc, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		if ref.Plan == nil || ref.Plan.Chunked() {
			t.Fatalf("mc=%d: unbudgeted run planned %v", mc, ref.Plan)
		}
		o := &vivit.Options{MCSamples: mc, Seed: 5}
		pl := chunkingBudget(t, m, b, 4, o, 2)
		t.Logf("mc=%d: %v", mc, pl)
		got, err := vivit.TopEigen(m, b, 4, o)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Plan.Chunked() {
			t.Fatalf("mc=%d: budget %d did not chunk: %v", mc, o.MemoryBudget, got.Plan)
		}
		compareResults(t, got, ref, 1e-9)
	}
}

func compareResults(t *testing.T, got, ref *vivit.Result, tol float64) {
	t.Helper()
	if !(math.Abs(got.Loss-ref.Loss) <= tol*math.Abs(ref.Loss)) {
		t.Errorf("loss %v, want %v", got.Loss, ref.Loss)
	}
	for bi := range ref.Blocks {
		gv, rv := got.Blocks[bi].Values, ref.Blocks[bi].Values
		if len(gv) != len(rv) {
			t.Fatalf("block %d: %d values, want %d", bi, len(gv), len(rv))
		}
		for j := range rv {
			if !(math.Abs(gv[j]-rv[j]) <= tol*rv[0]) {
				t.Errorf("block %d: λ_%d = %.17g, want %.17g", bi, j, gv[j], rv[j])
			}
			a, c := got.Blocks[bi].Vector(j), ref.Blocks[bi].Vector(j)
			worst := 0.0
			for i := range c {
				worst = math.Max(worst, math.Abs(a[i]-c[i]))
			}
			if !(worst <= 1e-6) {
				t.Errorf("block %d: eigenvector %d differs by %g", bi, j, worst)
			}
		}
	}
}

func TestPlanRefuses(t *testing.T) {
	m, b, err := bench.ThreeC3D(4, 3)
	if err != nil {
		t.Fatal(err)
	}
	_, err = vivit.TopEigen(m, b, 2, &vivit.Options{MemoryBudget: 1 << 20})
	var me *vivit.MemoryError
	if !errors.As(err, &me) {
		t.Fatalf("1 MiB budget: got %v, want a MemoryError", err)
	}
	t.Log(err)
	if me.Needed <= 1<<20 || me.Budget != 1<<20 {
		t.Fatalf("MemoryError %+v", me)
	}
	// The least memory it names is enough.
	if _, err := vivit.PlanTopEigen(m, b, 2, &vivit.Options{MemoryBudget: me.Needed}); err != nil {
		t.Fatalf("budget of the needed %d bytes: %v", me.Needed, err)
	}
}

// chunkingBudget sets o.MemoryBudget to the largest budget (in steps of 1
// MiB below 512 MiB) whose plan chunks the batch with at most held
// chunks held at once, and returns the plan.
func chunkingBudget(t *testing.T, m *vivit.Model, b *vivit.Batch, k int, o *vivit.Options, held int) *vivit.Plan {
	t.Helper()
	for mib := int64(512); mib > 0; mib-- {
		o.MemoryBudget = mib << 20
		pl, err := vivit.PlanTopEigen(m, b, k, o)
		if err != nil {
			break
		}
		if pl.Chunked() && pl.Held <= held {
			return pl
		}
	}
	t.Fatalf("no budget chunks the batch with at most %d held chunks", held)
	return nil
}
