package main

import (
	"math"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vivit-go/vivit"
)

func TestRunReproducible(t *testing.T) {
	cfg := Config{Steps: 6, Batch: 16, LR: 0.1, K: 3, Damping: vivit.Damping{Kind: vivit.Shrink, Delta: 1}, LogEvery: 3, Seed: 5, TrainSize: 1500}
	a, err := Run(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave different logs")
	}
	if len(a) != 6 || a[0].Run != "sgd" || a[3].Run != "sgd+newton" {
		t.Fatalf("unexpected records: %d", len(a))
	}
	// Both runs start from the same network on the same batch.
	if a[0].Loss != a[3].Loss || !reflect.DeepEqual(a[0].Eigen, a[3].Eigen) {
		t.Error("runs do not share their initialisation")
	}
	// Later records differ: the Newton part changed the trajectory.
	if a[2].Loss == a[5].Loss {
		t.Error("the Newton steps had no effect")
	}
	for _, r := range a {
		if math.IsNaN(r.Loss) || len(r.Eigen) != 3 {
			t.Errorf("bad record %+v", r)
		}
	}
	cfg.Seed = 6
	c, err := Run(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c[0].Loss == a[0].Loss {
		t.Error("another seed gave the same start")
	}
	dir := t.TempDir()
	if err := writeCSV(filepath.Join(dir, "log.csv"), a); err != nil {
		t.Fatal(err)
	}
	if err := plotRecords(filepath.Join(dir, "log.png"), a, cfg); err != nil {
		t.Fatal(err)
	}
}
