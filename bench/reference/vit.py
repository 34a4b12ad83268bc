"""The ViT of issue 15's speed target, and what a user would do instead of vivit.

    python3 vit.py export [--out DIR]        # writes DIR/vit.onnx and DIR/vit_batch.safetensors
    python3 vit.py run [--dtype float32|float64] [--threads 2] [--json FILE]
    python3 vit.py hostile [--out DIR]       # hostile ONNX files built from a small ViT of the same code

The case: 3x32x32 inputs, patch embedding Conv(3->64, 4x4, stride 4) -> 64
tokens of width 64 plus a learned position embedding; 2 pre-LayerNorm blocks
(4-head self-attention with one qkv linear 64->192 and an output linear
64->64; GELU MLP 64->128->64; residual adds); final LayerNorm; mean over
tokens (no class token); linear 64->10. Cross-entropy, mean, N = 32.
74,954 parameters. The weights are PyTorch's default initialisation from
seed 0, the inputs N(0, 1) and the targets uniform over the 10 classes
(seed 1).

"run" is the reference of bench/: the top-10 eigenpairs of the GGN of the
batch loss with SciPy's Lanczos solver (eigsh, tol 1e-6) driven by
GGN-vector products G v = J^T H J v of PyTorch autograd: J v by double
backward (the vector-Jacobian product of a dummy cotangent u, built once
with create_graph, differentiated with respect to u), H (J v) with the
softmax Hessian, and J^T by one more vector-Jacobian product, all on the
one retained graph of one forward pass. It reads the weights from the ONNX
file and the batch from the safetensors file, so it computes what vivit
computes. It prints (or writes with --json) the eigenvalues, the number of
products, the time of each stage and the peak resident memory.

Needs torch (1.13), onnx, numpy and scipy; not needed by vivit's tests.
"""

import argparse
import os
import resource
import sys
import time

import numpy as np

from refrun import blas_library, emit

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "..", "testdata")


def build(width=64, heads=4, depth=2, mlp=128, patch=4, image=32, channels=3, classes=10):
    import torch
    import torch.nn as nn

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = heads
            self.qkv = nn.Linear(width, 3 * width)
            self.proj = nn.Linear(width, width)

        def forward(self, x):
            n, t, d = x.shape
            h = self.heads
            qkv = self.qkv(x).reshape(n, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            a = (q @ k.transpose(-2, -1)) / (d // h) ** 0.5
            a = a.softmax(dim=-1)
            y = (a @ v).transpose(1, 2).reshape(n, t, d)
            return self.proj(y)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1 = nn.LayerNorm(width)
            self.attn = Attention()
            self.norm2 = nn.LayerNorm(width)
            self.fc1 = nn.Linear(width, mlp)
            self.fc2 = nn.Linear(mlp, width)

        def forward(self, x):
            x = x + self.attn(self.norm1(x))
            return x + self.fc2(nn.functional.gelu(self.fc1(self.norm2(x))))

    tokens = (image // patch) ** 2

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.pos = nn.Parameter(0.02 * torch.randn(1, tokens, width))
            self.embed = nn.Conv2d(channels, width, patch, stride=patch)
            self.blocks = nn.ModuleList([Block() for _ in range(depth)])
            self.norm = nn.LayerNorm(width)
            self.head = nn.Linear(width, classes)

        def forward(self, x):
            x = self.embed(x).flatten(2).transpose(1, 2) + self.pos
            for b in self.blocks:
                x = b(x)
            return self.head(self.norm(x).mean(dim=1))

    return ViT()


def export_case(out, n=32, **kw):
    import torch

    sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "export"))
    from vivit_export import export, write_safetensors

    torch.manual_seed(0)
    model = build(**kw)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, kw.get("channels", 3), kw.get("image", 32), kw.get("image", 32), generator=g)
    y = torch.randint(0, kw.get("classes", 10), (n,), generator=g)
    os.makedirs(out, exist_ok=True)
    onnx_path = os.path.join(out, "vit.onnx")
    export(model, x, onnx_path, loss="cross_entropy:mean")
    write_safetensors(os.path.join(out, "vit_batch.safetensors"), {"inputs": x.numpy(), "targets": y.numpy().astype(np.int64)})
    print(f"{onnx_path}: {sum(p.numel() for p in model.parameters())} parameters, {os.path.getsize(onnx_path)} bytes")
    return model, x, y


def load_case(dtype, onnx_path, batch_path):
    """The model with the ONNX file's weights and the batch, in dtype."""
    import torch

    sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "export"))
    from vivit_export import load_onnx_weights, read_safetensors

    model = load_onnx_weights(build(), onnx_path)
    model.eval()
    model.to(dtype)
    b = read_safetensors(batch_path)
    return model, torch.from_numpy(b["inputs"]).to(dtype), torch.from_numpy(b["targets"])


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(dtype_name, threads, k=10, tol=1e-6, onnx_path=None, batch_path=None):
    t_start = time.perf_counter()
    import torch
    from scipy.sparse.linalg import LinearOperator, eigsh

    t_import = time.perf_counter()
    torch.set_num_threads(threads)
    dtype = {"float32": torch.float32, "float64": torch.float64}[dtype_name]
    model, x, y = load_case(dtype, onnx_path or os.path.join(TESTDATA, "vit.onnx"), batch_path or os.path.join(TESTDATA, "vit_batch.safetensors"))
    params = [p for p in model.parameters()]
    dim = sum(p.numel() for p in params)
    t_load = time.perf_counter()

    # One forward pass; its graph is kept for every product.
    logits = model(x)
    n, c = logits.shape
    p = torch.softmax(logits.detach(), dim=1)
    u = torch.zeros_like(logits, requires_grad=True)
    gu = torch.autograd.grad(logits, params, u, create_graph=True)  # J^T u, linear in u
    t_setup = time.perf_counter()

    count = [0]

    def ggn(v):
        count[0] += 1
        v = torch.from_numpy(np.asarray(v, dtype=np.float64).reshape(-1)).to(dtype)
        vs, off = [], 0
        for q in params:
            vs.append(v[off : off + q.numel()].view_as(q))
            off += q.numel()
        jv = torch.autograd.grad(gu, u, vs, retain_graph=True)[0]  # J v, [n, c]
        hjv = (p * jv - p * (p * jv).sum(1, keepdim=True)) / n  # softmax cross-entropy Hessian, mean
        g = torch.autograd.grad(logits, params, hjv, retain_graph=True)
        return torch.cat([t.reshape(-1) for t in g]).to(torch.float64).numpy()

    op = LinearOperator((dim, dim), matvec=ggn, dtype=np.float64)
    v0 = np.random.RandomState(0).randn(dim)
    vals, vecs = eigsh(op, k=k, which="LA", tol=tol, v0=v0)
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    t_eig = time.perf_counter()
    return {
        "dtype": dtype_name,
        "threads": threads,
        "num_params": dim,
        "eigenvalues": vals.tolist(),
        "products": count[0],
        "seconds": {
            "import": t_import - t_start,
            "load": t_load - t_import,
            "forward": t_setup - t_load,
            "eigsh": t_eig - t_setup,
            "total_after_import": t_eig - t_import,
        },
        "peak_rss_mib": peak_rss_mib(),
        "blas": blas_library(),
    }


HOSTILE_README = """
## Files built from the bench ViT

Generated by `bench/reference/vit.py hostile` from a small ViT of the code of the
bench's (issue 15): 3×8×8 input, patch 4 (4 tokens), width 8, 2 heads (head size 4), 1
pre-LayerNorm block, MLP 16 (GELU), mean pooling, 4 classes, exported with the recipe.
Each file changes one node of the first attention block; the reader must refuse every
one with one line, except `vit_valid.onnx`, which must load.

| file | bytes | what is wrong |
|------|-------|---------------|
"""


def hostile(out):
    """Writes hostile ONNX files built from a small ViT and appends their README lines."""
    import tempfile

    import onnx
    import torch
    from onnx import helper, numpy_helper

    sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "export"))
    from vivit_export import export

    torch.manual_seed(0)
    kw = dict(width=8, heads=2, depth=1, mlp=16, patch=4, image=8, channels=3, classes=4)
    model = build(**kw)
    x = torch.randn(2, 3, 8, 8)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "vit.onnx")
        export(model, x, path)
        base = onnx.load(path)

    def node(m, name):
        for nd in m.graph.node:
            if nd.name == name:
                return nd
        raise KeyError(name)

    def attr(nd, name):
        for a in nd.attribute:
            if a.name == name:
                return a
        raise KeyError(name)

    files = {"vit_valid.onnx": ("the unedited small ViT (its attention scale exported as Cast → Pow(·, 0.5) of a shape-derived constant, which the reader folds): it must load", base.SerializeToString())}

    def variant(name, what, edit):
        m = onnx.ModelProto()
        m.CopyFrom(base)
        edit(m)
        files[name] = (what, m.SerializeToString())

    def fixed_batch(m):
        m.graph.initializer.append(numpy_helper.from_array(np.array([2, 4, 3, 2, 4], dtype=np.int64), "fixed_shape"))
        node(m, "/blocks.0/attn/Reshape").input[1] = "fixed_shape"

    variant(
        "vit_reshape_fixed_batch.onnx",
        "the attention's Reshape of qkv [N,4,24] reads the constant shape [2,4,3,2,4] (an initializer) instead of the Shape/Gather/Concat chain: it fixes the batch size at 2",
        fixed_batch,
    )

    def softmax_batch(m):
        attr(node(m, "/blocks.0/attn/Softmax"), "axis").i = 0

    variant("vit_softmax_batch_axis.onnx", "the attention Softmax has axis=0, the batch axis of the scores [N,2,4,4]: it couples the samples", softmax_batch)

    def matmul_batch(m):
        mm = node(m, "/blocks.0/attn/MatMul")
        t = helper.make_node("Transpose", [mm.input[0]], ["q_batch_last"], name="/blocks.0/attn/Transpose_q", perm=[3, 1, 2, 0])
        mm.input[0] = "q_batch_last"
        nodes = list(m.graph.node)
        i = nodes.index(mm)
        m.graph.ClearField("node")
        m.graph.node.extend(nodes[:i] + [t] + nodes[i:])

    variant(
        "vit_matmul_batch_contract.onnx",
        "the queries [N,2,4,4] go through a new Transpose(perm [3,1,2,0]) to [4,2,4,N] before the scores' MatMul, which then contracts over the batch axis",
        matmul_batch,
    )

    def gather_range(m):
        m.graph.initializer.append(numpy_helper.from_array(np.array(3, dtype=np.int64), "index_3"))
        node(m, "/blocks.0/attn/Gather_5").input[1] = "index_3"

    variant(
        "vit_gather_out_of_range.onnx",
        "the Gather that picks the values out of qkv [3,N,2,4,4] (axis 0) reads the index 3: out of range for an axis of size 3",
        gather_range,
    )

    def softmax_attr(m):
        attr(node(m, "/blocks.0/attn/Softmax"), "axis").i = 7

    variant("vit_softmax_axis_range.onnx", "the attention Softmax has axis=7 for the 4-axis scores", softmax_attr)

    readme = os.path.join(out, "README.md")
    with open(readme) as fh:
        text = fh.read()
    cut = text.find(HOSTILE_README.strip().splitlines()[0])
    if cut >= 0:
        text = text[:cut].rstrip() + "\n"
    lines = [HOSTILE_README.rstrip("\n")]
    for name, (what, data) in files.items():
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(data)
        assert len(data) < 50_000, name
        lines.append(f"| `{name}` | {len(data)} | {what} |")
        print(f"{name}: {len(data)} bytes: {what}")
    with open(readme, "w") as fh:
        fh.write(text + "\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("--out", default=TESTDATA)
    h = sub.add_parser("hostile")
    h.add_argument("--out", default=os.path.join(HERE, "..", "..", "onnx", "testdata", "hostile"))
    r = sub.add_parser("run")
    r.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--model", default=None)
    r.add_argument("--data", default=None)
    r.add_argument("--json", default=None)
    a = ap.parse_args()
    if a.cmd == "export":
        export_case(a.out)
        return
    if a.cmd == "hostile":
        hostile(a.out)
        return
    res = run(a.dtype, a.threads, onnx_path=a.model, batch_path=a.data)
    emit(res, a.json)


if __name__ == "__main__":
    main()
