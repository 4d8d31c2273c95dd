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
- **labelled** (StarGAN's RaFD, torchvision's ImageFolder): one subfolder of
  images per domain, ``ROOT/angry/*.jpg  ROOT/happy/*.jpg ...``
  (:func:`domain_files`); any list of files with label rows (e.g. CelebA's
  attributes, :func:`data.celeba.attribute_files`) streams as ``(images,
  labels)`` batches (:func:`labelled_stream`).

Random jitter as in the CycleGAN and pix2pix papers: resize to
``load_size`` (286 for 256 crops), random crop to ``image_size``, random
mirror; aligned pairs get the same crop and mirror. Element ``k`` of a
stream is a function of ``(seed, k)`` only (file order from a seeded
per-epoch permutation, jitter from stateless RNG), so resumed runs see what
uninterrupted runs see. Labelled streams take StarGAN's preprocessing
instead (centre square crop, resize, random mirror), resumable the same way.
Images are float32 in [0, 1].
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from .images import check_images, tf_decode_image

__all__ = ["DATASET_URLS", "IMAGE_SUFFIXES", "KNOWN_SHA256", "aligned_files", "centre_crop",
           "domain_files", "fetch_dataset", "folder_stream", "labelled_batch", "labelled_stream",
           "random_jitter", "split_aligned", "tfds_unaligned", "unaligned_files"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")

#: the authors' server, where the pix2pix tutorial fetches the aligned sets
#: and tfds (since 4.9.3) and junyanz's scripts fetch the unaligned ones
DATASET_URLS = {
    "pix2pix": "https://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz",
    "cyclegan": "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip",
}

#: SHA-256 of the CycleGAN archives, as tensorflow_datasets pins them
#: (url_checksums/cycle_gan.txt); checked whatever ``url`` serves them. The
#: pix2pix archives have no published checksum: pass ``sha256=`` or
#: ``allow_unverified=True``.
KNOWN_SHA256 = {
    ("cyclegan", "apple2orange"): "845a191e9af8926408ea597001cd03a452e3300a1f44a79fe329b3d59f6e3eb8",
    ("cyclegan", "cezanne2photo"): "3a6c10ca21f9485862f1cbd707744b9dc258954a04631271d23a3605eeb63cff",
    ("cyclegan", "cityscapes"): "d2f6910fd056c1ee9873777ae838e7ac4a2c833598ae62a04188e5ab2f4ea036",
    ("cyclegan", "facades"): "9a31ebf3a31b9b5cd195dd5bf62e9308e00cb94604d1019e3889ac84248695c0",
    ("cyclegan", "horse2zebra"): "a74d9d392eecca9966b51287a76ca126af473d9de4f3e8fc0e9cda08fa1730a1",
    ("cyclegan", "iphone2dslr_flower"):
        "8fcb5e374d631b107e1d961b8c4cd0a186aa2a4ff3e279923f4c426128de7113",
    ("cyclegan", "maps"): "639534f69dbf9f36bef8d6292a7698006361221f83f0285d7c9ca78afe6e8a9e",
    ("cyclegan", "monet2photo"): "88f91b00fc228f97c9411fbf1880ec1d119c98f1722e4cfcfaa2fb35fac05b04",
    ("cyclegan", "summer2winter_yosemite"):
        "167fe1726807a9d22bd106b4a6c0bd7953b688af924ac1bf967439c4961e49f9",
    ("cyclegan", "ukiyoe2photo"): "02a2a2fb5ecf425ca1bf86aca7304377da64a2a1d3b86df54eb65e4068bf3b08",
    ("cyclegan", "vangogh2photo"): "362c3473e70be0944bda08d49d660eafdc2854df55d697835b8186d1d79caaff",
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


def _index_at(n: tf.Tensor, k: tf.Tensor, seed: int, salt: int) -> tf.Tensor:
    """Position ``k`` of an endless walk over ``n`` items: a fresh seeded
    permutation per epoch, a function of ``(seed, salt, k)`` only."""
    n = tf.cast(n, tf.int64)
    epoch = k // n
    key = tf.random.experimental.stateless_fold_in(tf.stack([tf.cast(seed, tf.int64), epoch]), salt)
    return tf.random.experimental.index_shuffle(k % n, key, n - 1)


def _file_at(files: tf.Tensor, k: tf.Tensor, seed: int, salt: int) -> tf.Tensor:
    return files[_index_at(tf.shape(files)[0], k, seed, salt)]


def folder_stream(root: str | os.PathLike, *, aligned: bool = False, split: str = "train",
                  batch_size: int = 1, image_size: int = 256, load_size: int = 286,
                  seed: int = 0, start_step: int = 0, shard: int = 0,
                  skip_bad: bool = False) -> tf.data.Dataset:
    """Infinite stream of ``(a, b)`` batches ``(B, S, S, 3)`` in [0, 1] from a
    folder in the unaligned (``aligned=False``) or aligned layout.

    Unaligned: A and B walk their own seeded permutations (never paired).
    ``shard`` gives each data-parallel pipeline its own order. Images are
    decoded as :func:`data.images.load_image` decodes them for inference
    (EXIF orientation, transparency over white), and every file is checked
    up front (:func:`data.images.check_images`): an unreadable one raises a
    ValueError naming it, or is left out with a warning if ``skip_bad``.
    """
    if aligned:
        files_a = files_b = tf.constant(check_images(aligned_files(root, split),
                                                     skip_bad=skip_bad))
    else:
        fa, fb = unaligned_files(root, split)
        files_a = tf.constant(check_images(fa, skip_bad=skip_bad))
        files_b = tf.constant(check_images(fb, skip_bad=skip_bad))
    seed = seed * 1000 + shard
    # decode huge photos at a fraction of their size (whole factors), never below
    # twice what the jitter resizes them to
    at_least = 2 * load_size * (2 if aligned else 1)

    def element(k):
        key = tf.stack([tf.cast(seed, tf.int64), k])
        if aligned:
            a, b = split_aligned(tf_decode_image(_file_at(files_a, k, seed, 0), at_least=at_least))
            both = random_jitter(tf.concat([a, b], -1), key, image_size, load_size)
            return both[..., :3], both[..., 3:]
        a = tf_decode_image(_file_at(files_a, k, seed, 0), at_least=at_least)
        b = tf_decode_image(_file_at(files_b, k, seed, 1), at_least=at_least)
        return (random_jitter(a, key, image_size, load_size),
                random_jitter(b, key + 7, image_size, load_size))

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


def domain_files(root: str | os.PathLike) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    """One subfolder of images per domain (RaFD as StarGAN reads it, like
    torchvision's ImageFolder) -> ``(files, labels, names)``: the files domain
    by domain (sorted names, hidden folders skipped), each domain's files
    sorted; one-hot ``labels`` ``(N, C)`` float32; ``names`` the ``C`` folder
    names. Subfolders are not searched further."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: folder not found (expected one subfolder of images per domain)")
    names = tuple(sorted(p.name for p in root.iterdir()
                         if p.is_dir() and not p.name.startswith(".")))
    if len(names) < 2:
        found = f"only {names[0]}/" if names else "none"
        raise ValueError(f"{root}: expected one subfolder of images per domain, at least two "
                         f"(e.g. RaFD's angry/ happy/ ...); found {found}")
    per_domain = [_images_in(root / name) for name in names]
    files = [f for domain in per_domain for f in domain]
    labels = np.repeat(np.eye(len(names), dtype=np.float32), [len(d) for d in per_domain], axis=0)
    return files, labels, names


def centre_crop(image: tf.Tensor, crop_size: int | None, image_size: int) -> tf.Tensor:
    """StarGAN's preprocessing: the centre square of side ``min(crop_size, H,
    W)`` (``None``: the whole shorter side) resized to ``image_size`` square
    (bilinear, antialiased when shrinking). ``(H, W, C)`` uint8 or float in
    [0, 1] -> float32 ``(S, S, C)`` in [0, 1]."""
    image = tf.image.convert_image_dtype(image, tf.float32)
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    side = tf.minimum(h, w) if crop_size is None else tf.minimum(crop_size, tf.minimum(h, w))
    image = tf.image.crop_to_bounding_box(image, (h - side) // 2, (w - side) // 2, side, side)
    image = tf.image.resize(image, (image_size, image_size), antialias=True)
    return tf.clip_by_value(image, 0.0, 1.0)


def _check_labelled(files: list, labels: np.ndarray, image_size: int, crop_size: int | None
                    ) -> np.ndarray:
    labels = np.asarray(labels, np.float32)
    if labels.ndim != 2 or len(labels) != len(files):
        raise ValueError(f"labels must be (N, C) with one row per file ({len(files)} files), "
                         f"got shape {labels.shape}")
    if not files:
        raise ValueError("no image files to read")
    for name, value in (("image_size", image_size), ("crop_size", crop_size)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    return labels


def _checked_rows(files: list, labels: np.ndarray, skip_bad: bool) -> tuple[list, np.ndarray]:
    """:func:`data.images.check_images`, keeping each label with its file."""
    good = check_images(list(files), skip_bad=skip_bad)
    if len(good) == len(files):
        return good, labels
    kept = set(good)
    return good, labels[[f in kept for f in files]]


def labelled_stream(files: list[str], labels: np.ndarray, *, batch_size: int, image_size: int,
                    crop_size: int, seed: int = 0, start_step: int = 0, shard: int = 0,
                    flip: bool = True, skip_bad: bool = False) -> tf.data.Dataset:
    """Infinite stream of ``(images, labels)`` batches: ``(B, S, S, 3)``
    float32 in [0, 1] and the files' label rows ``(B, C)`` float32.

    Each image is decoded as :func:`folder_stream` decodes (EXIF orientation,
    transparency over white; at full size, so ``crop_size`` counts the file's
    pixels), then :func:`centre_crop` to ``image_size``, and mirrored at
    random if ``flip``. Element ``k`` depends only on ``(seed, shard, k)``
    (a seeded permutation per epoch, stateless mirroring), so the stream from
    ``start_step`` (in batches) on is what an uninterrupted one gives from
    there. Every file is checked up front (:func:`data.images.check_images`):
    an unreadable one raises a ValueError naming it, or with ``skip_bad`` is
    left out (with its label row) and a warning printed.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    labels = _check_labelled(files, labels, image_size, crop_size)
    files, labels = _checked_rows(files, labels, skip_bad)
    files_t, labels_t = tf.constant(files), tf.constant(labels)
    seed = seed * 1000 + shard

    def element(k):
        i = _index_at(tf.shape(files_t)[0], k, seed, 0)
        image = centre_crop(tf_decode_image(files_t[i]), crop_size, image_size)
        if flip:
            image = tf.image.stateless_random_flip_left_right(
                image, tf.stack([tf.cast(seed, tf.int64), k]))
        return image, labels_t[i]

    start = start_step * batch_size
    ds = tf.data.Dataset.counter(start=start).map(element, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(2)


def labelled_batch(files: list[str], labels: np.ndarray, *, image_size: int, crop_size: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """All of ``files`` in order, preprocessed as :func:`labelled_stream` does
    without the mirror: ``(N, S, S, 3)`` float32 in [0, 1] and labels ``(N,
    C)`` float32 (held-out sets). An unreadable file raises a ValueError
    naming it."""
    labels = _check_labelled(files, labels, image_size, crop_size)
    files = check_images(list(files))
    ds = tf.data.Dataset.from_tensor_slices(files).map(
        lambda f: centre_crop(tf_decode_image(f), crop_size, image_size),
        num_parallel_calls=tf.data.AUTOTUNE)
    images = np.concatenate([b.numpy() for b in ds.batch(256)])
    return images, labels


def _safe_members(names: list[str], archive: str) -> None:
    for name in names:
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts:
            raise ValueError(f"{archive}: refusing a member that escapes the folder: {name!r}")


def fetch_dataset(name: str, *, kind: str = "pix2pix", url: str | None = None,
                  sha256: str | None = None, allow_unverified: bool = False) -> Path:
    """Download (once, cached) and unpack a pix2pix (``kind="pix2pix"``:
    ``.tar.gz`` of ``NAME/train/`` A|B images) or CycleGAN
    (``kind="cyclegan"``: ``.zip`` of ``NAME/trainA/`` ...) dataset; return
    the folder to pass as ``data=``. ``url`` overrides the official address
    (e.g. a mirror or a ``file://`` path).

    The archive must match ``sha256`` (default: :data:`KNOWN_SHA256` for a
    known CycleGAN name, whatever ``url`` serves it; a different archive under
    that name needs its own ``sha256=``). With no checksum to check against,
    the download is refused unless ``allow_unverified=True``, which prints
    the archive's SHA-256 so it can be pinned. Archives whose members would land outside
    the folder are refused."""
    import shutil
    import tarfile
    import tempfile
    import zipfile

    from .cache import cache_dir, download, sha256_file

    if kind not in DATASET_URLS:
        raise ValueError(f"kind must be one of {sorted(DATASET_URLS)}, got {kind!r}")
    if not name or "/" in name or name in {".", ".."}:
        raise ValueError(f"dataset name must be a plain name like 'facades', got {name!r}")
    if sha256 is None:  # a mirror (url=) serves the same archive
        sha256 = KNOWN_SHA256.get((kind, name))
    url = url or DATASET_URLS[kind].format(name=name)
    root = cache_dir("datasets", kind)
    folder = root / name
    if folder.is_dir():
        return folder
    if sha256 is None and not allow_unverified:
        raise ValueError(f"{url}: no SHA-256 known for {kind} dataset {name!r}; pass sha256= "
                         "(the archive's hex digest) or allow_unverified=True to trust it")
    archive = download(url, sha256=sha256)
    if sha256 is None:
        print(f"{archive}: unverified download, sha256={sha256_file(archive)} "
              "(pass it as sha256= to pin it)")
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
