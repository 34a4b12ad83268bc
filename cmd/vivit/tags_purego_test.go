//go:build !openblas

package main

// testBuildTags builds the binary under test with the same backend.
const testBuildTags = ""
