package model

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestPool2dOutShapeMatchesTables checks the allocation-free geometry
// check against the window tables it replaces: the same output shape, and
// the same first empty window as a scan of the built tables.
func TestPool2dOutShapeMatchesTables(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	empties := 0
	for trial := range 3000 {
		in := []int{1 + rng.IntN(2), 1 + rng.IntN(9), 1 + rng.IntN(9)}
		k := [2]int{1 + rng.IntN(4), 1 + rng.IntN(4)}
		s := [2]int{1 + rng.IntN(3), 1 + rng.IntN(3)}
		p := [2]int{rng.IntN(k[0]/2 + 1), rng.IntN(k[1]/2 + 1)}
		d := [2]int{1 + rng.IntN(4), 1 + rng.IntN(4)}
		w := window{k: k, s: s, p: p, d: d}
		out, err := Pool2dOutShape("maxpool2d", in, k, s, p, d)
		if w.fitErr(in) != nil {
			if err == nil {
				t.Fatalf("trial %d: %v %+v accepted though the window does not fit", trial, in, w)
			}
			continue
		}
		g := newPoolGeom(in[0], in[1], in[2], k, s, p, d)
		want := fmt.Sprint(g.outShape())
		if e := g.emptyWindow(); e >= 0 {
			empties++
			want = fmt.Sprintf("maxpool2d: padding %v and dilation %v leave the window of output position (%d, %d) without input entries", p, d, e/g.OutW, e%g.OutW)
		}
		got := fmt.Sprint(out)
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Fatalf("trial %d: %v %+v: got %s, want %s", trial, in, w, got, want)
		}
	}
	if empties == 0 {
		t.Fatal("no geometry with an empty window was drawn")
	}
}
