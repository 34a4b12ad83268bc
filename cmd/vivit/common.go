package main

import (
	"math"
	"strconv"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/directional"
)

// timingSeconds is Timing in seconds for JSON.
type timingSeconds struct {
	Total       float64 `json:"total"`
	Forward     float64 `json:"forward"`
	Backprop    float64 `json:"backprop"`
	Gram        float64 `json:"gram"`
	Eigen       float64 `json:"eigensolve"`
	MapBack     float64 `json:"map_back"`
	Directional float64 `json:"directional"`
}

// seconds returns the timings for JSON, or nil with --no-timing.
func (c *common) seconds(t vivit.Timing) *timingSeconds {
	if c.noTiming {
		return nil
	}
	return &timingSeconds{
		Total: t.Total().Seconds(), Forward: t.Forward.Seconds(), Backprop: t.Backprop.Seconds(),
		Gram: t.Gram.Seconds(), Eigen: t.Eigen.Seconds(), MapBack: t.MapBack.Seconds(), Directional: t.Directional.Seconds(),
	}
}

type summary struct{ mean, variance, snr []float64 }

func summarize(d *mat.Dense) summary {
	s := directional.Summarize(d)
	return summary{s.Mean, s.Variance, s.SNR}
}

// jsonFloat encodes NaN and ±Inf as null.
func jsonFloat(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// csvFloat formats v exactly (shortest round-trip form).
func csvFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func nonNil(v []float64) []float64 {
	if v == nil {
		return []float64{}
	}
	return v
}

// blockName is a block's name in tables and CSV: "all" for the whole
// network.
func blockName(name string) string {
	if name == "" {
		return "all"
	}
	return name
}

// rows copies a matrix into a slice of rows for JSON (nil for nil).
func rows(m *mat.Dense) [][]float64 {
	if m == nil {
		return nil
	}
	r, c := m.Dims()
	out := make([][]float64, r)
	for i := range out {
		out[i] = make([]float64, c)
		for j := range out[i] {
			out[i][j] = m.At(i, j)
		}
	}
	return out
}
