package vivit

import (
	"fmt"
	"time"

	"github.com/vivit-go/vivit/eigen"
	"github.com/vivit-go/vivit/gram"
)

// SpectrumBlock is the nonzero spectrum of one block of the GGN.
type SpectrumBlock struct {
	Name   string
	Layout *Layout
	// Values are all eigenvalues above RankTol·λ₁, descending; their count
	// is the numerical rank.
	Values []float64
	// Trace is tr(G) of the block, the sum of all its eigenvalues
	// (including the ones dropped as numerically zero).
	Trace float64
	// Side is where the eigenvalues were computed: "gram" or
	// "parameters" (see Options.Side).
	Side string
}

// SpectrumResult is what Spectrum returns.
type SpectrumResult struct {
	NumParams        int
	BatchSize        int
	CurvatureSamples int
	Columns          int
	Loss             float64 // L = w Σ ℓ_n
	Blocks           []SpectrumBlock
	Timing           Timing
}

// Spectrum returns the whole nonzero spectrum of the GGN of the batch loss
// (or of each block of opts.Groups). It computes eigenvalues only.
func Spectrum(m *Model, b *Batch, opts *Options) (*SpectrumResult, error) {
	if opts == nil {
		opts = &Options{}
	}
	pl, idx, cols, err := planRun("Spectrum", m, b, 0, opts, false)
	if err != nil {
		return nil, err
	}
	if pl.Chunked() {
		return spectrumChunked(m, b, *opts, pl, idx, cols)
	}
	// Nothing but the blocks' matrices is needed after the backward pass.
	p, err := newPassWith(m, b, opts, passSetup{freeActs: true, earlyGram: opts.Groups == nil})
	if err != nil {
		return nil, err
	}
	defer p.release()
	res := &SpectrumResult{NumParams: m.NumParams(), BatchSize: b.Len(), CurvatureSamples: len(p.idx), Columns: p.cols, Loss: p.w * sum(p.losses)}
	blocks := p.blocks()
	for bi, blk := range blocks {
		side, g, err := p.blockMatrix(blk, bi, len(blocks))
		if err != nil {
			return nil, err
		}
		p.opts.report("eigensolve", bi, len(blocks))
		t0 := time.Now()
		vals, err := eigen.Values(g)
		if err == nil {
			err = p.opts.stopped()
		}
		if err != nil {
			releaseGram(g)
			return nil, fmt.Errorf("vivit: block %q: %w", blk.name, err)
		}
		p.timing.Eigen += time.Since(t0)
		r := eigen.NumericalRank(vals, p.opts.rankTol())
		res.Blocks = append(res.Blocks, SpectrumBlock{Name: blk.name, Layout: blk.layout, Values: vals[:r], Trace: gram.Trace(g), Side: side.String()})
		releaseGram(g)
	}
	res.Timing = p.timing
	return res, nil
}
