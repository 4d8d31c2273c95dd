"""MNIST digits with binary attributes: StarGAN's offline, CelebA-like data.

Every image is a digit rendered with three independent attributes, each a
different kind of change:

- ``inverted`` (global): ``1 - image``, light background, dark stroke.
- ``bold`` (local morphology): the 28x28 digit grey-dilated by a 3x3 square
  (each pixel the maximum of its 3x3 neighbourhood), strokes 2 px thicker.
- ``textured`` (texture): the MNIST-M-style render ``|photo crop - digit|``
  of :mod:`data.mnistm` instead of a black background.

The render order is dilate, pad to 32 px (:func:`data.mnistm.mnist32`),
texture, invert. Labels come from how the image was made, so they are exact.
Training streams draw MNIST *training* digits and training backgrounds (the
left 80% of each photo); :func:`attribute_test` renders MNIST *test* digits
on test backgrounds, so evaluation digits and backgrounds are disjoint from
training. Images are float32 ``(B, 32, 32, 3)`` in [0, 1], labels float32
``(B, 3)`` in {0, 1}, ordered as :data:`ATTRIBUTES`.
"""

from __future__ import annotations

import itertools

import numpy as np
import tensorflow as tf

from .mnistm import DIGIT_SIZE, _draw, _key, background_bank, mnist32

__all__ = ["ATTRIBUTES", "DIGIT_SIZE", "all_domains", "attribute_stream", "attribute_test",
           "bold_digits", "render_attributes"]

#: attribute names, in label order
ATTRIBUTES = ("inverted", "bold", "textured")


def all_domains(n_attributes: int = len(ATTRIBUTES)) -> np.ndarray:
    """Every label vector, ``(2**n, n)`` float32, in binary counting order
    (row 0 all zeros, row 1 only the last attribute set, ...)."""
    return np.array(list(itertools.product((0.0, 1.0), repeat=n_attributes)), np.float32)


def bold_digits(digits: tf.Tensor) -> tf.Tensor:
    """Grey dilation by a 3x3 square: ``(B, 28, 28)`` uint8 or [0, 1] -> same
    shape and dtype (``scipy.ndimage.grey_dilation(x, size=(1, 3, 3))``)."""
    x = tf.convert_to_tensor(digits)
    # max pooling with stride 1 and SAME padding is grey dilation with a flat
    # square; padding never wins because pixels are >= 0
    out = tf.nn.max_pool2d(tf.cast(x, tf.float32)[..., None], 3, 1, "SAME")[..., 0]
    return tf.cast(out, x.dtype)


def render_attributes(digits: tf.Tensor, attrs: tf.Tensor, backgrounds: tf.Tensor) -> tf.Tensor:
    """Render ``digits`` ``(B, 28, 28)`` (uint8) with ``attrs`` ``(B, 3)`` in
    {0, 1} (:data:`ATTRIBUTES` order) on ``backgrounds`` ``(B, 32, 32, 3)`` in
    [0, 1] (used where ``textured``) -> ``(B, 32, 32, 3)`` float32 in [0, 1]."""
    attrs = tf.cast(attrs, tf.float32)
    inverted, bold, textured = (attrs[:, i, None, None, None] for i in range(3))
    digits = tf.convert_to_tensor(digits)
    plain = mnist32(digits)
    thick = mnist32(bold_digits(digits))
    x = plain + bold * (thick - plain)
    x = x + textured * (tf.abs(tf.cast(backgrounds, tf.float32) - x) - x)
    return x + inverted * (1.0 - 2.0 * x)


def attribute_stream(x_train: np.ndarray, *, batch_size: int, seed: int = 0, start_step: int = 0,
                     shard: int = 0, backgrounds: np.ndarray | None = None) -> tf.data.Dataset:
    """Infinite stream of ``(images, labels)`` batches: training digits drawn
    at random, each attribute on with probability 1/2 independently, so every
    one of the 8 domains is seen. Batch ``k`` depends only on ``(seed, k,
    shard)`` (exact resume, as :mod:`data.mnistm`)."""
    x_train = np.asarray(x_train)
    if x_train.ndim != 3 or x_train.shape[1:] != (28, 28) or x_train.dtype != np.uint8:
        raise ValueError(f"x_train must be uint8 digits (N, 28, 28), got {x_train.dtype} "
                         f"{x_train.shape}")
    digits = tf.constant(x_train)
    bank = tf.constant(background_bank("train", seed=seed) if backgrounds is None
                       else backgrounds, tf.float32)

    def batch_at(step):
        d = _draw(digits, batch_size, _key(seed, step, 110, shard))
        bg = _draw(bank, batch_size, _key(seed, step, 111, shard))
        bits = tf.random.stateless_uniform([batch_size, len(ATTRIBUTES)],
                                           _key(seed, step, 112, shard), 0, 2, tf.int32)
        labels = tf.cast(bits, tf.float32)
        return render_attributes(d, labels, bg), labels

    return tf.data.Dataset.counter(start=start_step).map(
        batch_at, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def attribute_test(x_test: np.ndarray, labels: np.ndarray | None = None, *, n: int | None = None,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Held-out renders of ``x_test[:n]`` on test backgrounds -> ``(images (n,
    32, 32, 3), attrs (n, 3), backgrounds (n, 32, 32, 3))``. ``labels``: the
    attributes to render (default: seeded random bits). Returning the
    backgrounds lets a caller render the same digit on the same photo with
    other attributes (:func:`render_attributes`)."""
    x = np.asarray(x_test)[:n]
    rng = np.random.default_rng([seed, 11])
    bank = background_bank("test", seed=seed)
    bg = bank[rng.integers(len(bank), size=len(x))]
    if labels is None:
        labels = rng.integers(0, 2, size=(len(x), len(ATTRIBUTES))).astype(np.float32)
    labels = np.asarray(labels, np.float32)
    if labels.shape != (len(x), len(ATTRIBUTES)):
        raise ValueError(f"labels must be ({len(x)}, {len(ATTRIBUTES)}), got {labels.shape}")
    return render_attributes(x, labels, bg).numpy(), labels, bg
