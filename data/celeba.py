"""CelebA faces split into two domains by an attribute (the CoGAN paper's face pairs).

Two sources:

* the aligned-CelebA layout users download from the CelebA site::

      ROOT/img_align_celeba/000001.jpg ...
      ROOT/list_attr_celeba.txt   (line 1: count; line 2: 40 attribute names;
                                   then "000001.jpg  -1  1 ..." per image)

* ``tfds.load("celeb_a")`` (needs ``tensorflow-datasets`` and a download).

Domain 1 holds images *with* the attribute, domain 2 those *without*; as
for MNIST the two are never paired. Images come out as float32 in [0, 1],
centre-cropped to the face (the aligned images are 178x218) and resized to
``image_size`` square.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from .images import tf_decode_image

__all__ = ["ATTRIBUTES", "CELEBA_HELP", "domain_stream", "read_attributes", "split_by_attribute"]

#: the attributes the CoGAN paper pairs faces by
ATTRIBUTES = ("Blond_Hair", "Smiling", "Eyeglasses")
CELEBA_HELP = ("CelebA is not bundled. Download 'img_align_celeba.zip' and "
               "'list_attr_celeba.txt' from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, "
               "unzip both into one folder, and pass that folder; or install "
               "tensorflow-datasets and use source='tfds'.")


def read_attributes(path: str | os.PathLike) -> tuple[list[str], dict[str, np.ndarray]]:
    """Parse ``list_attr_celeba.txt`` -> (attribute names, {file: int8 array of +-1})."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: attribute file not found. {CELEBA_HELP}")
    lines = path.read_text().splitlines()
    try:
        count = int(lines[0].strip())
        names = lines[1].split()
        rows = {}
        for line in lines[2:2 + count]:
            parts = line.split()
            values = np.array([int(v) for v in parts[1:]], np.int8)
            if len(values) != len(names) or not np.all(np.abs(values) == 1):
                raise ValueError(f"bad row {parts[0]!r}")
            rows[parts[0]] = values
    except (IndexError, ValueError) as exc:
        raise ValueError(f"{path}: not a CelebA attribute list ({exc})") from None
    if len(rows) != count:
        raise ValueError(f"{path}: header says {count} images, found {len(rows)}")
    return names, rows


def split_by_attribute(root: str | os.PathLike, attribute: str
                       ) -> tuple[list[Path], list[Path]]:
    """Image paths (with, without) ``attribute`` in the aligned-CelebA layout."""
    root = Path(root)
    names, rows = read_attributes(root / "list_attr_celeba.txt")
    if attribute not in names:
        raise ValueError(f"attribute {attribute!r} is not in {root / 'list_attr_celeba.txt'}; "
                         f"choose one of {names}")
    col = names.index(attribute)
    images = root / "img_align_celeba"
    if not images.is_dir():
        raise ValueError(f"{images}: image folder not found. {CELEBA_HELP}")
    with_attr = [images / f for f, v in sorted(rows.items()) if v[col] == 1]
    without = [images / f for f, v in sorted(rows.items()) if v[col] == -1]
    missing = [p for p in (with_attr[:1] + without[:1]) if not p.is_file()]
    if missing:
        raise ValueError(f"{missing[0]}: listed in the attribute file but missing")
    return with_attr, without


def _face_crop(image: tf.Tensor, image_size: int) -> tf.Tensor:
    """Centre square crop of an aligned face, resized; float32 [0, 1]."""
    image = tf.image.convert_image_dtype(image, tf.float32)
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    side = tf.minimum(h, w)
    image = tf.image.crop_to_bounding_box(image, (h - side) // 2, (w - side) // 2, side, side)
    return tf.image.resize(image, (image_size, image_size), antialias=True)


def domain_stream(root: str | os.PathLike | None, attribute: str, *, image_size: int = 64,
                  batch_size: int = 64, seed: int = 0, source: str = "folder",
                  skip_bad: bool = False) -> tf.data.Dataset:
    """Infinite stream of unpaired ``(with, without)`` face batches,
    ``(batch_size, image_size, image_size, 3)`` float32 in [0, 1].

    ``source="folder"`` reads the aligned layout under ``root``;
    ``source="tfds"`` uses ``tfds.load("celeb_a", split="train")``.

    The folder's ~200k images are not checked up front (that would take
    minutes): a corrupt one is found when it is decoded, and then stops the
    stream with a ``tf.errors.InvalidArgumentError`` whose message names
    the file, or, with ``skip_bad``, is left out with a printed warning
    naming it and counting those skipped so far.
    """
    if source == "tfds":
        try:
            import tensorflow_datasets as tfds
        except ImportError:
            raise ValueError("source='tfds' needs tensorflow-datasets "
                             "(pip install tensorflow-datasets). " + CELEBA_HELP) from None
        ds = tfds.load("celeb_a", split="train", shuffle_files=True)

        def side(flag: bool) -> tf.data.Dataset:
            return (ds.filter(lambda ex: tf.equal(ex["attributes"][attribute], flag))
                    .map(lambda ex: _face_crop(ex["image"], image_size)))
        first, second = side(True), side(False)
    elif source == "folder":
        if root is None:
            raise ValueError(f"root: the CelebA folder is required for source='folder'. "
                             f"{CELEBA_HELP}")
        with_attr, without = split_by_attribute(root, attribute)

        def side(paths: list[Path]) -> tf.data.Dataset:
            files = tf.data.Dataset.from_tensor_slices([str(p) for p in paths])
            images = files.map(lambda f: tf_decode_image(f, at_least=2 * image_size,
                                                         skip_bad=skip_bad),
                               num_parallel_calls=tf.data.AUTOTUNE)
            if skip_bad:
                images = images.filter(lambda x: tf.size(x) > 0)  # the skipped files
            return images.map(lambda x: _face_crop(x, image_size),
                              num_parallel_calls=tf.data.AUTOTUNE)
        first, second = side(with_attr), side(without)
    else:
        raise ValueError(f"source must be 'folder' or 'tfds', got {source!r}")

    def prepare(ds: tf.data.Dataset, offset: int) -> tf.data.Dataset:
        return ds.shuffle(2048, seed=seed + offset).repeat().batch(batch_size, drop_remainder=True)

    return tf.data.Dataset.zip((prepare(first, 0), prepare(second, 1))).prefetch(2)
