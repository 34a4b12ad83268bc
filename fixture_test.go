package vivit_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/internal/fixture"
)

// fixtureCases are the reference cases the engine reproduces: sequential
// checkpoints and ONNX graphs.
var fixtureCases = append(slices.Clone(fixture.Names), fixture.GraphNames...)

func loadCase(t *testing.T, name string) (*fixture.Case, *vivit.Model, *vivit.Batch) {
	t.Helper()
	return fixture.MustOpen(t, name)
}

// maxRelErr returns max_i |got_i − want_i| / max_i |want_i|.
func maxRelErr(got, want []float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	scale := floats.Norm(want, math.Inf(1))
	var e float64
	for i := range got {
		e = math.Max(e, math.Abs(got[i]-want[i]))
	}
	return e / scale
}

func flat(rows [][]float64) []float64 {
	var out []float64
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func TestFixtureTopEigen(t *testing.T) {
	for _, name := range fixtureCases {
		t.Run(name, func(t *testing.T) {
			c, m, b := loadCase(t, name)
			e := c.Expected
			if got := m.NumParams(); got != e.NumParams {
				t.Fatalf("NumParams = %d, want %d", got, e.NumParams)
			}
			res, err := vivit.Directional(m, b, e.K, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !(math.Abs(res.Loss-e.Loss) <= 1e-12*e.Loss) {
				t.Errorf("loss = %.17g, want %.17g", res.Loss, e.Loss)
			}
			blk := res.Blocks[0]
			if err := maxRelErr(blk.Values, e.TopEigenvalues); !(err <= 1e-12) {
				t.Errorf("top eigenvalues: max rel error %.3g\n got %v\nwant %v", err, blk.Values, e.TopEigenvalues)
			}
			want, err := c.Array("eigvecs")
			if err != nil {
				t.Fatal(err)
			}
			p := e.NumParams
			var worst float64
			for j := 0; j < e.K; j++ {
				got := blk.Vector(j)
				ref := want.Data[j*p : (j+1)*p]
				err := maxRelErr(got, ref)
				worst = math.Max(worst, err)
				if !(err <= 1e-9) {
					t.Errorf("eigenvector %d: max rel error %.3g (relative gap %.3g)", j, err, e.TopEigengaps[j])
				}
			}
			t.Logf("eigenvalues %.2g, eigenvectors %.2g, γ %.2g, λ %.2g (max relative errors)", maxRelErr(blk.Values, e.TopEigenvalues), worst,
				maxRelErr(flat(denseRows(blk.Gamma)), flat(e.Gamma)), maxRelErr(flat(denseRows(blk.Lambda)), flat(e.Lambda)))
			if err := maxRelErr(flat(denseRows(blk.Gamma)), flat(e.Gamma)); !(err <= 1e-9) {
				t.Errorf("gamma: max rel error %.3g", err)
			}
			if err := maxRelErr(flat(denseRows(blk.Lambda)), flat(e.Lambda)); !(err <= 1e-9) {
				t.Errorf("lambda: max rel error %.3g", err)
			}
		})
	}
}

func TestFixtureSpectrum(t *testing.T) {
	for _, name := range fixtureCases {
		t.Run(name, func(t *testing.T) {
			c, m, b := loadCase(t, name)
			e := c.Expected
			res, err := vivit.Spectrum(m, b, nil)
			if err != nil {
				t.Fatal(err)
			}
			vals := res.Blocks[0].Values
			if len(vals) != e.Rank {
				t.Fatalf("rank = %d, want %d", len(vals), e.Rank)
			}
			if err := maxRelErr(vals, e.Eigenvalues); !(err <= 1e-12) {
				t.Errorf("spectrum: max rel error %.3g", err)
			}
			if tr := res.Blocks[0].Trace; !(math.Abs(tr-e.Stats.GGNTrace) <= 1e-12*e.Stats.GGNTrace) {
				t.Errorf("trace = %.17g, want %.17g", tr, e.Stats.GGNTrace)
			}
		})
	}
}

func TestFixtureSubBatch(t *testing.T) {
	for _, name := range fixtureCases {
		t.Run(name, func(t *testing.T) {
			c, m, b := loadCase(t, name)
			sb := c.Expected.SubBatch
			if sb == nil {
				t.Skip("no sub-batch reference")
			}
			res, err := vivit.Spectrum(m, b, &vivit.Options{SubBatch: sb.Indices})
			if err != nil {
				t.Fatal(err)
			}
			if err := maxRelErr(res.Blocks[0].Values, sb.Eigenvalues); !(err <= 1e-12) {
				t.Errorf("sub-batch spectrum: max rel error %.3g (got %d values, want %d)", err, len(res.Blocks[0].Values), len(sb.Eigenvalues))
			}
			top, err := vivit.TopEigen(m, b, 5, &vivit.Options{SubBatch: sb.Indices})
			if err != nil {
				t.Fatal(err)
			}
			if err := maxRelErr(top.Blocks[0].Values, sb.Eigenvalues[:5]); !(err <= 1e-12) {
				t.Errorf("sub-batch top-5: max rel error %.3g", err)
			}
		})
	}
}

func TestFixturePerLayer(t *testing.T) {
	for _, name := range fixtureCases {
		t.Run(name, func(t *testing.T) {
			c, m, b := loadCase(t, name)
			opts := &vivit.Options{Groups: vivit.LayerGroups(m)}
			top, err := vivit.TopEigen(m, b, c.Expected.K, opts)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := vivit.Spectrum(m, b, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(top.Blocks) != len(c.Expected.PerLayer) {
				t.Fatalf("%d blocks, want %d", len(top.Blocks), len(c.Expected.PerLayer))
			}
			for i, want := range c.Expected.PerLayer {
				blk := top.Blocks[i]
				if got := blk.Layout.Names; !slices.Equal(got, want.Params) {
					t.Errorf("block %d params %v, want %v", i, got, want.Params)
				}
				if err := maxRelErr(blk.Values, want.TopEigenvalues); !(err <= 1e-12) {
					t.Errorf("layer %s: top eigenvalues max rel error %.3g\n got %v\nwant %v", want.Layer, err, blk.Values, want.TopEigenvalues)
				}
				if got := len(spec.Blocks[i].Values); got != want.Rank {
					t.Errorf("layer %s: rank %d, want %d", want.Layer, got, want.Rank)
				}
			}
		})
	}
}

func TestFixtureStats(t *testing.T) {
	for _, name := range fixtureCases {
		t.Run(name, func(t *testing.T) {
			c, m, b := loadCase(t, name)
			e := c.Expected
			st, err := vivit.ComputeStats(m, b, nil)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, got, want []float64, tol float64) {
				t.Helper()
				if err := maxRelErr(got, want); !(err <= tol) {
					t.Errorf("%s: max rel error %.3g", what, err)
				}
			}
			check("per-sample loss", st.PerSampleLoss, e.PerSampleLoss, 1e-12)
			check("loss", []float64{st.Loss}, []float64{e.Loss}, 1e-12)
			check("grad norm", []float64{st.GradNorm}, []float64{e.GradNorm}, 1e-12)
			check("per-sample grad norms", st.PerSampleGradNorms, e.Stats.PerSampleGradNorms, 1e-12)
			check("GGN trace", []float64{st.GGNTrace}, []float64{e.Stats.GGNTrace}, 1e-12)
			for _, f := range []struct {
				name string
				got  []float64
			}{{"grad", st.Grad}, {"diag_ggn", st.DiagGGN}, {"grad_variance", st.GradVariance}} {
				want, err := c.Array(f.name)
				if err != nil {
					t.Fatal(err)
				}
				check(f.name, f.got, want.Data, 1e-12)
			}
			_, grad, err := vivit.Gradient(m, b)
			if err != nil {
				t.Fatal(err)
			}
			check("Gradient", grad, st.Grad, 1e-14)
			if len(st.Layers) != len(e.Stats.Layers) {
				t.Fatalf("%d layers, want %d", len(st.Layers), len(e.Stats.Layers))
			}
			for i, want := range e.Stats.Layers {
				got := st.Layers[i]
				if got.Layer != string(want.Layer) || !slices.Equal(got.Params, want.Params) {
					t.Errorf("layer %d: %s %v, want %s %v", i, got.Layer, got.Params, want.Layer, want.Params)
				}
				check(fmt.Sprintf("layer %s grad norm", want.Layer), []float64{got.GradNorm}, []float64{want.GradNorm}, 1e-12)
				check(fmt.Sprintf("layer %s GGN trace", want.Layer), []float64{got.GGNTrace}, []float64{want.GGNTrace}, 1e-12)
				check(fmt.Sprintf("layer %s SNR", want.Layer), []float64{got.SNR}, []float64{*want.SNR}, 1e-10)
			}
		})
	}
}

// TestSkipVectors checks Options.SkipVectors on every fixture: no
// eigenvectors and no map-back time, the same eigenvalues and λ_nk, and
// γ_nk up to one sign per direction, that of the Gram eigenvector's
// convention. Newton ignores the knob.
func TestSkipVectors(t *testing.T) {
	for _, name := range fixtureCases {
		t.Run(name, func(t *testing.T) {
			c, m, b := loadCase(t, name)
			full, err := vivit.Directional(m, b, c.Expected.K, nil)
			if err != nil {
				t.Fatal(err)
			}
			skip, err := vivit.Directional(m, b, c.Expected.K, &vivit.Options{SkipVectors: true})
			if err != nil {
				t.Fatal(err)
			}
			fb, sb := full.Blocks[0], skip.Blocks[0]
			if !sb.Vectors.IsEmpty() || skip.Timing.MapBack != 0 {
				t.Errorf("vectors %v, map-back time %v: want none", sb.Vectors.IsEmpty(), skip.Timing.MapBack)
			}
			if !slices.Equal(fb.Values, sb.Values) {
				t.Errorf("eigenvalues differ: %v, want %v", sb.Values, fb.Values)
			}
			if err := maxRelErr(sb.Lambda.RawMatrix().Data, fb.Lambda.RawMatrix().Data); !(err <= 1e-13) {
				t.Errorf("λ differs by %.3g", err)
			}
			n, k := fb.Gamma.Dims()
			for j := 0; j < k; j++ {
				var same, flipped float64
				for i := 0; i < n; i++ {
					g, f := sb.Gamma.At(i, j), fb.Gamma.At(i, j)
					same = math.Max(same, math.Abs(g-f))
					flipped = math.Max(flipped, math.Abs(g+f))
				}
				if scale := floats.Norm(fb.Gamma.RawMatrix().Data, math.Inf(1)); !(math.Min(same, flipped) <= 1e-12*scale) {
					t.Errorf("γ of direction %d differs beyond a sign: %.3g / %.3g", j, same, flipped)
				}
			}
			s1, err := vivit.Newton(m, b, 3, vivit.Damping{Kind: vivit.Constant, Delta: 0.1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			s2, err := vivit.Newton(m, b, 3, vivit.Damping{Kind: vivit.Constant, Delta: 0.1}, &vivit.Options{SkipVectors: true})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s1.Step, s2.Step) {
				t.Error("Newton's step depends on SkipVectors")
			}
		})
	}
}

// TestPrecisionFloat32 checks Options.Precision = Float32 on every fixture:
// eigenvalues within float32 rounding of λ₁, eigenvectors within float32
// rounding over their relative gap, and a result that differs from the
// float64 run (the float32 products really ran).
func TestPrecisionFloat32(t *testing.T) {
	for _, name := range fixtureCases {
		t.Run(name, func(t *testing.T) {
			c, m, b := loadCase(t, name)
			e := c.Expected
			res, err := vivit.TopEigen(m, b, e.K, &vivit.Options{Precision: vivit.Float32})
			if err != nil {
				t.Fatal(err)
			}
			blk := res.Blocks[0]
			valErr := maxRelErr(blk.Values, e.TopEigenvalues)
			if !(valErr <= 1e-5) {
				t.Errorf("top eigenvalues: max error %.3g·λ₁, want float32 rounding", valErr)
			}
			if valErr == 0 {
				t.Error("eigenvalues exactly those of float64: the float32 products did not run")
			}
			want, err := c.Array("eigvecs")
			if err != nil {
				t.Fatal(err)
			}
			p := e.NumParams
			for j := 0; j < e.K; j++ {
				err := maxRelErr(blk.Vector(j), want.Data[j*p:(j+1)*p])
				if bound := 1e-5 / e.TopEigengaps[j]; !(err <= bound) {
					t.Errorf("eigenvector %d: max rel error %.3g > %.3g (relative gap %.3g)", j, err, bound, e.TopEigengaps[j])
				}
			}
			t.Logf("eigenvalues %.2g", valErr)
		})
	}
	_, m, b := loadCase(t, fixtureCases[0])
	if _, err := vivit.TopEigen(m, b, 1, &vivit.Options{Precision: 7}); err == nil || !strings.Contains(err.Error(), "Precision must be Float64 or Float32") {
		t.Errorf("Precision 7: error %v", err)
	}
}
