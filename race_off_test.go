//go:build !race

package vivit_test

const raceEnabled = false
