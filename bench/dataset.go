package bench

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
)

// DataSetRow compares one mini-batch approximation, at one batch size,
// with the curvature of the whole data set: the ViViT paper's metrics,
// averaged over random mini-batches (and draws).
type DataSetRow struct {
	Approximation  string  `json:"approximation"`
	BatchSize      int     `json:"batch_size"`
	MCSamples      int     `json:"mc_samples"`
	SubBatch       int     `json:"subbatch"` // samples in the curvature batch
	Batches        int     `json:"batches"`  // random mini-batches averaged
	EigRelError    float64 `json:"eigenvalue_rel_error"`
	EigRelErrorStd float64 `json:"eigenvalue_rel_error_std"`
	Overlap        float64 `json:"overlap"`
	OverlapStd     float64 `json:"overlap_std"`
}

// DataSetSettings of CompareDataSet; zero values mean k = 10, 5 mini-batches
// per batch size, batch sizes 32, 64, 128, 256 (those below the data set's
// size), and the approximations exact, mc=1 and sub=N/4 (whole network).
type DataSetSettings struct {
	K          int
	Batches    int
	BatchSizes []int
	Grid       func(n int) []Approx
	Seed       uint64
	// Options of the reference run (memory budget, batch size, method).
	Reference vivit.DataSetOptions
	// Progress, if not nil, is called before each batch size.
	Progress func(i, total, batchSize int)
}

// CompareDataSet computes the top-k eigenpairs of the GGN of the whole
// data set b (DataSetTopEigen) as the reference and compares with it the
// top-k pairs of mini-batch approximations: for each batch size and
// approximation, random mini-batches (without replacement, seeded) give
// the mean relative error of the eigenvalues, mean_j |λ̃_j − λ_j|/λ_j,
// and the overlap of the eigenspaces, ‖P̃ P‖_F²/k: how well one
// mini-batch's curvature stands for the data set's.
func CompareDataSet(m *vivit.Model, b *vivit.Batch, s DataSetSettings) ([]DataSetRow, *vivit.DataSetResult, error) {
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
	ref, err := vivit.DataSetTopEigen(m, vivit.NewBatchDataSet(b), s.K, &s.Reference)
	if err != nil {
		return nil, nil, err
	}
	refVals, refVecs := ref.Blocks[0].Values, ref.Blocks[0].Vectors
	var rows []DataSetRow
	for si, bs := range s.BatchSizes {
		if s.Progress != nil {
			s.Progress(si, len(s.BatchSizes), bs)
		}
		if bs < 1 || bs > n {
			return nil, nil, fmt.Errorf("bench: batch size %d is outside [1, %d]", bs, n)
		}
		for _, a := range s.Grid(bs) {
			row := DataSetRow{Approximation: a.Name(), BatchSize: bs, MCSamples: a.MCSamples, SubBatch: a.SubBatch, Batches: s.Batches}
			if row.SubBatch == 0 {
				row.SubBatch = bs
			}
			var errs, overlaps []float64
			for draw := 0; draw < s.Batches; draw++ {
				rng := rand.New(rand.NewPCG(s.Seed, uint64(bs)<<20|uint64(draw)))
				idx := rng.Perm(n)[:bs]
				mb := subsetBatch(b, idx)
				opts := &vivit.Options{MCSamples: a.MCSamples, Seed: s.Seed + uint64(draw)}
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
