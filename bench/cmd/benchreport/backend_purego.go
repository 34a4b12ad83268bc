//go:build !openblas

package main

const backend = "pure Go (gonum with internal/fastblas)"
