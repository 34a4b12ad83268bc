package bench

import (
	"context"
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/model"
)

// DataSetRow compares one mini-batch approximation, at one batch size,
// with the curvature of the whole data set: the ViViT paper's metrics,
// averaged over random mini-batches (one seed each).
type DataSetRow struct {
	Approximation string `json:"approximation"`
	BatchSize     int    `json:"batch_size"`
	MCSamples     int    `json:"mc_samples"`
	SubBatch      int    `json:"subbatch"` // samples in the curvature batch
	Groups        string `json:"groups"`
	Batches       int    `json:"batches"` // random mini-batches averaged
	// EigRelError is the mean over the top k of |λ̃_j − λ_j|/λ_j, averaged
	// over the mini-batches; EigRelErrors the same per j (j = 1 … k).
	EigRelError    float64   `json:"eigenvalue_rel_error"`
	EigRelErrorStd float64   `json:"eigenvalue_rel_error_std"`
	EigRelErrors   []float64 `json:"eigenvalue_rel_errors"`
	Overlap        float64   `json:"overlap"`
	OverlapStd     float64   `json:"overlap_std"`
}

// DataSetSettings of CompareDataSet; zero values mean k = 10, 5 mini-batches
// per batch size, batch sizes 32, 64, 128, 256 (those below the data set's
// size), and the approximations exact, mc=1 and sub=N/4 (whole network).
type DataSetSettings struct {
	K          int
	Batches    int
	BatchSizes []int
	// Grid returns the approximations for mini-batches of n samples. An
	// Approx's Samples (fixed indices) do not apply to random mini-batches
	// and are refused.
	Grid func(n int) []Approx
	Seed uint64
	// Options of the reference run (memory budget, batch size, method).
	Reference vivit.DataSetOptions
	// Progress, if not nil, is called before each batch size.
	Progress func(i, total, batchSize int)
	// Context stops the comparison (vivit.Options.Context); nil means
	// never. It also stops the reference run unless Reference has its own.
	Context context.Context
}

// CompareDataSet computes the top-k eigenpairs of the GGN of the whole
// data set b (DataSetTopEigen) as the reference and compares with it the
// top-k pairs of mini-batch approximations: for each batch size and
// approximation, random mini-batches (drawn without replacement, seeded;
// every approximation of a batch size sees the same mini-batches) give the
// mean relative error of the eigenvalues, mean_j |λ̃_j − λ_j|/λ_j, and the
// overlap of the eigenspaces, ‖P̃ P‖_F²/k: how well one mini-batch's
// curvature stands for the data set's. With a sum reduction a mini-batch's
// GGN sums over fewer samples than the data set's; its eigenvalues are
// scaled by N/|S| (S the samples of its curvature) to estimate the data
// set's. Block-diagonal approximations contribute their k largest pairs
// over all blocks.
func CompareDataSet(m *vivit.Model, b *vivit.Batch, s DataSetSettings) ([]DataSetRow, *vivit.DataSetResult, error) {
	if m == nil || b == nil {
		return nil, nil, fmt.Errorf("bench: nil model or data set")
	}
	if s.K == 0 {
		s.K = 10
	}
	if s.Batches == 0 {
		s.Batches = 5
	}
	n := b.Len()
	if s.BatchSizes == nil {
		for _, bs := range []int{32, 64, 128, 256} {
			if bs < n {
				s.BatchSizes = append(s.BatchSizes, bs)
			}
		}
	}
	if s.Grid == nil {
		s.Grid = func(n int) []Approx {
			return []Approx{{Groups: "full"}, {MCSamples: 1, Groups: "full"}, {SubBatch: max(n/4, 1), Groups: "full"}}
		}
	}
	if s.K < 1 || s.Batches < 1 {
		return nil, nil, fmt.Errorf("bench: k and batches must be positive")
	}
	if len(s.BatchSizes) == 0 {
		return nil, nil, fmt.Errorf("bench: no batch size below the data set's %d samples", n)
	}
	for _, bs := range s.BatchSizes {
		if bs < 1 || bs > n {
			return nil, nil, fmt.Errorf("bench: batch size %d is outside [1, %d], the data set's size", bs, n)
		}
	}
	refOpts := s.Reference
	if refOpts.Context == nil {
		refOpts.Context = s.Context
	}
	refOpts.SkipVectors = false
	ref, err := vivit.DataSetTopEigen(m, vivit.NewBatchDataSet(b), s.K, &refOpts)
	if err != nil {
		return nil, nil, err
	}
	refVals, refVecs := topAcrossBlocks(&ref.Result, m, s.K)
	if len(refVals) == 0 {
		return nil, nil, fmt.Errorf("bench: the data set's GGN is zero: nothing to compare with")
	}
	sum := m.Loss.Reduction == model.Sum
	var rows []DataSetRow
	for si, bs := range s.BatchSizes {
		if s.Progress != nil {
			s.Progress(si, len(s.BatchSizes), bs)
		}
		for _, a := range s.Grid(bs) {
			if a.Samples != nil {
				return nil, nil, fmt.Errorf("bench: %s: fixed samples do not apply to random mini-batches", a.Name())
			}
			if a.SubBatch < 0 || a.SubBatch > bs || a.MCSamples < 0 {
				return nil, nil, fmt.Errorf("bench: %s: sub-batch must be in [0, %d] and MC samples ≥ 0", a.Name(), bs)
			}
			row := DataSetRow{Approximation: a.Name(), BatchSize: bs, MCSamples: a.MCSamples, SubBatch: a.SubBatch,
				Groups: a.Groups, Batches: s.Batches, EigRelErrors: make([]float64, len(refVals))}
			if row.SubBatch == 0 {
				row.SubBatch = bs
			}
			if row.Groups == "" {
				row.Groups = "full"
			}
			var errs, overlaps []float64
			for draw := 0; draw < s.Batches; draw++ {
				rng := rand.New(rand.NewPCG(s.Seed, uint64(bs)<<20|uint64(draw)))
				idx := rng.Perm(n)[:bs]
				mb := subsetBatch(b, idx)
				opts := &vivit.Options{MCSamples: a.MCSamples, Seed: s.Seed + uint64(draw), Precision: a.Precision, Context: s.Context}
				if a.SubBatch > 0 && a.SubBatch < bs {
					opts.SubBatch = rng.Perm(bs)[:a.SubBatch]
				}
				if a.Groups == "layer" {
					opts.Groups = vivit.LayerGroups(m)
				}
				res, err := vivit.TopEigen(m, mb, s.K, opts)
				if err != nil {
					return nil, nil, fmt.Errorf("bench: %s at batch size %d: %w", a.Name(), bs, err)
				}
				vals, vecs := topAcrossBlocks(res, m, s.K)
				if sum {
					vals = append([]float64(nil), vals...)
					floats.Scale(float64(n)/float64(row.SubBatch), vals)
				}
				for j, w := range refVals {
					row.EigRelErrors[j] += relErr(vals, j, w) / float64(s.Batches)
				}
				errs = append(errs, eigRelError(vals, refVals))
				overlaps = append(overlaps, Overlap(vecs, refVecs))
			}
			row.EigRelError, row.EigRelErrorStd = meanStd(errs)
			row.Overlap, row.OverlapStd = meanStd(overlaps)
			rows = append(rows, row)
		}
	}
	return rows, ref, nil
}

// subsetBatch returns the samples idx of b as a new batch.
func subsetBatch(b *vivit.Batch, idx []int) *vivit.Batch {
	_, f := b.Inputs.Dims()
	out := &vivit.Batch{Inputs: vivitDense(len(idx), f)}
	for i, j := range idx {
		out.Inputs.SetRow(i, b.Inputs.RawRowView(j))
	}
	out.Targets = b.Targets.Subset(idx)
	return out
}

func vivitDense(r, c int) *mat.Dense { return mat.NewDense(r, c, nil) }
