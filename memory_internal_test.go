package vivit

import "testing"

// TestChooseSide checks that SideAuto leaves the parameter side when the
// D×D matrix does not fit the memory budget.
func TestChooseSide(t *testing.T) {
	o := &Options{}
	if s := o.chooseSide(31, 80); s != SideParameters {
		t.Errorf("D = 31, 80 columns: %v, want parameters", s)
	}
	o.MemoryBudget = 31 * 31 * 8
	if s := o.chooseSide(31, 80); s != SideGram {
		t.Errorf("budget below 8·D²: %v, want gram", s)
	}
}

// TestChunkBackprops checks the count of the chunked schedule against a
// walk through it.
func TestChunkBackprops(t *testing.T) {
	for chunks := 1; chunks <= 9; chunks++ {
		for h := 1; h <= chunks; h++ {
			want := 0
			var last int
			for g0 := 0; g0 < chunks; g0 += h {
				g1 := min(g0+h, chunks)
				for ci := g0; ci < chunks; ci++ {
					want++ // held or streamed
				}
				last = g1 - g0
			}
			want += chunks - last
			if got := chunkBackprops(chunks, h); got != want {
				t.Errorf("%d chunks, %d held: %d, want %d", chunks, h, got, want)
			}
		}
	}
}
