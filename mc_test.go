package vivit_test

import (
	"math"
	"testing"

	"github.com/vivit-go/vivit"
)

// TestMonteCarloTraceUnbiased checks that the Monte-Carlo GGN is unbiased:
// its trace (the sum of its eigenvalues), averaged over seeds, matches the
// exact trace within a few standard errors; the diagonal too.
func TestMonteCarloTraceUnbiased(t *testing.T) {
	for _, name := range []string{"digits_mlp", "mse_regression", "resnet_digits", "vit_digits", "resmlp_silu_mse", "dwsep_rgb"} {
		t.Run(name, func(t *testing.T) {
			c, m, b := loadCase(t, name)
			exact := c.Expected.Stats.GGNTrace
			seeds := 200
			if testing.Short() {
				seeds = 60 // still a 4-s.e. test, only wider
			}
			var sum, sum2 float64
			for seed := uint64(0); seed < uint64(seeds); seed++ {
				st, err := vivit.ComputeStats(m, b, &vivit.Options{MCSamples: 1, Seed: seed})
				if err != nil {
					t.Fatal(err)
				}
				sum += st.GGNTrace
				sum2 += st.GGNTrace * st.GGNTrace
			}
			ns := float64(seeds)
			mean := sum / ns
			se := math.Sqrt((sum2/ns - mean*mean) / (ns - 1))
			if se == 0 || !(math.Abs(mean-exact) <= 4*se) {
				t.Errorf("MC trace mean %.6g ± %.3g (s.e.), exact %.6g: off by %.1f s.e.", mean, se, exact, math.Abs(mean-exact)/se)
			}
			t.Logf("MC trace mean %.6g ± %.3g, exact %.6g (%.2f s.e.)", mean, se, exact, math.Abs(mean-exact)/se)
		})
	}
}

// TestMonteCarloDiagonalUnbiased checks every entry of the Monte-Carlo
// diagonal GGN against the exact one: over many seeds the squared z-scores
// of the entries average to about 1 (a χ² test over all parameters).
func TestMonteCarloDiagonalUnbiased(t *testing.T) {
	c, m, b := loadCase(t, "mse_regression")
	exact, err := c.Array("diag_ggn")
	if err != nil {
		t.Fatal(err)
	}
	const seeds = 300 // fewer make the variance estimates too rough for the χ² check
	p := len(exact.Data)
	sum, sum2 := make([]float64, p), make([]float64, p)
	for seed := uint64(0); seed < uint64(seeds); seed++ {
		st, err := vivit.ComputeStats(m, b, &vivit.Options{MCSamples: 1, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range st.DiagGGN {
			sum[i] += v
			sum2[i] += v * v
		}
	}
	var chi2 float64
	used := 0
	for i := range sum {
		ns := float64(seeds)
		mean := sum[i] / ns
		se2 := (sum2[i]/ns - mean*mean) / (ns - 1)
		if se2 <= 1e-30 {
			continue
		}
		z := (mean - exact.Data[i]) / math.Sqrt(se2)
		chi2 += z * z
		used++
	}
	if r := chi2 / float64(used); r < 0.7 || !(r <= 1.4) {
		t.Errorf("mean squared z-score of the MC diagonal %.3f over %d entries, want ≈ 1", r, used)
	} else {
		t.Logf("mean squared z-score %.3f over %d entries", r, used)
	}
}

// TestMonteCarloSpectrumTrace checks the Gram route of the MC GGN: the sum
// of its nonzero eigenvalues equals its diagonal's sum for the same seed,
// and averages to the exact trace.
func TestMonteCarloSpectrumTrace(t *testing.T) {
	_, m, b := loadCase(t, "digits_mlp")
	var sum, sum2 float64
	const seeds = 40
	exact := 0.0
	for seed := uint64(0); seed < seeds; seed++ {
		o := &vivit.Options{MCSamples: 2, Seed: seed}
		sp, err := vivit.Spectrum(m, b, o)
		if err != nil {
			t.Fatal(err)
		}
		st, err := vivit.ComputeStats(m, b, o)
		if err != nil {
			t.Fatal(err)
		}
		var s float64
		for _, v := range sp.Blocks[0].Values {
			s += v
		}
		if !(math.Abs(s-st.GGNTrace) <= 1e-9*st.GGNTrace) || !(math.Abs(sp.Blocks[0].Trace-st.GGNTrace) <= 1e-12*st.GGNTrace) {
			t.Fatalf("seed %d: eigenvalue sum %.15g, Gram trace %.15g, diagonal sum %.15g", seed, s, sp.Blocks[0].Trace, st.GGNTrace)
		}
		if sp.Columns != 2 || len(sp.Blocks[0].Values) > 2*b.Len() {
			t.Fatalf("MC Gram has %d columns per sample and rank %d", sp.Columns, len(sp.Blocks[0].Values))
		}
		sum += s
		sum2 += s * s
	}
	ex, err := vivit.Spectrum(m, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	exact = ex.Blocks[0].Trace
	mean := sum / seeds
	se := math.Sqrt((sum2/seeds - mean*mean) / (seeds - 1))
	if !(math.Abs(mean-exact) <= 4*se) {
		t.Errorf("MC trace mean %.6g ± %.3g, exact %.6g", mean, se, exact)
	}
}

// TestMonteCarloReproducible checks that a seed fixes the result, that
// different seeds differ, and that a sample's draws do not depend on the
// sub-batch it is in.
func TestMonteCarloReproducible(t *testing.T) {
	_, m, b := loadCase(t, "digits_mlp")
	run := func(o *vivit.Options) []float64 {
		r, err := vivit.TopEigen(m, b, 5, o)
		if err != nil {
			t.Fatal(err)
		}
		return r.Blocks[0].Values
	}
	a := run(&vivit.Options{MCSamples: 3, Seed: 7})
	a2 := run(&vivit.Options{MCSamples: 3, Seed: 7})
	c := run(&vivit.Options{MCSamples: 3, Seed: 8})
	for i := range a {
		if a[i] != a2[i] {
			t.Fatalf("same seed, different eigenvalue %d: %v vs %v", i, a[i], a2[i])
		}
	}
	if a[0] == c[0] {
		t.Error("different seeds gave the same leading eigenvalue")
	}
	// Sub-batch of all samples listed in another order: same draws, same result.
	perm := make([]int, b.Len())
	for i := range perm {
		perm[i] = b.Len() - 1 - i
	}
	p := run(&vivit.Options{MCSamples: 3, Seed: 7, SubBatch: perm})
	for i := range a {
		if !(math.Abs(a[i]-p[i]) <= 1e-12*a[0]) {
			t.Fatalf("permuted sub-batch changed eigenvalue %d: %v vs %v", i, a[i], p[i])
		}
	}
}
