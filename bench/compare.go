package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
)

// Approx is one approximation of the exact mini-batch GGN.
type Approx struct {
	MCSamples int    // 0: exact loss-Hessian factor
	SubBatch  int    // curvature from this many random samples; 0: all
	Groups    string // "full" or "layer" (block-diagonal per layer)
	// Samples, if not nil, are the curvature samples (0-based indices),
	// the same for every seed; SubBatch is then ignored.
	Samples []int
	// Precision of the Gram products and map-back (vivit.Float32 or the
	// default float64).
	Precision vivit.Precision
}

// Name is a short label such as "exact", "mc=2", "sub=16", "mc=1+sub=8/layer".
func (a Approx) Name() string {
	var s string
	switch {
	case a.Samples != nil && a.MCSamples > 0:
		s = fmt.Sprintf("mc=%d+samples=%d", a.MCSamples, len(a.Samples))
	case a.Samples != nil:
		s = fmt.Sprintf("samples=%d", len(a.Samples))
	case a.MCSamples > 0 && a.SubBatch > 0:
		s = fmt.Sprintf("mc=%d+sub=%d", a.MCSamples, a.SubBatch)
	case a.MCSamples > 0:
		s = fmt.Sprintf("mc=%d", a.MCSamples)
	case a.SubBatch > 0:
		s = fmt.Sprintf("sub=%d", a.SubBatch)
	default:
		s = "exact"
	}
	if a.Groups == "layer" {
		s += "/layer"
	}
	if a.Precision == vivit.Float32 {
		s += "/float32"
	}
	return s
}

// random reports whether the approximation depends on the seed.
func (a Approx) random() bool { return a.MCSamples > 0 || (a.SubBatch > 0 && a.Samples == nil) }

// DefaultGrid returns the approximations compared by default for a batch of
// n samples: exact; Monte-Carlo with M ∈ {1, 2, 5}; sub-batches of n/2,
// n/4, n/8; MC M=1 on a sub-batch of n/4; and exact and MC M=1 per layer.
func DefaultGrid(n int) []Approx {
	g := []Approx{{Groups: "full"}}
	for _, m := range []int{1, 2, 5} {
		g = append(g, Approx{MCSamples: m, Groups: "full"})
	}
	for _, d := range []int{2, 4, 8} {
		if n/d >= 1 {
			g = append(g, Approx{SubBatch: n / d, Groups: "full"})
		}
	}
	if n/4 >= 1 {
		g = append(g, Approx{MCSamples: 1, SubBatch: n / 4, Groups: "full"})
	}
	return append(g, Approx{Groups: "layer"}, Approx{MCSamples: 1, Groups: "layer"})
}

// Row is the comparison of one approximation with the exact GGN. Random
// approximations are averaged over seeds; Std fields give the spread
// (population standard deviation over seeds).
type Row struct {
	Approximation   string  `json:"approximation"`
	MCSamples       int     `json:"mc_samples"`
	SubBatch        int     `json:"subbatch"` // samples in the curvature batch
	Groups          string  `json:"groups"`
	Seeds           int     `json:"seeds"`
	Seconds         float64 `json:"seconds"`
	SecondsStd      float64 `json:"seconds_std"`
	PeakMiB         float64 `json:"peak_mib"`
	EigRelError     float64 `json:"eigenvalue_rel_error"`
	EigRelErrorStd  float64 `json:"eigenvalue_rel_error_std"`
	Overlap         float64 `json:"overlap"`
	OverlapStd      float64 `json:"overlap_std"`
	GramSeconds     float64 `json:"gram_seconds"`
	EigenSeconds    float64 `json:"eigensolve_seconds"`
	BackpropSeconds float64 `json:"backprop_seconds"`
}

// Settings of Compare; the zero value means k = 10, 5 seeds, DefaultGrid.
type Settings struct {
	K     int
	Seeds int
	Grid  []Approx
	// Progress, if not nil, is called before each approximation is run.
	Progress func(i, total int, a Approx)
	// Context stops the comparison (vivit.Options.Context); nil means
	// never.
	Context context.Context
}

// Compare runs every approximation of the grid on the batch and compares
// its top-k eigenpairs with those of the exact mini-batch GGN: the mean
// relative error of the eigenvalues, mean_j |λ̃_j − λ_j|/λ_j, and the
// overlap of the top-k eigenspaces, ‖P̃ P‖_F²/k (1 for the same subspace, 0
// for orthogonal ones). For block-diagonal approximations the top-k pairs
// are the k largest over all blocks, embedded in the whole network. The
// exact row comes first.
func Compare(m *vivit.Model, b *vivit.Batch, s Settings) ([]Row, error) {
	if s.K == 0 {
		s.K = 10
	}
	if s.Seeds == 0 {
		s.Seeds = 5
	}
	if s.K < 1 || s.Seeds < 1 {
		return nil, fmt.Errorf("bench: k and seeds must be positive")
	}
	if s.Grid == nil {
		s.Grid = DefaultGrid(b.Len())
	}
	exact, err := vivit.TopEigen(m, b, s.K, &vivit.Options{Context: s.Context})
	if err != nil {
		return nil, err
	}
	ref := exact.Blocks[0]
	var rows []Row
	for i, a := range s.Grid {
		if s.Progress != nil {
			s.Progress(i, len(s.Grid), a)
		}
		if a.SubBatch < 0 || a.SubBatch > b.Len() || a.MCSamples < 0 {
			return nil, fmt.Errorf("bench: %s: sub-batch must be in [0, %d] and MC samples ≥ 0", a.Name(), b.Len())
		}
		if a.Samples != nil {
			a.SubBatch = len(a.Samples)
		}
		seeds := 1
		if a.random() {
			seeds = s.Seeds
		}
		row := Row{Approximation: a.Name(), MCSamples: a.MCSamples, SubBatch: a.SubBatch, Groups: a.Groups, Seeds: seeds}
		if row.SubBatch == 0 {
			row.SubBatch = b.Len()
		}
		if row.Groups == "" {
			row.Groups = "full"
		}
		var secs, errs, overlaps []float64
		var peak uint64
		for seed := 0; seed < seeds; seed++ {
			opts := &vivit.Options{MCSamples: a.MCSamples, Seed: uint64(seed), Precision: a.Precision, SubBatch: a.Samples, Context: s.Context}
			if a.Samples == nil && a.SubBatch > 0 && a.SubBatch < b.Len() {
				rng := rand.New(rand.NewPCG(uint64(seed), 77))
				opts.SubBatch = rng.Perm(b.Len())[:a.SubBatch]
			}
			if a.Groups == "layer" {
				opts.Groups = vivit.LayerGroups(m)
			}
			var res *vivit.Result
			var runErr error
			t0 := time.Now()
			p := PeakHeap(func() { res, runErr = vivit.TopEigen(m, b, s.K, opts) })
			if runErr != nil {
				return nil, fmt.Errorf("bench: %s: %w", a.Name(), runErr)
			}
			secs = append(secs, time.Since(t0).Seconds())
			peak = max(peak, p)
			vals, vecs := topAcrossBlocks(res, m, s.K)
			errs = append(errs, eigRelError(vals, ref.Values))
			overlaps = append(overlaps, Overlap(vecs, ref.Vectors))
			row.GramSeconds += res.Timing.Gram.Seconds() / float64(seeds)
			row.EigenSeconds += res.Timing.Eigen.Seconds() / float64(seeds)
			row.BackpropSeconds += res.Timing.Backprop.Seconds() / float64(seeds)
		}
		row.Seconds, row.SecondsStd = meanStd(secs)
		row.EigRelError, row.EigRelErrorStd = meanStd(errs)
		row.Overlap, row.OverlapStd = meanStd(overlaps)
		row.PeakMiB = float64(peak) / (1 << 20)
		rows = append(rows, row)
	}
	return rows, nil
}

// topAcrossBlocks returns the k largest eigenpairs over all blocks of res,
// with eigenvectors embedded in the whole network's layout (rows).
func topAcrossBlocks(res *vivit.Result, m *vivit.Model, k int) ([]float64, *mat.Dense) {
	if len(res.Blocks) == 1 && res.Blocks[0].Layout.Size() == m.NumParams() {
		return res.Blocks[0].Values, res.Blocks[0].Vectors
	}
	type pair struct {
		val   float64
		block int
		j     int
	}
	var ps []pair
	for bi, blk := range res.Blocks {
		for j, v := range blk.Values {
			ps = append(ps, pair{v, bi, j})
		}
	}
	sort.SliceStable(ps, func(a, b int) bool { return ps[a].val > ps[b].val })
	if len(ps) > k {
		ps = ps[:k]
	}
	full := m.Layout()
	vals := make([]float64, len(ps))
	if len(ps) == 0 {
		return vals, nil
	}
	vecs := mat.NewDense(len(ps), full.Size(), nil)
	for i, p := range ps {
		vals[i] = p.val
		blk := res.Blocks[p.block]
		for _, name := range blk.Layout.Names {
			src, _, _ := blk.Tensor(p.j, name)
			dst, _, _ := full.Tensor(vecs.RawRowView(i), name)
			copy(dst, src)
		}
	}
	return vals, vecs
}

// Overlap returns ‖P_a P_b‖_F²/k for the subspaces spanned by the
// orthonormal rows of a and b, with k = max(rows): 1 when they span the same
// k-dimensional space, 0 when orthogonal. A missing direction (fewer rows)
// counts as orthogonal.
func Overlap(a, b *mat.Dense) float64 {
	if a == nil || b == nil || a.IsEmpty() || b.IsEmpty() {
		return 0
	}
	ka, _ := a.Dims()
	kb, _ := b.Dims()
	var c mat.Dense
	c.Mul(a, b.T())
	f := mat.Norm(&c, 2)
	return f * f / float64(max(ka, kb))
}

// eigRelError is the mean over j of |got_j − want_j|/want_j; a missing
// got_j (lower rank) counts as 0.
func eigRelError(got, want []float64) float64 {
	var s float64
	for j, w := range want {
		s += relErr(got, j, w)
	}
	return s / float64(len(want))
}

// relErr is |got_j − w|/w, with got_j = 0 past the end of got.
func relErr(got []float64, j int, w float64) float64 {
	g := 0.0
	if j < len(got) {
		g = got[j]
	}
	return math.Abs(g-w) / w
}

func meanStd(xs []float64) (mean, std float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(xs)))
}
