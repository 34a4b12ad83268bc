// Package digits reads the UCI optical-recognition-of-handwritten-digits
// test set shipped beside it (see README.md for its source and licence).
package digits

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"gonum.org/v1/gonum/mat"

	"github.com/vivit-go/vivit/model"
)

//go:embed digits.csv.gz
var compressed []byte

// Size is the number of samples; each has 64 pixels and a label 0..9.
const Size = 1797

// Load returns the pixels divided by 16 (row-major 8×8 images, one row of
// 64 per sample) and the labels.
func Load() (pixels [][]float64, labels []int, err error) {
	zr, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, nil, fmt.Errorf("digits: %w", err)
	}
	r := csv.NewReader(zr)
	r.FieldsPerRecord = 65
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("digits: %w", err)
		}
		row := make([]float64, 64)
		for j := 0; j < 64; j++ {
			v, err := strconv.Atoi(rec[j])
			if err != nil {
				return nil, nil, fmt.Errorf("digits: pixel %q: %w", rec[j], err)
			}
			row[j] = float64(v) / 16
		}
		y, err := strconv.Atoi(rec[64])
		if err != nil || y < 0 || y > 9 {
			return nil, nil, fmt.Errorf("digits: bad label %q", rec[64])
		}
		pixels = append(pixels, row)
		labels = append(labels, y)
	}
	if len(labels) != Size {
		return nil, nil, fmt.Errorf("digits: %d samples, want %d", len(labels), Size)
	}
	return pixels, labels, nil
}

// Batch returns the samples idx as a batch for a 64-input classifier.
func Batch(pixels [][]float64, labels []int, idx []int) *model.Batch {
	x := mat.NewDense(len(idx), 64, nil)
	b := &model.Batch{Inputs: x}
	for i, n := range idx {
		x.SetRow(i, pixels[n])
		b.Targets.Classes = append(b.Targets.Classes, labels[n])
	}
	return b
}

// Accuracy returns the fraction of the batch that net classifies correctly
// (arg-max of its outputs; ties go to the lower class).
func Accuracy(net *model.Network, b *model.Batch) float64 {
	z := net.Forward(b.Inputs)[len(net.Nodes)]
	correct := 0
	for i, y := range b.Targets.Classes {
		row := z.RawRowView(i)
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == y {
			correct++
		}
	}
	return float64(correct) / float64(b.Len())
}
