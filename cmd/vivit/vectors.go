package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/npy"
	"github.com/vivit-go/vivit/safetensors"
	"github.com/vivit-go/vivit/torchpt"
)

// eigvecsExts are the formats --eigvecs writes.
var eigvecsExts = []string{".npy", ".safetensors", ".pt"}

// writeEigvecs writes the eigenvectors of res to path, in the format its
// extension names:
//   - .npy: one [k, P] float64 array, row j the j-th eigenvector of the
//     whole network, parameters in state_dict order;
//   - .safetensors and .pt: one float64 tensor per parameter tensor, under
//     its own name and with its own shape after a leading k dimension
//     (entry [j] is that tensor's part of eigenvector j). With parameter
//     groups, each tensor's k is its group's.
//
// The safetensors metadata holds "eigenvalues" (whole network) or "groups"
// (a JSON list of {"name", "params", "eigenvalues"}).
func writeEigvecs(path string, res *vivit.Result, grouped bool) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		blk := res.Blocks[0]
		k := len(blk.Values)
		p := blk.Layout.Size()
		data := make([]float64, 0, k*p)
		for j := 0; j < k; j++ {
			data = append(data, blk.Vector(j)...)
		}
		return npy.WriteFile(path, &npy.Array{Shape: []int{k, p}, Data: data})
	case ".safetensors", ".pt":
		var ts []safetensors.Tensor
		type groupMeta struct {
			Name        string    `json:"name"`
			Params      []string  `json:"params"`
			Eigenvalues []float64 `json:"eigenvalues"`
		}
		var groups []groupMeta
		for _, blk := range res.Blocks {
			k := len(blk.Values)
			for i, name := range blk.Layout.Names {
				shape := blk.Layout.Shapes[i]
				numel := blk.Layout.Offsets[i+1] - blk.Layout.Offsets[i]
				data := make([]float64, 0, k*numel)
				for j := 0; j < k; j++ {
					part, _, _ := blk.Tensor(j, name)
					data = append(data, part...)
				}
				ts = append(ts, safetensors.Tensor{Name: name, Shape: append([]int{k}, shape...), F64: data})
			}
			groups = append(groups, groupMeta{Name: blk.Name, Params: blk.Layout.Names, Eigenvalues: nonNil(blk.Values)})
		}
		if strings.HasSuffix(strings.ToLower(path), ".pt") {
			pts := make([]torchpt.Tensor, len(ts))
			for i, t := range ts {
				pts[i] = torchpt.Tensor{Name: t.Name, Shape: t.Shape, F64: t.F64}
			}
			return torchpt.WriteFile(path, pts)
		}
		meta := map[string]string{"format": "vivit eigenvectors: tensor [k, ...shape] holds each eigenvector's part for that parameter"}
		var js []byte
		if grouped {
			js, _ = json.Marshal(groups)
			meta["groups"] = string(js)
		} else {
			js, _ = json.Marshal(groups[0].Eigenvalues)
			meta["eigenvalues"] = string(js)
		}
		return safetensors.WriteFile(path, ts, meta)
	}
	return fmt.Errorf("--eigvecs %s: unknown format", path)
}

// paramVectorExts are the formats of the per-parameter vectors of stats.
var paramVectorExts = []string{".npy", ".safetensors", ".pt"}

// writeParamVector writes a vector over all parameters (the GGN diagonal,
// the gradient variance) to path: a [P] float64 .npy array in state_dict
// order, or one float64 tensor per parameter, under its own name and with
// its own shape (.safetensors, .pt).
func writeParamVector(path string, layout *vivit.Layout, v []float64, what string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		return npy.WriteFile(path, &npy.Array{Shape: []int{len(v)}, Data: v})
	case ".safetensors", ".pt":
		var ts []safetensors.Tensor
		for i, name := range layout.Names {
			part := v[layout.Offsets[i]:layout.Offsets[i+1]]
			ts = append(ts, safetensors.Tensor{Name: name, Shape: append([]int{}, layout.Shapes[i]...), F64: part})
		}
		if strings.EqualFold(filepath.Ext(path), ".pt") {
			pts := make([]torchpt.Tensor, len(ts))
			for i, t := range ts {
				pts[i] = torchpt.Tensor{Name: t.Name, Shape: t.Shape, F64: t.F64}
			}
			return torchpt.WriteFile(path, pts)
		}
		return safetensors.WriteFile(path, ts, map[string]string{"format": "vivit " + what + ": one tensor per parameter, its own shape"})
	}
	return fmt.Errorf("%s: unknown format", path)
}
