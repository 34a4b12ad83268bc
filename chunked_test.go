package vivit_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/bench"
)

// TestChunkedEqualsWhole checks that budgets small enough to chunk the
// factor backpropagation give the results of an unbudgeted run, to 1e-9
// relative on every eigenvalue and on the eigenvectors' overlaps: exact
// and Monte-Carlo, on schedules whose last chunk is short, with groups of
// two held chunks crossed with recomputed later ones, and with one chunk
// held (every pair recomputed).
func TestChunkedEqualsWhole(t *testing.T) {
	n := 11
	if testing.Short() {
		n = 9
	}
	m, b, err := bench.ThreeC3D(n, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mc, chunk, held int
	}{{0, 4, 2}, {1, 4, 2}, {0, 3, 1}} {
		ref, err := vivit.TopEigen(m, b, 4, &vivit.Options{MCSamples: tc.mc, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		if ref.Plan == nil || ref.Plan.Chunked() {
			t.Fatalf("mc=%d: unbudgeted run planned %v", tc.mc, ref.Plan)
		}
		o := &vivit.Options{MCSamples: tc.mc, Seed: 5}
		var pl *vivit.Plan
		for mib := int64(512); mib > 0 && pl == nil; mib-- {
			o.MemoryBudget = mib << 20
			p, err := vivit.PlanTopEigen(m, b, 4, o)
			if err != nil {
				break
			}
			if p.Chunk <= tc.chunk && p.Held == tc.held && (n+p.Chunk-1)/p.Chunk > tc.held {
				pl = p
			}
		}
		if pl == nil {
			t.Fatalf("mc=%d: no budget gives chunks of at most %d samples, %d held", tc.mc, tc.chunk, tc.held)
		}
		t.Logf("mc=%d: %v", tc.mc, pl)
		got, err := vivit.TopEigen(m, b, 4, o)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Plan.Chunked() {
			t.Fatalf("mc=%d: budget %d did not chunk: %v", tc.mc, o.MemoryBudget, got.Plan)
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
			if !(math.Abs(gv[j]-rv[j]) <= tol*rv[j]) {
				t.Errorf("block %d: λ_%d = %.17g, want %.17g", bi, j, gv[j], rv[j])
			}
			if r, _ := ref.Blocks[bi].Vectors.Dims(); r == 0 {
				if g, _ := got.Blocks[bi].Vectors.Dims(); g != 0 {
					t.Errorf("block %d: %d eigenvectors, want none", bi, g)
				}
				continue
			}
			a, c := got.Blocks[bi].Vector(j), ref.Blocks[bi].Vector(j)
			worst, dot := 0.0, 0.0
			for i := range c {
				worst = math.Max(worst, math.Abs(a[i]-c[i]))
				dot += a[i] * c[i]
			}
			if !(worst <= 1e-6 && 1-dot <= tol) {
				t.Errorf("block %d: eigenvector %d differs by %g, overlap %.17g", bi, j, worst, dot)
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
	return chunkingBudgetOf(t, vivit.PlanTopEigen, m, b, k, o, held)
}

// chunkingBudgetOf is chunkingBudget for the entry point planned by plan.
func chunkingBudgetOf(t *testing.T, plan func(*vivit.Model, *vivit.Batch, int, *vivit.Options) (*vivit.Plan, error), m *vivit.Model, b *vivit.Batch, k int, o *vivit.Options, held int) *vivit.Plan {
	t.Helper()
	for mib := int64(512); mib > 0; mib-- {
		o.MemoryBudget = mib << 20
		pl, err := plan(m, b, k, o)
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

// TestChunkedSpectrum checks the chunked Spectrum against an unbudgeted
// one, with per-layer groups (the parameter side for the small blocks).
func TestChunkedSpectrum(t *testing.T) {
	m, b, err := bench.ThreeC3D(6, 4)
	if err != nil {
		t.Fatal(err)
	}
	base := vivit.Options{MCSamples: 1, Seed: 2, Groups: vivit.LayerGroups(m)}
	ref, err := vivit.Spectrum(m, b, &base)
	if err != nil {
		t.Fatal(err)
	}
	o := base
	chunkingBudget(t, m, b, 6, &o, 1)
	got, err := vivit.Spectrum(m, b, &o)
	if err != nil {
		t.Fatal(err)
	}
	for bi, rb := range ref.Blocks {
		gb := got.Blocks[bi]
		if len(gb.Values) != len(rb.Values) || gb.Side != rb.Side {
			t.Fatalf("block %s: %d values on the %s side, want %d on the %s side", rb.Name, len(gb.Values), gb.Side, len(rb.Values), rb.Side)
		}
		for j := range rb.Values {
			if !(math.Abs(gb.Values[j]-rb.Values[j]) <= 1e-9*rb.Values[0]) {
				t.Errorf("block %s: λ_%d = %g, want %g", rb.Name, j, gb.Values[j], rb.Values[j])
			}
		}
		if !(math.Abs(gb.Trace-rb.Trace) <= 1e-12*rb.Trace) {
			t.Errorf("block %s: trace %g, want %g", rb.Name, gb.Trace, rb.Trace)
		}
	}
}

// TestPeakWithinPlan measures the peak heap of chunked and unchunked runs
// (with the Go memory limit set to the budget, as the CLI does) and checks
// it stays within the budget the plan was made for (the plan's estimate
// plus the tenth it leaves as headroom), with a margin of another tenth
// for garbage the collector has not reclaimed yet: measured 0.6–1.3 of
// the estimate, the highest with one held chunk. Directional and
// ComputeStats on chunked plans too; 3c3d (sparse factors after max
// pooling) and ResNet-8 (BatchNorm, whose blocks copy what they need of
// the factor rows, and residual sums), also unchunked at the least budget
// that plans the whole batch at once.
func TestPeakWithinPlan(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measures memory: not in -short or under the race detector")
	}
	cnn, cnnBatch, err := bench.ThreeC3D(24, 6)
	if err != nil {
		t.Fatal(err)
	}
	resnet, resnetBatch, err := bench.ResNet8(16, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		net   string
		entry string
		mc    int
		held  int // 0: ComputeStats in chunks of 4; −1: the whole batch at once
	}{
		{"3c3d", "TopEigen", 0, 1}, {"3c3d", "TopEigen", 0, 3}, {"3c3d", "TopEigen", 1, 2}, {"3c3d", "Directional", 0, 1}, {"3c3d", "ComputeStats", 0, 0},
		{"resnet8", "TopEigen", 0, 1}, {"resnet8", "TopEigen", 0, -1}, {"resnet8", "Directional", 0, 1}, {"resnet8", "ComputeStats", 0, 0},
	} {
		m, b := cnn, cnnBatch
		if tc.net == "resnet8" {
			m, b = resnet, resnetBatch
		}
		name := fmt.Sprintf("%s %s mc=%d", tc.net, tc.entry, tc.mc)
		o := &vivit.Options{MCSamples: tc.mc, Seed: 1}
		var pl *vivit.Plan
		var run func() (*vivit.Plan, error)
		switch tc.entry {
		case "TopEigen":
			if tc.held < 0 {
				// The least budget (in MiB) that runs the whole batch.
				for mib := int64(512); mib > 0; mib-- {
					o.MemoryBudget = mib << 20
					p, err := vivit.PlanTopEigen(m, b, 5, o)
					if err != nil || p.Chunked() {
						break
					}
					pl = p
				}
				if pl == nil {
					t.Fatalf("%s: chunked within 512 MiB", name)
				}
				o.MemoryBudget = pl.Budget
			} else {
				pl = chunkingBudget(t, m, b, 5, o, tc.held)
			}
			run = func() (*vivit.Plan, error) { r, err := vivit.TopEigen(m, b, 5, o); return planOf(r, err) }
		case "Directional":
			pl = chunkingBudgetOf(t, vivit.PlanDirectional, m, b, 5, o, tc.held)
			run = func() (*vivit.Plan, error) { r, err := vivit.Directional(m, b, 5, o); return planOf(r, err) }
		default:
			for mib := int64(512); mib > 0; mib-- {
				o.MemoryBudget = mib << 20
				if p, err := vivit.PlanStats(m, b, o); err != nil || p.Chunk <= 4 {
					pl = p
					break
				}
			}
			if pl == nil {
				t.Fatal("no budget chunks ComputeStats in chunks of 4")
			}
			run = func() (*vivit.Plan, error) {
				st, err := vivit.ComputeStats(m, b, o)
				if err != nil {
					return nil, err
				}
				return st.Plan, nil
			}
		}
		old := debug.SetMemoryLimit(o.MemoryBudget)
		var got *vivit.Plan
		peak := bench.PeakHeap(func() { got, err = run() })
		debug.SetMemoryLimit(old)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: plan %v, measured peak heap %s (%.2f of the estimate)", name, pl, vivit.FormatBytes(int64(peak)), float64(peak)/float64(pl.Bytes))
		if !(int64(peak) <= pl.Budget+pl.Budget/10) {
			t.Errorf("%s: peak heap %d bytes above the budget %d (plan %v)", name, peak, pl.Budget, pl)
		}
		if got.Chunked() != (tc.held >= 0) {
			t.Errorf("%s: plan %v, want it chunked %v", name, got, tc.held >= 0)
		}
	}
}

func planOf(r *vivit.Result, err error) (*vivit.Plan, error) {
	if err != nil {
		return nil, err
	}
	return r.Plan, nil
}

// TestChunkedCancel checks that a chunked run stops once its context is
// cancelled while the Gram matrix is assembled, with an error wrapping
// context.Canceled.
func TestChunkedCancel(t *testing.T) {
	m, b, err := bench.ThreeC3D(8, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, spectrum := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		o := &vivit.Options{MCSamples: 1, Seed: 1, Context: ctx}
		chunkingBudget(t, m, b, 3, o, 1)
		o.Progress = func(stage string, _, _ int) {
			if stage == "gram" {
				cancel()
			}
		}
		if spectrum {
			_, err = vivit.Spectrum(m, b, o)
		} else {
			_, err = vivit.TopEigen(m, b, 3, o)
		}
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("spectrum %v: got %v, want context.Canceled", spectrum, err)
		}
	}
}

// TestChunkedDirectional checks Directional on a chunked plan against an
// unbudgeted run: eigenpairs, γ and λ, exact and Monte-Carlo, with a
// curvature sub-batch (λ from the whole batch's factors), without
// eigenvectors (γ's sign from the Gram eigenvectors) and with a
// parameter-side block (whose Gram eigenvectors the chunked run forms from
// the chunks).
func TestChunkedDirectional(t *testing.T) {
	n := 8
	if testing.Short() {
		n = 7
	}
	m, b, err := bench.ThreeC3D(n, 4)
	if err != nil {
		t.Fatal(err)
	}
	// The output layer's bias (10 parameters) alone is a parameter-side
	// block; the rest of the network is a Gram-side one.
	var rest []string
	ps := m.Params()
	for _, p := range ps[:len(ps)-1] {
		rest = append(rest, p.Name)
	}
	groups := []vivit.Group{{Name: "bias", Params: []string{ps[len(ps)-1].Name}}, {Name: "rest", Params: rest}}
	for _, tc := range []struct {
		name string
		o    vivit.Options
	}{
		{"exact", vivit.Options{}},
		{"mc=1 sub-batch", vivit.Options{MCSamples: 1, Seed: 3, SubBatch: []int{1, 2, 4, 5, 6}}},
		{"exact sub-batch skip-vectors", vivit.Options{SubBatch: []int{0, 3, 5, 6}, SkipVectors: true}},
		{"mc=2 groups", vivit.Options{MCSamples: 2, Seed: 1, Groups: groups}},
		{"exact groups sub-batch skip-vectors", vivit.Options{Groups: groups, SubBatch: []int{0, 1, 2, 3, 4, 5}, SkipVectors: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := vivit.Directional(m, b, 3, &tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if ref.Plan.Chunked() {
				t.Fatalf("unbudgeted run planned %v", ref.Plan)
			}
			o := tc.o
			pl := chunkingBudgetOf(t, vivit.PlanDirectional, m, b, 3, &o, 1)
			t.Log(pl)
			got, err := vivit.Directional(m, b, 3, &o)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Plan.Chunked() {
				t.Fatalf("budget %d did not chunk: %v", o.MemoryBudget, got.Plan)
			}
			compareResults(t, got, ref, 1e-9)
			sides := map[string]bool{}
			for bi, rb := range ref.Blocks {
				gb := got.Blocks[bi]
				sides[rb.Side] = true
				if gb.Side != rb.Side {
					t.Errorf("block %d: side %s, want %s", bi, gb.Side, rb.Side)
				}
				if len(rb.Values) == 0 {
					continue
				}
				compareDense(t, fmt.Sprintf("block %d: γ", bi), gb.Gamma, rb.Gamma, 1e-9)
				compareDense(t, fmt.Sprintf("block %d: λ", bi), gb.Lambda, rb.Lambda, 1e-9)
			}
			if tc.o.Groups != nil && !(sides["gram"] && sides["parameters"]) {
				t.Errorf("sides %v: want both", sides)
			}
		})
	}
}

// compareDense checks got against want entrywise to tol times want's
// largest magnitude.
func compareDense(t *testing.T, what string, got, want *mat.Dense, tol float64) {
	t.Helper()
	if got == nil || want == nil {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	r, c := want.Dims()
	if gr, gc := got.Dims(); gr != r || gc != c {
		t.Fatalf("%s: %d×%d, want %d×%d", what, gr, gc, r, c)
	}
	scale := mat.Norm(want, math.Inf(1))
	worst := 0.0
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			d := math.Abs(got.At(i, j) - want.At(i, j))
			if math.IsNaN(d) {
				d = math.Inf(1)
			}
			worst = math.Max(worst, d)
		}
	}
	if !(scale > 0 && worst <= tol*scale) {
		t.Errorf("%s differs by %g (scale %g)", what, worst, scale)
	}
}

// TestChunkedStats checks ComputeStats on a chunked plan against an
// unbudgeted run: every statistic to 1e-9 relative (the variance from
// chunks combined pairwise, the diagonal GGN summed over chunks), exact
// and Monte-Carlo with a curvature sub-batch.
func TestChunkedStats(t *testing.T) {
	n := 8
	m, b, err := bench.ThreeC3D(n, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    vivit.Options
	}{
		{"exact", vivit.Options{}},
		{"mc=1 sub-batch", vivit.Options{MCSamples: 1, Seed: 2, SubBatch: []int{0, 2, 3, 5}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := vivit.ComputeStats(m, b, &tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if ref.Plan == nil || ref.Plan.Chunked() {
				t.Fatalf("unbudgeted run planned %v", ref.Plan)
			}
			o := tc.o
			var pl *vivit.Plan
			for mib := int64(256); mib > 0 && pl == nil; mib-- {
				o.MemoryBudget = mib << 20
				p, err := vivit.PlanStats(m, b, &o)
				if err != nil {
					break
				}
				if p.Chunk <= n/2 {
					pl = p
				}
			}
			if pl == nil {
				t.Fatalf("no budget chunks the batch in chunks of %d", n/2)
			}
			t.Log(pl)
			got, err := vivit.ComputeStats(m, b, &o)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Plan.Chunked() {
				t.Fatalf("not chunked: %v", got.Plan)
			}
			scalar := func(what string, g, r float64) {
				if !(math.Abs(g-r) <= 1e-9*math.Abs(r)) {
					t.Errorf("%s = %.17g, want %.17g", what, g, r)
				}
			}
			vector := func(what string, g, r []float64) {
				t.Helper()
				compareDense(t, what, mat.NewDense(1, len(g), g), mat.NewDense(1, len(r), r), 1e-9)
			}
			scalar("loss", got.Loss, ref.Loss)
			scalar("gradient norm", got.GradNorm, ref.GradNorm)
			scalar("GGN trace", got.GGNTrace, ref.GGNTrace)
			scalar("gradient SNR", got.GradSNR, ref.GradSNR)
			vector("per-sample losses", got.PerSampleLoss, ref.PerSampleLoss)
			vector("gradient", got.Grad, ref.Grad)
			vector("per-sample gradient norms", got.PerSampleGradNorms, ref.PerSampleGradNorms)
			vector("gradient variance", got.GradVariance, ref.GradVariance)
			vector("diagonal GGN", got.DiagGGN, ref.DiagGGN)
			if len(got.Layers) != len(ref.Layers) {
				t.Fatalf("%d layers, want %d", len(got.Layers), len(ref.Layers))
			}
			for i, rl := range ref.Layers {
				gl := got.Layers[i]
				scalar(rl.Layer+" gradient norm", gl.GradNorm, rl.GradNorm)
				scalar(rl.Layer+" GGN trace", gl.GGNTrace, rl.GGNTrace)
				scalar(rl.Layer+" SNR", gl.SNR, rl.SNR)
			}
		})
	}
}
