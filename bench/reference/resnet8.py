"""ResNet-8 of bench.ResNet8 in PyTorch, and the ViViT/BackPACK reference on it.

    go run ./bench/cmd/resnet8weights -out /tmp/resnet8_go.safetensors
    python3 resnet8.py export --weights /tmp/resnet8_go.safetensors [--out DIR]
        # writes DIR/resnet8.onnx and DIR/resnet8_batch.safetensors
    PYTHONPATH=... python3 resnet8.py run [--dtype float32|float64] [--threads 2] [--mc 1] [--json FILE]

The network is bench.ResNet8 (bench/nets.go): 3x32x32 inputs, a 3x3 stem
convolution to 16 channels, BatchNorm, ReLU; three basic blocks
(conv-BN-ReLU-conv-BN plus a shortcut, then ReLU) of 16, 32 and 64
channels, the last two with stride 2 and a projection shortcut (1x1
convolution with stride 2, BatchNorm); global average pooling; a linear
layer 64->10. Convolutions have no bias, BatchNorm runs in inference mode
(running statistics, eps 1e-5). Cross-entropy, mean, N = 32; 78,042
parameters. "export" rebuilds it from the weights and the batch that
bench/cmd/resnet8weights writes (so the ONNX file is the Go benchmark's
network, rounded to float32), checks the loss against vivit's, and exports
it with tools/export's recipe.

"run" is the PyTorch reference of the issue: ViViT (github.com/f-dangel/vivit,
1.0.0) on BackPACK (github.com/f-dangel/backpack, 1.6.0, the last release
for torch < 2.2), with BackPACK's graph converter (extend(model,
use_converter=True)) for the residual adds. It computes the top-10 GGN
eigenpairs the way ViViT's documented example does (vivit.EighComputation,
one parameter group of all parameters, a criterion keeping the 10 largest
Gram eigenvalues; exact loss Hessian, or --mc M Monte-Carlo samples). It
reads the weights from the ONNX file and the batch from the safetensors
file, so it computes what vivit computes. The global average pooling is
AvgPool2d(8) here (the same function on the 8x8 maps; ViViT has no
extension for AdaptiveAvgPool2d). It prints (or writes with --json) the
eigenvalues, the time of each stage and the peak resident memory.

The reference is not part of this repository; bring it with

    git clone https://github.com/f-dangel/backpack   && git -C backpack checkout 1.6.0
    git clone https://github.com/f-dangel/vivit      && git -C vivit checkout 1.0.0
    git clone https://github.com/arogozhnikov/einops && git -C einops checkout v0.6.1
    git clone https://github.com/f-dangel/unfoldNd   && git -C unfoldNd checkout 0.2.3
    git clone https://github.com/pypa/packaging      && git -C packaging checkout 23.1
    export PYTHONPATH=$PWD/backpack:$PWD/vivit:$PWD/einops:$PWD/unfoldNd:$PWD/packaging/src

(or pip install backpack-for-pytorch==1.6.0 vivit-for-pytorch==1.0.0).
Needs torch 1.13, onnx, numpy.
"""

import argparse
import json
import os
import resource
import struct
import sys
import time

import numpy as np

from refrun import blas_library, emit

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "..", "testdata")


def build(pool="global"):
    """bench.ResNet8 as a PyTorch module; pool "global" (AdaptiveAvgPool2d) or "avg8" (AvgPool2d(8))."""
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu1 = nn.ReLU()
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu2 = nn.ReLU()
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
            return self.relu2(y + self.shortcut(x))

    class ResNet8(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            self.relu = nn.ReLU()
            self.layer1 = Block(16, 16, 1)
            self.layer2 = Block(16, 32, 2)
            self.layer3 = Block(32, 64, 2)
            self.pool = nn.AdaptiveAvgPool2d(1) if pool == "global" else nn.AvgPool2d(8)
            self.flatten = nn.Flatten()
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = self.layer3(self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x))))))
            return self.fc(self.flatten(self.pool(x)))

    return ResNet8()


def read_metadata(path):
    with open(path, "rb") as fh:
        (hl,) = struct.unpack("<Q", fh.read(8))
        return json.loads(fh.read(hl)).get("__metadata__", {})


def export_case(weights, out):
    import torch

    sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "export"))
    from vivit_export import export, read_safetensors, write_safetensors

    w = read_safetensors(weights)
    meta = read_metadata(weights)
    model = build()
    sd = model.state_dict()
    for k in sd:
        if k.endswith("num_batches_tracked"):
            continue
        sd[k] = torch.from_numpy(w[k]).to(torch.float32)
    model.load_state_dict(sd)
    for name, eps in json.loads(meta["eps"]).items():
        assert abs(model.get_submodule(name).eps - eps) < 1e-12, name
    model.eval()
    x = torch.from_numpy(w["inputs"]).to(torch.float32)
    y = torch.from_numpy(w["targets"])
    # The Go model's loss, in float64, as a check of the rebuild.
    m64 = build().double().eval()
    m64.load_state_dict({k: (torch.from_numpy(w[k]) if k in w else v) for k, v in sd.items()})
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(m64(torch.from_numpy(w["inputs"])), y).item()
    want = json.loads(meta["loss"])
    assert abs(loss - want) < 1e-12 * abs(want) + 1e-12, (loss, want)
    os.makedirs(out, exist_ok=True)
    onnx_path = os.path.join(out, "resnet8.onnx")
    export(model, x, onnx_path, loss="cross_entropy:mean")
    write_safetensors(os.path.join(out, "resnet8_batch.safetensors"), {"inputs": x.numpy(), "targets": y.numpy().astype(np.int64)})
    n = sum(p.numel() for p in model.parameters())
    print(f"{onnx_path}: {n} parameters, {os.path.getsize(onnx_path)} bytes; float64 loss {loss:.15g} (vivit: {want:.15g})")


def load_case(dtype, onnx_path, batch_path):
    """The model (pooling as AvgPool2d(8)) with the ONNX file's weights and the batch, in dtype."""
    import torch

    sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "export"))
    from vivit_export import load_onnx_weights, read_safetensors

    model = load_onnx_weights(build(pool="avg8"), onnx_path)
    model.eval()
    model.to(dtype)
    b = read_safetensors(batch_path)
    return model, torch.from_numpy(b["inputs"]).to(dtype), torch.from_numpy(b["targets"])


def patch_torch_version():
    """Debian's torch 1.13 calls itself 1.13.0a0, which BackPACK 1.6.0's
    check TORCH_VERSION >= 1.13 reads as older (a pre-release), so it imports
    torch.nn.grad._grad_input_padding, which torch 1.13 no longer has. Report
    the release version to that check."""
    import pkg_resources
    import torch

    if "a0" not in torch.__version__:
        return
    orig = pkg_resources.get_distribution

    class Dist:
        version = torch.__version__.split("a0")[0]

    pkg_resources.get_distribution = lambda name: Dist() if name == "torch" else orig(name)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(dtype_name, threads, mc=0, k=10, runs=1, onnx_path=None, batch_path=None):
    t_start = time.perf_counter()
    import torch

    patch_torch_version()
    from backpack import backpack, extend
    from vivit.linalg.eigh import EighComputation

    t_import = time.perf_counter()
    torch.set_num_threads(threads)
    dtype = {"float32": torch.float32, "float64": torch.float64}[dtype_name]
    # BackPACK's AvgPool Jacobian builds its ConvTranspose in the default dtype.
    torch.set_default_dtype(dtype)
    model, x, y = load_case(dtype, onnx_path or os.path.join(TESTDATA, "resnet8.onnx"), batch_path or os.path.join(TESTDATA, "resnet8_batch.safetensors"))
    t_load = time.perf_counter()
    model = extend(model, use_converter=True)
    loss_fn = extend(torch.nn.CrossEntropyLoss(reduction="mean"))
    params = [p for p in model.parameters() if p.requires_grad]
    dim = sum(p.numel() for p in params)
    t_extend = time.perf_counter()

    def top_k(evals):
        return [evals.numel() - k + i for i in range(k)]

    results = []
    for r in range(runs):
        torch.manual_seed(r)  # the Monte-Carlo draws
        t0 = time.perf_counter()
        loss = loss_fn(model(x), y)
        t1 = time.perf_counter()
        computation = EighComputation(mc_samples=mc)
        group = {"params": params, "criterion": top_k}
        with backpack(computation.get_extension(), extension_hook=computation.get_extension_hook([group])):
            loss.backward()
        evals, evecs = computation.get_result(group)
        t2 = time.perf_counter()
        for p in params:
            p.grad = None
        order = torch.argsort(evals, descending=True)
        results.append(
            {
                "eigenvalues": evals[order].to(torch.float64).tolist(),
                "vector_shapes": [list(e.shape) for e in evecs],
                "loss": loss.item(),
                "forward": t1 - t0,
                "backward_eigh": t2 - t1,
            }
        )
    first = results[0]
    out = {
        "dtype": dtype_name,
        "threads": threads,
        "mc": mc,
        "num_params": dim,
        "loss": first["loss"],
        "eigenvalues": first["eigenvalues"],
        "seconds": {
            "import": t_import - t_start,
            "load": t_load - t_import,
            "extend": t_extend - t_load,
            "forward": first["forward"],
            "backward_eigh": first["backward_eigh"],
            "total_after_import": t_extend - t_import + first["forward"] + first["backward_eigh"],
        },
        "peak_rss_mib": peak_rss_mib(),
        "blas": blas_library(),
    }
    if runs > 1:
        out["warm_seconds"] = [{"forward": r["forward"], "backward_eigh": r["backward_eigh"]} for r in results[1:]]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("--weights", required=True, help="the file of go run ./bench/cmd/resnet8weights")
    e.add_argument("--out", default=TESTDATA)
    r = sub.add_parser("run")
    r.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--mc", type=int, default=0, help="Monte-Carlo samples (0: exact GGN)")
    r.add_argument("--k", type=int, default=10)
    r.add_argument("--runs", type=int, default=1, help="computations in this process (the later ones warm)")
    r.add_argument("--model", default=None)
    r.add_argument("--data", default=None)
    r.add_argument("--json", default=None)
    a = ap.parse_args()
    if a.cmd == "export":
        export_case(a.weights, a.out)
        return
    res = run(a.dtype, a.threads, mc=a.mc, k=a.k, runs=a.runs, onnx_path=a.model, batch_path=a.data)
    emit(res, a.json)


if __name__ == "__main__":
    main()
