"""Side-by-side timing of vivit and the PyTorch/SciPy reference on the bench ViT.

    go build -o /tmp/vivit ./cmd/vivit
    python3 bench/reference/compare_vit.py --vivit /tmp/vivit --reps 3 [--refs float64:2,float32:2,float64:1,float32:1]

Every repetition runs, in turn, each in a fresh process under /usr/bin/time:
`vivit eigen --model bench/testdata/vit.onnx --data bench/testdata/vit_batch.safetensors
--k 10 --format json` (eigenvectors formed, not written; also with --precision
float32) and `vit.py run --dtype D --threads T` (PyTorch autograd GGN-vector products
driving SciPy eigsh, tol 1e-6) for each D:T of --refs: the issue's 2 threads, and 1
thread, which on a shared machine is much faster (OpenMP's 2-thread barriers degrade
badly when the cores are oversubscribed). It prints, per program, the median and range of the wall time, of the CPU
time (user + system: the machine may be shared), of each stage, and of the peak
resident memory, the load average, and the largest relative difference of the
top-10 eigenvalues from vivit's (eigsh's tolerance is 1e-6). Needs python3 with torch,
onnx and scipy for the reference; the driver itself uses the standard library only.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile

from refrun import print_blas, timed

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
MODEL = os.path.join(ROOT, "bench", "testdata", "vit.onnx")
BATCH = os.path.join(ROOT, "bench", "testdata", "vit_batch.safetensors")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vivit", required=True, help="the vivit binary")
    ap.add_argument("--python", default="/usr/bin/python3", help="python with torch, onnx, scipy")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--refs", default="float64:2,float32:2,float64:1,float32:1", help="reference runs, dtype:threads")
    ap.add_argument("--json", default=None, help="also write every measurement to this file")
    a = ap.parse_args()
    runs = {}
    ref_vals = {}
    blas = set()
    tmp = tempfile.mkdtemp()
    for rep in range(a.reps):
        for prec in ["float64", "float32"]:
            out = os.path.join(tmp, "vivit.json")
            wall, cpu, rss = timed([a.vivit, "eigen", "--model", MODEL, "--data", BATCH, "--k", "10", "--format", "json", "--out", out, "--precision", prec])
            res = json.load(open(out))
            name = "vivit" if prec == "float64" else "vivit float32"
            runs.setdefault(name, []).append({"wall": wall, "cpu": cpu, "rss": rss, "stages": dict(res["seconds"]), "load": os.getloadavg()[0]})
            if prec == "float64":
                vivit_vals = res["eigenvalues"]
            else:
                ref_vals["vivit float32"] = res["eigenvalues"]
        for ref in a.refs.split(","):
            dt, threads = ref.split(":")
            out = os.path.join(tmp, f"ref_{dt}.json")
            wall, cpu, rss = timed([a.python, os.path.join(HERE, "vit.py"), "run", "--dtype", dt, "--threads", threads, "--json", out])
            r = json.load(open(out))
            blas.add(r.get("blas"))
            name = f"torch {dt} {threads}t"
            runs.setdefault(name, []).append(
                {"wall": wall, "cpu": cpu, "rss": rss, "stages": r["seconds"], "products": r["products"], "load": os.getloadavg()[0]}
            )
            ref_vals[name] = r["eigenvalues"]
        print(f"rep {rep + 1}/{a.reps} done (load {os.getloadavg()[0]:.1f})", file=sys.stderr)

    def stat(xs):
        return f"{statistics.median(xs):8.2f} [{min(xs):.2f}-{max(xs):.2f}]"

    print(f"ViT (74,954 parameters, N=32, C=10, exact top-10), {a.reps} repetitions, medians [range]")
    print(f"{'program':>14} | {'wall s':>20} | {'cpu s':>20} | {'peak RSS MiB':>24} | stages (median s)")
    for name, rs in runs.items():
        stages = {}
        for r in rs:
            for k, v in r["stages"].items():
                stages.setdefault(k, []).append(v)
        sts = ", ".join(f"{k} {statistics.median(v):.3f}" for k, v in stages.items() if statistics.median(v) > 0)
        extra = f", {rs[0]['products']} GGN products" if "products" in rs[0] else ""
        print(f"{name:>14} | {stat([r['wall'] for r in rs])} | {stat([r['cpu'] for r in rs])} | {stat([r['rss'] for r in rs]):>24} | {sts}{extra}")
    vw = statistics.median(r["wall"] for r in runs["vivit"])
    vc = statistics.median(r["cpu"] for r in runs["vivit"])
    vm = statistics.median(r["rss"] for r in runs["vivit"])
    for name, vals in ref_vals.items():
        rs = runs[name]
        rel = max(abs(x - y) / abs(vivit_vals[0]) for x, y in zip(vals, vivit_vals))
        print(
            f"{name} / vivit: wall {statistics.median(r['wall'] for r in rs) / vw:.1f}x, cpu {statistics.median(r['cpu'] for r in rs) / vc:.1f}x, "
            f"peak RSS {statistics.median(r['rss'] for r in rs) / vm:.2f}x; eigenvalues differ by {rel:.2e} of the largest"
        )
    print(f"load average during the runs: {min(r['load'] for rs in runs.values() for r in rs):.1f}-{max(r['load'] for rs in runs.values() for r in rs):.1f} (2 cores)")
    print_blas(blas)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"runs": runs, "vivit_eigenvalues": vivit_vals, "reference_eigenvalues": ref_vals}, fh, indent=1)


if __name__ == "__main__":
    main()
