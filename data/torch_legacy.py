"""Read a legacy (pre-zip) ``torch.save`` file with NumPy, without torch and
without running code from the file.

Layout of the stream (``torch.serialization._legacy_save``):

1. pickle: magic number ``0x1950a86a20f9469cfc6c``
2. pickle: protocol version ``1001``
3. pickle: ``sys_info`` dict (``little_endian``, type sizes)
4. pickle: the saved object; each tensor is
   ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
   backward_hooks)`` whose storage is a persistent id
   ``("storage", torch.XStorage, key, location, numel, view_metadata)``
5. pickle: the sorted list of storage keys
6. per key: ``int64`` element count, then the raw little-endian elements.

Only the globals above are resolved (to local stand-ins); anything else is
refused by :class:`~data.safe_pickle.RestrictedUnpickler`.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from .safe_pickle import RestrictedUnpickler, UnsafePickleError

__all__ = ["MAGIC", "PROTOCOL", "STORAGE_DTYPES", "load_torch_legacy"]

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "ByteStorage": np.uint8, "CharStorage": np.int8, "ShortStorage": np.int16,
    "IntStorage": np.int32, "LongStorage": np.int64, "BoolStorage": np.bool_,
}


@dataclass(frozen=True)
class _StorageType:
    dtype: Any


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: Any
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage, offset, size, stride, *_ignored) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


def _allowed() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("collections", "OrderedDict"): OrderedDict,
    }
    for name, dtype in STORAGE_DTYPES.items():
        allowed[("torch", name)] = _StorageType(dtype)
    return allowed


def _materialise(obj: Any, storages: dict[str, np.ndarray], source: str) -> Any:
    if isinstance(obj, _TensorRef):
        base = storages[obj.storage.key]
        item = base.itemsize
        if obj.offset < 0 or any(n < 0 for n in obj.size) or any(s < 0 for s in obj.stride) \
                or len(obj.size) != len(obj.stride):
            raise ValueError(f"{source}: tensor with invalid offset/size/stride")
        if 0 not in obj.size:
            last = obj.offset + sum((n - 1) * s for n, s in zip(obj.size, obj.stride))
            if last >= len(base):  # would read outside its storage
                raise ValueError(f"{source}: tensor extends past the end of its storage")
        view = np.lib.stride_tricks.as_strided(
            base[obj.offset:], shape=obj.size, strides=[s * item for s in obj.stride])
        return np.array(view)  # own the memory, contiguous
    if isinstance(obj, dict):
        return type(obj)((k, _materialise(v, storages, source)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(v, storages, source) for v in obj)
    return obj


def load_torch_legacy(data: bytes, *, source: str = "<bytes>") -> Any:
    """Decode a legacy ``torch.save`` stream; tensors become NumPy arrays.

    Raises:
      ValueError: naming ``source``, if the stream is not this format, is
        truncated, or references a global outside the allowed set.
    """
    f = io.BytesIO(data)
    allowed = _allowed()

    def plain(what: str) -> Any:
        try:
            return RestrictedUnpickler(f, {}, source=source).load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise ValueError(f"{source}: not a legacy torch.save file (bad {what}: {exc})") \
                from None

    if plain("magic number") != MAGIC:
        raise ValueError(f"{source}: not a legacy torch.save file (wrong magic number)")
    if plain("protocol version") != PROTOCOL:
        raise ValueError(f"{source}: unsupported torch.save protocol version")
    sys_info = plain("sys_info")
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise ValueError(f"{source}: only little-endian torch.save files are supported")

    refs: dict[str, _StorageRef] = {}

    def persistent_load(pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise ValueError(f"{source}: unexpected persistent id {pid!r}")
        ref = _StorageRef(str(pid[2]), pid[1].dtype, int(pid[4]))
        refs[ref.key] = ref
        return ref

    try:
        obj = RestrictedUnpickler(f, allowed, source=source,
                                  persistent_load=persistent_load).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # malformed streams raise many types; name the file
        raise ValueError(f"{source}: corrupt object pickle ({type(exc).__name__}: {exc})") \
            from None
    keys = plain("storage key list")
    if not isinstance(keys, list) or set(keys) != set(refs):
        raise ValueError(f"{source}: storage key list does not match the tensors")

    storages: dict[str, np.ndarray] = {}
    for key in keys:
        ref = refs[key]
        header = f.read(8)
        if len(header) != 8:
            raise ValueError(f"{source}: truncated before storage {key}")
        (numel,) = struct.unpack("<q", header)
        itemsize = np.dtype(ref.dtype).itemsize
        raw = f.read(numel * itemsize)
        if numel != ref.numel or len(raw) != numel * itemsize:
            raise ValueError(f"{source}: storage {key} is truncated or has the wrong size")
        storages[key] = np.frombuffer(raw, dtype=np.dtype(ref.dtype).newbyteorder("<"))
    return _materialise(obj, storages, source)
