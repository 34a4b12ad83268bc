//go:build openblas

package main

const backend = "OpenBLAS/LAPACKE"
