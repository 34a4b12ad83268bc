#!/usr/bin/env python3
"""Writes the .pt test files of package torchpt without PyTorch.

It replays what torch.save (torch/serialization.py, _save, zip format,
pickle protocol 2) does for a state_dict: the same pickler with the same
persistent_id, the same reduction of tensors (torch._utils._rebuild_tensor_v2
with a storage, offset, size, stride, requires_grad and an empty
OrderedDict of backward hooks), the same zip records (archive/data.pkl,
archive/byteorder, archive/data/<key>, archive/version) and an OrderedDict
with the _metadata attribute that nn.Module.state_dict sets. Only the
torch classes are stand-ins, registered under their real module names so
that pickle writes the same GLOBAL opcodes.

Run from this directory: python3 gen_pt.py
"""

import collections
import io
import json
import pickle
import struct
import sys
import types
import zipfile

torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")
sys.modules["torch"] = torch
sys.modules["torch._utils"] = torch_utils
torch._utils = torch_utils


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    raise NotImplementedError


def _rebuild_parameter(data, requires_grad, backward_hooks):
    raise NotImplementedError


_rebuild_tensor_v2.__module__ = "torch._utils"
_rebuild_parameter.__module__ = "torch._utils"
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
torch_utils._rebuild_parameter = _rebuild_parameter

FORMATS = {}
for name, fmt in [("FloatStorage", "f"), ("DoubleStorage", "d"), ("LongStorage", "q"),
                  ("IntStorage", "i"), ("ShortStorage", "h"), ("CharStorage", "b"),
                  ("ByteStorage", "B"), ("BoolStorage", "?"), ("HalfStorage", "e")]:
    cls = type(name, (), {"__module__": "torch"})
    setattr(torch, name, cls)
    FORMATS[cls] = fmt


class Storage:
    def __init__(self, cls, values):
        self.cls, self.values = cls, list(values)

    def data(self, order="<"):
        return struct.pack(order + FORMATS[self.cls] * len(self.values), *self.values)


class Tensor:
    """A view of a storage, reduced as torch.Tensor.__reduce_ex__ does."""

    def __init__(self, storage, offset, size, stride, requires_grad=False, parameter=False, metadata=None):
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)
        self.requires_grad, self.parameter, self.metadata = requires_grad, parameter, metadata

    def __reduce_ex__(self, proto):
        args = (self.storage, self.offset, self.size, self.stride, self.requires_grad, collections.OrderedDict())
        if self.metadata:
            args = args + (self.metadata,)
        t = (_rebuild_tensor_v2, args)
        if self.parameter:
            # torch.nn.Parameter.__reduce_ex__
            return (_rebuild_parameter, (Tensor(self.storage, self.offset, self.size, self.stride), self.requires_grad, collections.OrderedDict()))
        return t


def contiguous(cls, values, size):
    stride, s = [], 1
    for d in reversed(size):
        stride.insert(0, s)
        s *= d
    return Tensor(Storage(cls, values), 0, size, stride)


def save(obj, path, order="little", archive="archive"):
    serialized, id_map = {}, {}

    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, Storage):
                key = id_map.setdefault(id(o), str(len(id_map)))
                serialized[key] = o
                return ("storage", o.cls, key, "cpu", len(o.values))
            return None

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(archive + "/data.pkl", buf.getvalue())
        z.writestr(archive + "/byteorder", order)
        for key in sorted(serialized):
            z.writestr(archive + "/data/" + key, serialized[key].data("<" if order == "little" else ">"))
        z.writestr(archive + "/version", "3\n")


def state_dict(items, modules):
    sd = collections.OrderedDict(items)
    sd._metadata = collections.OrderedDict((m, {"version": 1}) for m in modules)
    return sd


def main():
    F, D, L = torch.FloatStorage, torch.DoubleStorage, torch.LongStorage
    w = [0.5, -1.25, 2.0, 3.5, -0.75, 1.0, 0.125, -2.5, 4.0, 0.25, -3.0, 1.5]
    shared = Storage(F, [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0])
    items = [
        # nn.Linear(4, 3): weight [3, 4], bias [3], float32
        ("0.weight", contiguous(F, w, [3, 4])),
        ("0.bias", contiguous(F, [0.1, -0.2, 0.3], [3])),
        # a transposed view: size [4, 3], strides (1, 4) of a [3, 4] storage
        ("2.weight", Tensor(Storage(F, w), 0, [4, 3], [1, 4])),
        # two views of one shared storage, one with an offset
        ("2.bias", Tensor(shared, 2, [4], [1])),
        ("tied", Tensor(shared, 0, [2, 2], [4, 1])),
        ("double", contiguous(D, [1.5, -2.25, 1e-300, 3.0], [2, 2])),
        ("long", contiguous(L, [0, 9, -7, 2**40], [4])),
        ("scalar", Tensor(Storage(D, [42.0]), 0, [], [])),
        ("empty", Tensor(Storage(F, []), 0, [0, 3], [3, 1])),
        ("param", Tensor(Storage(F, [1.0, 2.0]), 0, [2], [1], requires_grad=True, parameter=True)),
        ("half", contiguous(torch.HalfStorage, [0.5, -2.0, 65504.0], [3])),
        ("expanded", Tensor(Storage(F, [7.0]), 0, [2, 3], [0, 0])),
    ]
    save(state_dict(items, ["", "0", "1", "2"]), "state_dict.pt")
    expected = {
        "0.weight": ["float32", [3, 4], w],
        "0.bias": ["float32", [3], [0.1, -0.2, 0.3]],
        "2.weight": ["float32", [4, 3], [w[r + 4 * c] for r in range(4) for c in range(3)]],
        "2.bias": ["float32", [4], [12.0, 13.0, 14.0, 15.0]],
        "tied": ["float32", [2, 2], [10.0, 11.0, 14.0, 15.0]],
        "double": ["float64", [2, 2], [1.5, -2.25, 1e-300, 3.0]],
        "long": ["int64", [4], [0, 9, -7, 2**40]],
        "scalar": ["float64", [], [42.0]],
        "empty": ["float32", [0, 3], []],
        "param": ["float32", [2], [1.0, 2.0]],
        "half": ["float16", [3], [0.5, -2.0, 65504.0]],
        "expanded": ["float32", [2, 3], [7.0] * 6],
    }
    with open("state_dict.json", "w") as f:
        json.dump({"order": [k for k, _ in items], "tensors": expected}, f, indent=1)

    # The same tensors saved on a big-endian machine, in an archive named
    # after the file (as torch < 2 did), as a plain dict.
    save({"a": contiguous(D, [1.0, -2.0], [2]), "b": contiguous(L, [3, -4], [2])}, "bigendian.pt", order="big", archive="bigendian")

    # A tensor saved with the optional 7th argument (tensor metadata).
    save(state_dict([("w", Tensor(Storage(F, [1.0, 2.0]), 0, [2], [1], metadata={"x": 1}))], [""]), "metadata.pt")

    # Not state_dicts: a checkpoint dict holding a state_dict, and a list.
    save({"epoch": 3, "model": state_dict([("0.weight", contiguous(F, [1.0], [1, 1]))], [""])}, "nested.pt")
    save([contiguous(F, [1.0], [1])], "list.pt")

    # A view that runs past the end of its storage.
    save(state_dict([("bad", Tensor(Storage(F, [1.0, 2.0, 3.0]), 2, [2], [1]))], [""]), "outofrange.pt")


if __name__ == "__main__":
    main()


def written():
    """What torchpt.Write must reproduce byte for byte in data.pkl: a
    state_dict of contiguous float32, float64 and int64 tensors."""
    F, D, L = torch.FloatStorage, torch.DoubleStorage, torch.LongStorage
    items = [
        ("0.weight", contiguous(F, [0.5, -1.0, 2.0, 0.25, 3.0, -0.5], [2, 3])),
        ("0.bias", contiguous(F, [0.1, 0.2], [2])),
        ("2.weight", contiguous(D, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [2, 2, 2])),
        ("2.big", contiguous(D, [0.0] * 300, [300])),
        ("count", contiguous(L, [-5], [])),
        ("4.weight", contiguous(F, [], [0, 4, 1, 2])),
    ]
    sd = state_dict(items, ["", "0", "2", "4"])
    save(sd, "written.pt")


if __name__ == "__main__":
    written()
