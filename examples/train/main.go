// Command train monitors curvature during training: it trains the digits
// MLP (64-32-10, tanh) twice from the same initialisation, once with plain
// SGD and once with SGD plus damped Newton steps in the top-k GGN
// eigenspace, and logs loss, test accuracy, the top GGN eigenvalues and the
// directional gradient signal-to-noise ratios every few steps.
//
//	go run ./examples/train                  # writes train-log.csv and train.png into a new temporary directory
//	go run ./examples/train -out results -steps 400 -damping skip:0.01:1
//
// The outputs go to -out (default: a new temporary directory, printed at
// the end), never into the working tree unless asked. Measured with the
// defaults (300 steps, batch 64, lr 0.1, k 5, shrink:1 damping), both runs
// end near the same loss; see docs/approximations.md (Damped Newton steps).
//
// The hybrid step is θ ← θ − lr·(I − P_k)∇L + s_k, where P_k projects onto
// the top-k eigenvectors and s_k is vivit.Newton's damped step there:
// Newton along the directions the curvature knows, SGD everywhere else.
// Everything is seeded: the same flags give the same log.
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/vivit-go/vivit"
	"github.com/vivit-go/vivit/checkpoint"
	"github.com/vivit-go/vivit/example/digits"
)

// Config is one training comparison.
type Config struct {
	Steps     int     // optimisation steps per run
	Batch     int     // mini-batch size
	LR        float64 // SGD learning rate
	K         int     // eigendirections of the Newton part
	Damping   vivit.Damping
	LogEvery  int // steps between log records
	Seed      uint64
	TrainSize int // first TrainSize digits train, the rest test
}

// Record is one log line.
type Record struct {
	Run       string    // "sgd" or "sgd+newton"
	Step      int       // steps taken so far
	Loss      float64   // mini-batch loss before the step
	TestAcc   float64   // accuracy on the held-out digits
	Eigen     []float64 // top-k GGN eigenvalues of the mini-batch
	GradSNR   []float64 // per-direction SNR(γ) (docs/maths.md §4.1)
	CurvSNR   []float64 // per-direction SNR(λ)
	StepNorms float64   // ‖update‖
}

const architecture = `{"input_shape": [64], "layers": [{"type": "linear", "in": 64, "out": 32}, {"type": "tanh"}, {"type": "linear", "in": 32, "out": 10}], "loss": {"type": "cross_entropy", "reduction": "mean"}}`

func main() {
	cfg := Config{TrainSize: 1500}
	var damping, csvPath, pngPath string
	flag.IntVar(&cfg.Steps, "steps", 300, "optimisation steps per run")
	flag.IntVar(&cfg.Batch, "batch", 64, "mini-batch size")
	flag.Float64Var(&cfg.LR, "lr", 0.1, "SGD learning rate")
	flag.IntVar(&cfg.K, "k", 5, "eigendirections for the Newton part")
	flag.StringVar(&damping, "damping", "shrink:1", "damping: auto, auto:δ, constant:δ, shrink:δ or skip:δ:τ")
	flag.IntVar(&cfg.LogEvery, "log-every", 20, "steps between log records")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "seed of initialisation and batch order")
	var outDir string
	flag.StringVar(&outDir, "out", "", "directory for the outputs (created if needed); default: a new temporary directory")
	flag.StringVar(&csvPath, "csv", "train-log.csv", "log file (CSV) in -out; empty for none")
	flag.StringVar(&pngPath, "plot", "train.png", "plot file (PNG) in -out; empty for none")
	flag.Parse()
	log.SetFlags(0)
	var err error
	if outDir == "" {
		outDir, err = os.MkdirTemp("", "vivit-train-")
	} else {
		err = os.MkdirAll(outDir, 0o755)
	}
	if err != nil {
		log.Fatal(err)
	}
	if csvPath != "" && !filepath.IsAbs(csvPath) {
		csvPath = filepath.Join(outDir, csvPath)
	}
	if pngPath != "" && !filepath.IsAbs(pngPath) {
		pngPath = filepath.Join(outDir, pngPath)
	}
	if cfg.Damping, err = vivit.ParseDamping(damping); err != nil {
		log.Fatal(err)
	}
	recs, err := Run(cfg, func(r Record) {
		log.Printf("%-10s step %4d  loss %.4f  test acc %5.1f%%  λ₁ %.4f  SNR(γ₁) %.3g", r.Run, r.Step, r.Loss, 100*r.TestAcc, first(r.Eigen), first(r.GradSNR))
	})
	if err != nil {
		log.Fatal(err)
	}
	if csvPath != "" {
		if err := writeCSV(csvPath, recs); err != nil {
			log.Fatal(err)
		}
	}
	if pngPath != "" {
		if err := plotRecords(pngPath, recs, cfg); err != nil {
			log.Fatal(err)
		}
	}
	if csvPath != "" || pngPath != "" {
		log.Printf("outputs in %s", outDir)
	}
}

func first(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return xs[0]
}

// Run trains both runs and returns their logs (sgd first).
func Run(cfg Config, logf func(Record)) ([]Record, error) {
	if cfg.Steps < 1 || cfg.Batch < 2 || cfg.K < 1 || cfg.LogEvery < 1 || cfg.LR <= 0 {
		return nil, fmt.Errorf("train: steps, k, log-every ≥ 1, batch ≥ 2 and lr > 0 required")
	}
	pixels, labels, err := digits.Load()
	if err != nil {
		return nil, err
	}
	test := digits.Batch(pixels, labels, seq(cfg.TrainSize, digits.Size))
	var all []Record
	for _, newton := range []bool{false, true} {
		net, err := newNet(cfg.Seed)
		if err != nil {
			return nil, err
		}
		rng := rand.New(rand.NewPCG(cfg.Seed, 1))
		name := "sgd"
		if newton {
			name = "sgd+newton"
		}
		order := rng.Perm(cfg.TrainSize)
		pos := 0
		for step := 0; step <= cfg.Steps; step++ {
			if pos+cfg.Batch > len(order) {
				rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				pos = 0
			}
			b := digits.Batch(pixels, labels, order[pos:pos+cfg.Batch])
			pos += cfg.Batch
			logNow := step%cfg.LogEvery == 0 || step == cfg.Steps
			if !newton && !logNow {
				if err := sgdStep(net, b, cfg.LR); err != nil {
					return nil, err
				}
				continue
			}
			nt, err := vivit.Newton(net, b, cfg.K, cfg.Damping, nil)
			if err != nil {
				return nil, err
			}
			update := make([]float64, net.NumParams())
			loss, grad, err := vivit.Gradient(net, b)
			if err != nil {
				return nil, err
			}
			if newton {
				// −lr(I − P_k)∇L + s_k
				proj := make([]float64, len(grad))
				for j := range nt.Values {
					e := nt.Result.Blocks[0].Vector(j)
					for i, v := range e {
						proj[i] += nt.GradProj[j] * v
					}
				}
				for i := range update {
					update[i] = -cfg.LR*(grad[i]-proj[i]) + nt.Step[i]
				}
			} else {
				for i := range update {
					update[i] = -cfg.LR * grad[i]
				}
			}
			if logNow {
				r := Record{Run: name, Step: step, Loss: loss, TestAcc: digits.Accuracy(net, test),
					Eigen: nt.Values, GradSNR: nt.GradSNR, CurvSNR: nt.CurvSNR, StepNorms: norm(update)}
				all = append(all, r)
				if logf != nil {
					logf(r)
				}
			}
			if step < cfg.Steps {
				apply(net, update)
			}
		}
	}
	return all, nil
}

func sgdStep(net *vivit.Model, b *vivit.Batch, lr float64) error {
	_, grad, err := vivit.Gradient(net, b)
	if err != nil {
		return err
	}
	for i := range grad {
		grad[i] *= -lr
	}
	apply(net, grad)
	return nil
}

func apply(net *vivit.Model, update []float64) {
	off := 0
	for _, p := range net.Params() {
		for i := range p.Data {
			p.Data[i] += update[off+i]
		}
		off += len(p.Data)
	}
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

func newNet(seed uint64) (*vivit.Model, error) {
	a, err := checkpoint.ParseArchitecture([]byte(architecture))
	if err != nil {
		return nil, err
	}
	net, err := a.Build()
	if err != nil {
		return nil, err
	}
	net.InitDefault(rand.New(rand.NewPCG(seed, 0)))
	return net, nil
}

func seq(a, b int) []int {
	s := make([]int, 0, b-a)
	for i := a; i < b; i++ {
		s = append(s, i)
	}
	return s
}

func writeCSV(path string, recs []Record) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 8, 64) }
	w.Write([]string{"run", "step", "loss", "test_accuracy", "lambda_1", "gamma_snr_1", "lambda_snr_1", "update_norm"})
	for _, r := range recs {
		w.Write([]string{r.Run, strconv.Itoa(r.Step), g(r.Loss), g(r.TestAcc), g(first(r.Eigen)), g(first(r.GradSNR)), g(first(r.CurvSNR)), g(r.StepNorms)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
