// Package example embeds the default case that every vivit command runs on
// when it is given no files: a 64-32-10 tanh MLP trained on the UCI digits
// data (see digits/README.md) and a held-out batch of 128 images.
//
// The files are made by 'go generate ./example' (internal/gen), which
// trains the network with the engine's own gradient, deterministically.
package example

import (
	"bytes"
	_ "embed"
	"fmt"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/batch"
	"github.com/vivit-go/vivit/checkpoint"
	"github.com/vivit-go/vivit/safetensors"
)

//go:generate go run ./internal/gen -out .

//go:embed model.safetensors
var modelFile []byte

//go:embed batch.safetensors
var batchFile []byte

// ModelFile and BatchFile return copies of the embedded checkpoint and
// batch, in the formats the vivit command reads.
func ModelFile() []byte { return bytes.Clone(modelFile) }
func BatchFile() []byte { return bytes.Clone(batchFile) }

// Load returns the embedded model and batch.
func Load() (*vivit.Model, *vivit.Batch, error) {
	mf, err := safetensors.Parse(modelFile)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded model: %w", err)
	}
	m, err := checkpoint.FromSafetensors(mf, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded model: %w", err)
	}
	bf, err := safetensors.Parse(batchFile)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded batch: %w", err)
	}
	b, err := batch.FromSafetensors(bf, m)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded batch: %w", err)
	}
	return m, b, nil
}
