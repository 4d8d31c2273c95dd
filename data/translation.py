"""Image-to-image translation datasets in the layouts users already have.

- **unaligned** (CycleGAN, junyanz)::

      ROOT/trainA/*.jpg  ROOT/trainB/*.jpg  ROOT/testA/  ROOT/testB/

- **aligned** (pix2pix, junyanz and the pix2pix tutorial's facades): each
  file holds A and B side by side, ``ROOT/train/*.jpg``, ``ROOT/test/``
  (``ROOT/val/`` too).
- ``tfds.load("cycle_gan/horse2zebra")`` and friends (needs
  ``tensorflow-datasets`` and internet), as in the TensorFlow tutorial.
- :func:`fetch_dataset`: the archives the pix2pix tutorial and junyanz's
  scripts download (``facades``, ``maps``, ``horse2zebra``, ...), cached and
  unpacked safely into one of the layouts above.

Random jitter as in the papers: resize to ``load_size`` (286 for 256 crops),
random crop to ``image_size``, random mirror; aligned pairs get the same crop
and mirror. Element ``k`` of a stream is a function of ``(seed, k)`` only
(file order from a seeded per-epoch permutation, jitter from stateless RNG),
so resumed runs see what uninterrupted runs see. Images are float32 in
[0, 1].
"""

from __future__ import annotations

import os
from pathlib import Path

import tensorflow as tf

__all__ = ["DATASET_URLS", "IMAGE_SUFFIXES", "aligned_files", "fetch_dataset", "folder_stream",
           "random_jitter", "split_aligned", "tfds_unaligned", "unaligned_files"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")

#: where the pix2pix tutorial (aligned sets) and junyanz's download scripts
#: (unaligned sets) fetch their archives
DATASET_URLS = {
    "pix2pix": "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz",
    "cyclegan": "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip",
}


def _images_in(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise ValueError(f"{folder}: folder not found")
    files = sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def unaligned_files(root: str | os.PathLike, split: str = "train") -> tuple[list[str], list[str]]:
    """Files of ``ROOT/{split}A`` and ``ROOT/{split}B`` (junyanz's unaligned layout)."""
    root = Path(root)
    if not (root / f"{split}A").is_dir() or not (root / f"{split}B").is_dir():
        raise ValueError(f"{root}: expected the unaligned layout with folders {split}A/ and "
                         f"{split}B/ (e.g. junyanz's horse2zebra)")
    return _images_in(root / f"{split}A"), _images_in(root / f"{split}B")


def aligned_files(root: str | os.PathLike, split: str = "train") -> list[str]:
    """Files of ``ROOT/{split}`` (A|B side-by-side images)."""
    root = Path(root)
    if not (root / split).is_dir():
        raise ValueError(f"{root}: expected the aligned layout with a {split}/ folder of A|B "
                         "side-by-side images (e.g. pix2pix facades)")
    return _images_in(root / split)


def _decode(path: tf.Tensor) -> tf.Tensor:
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    return tf.image.convert_image_dtype(image, tf.float32)


def split_aligned(image: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """An A|B side-by-side image ``(H, 2W, C)`` -> ``(A, B)``, each ``(H, W, C)``."""
    w = tf.shape(image)[1] // 2
    return image[:, :w], image[:, w:2 * w]


def random_jitter(image: tf.Tensor, key: tf.Tensor, image_size: int, load_size: int) -> tf.Tensor:
    """Resize to ``load_size`` square, random-crop ``image_size``, random mirror
    (stateless from ``key``). Channels are cropped together, so stack a pair
    on the channel axis to jitter it identically."""
    c = image.shape[-1] or tf.shape(image)[-1]
    image = tf.image.resize(image, [load_size, load_size], method="bicubic")
    if load_size > image_size:
        image = tf.image.stateless_random_crop(image, [image_size, image_size, c], key)
    image = tf.image.stateless_random_flip_left_right(image, key + 1)
    return tf.clip_by_value(image, 0.0, 1.0)


def _file_at(files: tf.Tensor, k: tf.Tensor, seed: int, salt: int) -> tf.Tensor:
    n = tf.cast(tf.shape(files)[0], tf.int64)
    epoch = k // n
    key = tf.random.experimental.stateless_fold_in(tf.stack([tf.cast(seed, tf.int64), epoch]), salt)
    perm = tf.random.experimental.index_shuffle(k % n, key, n - 1)
    return files[perm]


def folder_stream(root: str | os.PathLike, *, aligned: bool = False, split: str = "train",
                  batch_size: int = 1, image_size: int = 256, load_size: int = 286,
                  seed: int = 0, start_step: int = 0, shard: int = 0) -> tf.data.Dataset:
    """Infinite stream of ``(a, b)`` batches ``(B, S, S, 3)`` in [0, 1] from a
    folder in the unaligned (``aligned=False``) or aligned layout.

    Unaligned: A and B walk their own seeded permutations (never paired).
    ``shard`` gives each data-parallel pipeline its own order.
    """
    if aligned:
        files_a = files_b = tf.constant(aligned_files(root, split))
    else:
        fa, fb = unaligned_files(root, split)
        files_a, files_b = tf.constant(fa), tf.constant(fb)
    seed = seed * 1000 + shard

    def element(k):
        key = tf.stack([tf.cast(seed, tf.int64), k])
        if aligned:
            a, b = split_aligned(_decode(_file_at(files_a, k, seed, 0)))
            both = random_jitter(tf.concat([a, b], -1), key, image_size, load_size)
            return both[..., :3], both[..., 3:]
        a = random_jitter(_decode(_file_at(files_a, k, seed, 0)), key, image_size, load_size)
        b = random_jitter(_decode(_file_at(files_b, k, seed, 1)), key + 7, image_size, load_size)
        return a, b

    start = start_step * batch_size
    ds = tf.data.Dataset.counter(start=start).map(element, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(2)


def tfds_unaligned(name: str, *, split: str = "train", batch_size: int = 1, image_size: int = 256,
                   load_size: int = 286, seed: int = 0, start_step: int = 0) -> tf.data.Dataset:
    """``tfds.load("cycle_gan/NAME")`` as an unaligned ``(a, b)`` stream (online
    users; the TensorFlow CycleGAN tutorial's source). Shuffled with ``seed``;
    resuming skips ``start_step`` batches."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ValueError(f"data='tfds:{name}' needs tensorflow-datasets (pip install "
                         "tensorflow-datasets) and internet; offline, download the dataset "
                         "once and use its folder (trainA/trainB layout)") from None
    ds = tfds.load(f"cycle_gan/{name}", as_supervised=True)

    def side(which: str, salt: int) -> tf.data.Dataset:
        d = ds[f"{split}{which}"].map(lambda image, label: tf.image.convert_image_dtype(
            image, tf.float32))
        d = d.shuffle(1000, seed=seed + salt, reshuffle_each_iteration=True).repeat()
        d = d.enumerate().map(lambda k, image: random_jitter(
            image, tf.stack([tf.cast(seed + salt, tf.int64), k]), image_size, load_size))
        return d

    both = tf.data.Dataset.zip((side("A", 0), side("B", 1))).batch(batch_size, drop_remainder=True)
    return both.skip(start_step).prefetch(2)


def _safe_members(names: list[str], archive: str) -> None:
    for name in names:
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts:
            raise ValueError(f"{archive}: refusing a member that escapes the folder: {name!r}")


def fetch_dataset(name: str, *, kind: str = "pix2pix", url: str | None = None,
                  sha256: str | None = None) -> Path:
    """Download (once, cached; SHA-256 checked when given) and unpack a
    pix2pix (``kind="pix2pix"``: ``.tar.gz`` of ``NAME/train/`` A|B images)
    or CycleGAN (``kind="cyclegan"``: ``.zip`` of ``NAME/trainA/`` ...)
    dataset; return the folder to pass as ``data=``. Archives whose members
    would land outside the folder are refused. ``url`` overrides the
    official address (e.g. a mirror or a ``file://`` path)."""
    import shutil
    import tarfile
    import tempfile
    import zipfile

    from .cache import cache_dir, download

    if kind not in DATASET_URLS:
        raise ValueError(f"kind must be one of {sorted(DATASET_URLS)}, got {kind!r}")
    if not name or "/" in name or name in {".", ".."}:
        raise ValueError(f"dataset name must be a plain name like 'facades', got {name!r}")
    url = url or DATASET_URLS[kind].format(name=name)
    root = cache_dir("datasets", kind)
    folder = root / name
    if folder.is_dir():
        return folder
    archive = download(url, sha256=sha256)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                _safe_members(zf.namelist(), str(archive))
                zf.extractall(tmp)
        else:
            try:
                with tarfile.open(archive) as tf_:
                    _safe_members(tf_.getnames(), str(archive))
                    tf_.extractall(tmp, filter="data")  # no links out, no devices
            except tarfile.TarError as exc:
                raise ValueError(f"{archive}: not a zip or tar archive ({exc})") from None
        inner = tmp / name
        if not inner.is_dir():
            raise ValueError(f"{archive}: expected a top-level folder {name}/ in the archive")
        os.replace(inner, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
