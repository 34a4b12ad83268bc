"""Side-by-side timing of vivit and ViViT/BackPACK (PyTorch) on the bench ResNet-8.

    go build -o /tmp/vivit ./cmd/vivit && go build -o /tmp/eigenruns ./bench/cmd/eigenruns
    export PYTHONPATH=...   # ViViT 1.0.0, BackPACK 1.6.0 and their dependencies (resnet8.py)
    python3 bench/reference/compare_resnet8.py --vivit /tmp/vivit --eigenruns /tmp/eigenruns --reps 5

Every repetition runs, in turn, each in a fresh process under /usr/bin/time:
`vivit eigen --model bench/testdata/resnet8.onnx --data bench/testdata/resnet8_batch.safetensors
--k 10 --format json` (eigenvectors formed, not written) in float64, with
--precision float32, with --mc 1 and with --mc 1 --precision float32, with GOMAXPROCS=2 and =1 (--procs); then `resnet8.py run --dtype D --threads T
[--mc M]` for each M:D:T of --refs (M = 0 exact): ViViT's EighComputation on
BackPACK with its graph converter, float32 as the issue measured it, on 2 threads
(the issue's) and on 1 (on a shared machine much faster: OpenMP's 2-thread
barriers degrade badly when the cores are oversubscribed). It prints, per
program, the median and range of the wall time, of the CPU time (user + system:
the machine may be shared), of each in-process stage, and of the peak resident
memory; the ratios to vivit's medians (exact references against vivit's exact
runs, Monte-Carlo ones against vivit's Monte-Carlo runs; 1-thread references
against vivit on one core, the others against vivit on two); the largest difference
of the exact top-10 eigenvalues from vivit's float64 ones, relative to the
largest (Monte-Carlo eigenvalues depend on the random draws, which differ); and
the load average. The whole-process times include Python's imports (torch,
BackPACK) and vivit's process start and ONNX load; "compute" is the in-process
time of the eigenpairs (vivit's total; the reference's forward plus its
backward pass with the ViViT hooks, which form the Gram matrix, decompose it
and map the eigenvectors back). Each process runs once, so both are first
(cold) runs. With --eigenruns, every repetition then also runs each program
--warm times in one process (bench/cmd/eigenruns for vivit, resnet8.py --runs
for the reference) and reports the median compute time of the runs after the
first ("warm": no first-touch page faults, PyTorch's and Go's allocators
warmed up). The driver itself uses the standard library only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from refrun import print_blas, timed

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
MODEL = os.path.join(ROOT, "bench", "testdata", "resnet8.onnx")
BATCH = os.path.join(ROOT, "bench", "testdata", "resnet8_batch.safetensors")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vivit", required=True, help="the vivit binary")
    ap.add_argument("--python", default="/usr/bin/python3", help="python with torch, onnx and the reference on PYTHONPATH")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--refs", default="0:float32:2,0:float32:1,1:float32:2,1:float32:1", help="reference runs, mc:dtype:threads (mc 0: exact)")
    ap.add_argument("--eigenruns", default=None, help="the bench/cmd/eigenruns binary, for the warm runs")
    ap.add_argument("--warm", type=int, default=4, help="computations per warm process (the first is not counted)")
    ap.add_argument("--procs", default="2,1", help="GOMAXPROCS values of the vivit runs (2: both cores; 1: one core, like the 1-thread reference)")
    ap.add_argument("--json", default=None, help="also write every measurement to this file")
    a = ap.parse_args()
    runs = {}
    vals = {}
    kind = {}
    warm = {}
    blas = set()
    tmp = tempfile.mkdtemp()
    vivit_runs = []
    for procs in a.procs.split(","):
        sfx = "" if procs == "2" else f" {procs}p"
        env = dict(os.environ, GOMAXPROCS=procs)
        vivit_runs += [("vivit" + sfx, ["--precision", "float64"], 0, env), ("vivit float32" + sfx, ["--precision", "float32"], 0, env), ("vivit mc1" + sfx, ["--mc", "1"], 1, env),
                       ("vivit mc1 float32" + sfx, ["--mc", "1", "--precision", "float32"], 1, env)]
    for rep in range(a.reps):
        for name, flags, mc, env in vivit_runs:
            out = os.path.join(tmp, "vivit.json")
            wall, cpu, rss = timed([a.vivit, "eigen", "--model", MODEL, "--data", BATCH, "--k", "10", "--format", "json", "--out", out] + flags, env)
            res = json.load(open(out))
            st = {k: v for k, v in res["seconds"].items() if k != "directional"}
            st["compute"] = st.pop("total")
            runs.setdefault(name, []).append({"wall": wall, "cpu": cpu, "rss": rss, "stages": st, "load": os.getloadavg()[0]})
            vals[name], kind[name] = res["eigenvalues"], mc
        for ref in a.refs.split(","):
            mc, dt, threads = ref.split(":")
            out = os.path.join(tmp, "ref.json")
            wall, cpu, rss = timed([a.python, "-W", "ignore", os.path.join(HERE, "resnet8.py"), "run", "--dtype", dt, "--threads", threads, "--mc", mc, "--json", out])
            r = json.load(open(out))
            blas.add(r.get("blas"))
            s = r["seconds"]
            st = {k: s[k] for k in ["import", "load", "extend", "forward", "backward_eigh"]}
            st["compute"] = s["forward"] + s["backward_eigh"]
            name = f"ref {'exact' if mc == '0' else 'mc' + mc} {dt} {threads}t"
            runs.setdefault(name, []).append({"wall": wall, "cpu": cpu, "rss": rss, "stages": st, "load": os.getloadavg()[0]})
            vals[name], kind[name] = r["eigenvalues"], int(mc)
        if a.eigenruns:
            for name, flags, mc, env in vivit_runs:
                r = subprocess.run([a.eigenruns, "-model", MODEL, "-data", BATCH, "-k", "10", "-runs", str(a.warm)] + [f.replace("--", "-") for f in flags],
                                   stdout=subprocess.PIPE, check=True, text=True, env=env)
                ts = [x["total"] for x in json.loads(r.stdout)["runs"][1:]]
                warm.setdefault(name, []).append(statistics.median(ts))
            for ref in a.refs.split(","):
                mc, dt, threads = ref.split(":")
                out = os.path.join(tmp, "ref.json")
                subprocess.run([a.python, "-W", "ignore", os.path.join(HERE, "resnet8.py"), "run", "--dtype", dt, "--threads", threads, "--mc", mc,
                                "--runs", str(a.warm), "--json", out], check=True)
                ws = json.load(open(out))["warm_seconds"]
                name = f"ref {'exact' if mc == '0' else 'mc' + mc} {dt} {threads}t"
                warm.setdefault(name, []).append(statistics.median(x["forward"] + x["backward_eigh"] for x in ws))
        print(f"rep {rep + 1}/{a.reps} done (load {os.getloadavg()[0]:.1f})", file=sys.stderr)

    def med(name, key):
        return statistics.median(r[key] for r in runs[name])

    def stat(xs):
        return f"{statistics.median(xs):6.2f} [{min(xs):.2f}-{max(xs):.2f}]"

    print(f"ResNet-8 (78,042 parameters, N=32, C=10, top-10), {a.reps} repetitions, fresh processes, medians [range]")
    print(f"{'program':>22} | {'wall s':>18} | {'cpu s':>18} | {'compute s':>18} | {'peak RSS MiB':>22} | stages (median s)")
    for name, rs in runs.items():
        stages = {}
        for r in rs:
            for k, v in r["stages"].items():
                stages.setdefault(k, []).append(v)
        sts = ", ".join(f"{k} {statistics.median(v):.3f}" for k, v in stages.items() if k != "compute")
        print(
            f"{name:>22} | {stat([r['wall'] for r in rs])} | {stat([r['cpu'] for r in rs])} | "
            f"{stat(stages['compute'])} | {stat([r['rss'] for r in rs]):>22} | {sts}"
        )

    if warm:
        print(f"warm compute s (median over the repetitions of the median of runs 2-{a.warm} of one process) [range of the repetitions]:")
        for name, ws in warm.items():
            print(f"{name:>22} | {stat(ws)}")

    def compute(name):
        return statistics.median(r["stages"]["compute"] for r in runs[name])

    exact = vals["vivit"]
    for name in runs:
        if not name.startswith("ref"):
            continue
        sfxs = ["", " 1p"] if name.endswith(" 1t") and "vivit 1p" in runs else [""]
        ours = [o + sfx for sfx in sfxs for o in (["vivit", "vivit float32"] if kind[name] == 0 else ["vivit mc1", "vivit mc1 float32"])]
        for o in ours:
            print(
                f"{name} / {o}: wall {med(name, 'wall') / med(o, 'wall'):.1f}x, cpu {med(name, 'cpu') / med(o, 'cpu'):.1f}x, "
                f"compute {compute(name) / compute(o):.1f}x, peak RSS {med(name, 'rss') / med(o, 'rss'):.2f}x"
                + (f", warm compute {statistics.median(warm[name]) / statistics.median(warm[o]):.1f}x" if warm else "")
            )
    for name, v in vals.items():
        if kind[name] == 0 and name != "vivit":
            rel = max(abs(x - y) / abs(exact[0]) for x, y in zip(v, exact))
            print(f"{name}: exact top-10 eigenvalues differ from vivit's float64 ones by {rel:.1e} of the largest")
    loads = [r["load"] for rs in runs.values() for r in rs]
    print(f"one-minute load average during the runs: {min(loads):.1f}-{max(loads):.1f} (2 cores)")
    print_blas(blas)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"runs": runs, "warm": warm, "eigenvalues": vals}, fh, indent=1)


if __name__ == "__main__":
    main()
