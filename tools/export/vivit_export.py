"""Export a PyTorch model to the ONNX file vivit reads.

    from vivit_export import export
    export(model, example, "net.onnx", loss="cross_entropy:mean")

The recipe (see README.md): the model is put in eval mode and exported with
training=TrainingMode.PRESERVE and do_constant_folding=False, so BatchNorm
stays its own node with its running statistics and every initializer keeps
its state_dict name; opset 17, so LayerNorm is one LayerNormalization node;
input "input" and output "logits" with a dynamic batch axis. The loss, which
ONNX files do not hold, is stored in the metadata property "vivit.loss".
"""

import re

import onnx
import torch

__all__ = ["export", "LOSS_KEY", "parse_loss"]

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
