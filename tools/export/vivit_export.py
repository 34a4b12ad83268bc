"""Export a PyTorch model to the ONNX file vivit reads, and a batch to the
safetensors file it reads.

    from vivit_export import export, save_batch
    export(model, example, "net.onnx", loss="cross_entropy:mean")
    save_batch("batch.safetensors", inputs, targets)

The recipe (see README.md): the model is put in eval mode and exported with
training=TrainingMode.PRESERVE and do_constant_folding=False, so BatchNorm
stays its own node with its running statistics and every initializer keeps
its state_dict name; opset 17, so LayerNorm is one LayerNormalization node;
input "input" and output "logits" with a dynamic batch axis. The loss, which
ONNX files do not hold, is stored in the metadata property "vivit.loss".
"""

import json
import re
import struct

import numpy as np
import onnx
import torch

__all__ = ["export", "LOSS_KEY", "parse_loss", "save_batch", "write_safetensors", "read_safetensors"]

LOSS_KEY = "vivit.loss"

_LOSS = re.compile(r"^(cross_entropy|mse)(:(mean|sum))?$")


def parse_loss(loss):
    """Returns (type, reduction) of a loss string "cross_entropy|mse[:mean|sum]".

    The reduction defaults to "mean". Raises ValueError for anything else.
    """
    m = _LOSS.match(loss)
    if m is None:
        raise ValueError(f"loss {loss!r}: want cross_entropy|mse[:mean|sum]")
    return m.group(1), m.group(3) or "mean"


def export(model, example, path, loss="cross_entropy:mean"):
    """Exports model (an nn.Module) with the example input to path.

    The model is left in eval mode. Dropout is then an identity and
    BatchNorm uses its running statistics, as vivit assumes. Returns the
    loaded onnx.ModelProto that was written.
    """
    kind, reduction = parse_loss(loss)
    model.eval()
    torch.onnx.export(
        model,
        example,
        path,
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False,
        opset_version=17,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )
    m = onnx.load(path)
    for p in list(m.metadata_props):
        if p.key == LOSS_KEY:
            m.metadata_props.remove(p)
    p = m.metadata_props.add()
    p.key = LOSS_KEY
    p.value = f"{kind}:{reduction}"
    onnx.save(m, path)
    return m


def save_batch(path, inputs, targets):
    """Writes a batch as vivit reads it: "inputs" float32 [N, *input_shape]
    (or flattened [N, prod(input_shape)]) and "targets", int64 class indices
    [N] for cross-entropy or float32 [N, C] for MSE. Accepts tensors or
    numpy arrays."""
    x = np.asarray(inputs.detach().cpu() if torch.is_tensor(inputs) else inputs, dtype=np.float32)
    t = targets.detach().cpu().numpy() if torch.is_tensor(targets) else np.asarray(targets)
    t = t.astype(np.int64) if np.issubdtype(t.dtype, np.integer) else t.astype(np.float32)
    write_safetensors(path, {"inputs": x, "targets": t})


def write_safetensors(path, tensors):
    """Writes {name: numpy array} (float32 -> F32, float64 -> F64, int64 ->
    I64), little-endian, with the header padded with spaces to a multiple
    of 8 bytes."""
    dt = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int64"): "I64"}
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(h)))
        fh.write(h)
        for b in blobs:
            fh.write(b)


def read_safetensors(path):
    """Returns {name: numpy array} of a safetensors file (F32, F64, I64)."""
    with open(path, "rb") as fh:
        data = fh.read()
    (hl,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + hl])
    out = {}
    for name, d in header.items():
        if name == "__metadata__":
            continue
        a, b = d["data_offsets"]
        dt = {"F32": "<f4", "I64": "<i8", "F64": "<f8"}[d["dtype"]]
        out[name] = np.frombuffer(data[8 + hl + a : 8 + hl + b], dtype=dt).reshape(d["shape"]).copy()
    return out


def load_onnx_weights(model, path):
    """Loads a model's state_dict from the initializers of an ONNX file that
    export wrote from the same architecture: each initializer by its name,
    names that the exporter wrote as an Identity of an equal earlier tensor
    from that tensor (BatchNorm's num_batches_tracked, which the file does
    not hold, stays as it is). Returns the model."""
    import onnx
    import torch
    from onnx import numpy_helper

    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    for nd in m.graph.node:
        if nd.op_type == "Identity" and nd.input[0] in inits:
            inits[nd.output[0]] = inits[nd.input[0]]
    sd = model.state_dict()
    for k in sd:
        if not k.endswith("num_batches_tracked"):
            sd[k] = torch.from_numpy(inits[k].copy())
    model.load_state_dict(sd)
    return model
