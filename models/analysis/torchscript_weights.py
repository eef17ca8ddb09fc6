"""The tensors of a TorchScript archive (a `torch.jit.save` zip), read with numpy alone.

Speech detection needs only the few weights of Silero VAD's TorchScript file; importing torch to
read them costs about a second of CPU and ~200 MB in a server that otherwise never loads it. The
archive is a zip: `<name>/data.pkl` pickles the module tree (each module a dict of attributes,
tensors rebuilt by `torch._utils._rebuild_tensor_v2` from storages kept as `<name>/data/<key>`).
This unpickler rebuilds those tensors as read-only numpy views and each module as a plain dict,
and refuses any other global, so nothing in the file runs.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "HalfStorage": np.float16, "DoubleStorage": np.float64,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _Module(dict):
    """A TorchScript module's attributes (its parameters, buffers and submodules) by name."""

    def __setstate__(self, state: dict) -> None:
        self.update(state)


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_rest) -> np.ndarray:
    item = storage.itemsize
    return np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * item for s in stride), writeable=False)


def _as_list(values, *_rest) -> list:
    return list(values)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, archive: zipfile.ZipFile, prefix: str):
        super().__init__(file)
        self._archive, self._prefix = archive, prefix

    def find_class(self, module: str, name: str):
        if module.startswith("__torch__."):
            return _Module
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        if module == "torch.jit._pickle" and name.startswith("build_") and name.endswith("list"):
            return _as_list
        if (module, name) == ("collections", "OrderedDict"):
            return dict
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in a TorchScript archive")

    def persistent_load(self, pid):
        _kind, dtype, key, _location, numel = pid
        raw = self._archive.read(f"{self._prefix}/data/{key}")
        return np.frombuffer(raw, dtype, count=numel)


def read_tensors(path: str | Path) -> dict[str, np.ndarray]:
    """Every tensor in the archive's module tree by its dotted name, as in torch's `state_dict()`
    (`_model.encoder.0.reparam_conv.weight`), plus tensor attributes such as `_state`."""
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(names) != 1:
            raise ValueError(f"{path} is not a TorchScript archive (no single <name>/data.pkl)")
        prefix = names[0].split("/")[0]
        with archive.open(names[0]) as file:
            root = _Unpickler(file, archive, prefix).load()
    out: dict[str, np.ndarray] = {}

    def walk(module: dict, at: str) -> None:
        for key, value in module.items():
            if isinstance(value, np.ndarray):
                out[at + key] = value
            elif isinstance(value, _Module):
                walk(value, f"{at}{key}.")

    walk(root, "")
    return out
