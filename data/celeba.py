"""CelebA faces: split into two domains by an attribute (the CoGAN paper's face
pairs), or labelled with several attributes at once (StarGAN).

Two sources:

* the aligned-CelebA layout users download from the CelebA site::

      ROOT/img_align_celeba/000001.jpg ...
      ROOT/list_attr_celeba.txt   (line 1: count; line 2: 40 attribute names;
                                   then "000001.jpg  -1  1 ..." per image)

* ``tfds.load("celeb_a")`` (needs ``tensorflow-datasets`` and a download).

For CoGAN, domain 1 holds images *with* the attribute, domain 2 those
*without*; as for MNIST the two are never paired. For StarGAN, each image
comes with a 0/1 row of the chosen attributes (:func:`attribute_files`,
:func:`tfds_attribute_stream`), the first :data:`HELD_OUT` images held out.
Images come out as float32 in [0, 1], centre-cropped to the face (the
aligned images are 178x218) and resized to ``image_size`` square.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from .images import tf_decode_image
from .translation import centre_crop

__all__ = ["ATTRIBUTES", "CELEBA_HELP", "HELD_OUT", "attribute_files", "domain_stream",
           "read_attributes", "split_by_attribute", "tfds_attribute_stream"]

#: the attributes the CoGAN paper pairs faces by
ATTRIBUTES = ("Blond_Hair", "Smiling", "Eyeglasses")
CELEBA_HELP = ("CelebA is not bundled. Download 'img_align_celeba.zip' and "
               "'list_attr_celeba.txt' from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, "
               "unzip both into one folder, and pass that folder; or install "
               "tensorflow-datasets and use source='tfds'.")
#: images held out for evaluation, the first ones in file order (StarGAN paper: 2,000)
HELD_OUT = 2000


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


def _columns(path: Path, names: list[str], attributes: Sequence[str]) -> list[int]:
    for attribute in attributes:
        if attribute not in names:
            raise ValueError(f"attribute {attribute!r} is not in {path}; choose one of {names}")
    return [names.index(a) for a in attributes]


def split_by_attribute(root: str | os.PathLike, attribute: str
                       ) -> tuple[list[Path], list[Path]]:
    """Image paths (with, without) ``attribute`` in the aligned-CelebA layout."""
    root = Path(root)
    names, rows = read_attributes(root / "list_attr_celeba.txt")
    [col] = _columns(root / "list_attr_celeba.txt", names, [attribute])
    images = root / "img_align_celeba"
    if not images.is_dir():
        raise ValueError(f"{images}: image folder not found. {CELEBA_HELP}")
    with_attr = [images / f for f, v in sorted(rows.items()) if v[col] == 1]
    without = [images / f for f, v in sorted(rows.items()) if v[col] == -1]
    missing = [p for p in (with_attr[:1] + without[:1]) if not p.is_file()]
    if missing:
        raise ValueError(f"{missing[0]}: listed in the attribute file but missing")
    return with_attr, without


def attribute_files(root: str | os.PathLike, attributes: Sequence[str], split: str = "train"
                    ) -> tuple[list[str], np.ndarray]:
    """Files and labels of the aligned-CelebA layout for StarGAN: ``labels``
    ``(N, len(attributes))`` float32, 1 where ``list_attr_celeba.txt`` says +1
    and 0 where it says -1. Files sorted by name; ``split="test"`` is the
    first :data:`HELD_OUT`, ``"train"`` the rest (stream them with
    :func:`data.translation.labelled_stream`)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    attributes = list(attributes)
    if not attributes:
        raise ValueError("attributes: name at least one CelebA attribute (e.g. Blond_Hair)")
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: CelebA folder not found. {CELEBA_HELP}")
    listing = root / "list_attr_celeba.txt"
    names, rows = read_attributes(listing)
    cols = _columns(listing, names, attributes)
    images = root / "img_align_celeba"
    if not images.is_dir():
        raise ValueError(f"{images}: image folder not found. {CELEBA_HELP}")
    order = sorted(rows)
    order = order[:HELD_OUT] if split == "test" else order[HELD_OUT:]
    if not order:
        raise ValueError(f"{listing}: {len(rows)} images, none left for training after holding "
                         f"out the first {HELD_OUT}")
    files = [str(images / f) for f in order]
    if not Path(files[0]).is_file():
        raise ValueError(f"{files[0]}: listed in the attribute file but missing")
    labels = np.stack([rows[f][cols] for f in order]) == 1
    return files, labels.astype(np.float32)


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
                    .map(lambda ex: centre_crop(ex["image"], None, image_size)))
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
            return images.map(lambda x: centre_crop(x, None, image_size),
                              num_parallel_calls=tf.data.AUTOTUNE)
        first, second = side(with_attr), side(without)
    else:
        raise ValueError(f"source must be 'folder' or 'tfds', got {source!r}")

    def prepare(ds: tf.data.Dataset, offset: int) -> tf.data.Dataset:
        return ds.shuffle(2048, seed=seed + offset).repeat().batch(batch_size, drop_remainder=True)

    return tf.data.Dataset.zip((prepare(first, 0), prepare(second, 1))).prefetch(2)


def tfds_attribute_stream(attributes: Sequence[str], *, split: str = "train", batch_size: int,
                          image_size: int, crop_size: int = 178, seed: int = 0
                          ) -> tf.data.Dataset:
    """``tfds.load("celeb_a", split="train")`` as ``(images, labels)``
    batches: ``(B, S, S, 3)`` float32 in [0, 1] (StarGAN's centre crop of
    ``crop_size``, resized to ``image_size``) and ``(B, len(attributes))``
    float32 in {0, 1}.

    The first :data:`HELD_OUT` examples (tfds order) are ``split="test"``:
    one pass, in order, not mirrored, the last batch maybe smaller. The rest
    are ``"train"``: shuffled (buffer 4096, ``seed``), repeated, mirrored at
    random. Not exactly resumable: a shuffle buffer cannot be restored, so
    skipping batches on resume gives a different (equally random) order.
    tfds's ``train`` is CelebA's official training partition (162,770
    images), not all 202,599 as the StarGAN code uses; needs
    ``tensorflow-datasets`` and downloads about 1.4 GB once.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ValueError("CelebA through tfds needs tensorflow-datasets "
                         "(pip install tensorflow-datasets) and internet. " + CELEBA_HELP) from None
    attributes = list(attributes)
    if not attributes:
        raise ValueError("attributes: name at least one CelebA attribute (e.g. Blond_Hair)")
    known = sorted(tfds.builder("celeb_a").info.features["attributes"].keys())
    for attribute in attributes:
        if attribute not in known:
            raise ValueError(f"attribute {attribute!r} is not in tfds celeb_a; "
                             f"choose one of {known}")
    ds = tfds.load("celeb_a", split="train", shuffle_files=False)

    def prepare(ex: dict) -> tuple[tf.Tensor, tf.Tensor]:
        label = tf.stack([tf.cast(ex["attributes"][a], tf.float32) for a in attributes])
        return centre_crop(ex["image"], crop_size, image_size), label

    if split == "test":
        ds = ds.take(HELD_OUT).map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        return ds.batch(batch_size).prefetch(2)

    def mirrored(k: tf.Tensor, ex: dict) -> tuple[tf.Tensor, tf.Tensor]:
        image, label = prepare(ex)
        key = tf.stack([tf.constant(seed, tf.int64), k])
        return tf.image.stateless_random_flip_left_right(image, key), label

    ds = ds.skip(HELD_OUT).shuffle(4096, seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.enumerate().map(mirrored, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(2)
