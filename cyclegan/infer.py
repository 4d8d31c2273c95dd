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
                     max_side: int | None = 1024, params: dict | None = None,
                     skip_bad: bool = False) -> list[Path]:
    """Translate every image in ``src`` (not its subfolders) into
    ``dst/<stem>.png`` (marked synthetic); return the written paths.

    Nothing is replaced: inputs sharing a stem (compared case-insensitively)
    become ``<stem>_<ext>.png``, and a name still taken, by another input or
    by a file already in ``dst`` (e.g. an earlier call's), gets ``_1``, ``_2``,
    ... ``dst`` may not be ``src`` itself. Images keep their size, except
    that those with a side over ``max_side`` px (None: no bound) are shrunk to
    it, with a printed note: a CPU runs out of memory on very large images.

    Every file is checked first with the loader used for translation: an
    unreadable one raises a ValueError naming it before anything is written,
    or, with ``skip_bad``, is left out with a warning counting the skipped.
    Bad arguments raise :class:`core.config.ConfigError` naming them."""
    from core.config import ConfigError, literal
    from data.images import check_images, check_max_side, load_image, longest_side, save_image

    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise ConfigError("{} " + literal(f"{src}: not a folder of images"), "src")
    if dst.resolve() == src.resolve():  # the outputs would mix with (and grow) the inputs
        raise ConfigError("{} " + literal(f"{dst}: is the same folder as ") + "{}; choose "
                          "another folder for the outputs", "dst", "src")
    check_max_side(max_side)
    files = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{src}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    stem_counts = Counter(p.stem.lower() for p in files)  # before skipping: names stay stable
    # compared lower-case: some file systems ignore case
    used = {p.name.lower() for p in dst.iterdir()} if dst.is_dir() else set()
    names = {}
    for path in files:
        name = path.stem if stem_counts[path.stem.lower()] == 1 else \
            f"{path.stem}_{path.suffix[1:]}"
        base, k = name, 1
        while f"{name}.png".lower() in used:
            name, k = f"{base}_{k}", k + 1
        used.add(f"{name}.png".lower())
        names[path] = name
    written = []
    for path in check_images(files, skip_bad=skip_bad):
        image = load_image(path, max_side=max_side)  # huge photos are shrunk while decoding
        if max_side is not None and longest_side(path) > max_side:
            print(f"{path}: shrunk to {image.shape[1]}x{image.shape[0]} (max_side={max_side})")
        out = run_generator(generator, image)
        # replace=False: a file another process wrote since the listing is kept too
        written.append(save_image(dst / f"{names[path]}.png", out, generator=generator.name,
                                  params=dict(params or {}, source=path.name), replace=False))
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


def _holds_cwd(path: Path) -> bool:
    here = Path.cwd().resolve()
    target = path.resolve()
    return target == here or target in here.parents or target == Path.home().resolve()


def export_generator(generator: keras.Model, output: str | os.PathLike, *,
                     force: bool = False) -> Path:
    """Write a SavedModel whose ``translate`` signature takes and returns
    ``(B, H, W, 3)`` float32 images in [0, 1] of any size (padding inside).

    It is written to a temporary folder beside ``output`` and renamed into
    place. A non-empty ``output`` is refused unless ``force``; then the old
    folder is renamed aside, the new one renamed in, and only then the old
    one removed. The working directory (or one above it) and the home folder
    are never replaced. On failure nothing of the user's is touched.

    Raises:
      ValueError: ``output`` is a file, or a non-empty folder without ``force``.
    """
    import shutil
    import tempfile

    path = Path(output)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path}: exists and is not a folder; choose another --output")
    if path.exists() and _holds_cwd(path):
        raise ValueError(f"{path}: holds the working directory or the home folder; "
                         "choose a new folder for --output")
    occupied = path.is_dir() and any(path.iterdir())
    if occupied and not force:
        raise ValueError(f"{path}: folder is not empty; choose a new folder for --output, "
                         "or pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        module = _Exported(generator)
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": module.translate})
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; keep normal permissions
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # our own partial export, nothing of the user's
        raise
    old, moved = None, False
    try:
        if occupied:
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old)  # onto the empty placeholder
            moved = True
        os.replace(tmp, path)  # POSIX: a folder may replace an empty folder
    except BaseException:
        if moved:
            os.replace(old, path)  # the user's folder back where it was
        elif old is not None:
            old.rmdir()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
        if old.exists():
            print(f"note: could not remove the previous export, now in {old}")
    return path


def load_exported(path: str | os.PathLike):
    """Load an exported generator: ``model.translate(images)`` as in
    :func:`export_generator`."""
    path = Path(path)
    if not (path / "saved_model.pb").is_file():
        raise ValueError(f"{path}: not a SavedModel folder (no saved_model.pb)")
    return tf.saved_model.load(str(path))
