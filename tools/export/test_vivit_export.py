"""Self-test of vivit_export: python3 -m unittest (run in this directory)."""

import os
import sys
import tempfile
import unittest

import onnx
from onnx import numpy_helper
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vivit_export import LOSS_KEY, export, parse_loss, read_safetensors, save_batch  # noqa: E402


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(2)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.fc(self.drop(x.flatten(1)))


class SaveBatchTest(unittest.TestCase):
    def test_round_trip(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "batch.safetensors")
            x = torch.randn(5, 1, 4, 4, dtype=torch.float64)
            save_batch(path, x, torch.tensor([0, 2, 1, 1, 0]))
            b = read_safetensors(path)
            self.assertEqual(b["inputs"].dtype.str, "<f4")
            self.assertEqual(list(b["inputs"].shape), [5, 1, 4, 4])
            self.assertTrue((b["inputs"] == x.float().numpy()).all())
            self.assertEqual(b["targets"].dtype.str, "<i8")
            self.assertEqual(b["targets"].tolist(), [0, 2, 1, 1, 0])
            save_batch(path, x.numpy(), torch.randn(5, 3))
            self.assertEqual(read_safetensors(path)["targets"].dtype.str, "<f4")


class ExportTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.model = Tiny()
        # Move the running statistics off their initial values, as training does.
        self.model.train()
        with torch.no_grad():
            self.model(torch.randn(8, 1, 4, 4) * 3 + 1)
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "tiny.onnx")

    def tearDown(self):
        self.dir.cleanup()

    def test_export(self):
        x = torch.randn(5, 1, 4, 4)
        export(self.model, x, self.path, loss="mse:sum")
        self.assertFalse(self.model.training, "model left in train mode")
        m = onnx.load(self.path)
        onnx.checker.check_model(m)

        inits = [t.name for t in m.graph.initializer]
        want = [k for k in self.model.state_dict() if not k.endswith("num_batches_tracked")]
        self.assertEqual(inits, want, "initializers are not the state_dict names in order")
        for name, t in self.model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            got = numpy_helper.to_array(next(i for i in m.graph.initializer if i.name == name))
            self.assertTrue((got == t.numpy()).all(), name)

        ops = [n.op_type for n in m.graph.node]
        self.assertIn("BatchNormalization", ops, "BatchNorm folded away")
        bn = next(n for n in m.graph.node if n.op_type == "BatchNormalization")
        self.assertEqual(list(bn.input[1:]), ["bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"])
        for a in bn.attribute:
            if a.name == "training_mode":
                self.assertEqual(a.i, 0, "BatchNorm exported in training mode")
        self.assertNotIn("Dropout", ops, "eval-mode Dropout should vanish")

        self.assertEqual(m.opset_import[0].version, 17)
        self.assertEqual([i.name for i in m.graph.input], ["input"])
        self.assertEqual([o.name for o in m.graph.output], ["logits"])
        self.assertEqual(m.graph.input[0].type.tensor_type.shape.dim[0].dim_param, "batch")
        self.assertEqual(m.graph.output[0].type.tensor_type.shape.dim[0].dim_param, "batch")

        meta = {p.key: p.value for p in m.metadata_props}
        self.assertEqual(meta, {LOSS_KEY: "mse:sum"})

    def test_default_loss_and_reexport(self):
        x = torch.randn(2, 1, 4, 4)
        export(self.model, x, self.path)
        export(self.model, x, self.path, loss="cross_entropy")
        m = onnx.load(self.path)
        self.assertEqual([(p.key, p.value) for p in m.metadata_props], [(LOSS_KEY, "cross_entropy:mean")])

    def test_plain_export_differs(self):
        # What the recipe prevents: the default export folds BatchNorm into
        # the convolution and gives the folded tensors anonymous names. If
        # this ever stops being true, the checks above would not tell.
        self.model.eval()
        torch.onnx.export(self.model, torch.randn(2, 1, 4, 4), self.path, opset_version=17)
        m = onnx.load(self.path)
        self.assertNotIn("BatchNormalization", [n.op_type for n in m.graph.node])
        self.assertTrue(any(t.name.startswith("onnx::") for t in m.graph.initializer))

    def test_bad_loss(self):
        for bad in ["", "nll", "mse:avg", "cross_entropy:", "MSE"]:
            with self.assertRaises(ValueError, msg=bad):
                export(self.model, torch.randn(2, 1, 4, 4), self.path, loss=bad)
        self.assertFalse(os.path.exists(self.path), "a bad loss must not write a file")
        self.assertEqual(parse_loss("mse"), ("mse", "mean"))
        self.assertEqual(parse_loss("cross_entropy:sum"), ("cross_entropy", "sum"))


if __name__ == "__main__":
    unittest.main()
