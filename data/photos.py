"""Content photographs for training feed-forward style networks, offline.

:data:`PHOTOS` names every photo that ships with the repository or with a
package on the pip index, each with its pinned SHA-256 (a file that does not
match is refused with :class:`data.cache.ChecksumError`):

- the repository's ``data/samples`` (:mod:`data.samples`);
- scikit-image 0.25.2's ``skimage/data`` and scikit-learn 1.7.2's
  ``sklearn/datasets/images``, read out of their wheels from the pip index
  (:func:`data.cache.fetch_wheel_member`: wheel and member digests checked;
  neither package is installed) and kept in the project cache.

:data:`HELD_OUT` (Grace Hopper and the astronaut) are the content images
results are measured on: :func:`training_files` never returns them, and the
copies of the astronaut in scikit-image are not catalogued at all. The
scikit-image copies of chelsea and coffee are left out too (the samples are
the same pictures).

:func:`photo_stream` turns files (these, or any folder: :func:`folder_files`)
into an endless, exactly resumable stream of random crops; online,
:func:`tfds_stream` reads COCO through ``tensorflow-datasets``.

Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import samples
from .cache import ChecksumError, atomic_path, cache_dir, fetch_wheel_member, sha256_file

__all__ = ["HELD_OUT", "PHOTOS", "TRAINING", "WHEELS", "Photo", "folder_files", "photo_path",
           "photo_stream", "random_crop", "tfds_stream", "training_files"]


@dataclass(frozen=True)
class Photo:
    """``source``: ``"samples"`` (a file of ``data/samples``) or a key of
    :data:`WHEELS`; ``member``: the file name there; ``sha256``: the file's
    digest; ``attribution``: author and licence."""

    source: str
    member: str
    sha256: str
    attribution: str


#: the wheels photos are read from: the cp311 manylinux x86_64 builds (their
#: digests are those of the files this project's machines download; the
#: members' own digests in :data:`PHOTOS` are what make a photo trusted)
WHEELS = {
    "scikit-image": {"package": "scikit-image", "version": "0.25.2", "wheel_sha256":
                     "24cc986e1f4187a12aa319f777b36008764e856e5013666a4a83f8df083c2641"},
    "scikit-learn": {"package": "scikit-learn", "version": "1.7.2", "wheel_sha256":
                     "89877e19a80c7b11a2891a27c21c4894fb18e2c2e077815bcade10d34287b20d"},
}

_SK = "skimage/data/"
_SL = "sklearn/datasets/images/"
#: name -> photo; every one is a photograph (no drawings, no synthetic images)
PHOTOS: dict[str, Photo] = {
    "grace_hopper": Photo("samples", "grace_hopper.jpg",
                          "5ef89099a06d87990b1fb2501455d129cc9d00ebe2d2a7a198d64b50ed45cc3f",
                          samples.ATTRIBUTION["grace_hopper"][1]),
    "astronaut": Photo("samples", "astronaut.jpg",
                       "945df306f127a6012259cb6b4694cd1f07c49d63e21136ff595cdd99f3516028",
                       samples.ATTRIBUTION["astronaut"][1]),
    "chelsea": Photo("samples", "chelsea.jpg",
                     "2c0357a57121a80b7145db42b093f743c9a0405e33f9e48fd102319a6ce3af89",
                     samples.ATTRIBUTION["chelsea"][1]),
    "coffee": Photo("samples", "coffee.jpg",
                    "a840b5683a576a77d120d1617c341b09aea8e568b2e14234bed16b549261d85e",
                    samples.ATTRIBUTION["coffee"][1]),
    "rocket": Photo("scikit-image", _SK + "rocket.jpg",
                    "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
                    "DSCOVR launch on Falcon 9, SpaceX, public domain (scikit-image data)"),
    "motorcycle": Photo("scikit-image", _SK + "motorcycle_left.png",
                        "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
                        "Middlebury 2014 stereo benchmark, Scharstein et al. (scikit-image "
                        "data)"),
    "camera": Photo("scikit-image", _SK + "camera.png",
                    "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
                    "Cameraman, by Lav Varshney, CC0, greyscale (scikit-image data)"),
    "coins": Photo("scikit-image", _SK + "coins.png",
                   "f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba",
                   "Greek coins from Pompeii, Brooklyn Museum, no known copyright "
                   "restrictions, greyscale (scikit-image data)"),
    "hubble": Photo("scikit-image", _SK + "hubble_deep_field.jpg",
                    "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4",
                    "Hubble eXtreme Deep Field, NASA, public domain (scikit-image data)"),
    "ihc": Photo("scikit-image", _SK + "ihc.png",
                 "f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef",
                 "Immunohistochemistry of colonic glands, CMMI, no known copyright "
                 "restrictions (scikit-image data)"),
    "china": Photo("scikit-learn", _SL + "china.jpg",
                   "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29",
                   "Summer palace, Beijing, by danielbuechele, CC BY 2.0 (scikit-learn data)"),
    "flower": Photo("scikit-learn", _SL + "flower.jpg",
                    "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638",
                    "Flower, by vultilion, CC BY 2.0 (scikit-learn data)"),
}
#: the evaluation content images: never trained on
HELD_OUT = ("grace_hopper", "astronaut")
#: every other photo, the offline training set
TRAINING = tuple(name for name in PHOTOS if name not in HELD_OUT)


def _photo(name: str) -> Photo:
    try:
        return PHOTOS[name]
    except KeyError:
        raise ValueError(f"unknown photo {name!r}; expected one of {', '.join(PHOTOS)}") from None


def photo_path(name: str) -> Path:
    """The local file of photo ``name``, its SHA-256 checked.

    Samples are checked where they are (a changed file raises
    :class:`ChecksumError` naming it); wheel members are extracted once into
    the project cache (``photos/``) and re-extracted from the verified wheel
    if the cached copy no longer matches. A wheel that cannot be downloaded
    raises OSError naming it."""
    photo = _photo(name)
    if photo.source == "samples":
        path = samples.SAMPLES_DIR / photo.member
        if not path.is_file():
            raise ValueError(f"{path}: sample photo {name!r} not found")
        actual = sha256_file(path)
        if actual != photo.sha256:
            raise ChecksumError(f"{path}: SHA-256 mismatch, expected {photo.sha256} but got "
                                f"{actual}; the file is corrupt or not the one this project "
                                "was written for")
        return path
    wheel = WHEELS[photo.source]
    path = cache_dir("photos", f"{wheel['package']}-{wheel['version']}") / Path(photo.member).name
    if path.is_file() and sha256_file(path) == photo.sha256:
        return path
    data = fetch_wheel_member(wheel["package"], wheel["version"], photo.member,
                              wheel_sha256=wheel["wheel_sha256"], member_sha256=photo.sha256)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def training_files(names: tuple[str, ...] | None = None) -> list[str]:
    """Verified files of ``names`` (default :data:`TRAINING`) as strings; a
    held-out name raises ValueError (evaluation images are never trained on)."""
    names = TRAINING if names is None else tuple(names)
    held = [n for n in names if n in HELD_OUT]
    if held:
        raise ValueError(f"{', '.join(held)}: held out for evaluation, never used for training")
    return [str(photo_path(n)) for n in names]


def folder_files(root: str | os.PathLike) -> list[str]:
    """Every image under ``root`` (subfolders searched, hidden ones skipped),
    sorted; ValueError naming ``root`` when it is not a folder or has none."""
    from .translation import IMAGE_SUFFIXES

    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: folder not found")
    files = sorted(str(p) for p in root.rglob("*")
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise ValueError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def random_crop(image: Any, key: Any, image_size: int, max_zoom: float = 2.0) -> Any:
    """A random square crop of side ``image_size`` at a random scale, mirrored
    at random; stateless from ``key`` (int64 ``(2,)``).

    The image is first resized (bilinear, antialiased) so that its shorter
    side is uniform in ``[S, max(S, min(short, max_zoom * S))]`` (``S`` =
    ``image_size``): never enlarged beyond its own resolution unless it is
    smaller than ``S``, and never shrunk so far that a crop sees more than
    ``max_zoom`` crop sides of the shorter side. ``(H, W, 3)`` float in [0, 1]
    -> float32 ``(S, S, 3)`` in [0, 1].
    """
    import tensorflow as tf

    size = float(image_size)
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    short = tf.minimum(h, w)
    top = tf.maximum(size, tf.minimum(short, max_zoom * size))
    target = tf.random.stateless_uniform([], key, size, top)
    scale = target / short
    hw = tf.cast(tf.round(tf.stack([h * scale, w * scale])), tf.int32)
    hw = tf.maximum(hw, image_size)  # float error never leaves a side short of the crop
    image = tf.image.resize(image, hw, method="bilinear", antialias=True)
    image = tf.image.stateless_random_crop(image, [image_size, image_size, 3], key + 1)
    image = tf.image.stateless_random_flip_left_right(image, key + 2)
    return tf.clip_by_value(image, 0.0, 1.0)


def photo_stream(files: list[str], *, batch_size: int, image_size: int, seed: int = 0,
                 start_step: int = 0, shard: int = 0, max_zoom: float = 2.0,
                 skip_bad: bool = False) -> Any:
    """Endless ``tf.data`` stream of ``(B, S, S, 3)`` float32 batches in [0, 1]:
    :func:`random_crop` s of ``files`` walked in a fresh seeded order each
    epoch. Element ``k`` depends only on ``(seed, shard, k)``, so the stream
    from ``start_step`` (in batches) on is what an uninterrupted one gives
    from there. Files are decoded as :func:`data.images.load_image` decodes
    them (EXIF orientation, grey as RGB) and checked up front
    (:func:`data.images.check_images`): an unreadable one raises ValueError
    naming it, or with ``skip_bad`` is left out with a warning."""
    import tensorflow as tf

    from .images import check_images, tf_decode_image
    from .translation import _index_at

    if batch_size < 1 or image_size < 1:
        raise ValueError(f"batch_size and image_size must be >= 1, got {batch_size} and "
                         f"{image_size}")
    files_t = tf.constant(check_images(list(files), skip_bad=skip_bad))
    seed = seed * 1000 + shard
    # decode big photos at a fraction of their size (whole factors), never below
    # what the largest crop scale needs
    at_least = int(2 * max_zoom * image_size)

    def element(k):
        key = tf.stack([tf.cast(seed, tf.int64), k])
        path = files_t[_index_at(tf.shape(files_t)[0], k, seed, 0)]
        return random_crop(tf_decode_image(path, at_least=at_least), key, image_size, max_zoom)

    ds = tf.data.Dataset.counter(start=start_step * batch_size)
    ds = ds.map(element, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(2)


def tfds_stream(name: str = "coco/2017", *, split: str = "train", batch_size: int,
                image_size: int, seed: int = 0, start_step: int = 0, shard: int = 0,
                max_zoom: float = 2.0) -> Any:
    """``tfds.load(name)``'s images (online users: COCO 2017, what Johnson et
    al. trained on) as :func:`photo_stream` batches; shuffled with ``seed``
    (resuming skips ``start_step`` batches, so it is not bit-exact)."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ValueError(f"data {name!r} needs tensorflow-datasets (pip install "
                         "tensorflow-datasets) and internet; offline, use the photos or a "
                         "folder of images") from None
    import tensorflow as tf

    seed = seed * 1000 + shard
    ds = tfds.load(name, split=split, shuffle_files=True,
                   read_config=tfds.ReadConfig(shuffle_seed=seed))
    ds = ds.map(lambda ex: tf.image.convert_image_dtype(ex["image"], tf.float32))
    ds = ds.shuffle(256, seed=seed).repeat().enumerate()
    ds = ds.map(lambda k, image: random_crop(image, tf.stack([tf.cast(seed, tf.int64), k]),
                                             image_size, max_zoom),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).skip(start_step).prefetch(2)
