"""The CNN detector (after Wang et al. 2020, "CNN-generated images are
surprisingly easy to spot... for now"), scaled down for CPUs.

Wang et al. fine-tune a ResNet-50 on ProGAN fakes with two augmentations,
each applied with probability 0.5: Gaussian blur with sigma ~ U[0, 3] and
JPEG compression with quality ~ U{30, ..., 100}; both make the detector
robust to post-processing and help it generalise. Here a small fully
convolutional network (:func:`build_cnn`: four 3x3 convolutions, three of
stride 2, global average pooling, one logit) sees crops of the training
images with the same augmentations (:func:`augment`, stateless and inside
the one ``tf.function`` train step). Being fully convolutional, it scores
images of any size. It computes in float32.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

__all__ = ["augment", "build_cnn", "cnn_logits", "gaussian_blur", "jpeg_compress"]


def build_cnn(width: int = 16) -> keras.Model:
    """``(B, H, W, 3)`` in [0, 1], any H, W >= 8 -> ``(B,)`` logits of "fake".
    Channels ``width, 2 width, 4 width, 4 width``; ReLU; no normalisation,
    so training and inference compute the same function."""
    inp = keras.Input((None, None, 3), dtype="float32")
    x = layers.Rescaling(2.0, offset=-1.0, dtype="float32")(inp)
    for i, (mult, stride) in enumerate(((1, 1), (2, 2), (4, 2), (4, 2))):
        # ReLU: TF's graph optimiser mis-fuses conv + bias + LeakyReLU under a gradient tape
        x = layers.Conv2D(width * mult, 3, strides=stride, padding="same", activation="relu",
                          dtype="float32", name=f"conv{i}")(x)
    x = layers.GlobalAveragePooling2D(dtype="float32")(x)
    logit = layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(inp, layers.Reshape(())(logit), name="detector_cnn")


def gaussian_blur(images: tf.Tensor, sigmas: tf.Tensor, radius: int) -> tf.Tensor:
    """Blur each image ``(B, H, W, C)`` with its own Gaussian ``sigmas``
    ``(B,)`` (px; 0 leaves it unchanged), kernel ``2 radius + 1`` taps,
    reflected borders (``radius < min(H, W)``). All images and channels go
    through one depthwise convolution per axis, images stacked as channels."""
    x = tf.convert_to_tensor(images, tf.float32)
    b, c = tf.shape(x)[0], tf.shape(x)[3]
    taps = tf.range(-radius, radius + 1, dtype=tf.float32)
    s = tf.maximum(tf.cast(sigmas, tf.float32), 1e-3)[:, None]
    kernel = tf.exp(-0.5 * tf.square(taps[None, :] / s))
    kernel /= tf.reduce_sum(kernel, axis=1, keepdims=True)  # (B, K)
    kernel = tf.repeat(kernel, c, axis=0)  # (B*C, K): image-major, as the channels below
    stacked = tf.transpose(x, [1, 2, 0, 3])  # (H, W, B, C)
    shape = tf.shape(stacked)
    stacked = tf.reshape(stacked, [1, shape[0], shape[1], b * c])
    pad = [[0, 0], [radius, radius], [radius, radius], [0, 0]]
    y = tf.pad(stacked, pad, mode="REFLECT")
    kt = tf.transpose(kernel)  # (K, B*C)
    y = tf.nn.depthwise_conv2d(y, kt[:, None, :, None], [1, 1, 1, 1], "VALID")
    y = tf.nn.depthwise_conv2d(y, kt[None, :, :, None], [1, 1, 1, 1], "VALID")
    y = tf.reshape(y, [shape[0], shape[1], b, c])
    return tf.transpose(y, [2, 0, 1, 3])


def jpeg_compress(images: tf.Tensor, qualities: tf.Tensor) -> tf.Tensor:
    """Each image ``(B, H, W, 3)`` in [0, 1] through JPEG at its own quality
    ``qualities`` ``(B,)`` int32 (``tf.image.adjust_jpeg_quality``)."""
    return tf.map_fn(lambda a: tf.image.adjust_jpeg_quality(a[0], a[1]),
                     (tf.convert_to_tensor(images, tf.float32), qualities),
                     fn_output_signature=tf.float32)


def augment(images: tf.Tensor, key: tf.Tensor, *, blur_prob: float = 0.5,
            blur_sigma: float = 3.0, jpeg_prob: float = 0.5, jpeg_quality: int = 30,
            rows: tf.Tensor | None = None, total: int | None = None) -> tf.Tensor:
    """Wang et al.'s augmentation, stateless from ``key`` (int64 ``(2,)``):
    with probability ``blur_prob`` a Gaussian blur of sigma ~ U[0,
    ``blur_sigma``], then with probability ``jpeg_prob`` JPEG at a quality
    ~ U{``jpeg_quality``, ..., 100}; each image draws its own. Plus a random
    left-right mirror. ``(B, H, W, 3)`` in [0, 1] -> same.

    ``rows`` (int32 ``(B,)``) and ``total``: the images are these rows of a
    batch of ``total`` and take that batch's draws for them (a replica's
    share of a global batch is augmented as the whole batch would be)."""
    x = tf.convert_to_tensor(images, tf.float32)
    b = tf.shape(x)[0]

    def draw(k, *args, **kwargs) -> tf.Tensor:  # one value per image
        if rows is None:
            return tf.random.stateless_uniform([b], k, *args, **kwargs)
        return tf.gather(tf.random.stateless_uniform([total], k, *args, **kwargs), rows)

    def chosen(k, prob):  # (B, 1, 1, 1): whether each image is transformed
        return tf.reshape(draw(k) < prob, [-1, 1, 1, 1])

    x = tf.where(chosen(key, 0.5), x[:, :, ::-1], x)
    if blur_prob > 0 and blur_sigma > 0:
        radius = max(1, min(math.ceil(3 * blur_sigma), int(x.shape[1] or 4) - 1,
                            int(x.shape[2] or 4) - 1))
        blurred = gaussian_blur(x, draw(key + 1, 0.0, blur_sigma), radius)
        x = tf.where(chosen(key + 2, blur_prob), blurred, x)
    if jpeg_prob > 0:
        compressed = jpeg_compress(x, draw(key + 3, jpeg_quality, 101, tf.int32))
        x = tf.where(chosen(key + 4, jpeg_prob), compressed, x)
    return tf.clip_by_value(x, 0.0, 1.0)


def cnn_logits(model: keras.Model, images: Sequence[np.ndarray], batch_size: int = 128
               ) -> np.ndarray:
    """The logit of "fake" per image ``(H, W, 3)`` in [0, 1] (any sizes: images
    of one size are scored together) -> ``(N,)`` float64."""
    from .spectral import same_size_chunks

    out = np.zeros(len(images))
    fn = _predict_fn(model)
    for chunk in same_size_chunks(images, batch_size):
        out[chunk] = fn(tf.constant(np.stack([images[i] for i in chunk]).astype(np.float32)))
    return out


_PREDICT: Any = {}


def _predict_fn(model: keras.Model):
    """One traced inference function per model, any image size."""
    import weakref

    key = id(model)
    entry = _PREDICT.get(key)
    if entry is None or entry[0]() is not model:
        ref = weakref.ref(model)

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def run(x):
            return ref()(x, training=False)
        entry = _PREDICT[key] = (ref, run)
    return entry[1]
