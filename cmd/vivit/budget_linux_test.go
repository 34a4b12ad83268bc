package main

import (
	"encoding/json"
	"flag"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vivit-go/vivit/npy"
)

var (
	budgetN   = flag.Int("budget.n", 0, "TestBudgetAgreement: batch size of the 3c3d runs (0: skip the test)")
	budgetMC  = flag.Int("budget.mc", 0, "TestBudgetAgreement: Monte-Carlo samples (0: exact)")
	budgetMem = flag.String("budget.memory", "2GiB", "TestBudgetAgreement: --memory of the budgeted run")
	budgetMax = flag.Float64("budget.peak", 2.2, "TestBudgetAgreement: bound on the budgeted run's peak RSS, GiB")
	budgetRef = flag.String("budget.reference", "16GiB", "TestBudgetAgreement: --memory of the unbudgeted reference run")
)

// TestBudgetAgreement runs `vivit eigen --k 10` on 3c3d (895,210
// parameters) and a batch of -budget.n samples twice, as a user would:
// with --memory -budget.memory (chunked) and with the large
// -budget.reference (the whole batch at once). It checks that the
// budgeted run was chunked, that its peak resident memory (the child's
// maximum RSS, as /usr/bin/time -v reports it) is below -budget.peak GiB,
// and that its loss and eigenvalues equal the reference's to 1e-9
// relative and its eigenvectors' overlaps to 1e-9. Opt-in: each run takes
// minutes at the paper's batch sizes and the reference needs several GiB.
//
//	go test ./cmd/vivit -run BudgetAgreement -v -args -budget.n 512
//	go test ./cmd/vivit -run BudgetAgreement -v -timeout 1h -args -budget.n 2048 -budget.mc 1
func TestBudgetAgreement(t *testing.T) {
	if *budgetN == 0 {
		t.Skip("opt-in: -budget.n N")
	}
	dir := t.TempDir()
	modelPath, batchPath := writeLongCase(t, dir, *budgetN)
	type run struct {
		Loss   float64   `json:"loss"`
		Values []float64 `json:"eigenvalues"`
		vecs   *npy.Array
		peak   float64 // GiB
		secs   float64
		stderr string
	}
	eigen := func(name, memory string) run {
		out, vecs := filepath.Join(dir, name+".json"), filepath.Join(dir, name+".npy")
		args := []string{"eigen", "--model", modelPath, "--data", batchPath, "--k", "10", "--memory", memory,
			"--format", "json", "--out", out, "--eigvecs", vecs}
		if *budgetMC > 0 {
			args = append(args, "--mc", strconv.Itoa(*budgetMC), "--seed", "1")
		}
		cmd := exec.Command(cliPath, args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("vivit %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		var r run
		r.secs = time.Since(t0).Seconds()
		r.stderr = stderr.String()
		r.peak = float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / (1 << 20) // KiB on Linux
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		if r.vecs, err = npy.ReadFile(vecs); err != nil {
			t.Fatal(err)
		}
		t.Logf("--memory %s: %.1f s, peak RSS %.3f GiB; %s", memory, r.secs, r.peak, strings.TrimSpace(r.stderr))
		return r
	}
	got := eigen("budgeted", *budgetMem)
	ref := eigen("reference", *budgetRef)
	if !strings.Contains(got.stderr, "memory plan:") {
		t.Errorf("the budgeted run was not chunked")
	}
	if strings.Contains(ref.stderr, "memory plan:") {
		t.Errorf("the reference run was chunked: raise -budget.reference")
	}
	if !(got.peak < *budgetMax) {
		t.Errorf("peak RSS %.3f GiB, want below %g GiB", got.peak, *budgetMax)
	}
	if !(math.Abs(got.Loss-ref.Loss) <= 1e-9*math.Abs(ref.Loss)) {
		t.Errorf("loss %.17g, reference %.17g", got.Loss, ref.Loss)
	}
	if len(got.Values) != len(ref.Values) || len(ref.Values) == 0 {
		t.Fatalf("%d eigenvalues, reference %d", len(got.Values), len(ref.Values))
	}
	d := ref.vecs.Shape[1]
	worstVal, worstVec := 0.0, 0.0
	for j, want := range ref.Values {
		if rel := math.Abs(got.Values[j]-want) / math.Abs(want); !(rel <= 1e-9) {
			t.Errorf("λ_%d = %.17g, reference %.17g (relative difference %.2g)", j+1, got.Values[j], want, rel)
		} else {
			worstVal = math.Max(worstVal, rel)
		}
		a, b := got.vecs.Data[j*d:(j+1)*d], ref.vecs.Data[j*d:(j+1)*d]
		dot := 0.0
		for i := range a {
			dot += a[i] * b[i]
		}
		if off := 1 - math.Abs(dot); !(off <= 1e-9) {
			t.Errorf("eigenvector %d: overlap %.15f with the reference's", j+1, dot)
		} else {
			worstVec = math.Max(worstVec, off)
		}
	}
	t.Logf("largest relative eigenvalue difference %.2g, largest 1 − |overlap| %.2g", worstVal, worstVec)
}
