"""Inference with a trained generator: any image size, whole folders, and
SavedModel export.

Generators need sides that are multiples of ``2**k``, ``k`` = their stride-2
convolutions (``k`` = 2 for ResNet: multiples of 4; ``k`` = 8 for the
8-level U-Net: multiples of 256). :func:`run_generator`
mirror-pads each image up to that multiple and crops the result back, so a
300x451 photo comes out 300x451.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from data.translation import IMAGE_SUFFIXES

__all__ = ["export_generator", "load_exported", "required_multiple", "run_generator",
           "translate_folder"]


def required_multiple(generator: keras.Model) -> int:
    """``2 ** (number of stride-2 convolutions)`` of ``generator``."""
    downs = sum(1 for layer in generator.layers
                if isinstance(layer, keras.layers.Conv2D)
                and not isinstance(layer, keras.layers.Conv2DTranspose)
                and tuple(layer.strides) == (2, 2))
    return 2 ** downs


def _pad_amounts(size: tf.Tensor, multiple: int) -> tf.Tensor:
    target = (size + multiple - 1) // multiple * multiple
    return target - size


def _translate_padded(fn, images: tf.Tensor, multiple: int) -> tf.Tensor:
    """``images (B, H, W, 3)`` in [0, 1] -> ``fn`` output at the same size, in [0, 1]."""
    h, w = tf.shape(images)[1], tf.shape(images)[2]
    ph, pw = _pad_amounts(h, multiple), _pad_amounts(w, multiple)
    x = images * 2.0 - 1.0
    # mirror padding avoids a border the generator would translate as content;
    # REFLECT needs pads smaller than the side, so tiny inputs replicate edges
    small = tf.logical_or(ph >= h, pw >= w)
    paddings = [[0, 0], [ph // 2, ph - ph // 2], [pw // 2, pw - pw // 2], [0, 0]]
    x = tf.cond(small, lambda: _edge_pad(x, paddings),
                lambda: tf.pad(x, paddings, mode="REFLECT"))
    y = tf.cast(fn(x), tf.float32)
    y = y[:, ph // 2: ph // 2 + h, pw // 2: pw // 2 + w, :]
    return tf.clip_by_value((y + 1.0) / 2.0, 0.0, 1.0)


def _edge_pad(x, paddings):
    (t, b), (l, r) = paddings[1], paddings[2]
    x = tf.concat([tf.repeat(x[:, :1], t, axis=1), x, tf.repeat(x[:, -1:], b, axis=1)], 1)
    return tf.concat([tf.repeat(x[:, :, :1], l, axis=2), x, tf.repeat(x[:, :, -1:], r, axis=2)], 2)


def run_generator(generator: keras.Model, images: np.ndarray | tf.Tensor, *,
                  batch_size: int = 16) -> np.ndarray:
    """Translate ``(B, H, W, 3)`` or one ``(H, W, 3)`` image(s) in [0, 1], any
    H and W, -> the same shape in [0, 1] (inference mode: dropout off)."""
    x = np.asarray(images, np.float32)
    single = x.ndim == 3
    if single:
        x = x[None]
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"images must be (B, H, W, 3) or (H, W, 3) RGB, got shape {x.shape}")
    multiple = required_multiple(generator)
    fn = lambda t: generator(t, training=False)  # noqa: E731
    out = np.concatenate([_translate_padded(fn, tf.constant(x[i:i + batch_size]), multiple).numpy()
                          for i in range(0, len(x), batch_size)])
    return out[0] if single else out


def translate_folder(generator: keras.Model, src: str | os.PathLike, dst: str | os.PathLike, *,
                     max_side: int | None = 1024, params: dict | None = None) -> list[Path]:
    """Translate every image in ``src`` into ``dst/<stem>.png`` (marked
    synthetic). Inputs sharing a stem (compared case-insensitively) become
    ``<stem>_<ext>.png``, and a name still taken gets ``_1``, ``_2``, ... so
    no output of one call overwrites another; files already in ``dst`` with
    those names are replaced. Returns the written paths. Images keep their size, except
    that those with a side over ``max_side`` px (None: no bound) are shrunk to
    it, with a printed note: a CPU runs out of memory on very large images."""
    from data.images import load_image, resize_max_side, save_image

    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise ValueError(f"{src}: not a folder of images")
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be a positive number of pixels or None, got {max_side!r}")
    files = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{src}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    stem_counts = Counter(p.stem.lower() for p in files)
    used: set[str] = set()  # compared lower-case: some file systems ignore case
    written = []
    for path in files:
        name = path.stem if stem_counts[path.stem.lower()] == 1 else \
            f"{path.stem}_{path.suffix[1:]}"
        base, k = name, 1
        while name.lower() in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name.lower())
        full = load_image(path, max_side=None)
        image = resize_max_side(full, max_side)
        if image.shape != full.shape:
            print(f"{path}: {full.shape[1]}x{full.shape[0]} shrunk to "
                  f"{image.shape[1]}x{image.shape[0]} (max_side={max_side})")
        out = run_generator(generator, image)
        written.append(save_image(dst / f"{name}.png", out, generator=generator.name,
                                  params=dict(params or {}, source=path.name)))
    return written


class _Exported(tf.Module):
    def __init__(self, generator: keras.Model):
        super().__init__()
        self.generator = generator
        self.multiple = required_multiple(generator)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def translate(self, images):
        """``(B, H, W, 3)`` in [0, 1] -> same shape in [0, 1]."""
        return _translate_padded(lambda t: self.generator(t, training=False), images,
                                 self.multiple)


def export_generator(generator: keras.Model, path: str | os.PathLike) -> Path:
    """Write a SavedModel whose ``translate`` signature takes and returns
    ``(B, H, W, 3)`` float32 images in [0, 1] of any size (padding inside).
    Written to a temporary folder and renamed into place."""
    import shutil
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        module = _Exported(generator)
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": module.translate})
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def load_exported(path: str | os.PathLike):
    """Load an exported generator: ``model.translate(images)`` as in
    :func:`export_generator`."""
    path = Path(path)
    if not (path / "saved_model.pb").is_file():
        raise ValueError(f"{path}: not a SavedModel folder (no saved_model.pb)")
    return tf.saved_model.load(str(path))
