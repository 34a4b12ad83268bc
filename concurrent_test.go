package vivit_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/vivit-go/vivit"
)

// TestConcurrentEntryPoints runs every entry point from several goroutines
// at once on one model and one batch (run it with -race: it is small so
// that the race detector stays fast), and checks that each result equals
// the same call made alone: the entry points share nothing mutable.
func TestConcurrentEntryPoints(t *testing.T) {
	archs := []string{
		`{"input_shape":[4],"layers":[{"type":"linear","in":4,"out":6},{"type":"relu"},{"type":"linear","in":6,"out":3}],"loss":{"type":"cross_entropy","reduction":"mean"}}`,
		`{"input_shape":[1,5,5],"layers":[{"type":"conv2d","in_channels":1,"out_channels":2,"kernel_size":3},{"type":"tanh"},{"type":"flatten"},{"type":"linear","in":18,"out":3}],"loss":{"type":"cross_entropy","reduction":"sum"}}`,
	}
	for ai, arch := range archs {
		m := tinyNet(t, arch, uint64(40+ai))
		b := tinyBatch(m, 6, uint64(50+ai))
		opts := func() *vivit.Options { return &vivit.Options{Groups: vivit.LayerGroups(m)} }
		calls := []func() (string, error){
			func() (string, error) {
				r, err := vivit.TopEigen(m, b, 3, opts())
				if err != nil {
					return "", err
				}
				return fmt.Sprint(r.Blocks[0].Values, r.Blocks[0].Vectors.RawMatrix().Data), nil
			},
			func() (string, error) {
				r, err := vivit.Directional(m, b, 2, &vivit.Options{MCSamples: 2, Seed: 3})
				if err != nil {
					return "", err
				}
				return fmt.Sprint(r.Blocks[0].Values, r.Blocks[0].Gamma.RawMatrix().Data, r.Blocks[0].Lambda.RawMatrix().Data), nil
			},
			func() (string, error) {
				r, err := vivit.Spectrum(m, b, nil)
				if err != nil {
					return "", err
				}
				return fmt.Sprint(r.Blocks[0].Values), nil
			},
			func() (string, error) {
				r, err := vivit.ComputeStats(m, b, nil)
				if err != nil {
					return "", err
				}
				return fmt.Sprint(r.Grad, r.GradVariance, r.DiagGGN), nil
			},
			func() (string, error) {
				r, err := vivit.Newton(m, b, 2, vivit.Damping{Kind: vivit.Constant, Delta: 1}, nil)
				if err != nil {
					return "", err
				}
				return fmt.Sprint(r.Step), nil
			},
		}
		want := make([]string, len(calls))
		for i, c := range calls {
			s, err := c()
			if err != nil {
				t.Fatalf("arch %d call %d alone: %v", ai, i, err)
			}
			want[i] = s
		}
		const copies = 3
		got := make([][]string, len(calls))
		errs := make(chan error, len(calls)*copies)
		var wg sync.WaitGroup
		for i, c := range calls {
			got[i] = make([]string, copies)
			for j := range copies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s, err := c()
					if err != nil {
						errs <- err
					}
					got[i][j] = s
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for i := range calls {
			if !slices.Equal(got[i], []string{want[i], want[i], want[i]}) {
				t.Errorf("arch %d call %d: concurrent results differ from the call alone", ai, i)
			}
		}
	}
}
