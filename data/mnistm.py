"""Offline translation data built from real images that ship with the repo.

- **MNIST-M style** (after Ganin & Lempitsky 2015): a digit blended with a
  crop of a real colour photo, ``|background - digit|`` per channel. The
  backgrounds are 32x32 crops of the shipped photos (Grace Hopper,
  astronaut, cat, coffee; see :mod:`data.samples`), halved in size first so
  crops carry texture. Training backgrounds come from the left 80% of each
  photo, test backgrounds from the right 20%, so test renders are held out in
  digits *and* backgrounds.
- **photo <-> painting patches**: random crops of the shipped photos (domain
  A) and of Van Gogh's Starry Night (domain B).
- **paired sets for pix2pix**: MNIST-M render -> its clean digit, and
  grayscale -> colour photo crops.

Every image is float32 in [0, 1], NHWC, digits padded from 28 to 32 px (the
U-Net needs a power of two). Streams are infinite ``tf.data`` pipelines whose
batch ``k`` depends only on ``(seed, k, shard)``, so a resumed run sees the
batches an uninterrupted run would (same scheme as :mod:`data.mnist`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from . import samples
from .images import load_image

__all__ = [
    "DIGIT_SIZE",
    "background_bank",
    "gray_photo_stream",
    "gray_photo_test",
    "mnist32",
    "mnist_mnistm_stream",
    "mnist_mnistm_test",
    "mnistm_render",
    "photo_bank",
    "photo_painting_stream",
]

DIGIT_SIZE = 32
_TRAIN_FRACTION = 0.8  # left part of every photo: training crops; right part: test crops


def photo_bank(names: tuple[str, ...] = samples.CONTENT, *, split: str = "train",
               scale: float = 0.5) -> list[np.ndarray]:
    """The shipped photos, resized by ``scale``, cut to their ``split`` region
    (``"train"``: left 80% of the columns, ``"test"``: the rest, ``"all"``)
    -> list of ``(H, W, 3)`` float32 in [0, 1]."""
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    out = []
    for name in names:
        img = load_image(samples.path(name), max_side=None)
        h, w = img.shape[:2]
        img = tf.image.resize(img, [max(1, round(h * scale)), max(1, round(w * scale))],
                              antialias=True).numpy().clip(0, 1)
        cut = int(img.shape[1] * _TRAIN_FRACTION)
        out.append({"train": img[:, :cut], "test": img[:, cut:], "all": img}[split])
    return out


def background_bank(split: str = "train", n: int = 4000, size: int = DIGIT_SIZE,
                    seed: int = 0) -> np.ndarray:
    """``n`` random ``size`` x ``size`` crops of the photos' ``split`` region
    -> ``(n, size, size, 3)`` float32 in [0, 1] (fixed by ``seed``)."""
    photos = photo_bank(split=split)
    rng = np.random.default_rng([seed, {"train": 0, "test": 1, "all": 2}[split]])
    crops = np.empty((n, size, size, 3), np.float32)
    for i in range(n):
        p = photos[rng.integers(len(photos))]
        y = rng.integers(p.shape[0] - size + 1)
        x = rng.integers(p.shape[1] - size + 1)
        crops[i] = p[y:y + size, x:x + size]
    return crops


def mnist32(digits: tf.Tensor) -> tf.Tensor:
    """uint8 or [0, 1] digits ``(B, 28, 28[, 1])`` -> ``(B, 32, 32, 3)`` float32
    in [0, 1]: zero-padded by 2 px, gray copied to RGB."""
    x = tf.convert_to_tensor(digits)
    x = tf.cast(x, tf.float32) / 255.0 if x.dtype == tf.uint8 else tf.cast(x, tf.float32)
    if x.shape.rank == 3:
        x = x[..., None]
    x = tf.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]])
    return tf.repeat(x, 3, axis=-1)


def mnistm_render(digits: tf.Tensor, backgrounds: tf.Tensor) -> tf.Tensor:
    """Ganin & Lempitsky's blend ``|background - digit|`` -> ``(B, 32, 32, 3)``
    in [0, 1]; ``backgrounds`` ``(B, 32, 32, 3)`` in [0, 1]."""
    return tf.abs(tf.cast(backgrounds, tf.float32) - mnist32(digits))


def _key(seed: int, step: tf.Tensor, salt: int, shard: int) -> tf.Tensor:
    base = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
    return tf.random.experimental.stateless_fold_in(
        tf.random.experimental.stateless_fold_in(base, salt), shard)


def _draw(pool: tf.Tensor, n: int, key: tf.Tensor) -> tf.Tensor:
    idx = tf.random.stateless_uniform([n], key, 0, tf.shape(pool)[0], tf.int32)
    return tf.gather(pool, idx)


def mnist_mnistm_stream(x_train: np.ndarray, *, batch_size: int, paired: bool = False,
                        seed: int = 0, start_step: int = 0, shard: int = 0,
                        backgrounds: np.ndarray | None = None) -> tf.data.Dataset:
    """Infinite stream of ``(mnist, mnistm)`` batches, each ``(B, 32, 32, 3)``.

    Unpaired (CycleGAN): MNIST digits from one half of ``x_train``, MNIST-M
    renders of digits from the other half (a seeded split). Paired (pix2pix):
    the render of the very digit on the left. ``backgrounds``: ``(N, 32, 32, 3)``
    crops in [0, 1] to blend with (default: :func:`background_bank`; Ganin
    used BSDS500 photos).
    """
    x_train = np.asarray(x_train)
    if x_train.ndim != 3 or x_train.dtype != np.uint8:
        raise ValueError(f"x_train must be uint8 digits (N, 28, 28), got {x_train.dtype} "
                         f"{x_train.shape}")
    if backgrounds is None:
        backgrounds = background_bank("train", seed=seed)
    elif backgrounds.ndim != 4 or backgrounds.shape[1:] != (DIGIT_SIZE, DIGIT_SIZE, 3):
        raise ValueError(f"backgrounds must be (N, {DIGIT_SIZE}, {DIGIT_SIZE}, 3), got "
                         f"{backgrounds.shape}")
    bank = tf.constant(backgrounds, tf.float32)
    if paired:
        first = second = tf.constant(x_train)
    else:
        perm = np.random.default_rng(seed).permutation(len(x_train))
        half = len(x_train) // 2
        first, second = tf.constant(x_train[perm[:half]]), tf.constant(x_train[perm[half:]])

    def batch_at(step):
        a_key = _key(seed, step, 100, shard)  # salts 100+: data, apart from training noise
        a = _draw(first, batch_size, a_key)
        b = a if paired else _draw(second, batch_size, _key(seed, step, 101, shard))
        bg = _draw(bank, batch_size, _key(seed, step, 102, shard))
        return mnist32(a), mnistm_render(b, bg)

    return tf.data.Dataset.counter(start=start_step).map(
        batch_at, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def mnist_mnistm_test(x_test: np.ndarray, n: int | None = None, seed: int = 0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Held-out pairs: ``(mnist32(x_test), mnistm_render(x_test, test backgrounds))``,
    each ``(n, 32, 32, 3)`` float32 in [0, 1]; row ``i`` shows digit ``x_test[i]``."""
    x = np.asarray(x_test)[:n]
    bank = background_bank("test", seed=seed)
    idx = np.random.default_rng([seed, 7]).integers(len(bank), size=len(x))
    return mnist32(x).numpy(), mnistm_render(x, bank[idx]).numpy()


def _crop_stream(photos_a: list[np.ndarray], photos_b: list[np.ndarray] | None, size: int, *,
                 batch_size: int, seed: int, start_step: int, shard: int, gray_input: bool
                 ) -> tf.data.Dataset:
    for p in photos_a + (photos_b or []):
        if min(p.shape[:2]) < size:
            raise ValueError(f"image_size {size} is larger than a source photo {p.shape[:2]}")
    consts_a = [tf.constant(p) for p in photos_a]
    consts_b = [tf.constant(p) for p in photos_b] if photos_b else None

    def crop_from(consts, key):
        which = tf.random.stateless_uniform([], key, 0, len(consts), tf.int32)
        branches = [lambda c=c: tf.image.stateless_random_crop(c, [size, size, 3], key + 1)
                    for c in consts]
        image = tf.switch_case(which, branches)
        return tf.image.stateless_random_flip_left_right(image, key + 2)

    def one(step, i):
        key_a = tf.random.experimental.stateless_fold_in(_key(seed, step, 100, shard), i)
        a = crop_from(consts_a, key_a)
        if consts_b is not None:
            key_b = tf.random.experimental.stateless_fold_in(_key(seed, step, 101, shard), i)
            return a, crop_from(consts_b, key_b)
        gray = tf.repeat(tf.image.rgb_to_grayscale(a), 3, axis=-1)
        return (gray, a) if gray_input else (a, a)

    def batch_at(step):
        pairs = [one(step, i) for i in range(batch_size)]
        return tf.stack([p[0] for p in pairs]), tf.stack([p[1] for p in pairs])

    return tf.data.Dataset.counter(start=start_step).map(
        batch_at, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def photo_painting_stream(image_size: int = 64, *, batch_size: int = 1, seed: int = 0,
                          start_step: int = 0, shard: int = 0) -> tf.data.Dataset:
    """Unpaired ``(photo crop, painting crop)`` batches ``(B, S, S, 3)`` in [0, 1]:
    random crops (mirrored at random) of the shipped photos and of Starry Night."""
    return _crop_stream(photo_bank(scale=0.5, split="all"),
                        photo_bank(samples.STYLE, scale=0.5, split="all"), image_size,
                        batch_size=batch_size, seed=seed, start_step=start_step, shard=shard,
                        gray_input=False)


def gray_photo_stream(image_size: int = 64, *, batch_size: int = 1, seed: int = 0,
                      start_step: int = 0, shard: int = 0) -> tf.data.Dataset:
    """Paired ``(grayscale crop as RGB, colour crop)`` batches from the training
    region of the shipped photos at full resolution (pix2pix colourisation)."""
    return _crop_stream(photo_bank(split="train", scale=1.0), None, image_size, batch_size=batch_size,
                        seed=seed, start_step=start_step, shard=shard, gray_input=True)


def gray_photo_test(image_size: int = 64, n: int = 64, seed: int = 0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Held-out colourisation pairs from the photos' test region, ``(n, S, S, 3)`` each."""
    ds = _crop_stream(photo_bank(split="test", scale=1.0), None, image_size, batch_size=n,
                      seed=seed + 1_000_003, start_step=0, shard=0, gray_input=True)
    a, b = next(iter(ds))
    return a.numpy(), b.numpy()
