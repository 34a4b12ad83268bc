package main

import "github.com/vivit-go/vivit/bench"

// extraCases are added by other files (e.g. the convolutional networks).
func extraCases() []bench.Case { return nil }
