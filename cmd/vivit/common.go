package main

import (
	"math"

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

func seconds(t vivit.Timing) timingSeconds {
	return timingSeconds{
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
