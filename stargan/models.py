"""StarGAN's networks (Choi et al. 2018, the official code's layout), Keras 3.

- :func:`build_generator`: ``[image (B, H, W, 3) in [-1, 1], labels (B, C)]
  -> (B, H, W, 3)`` in [-1, 1]. The target label is tiled over the image and
  concatenated as C extra channels (:class:`LabelPlanes`); 7x7 conv, two 4x4
  stride-2 down-convolutions, residual blocks, two 4x4 stride-2 transposed
  convolutions, 7x7 conv, tanh. Affine instance norm and ReLU after every
  convolution but the last; zero padding (the official code found reflection
  padding hurt label conditioning); no biases before a norm.
  ``modulate=True`` (not in the paper) also feeds the label after every
  instance norm (:class:`LabelModulation`, as StarGAN v2's AdaIN does with
  its style code): a constant label plane reaches the first norm as a
  per-channel constant, which the norm mostly subtracts again, so with the
  paper's planes alone G sees its target only through border effects and
  the norm's statistics.
- :func:`build_discriminator`: ``(B, H, W, 3) -> {"src": (B, H/2^n, W/2^n,
  1), "cls": (B, C)}``: n 4x4 stride-2 convolutions with LeakyReLU(0.01), no
  normalisation, channels doubling from ``conv_dim``; ``src`` is a 3x3 conv
  (a PatchGAN map of critic scores), ``cls`` a conv whose kernel covers the
  final map (domain logits).

Outputs are float32 under a bf16 policy.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from core.layers import InstanceNormalization

__all__ = ["LabelModulation", "LabelPlanes", "build_discriminator", "build_generator"]


@keras.saving.register_keras_serializable(package="deepfake_lab")
class LabelPlanes(layers.Layer):
    """``[image (B, H, W, K), labels (B, C)] -> (B, H, W, K + C)``: each label
    entry becomes a constant plane appended to the image's channels."""

    def call(self, inputs):
        image, labels = inputs
        labels = tf.cast(labels, image.dtype)
        shape = tf.shape(image)
        planes = tf.tile(labels[:, None, None, :], [1, shape[1], shape[2], 1])
        return tf.concat([image, planes], axis=-1)

    def compute_output_shape(self, input_shape):
        image, labels = input_shape
        return (*image[:-1], image[-1] + labels[-1])


@keras.saving.register_keras_serializable(package="deepfake_lab")
class LabelModulation(layers.Layer):
    """``[x (B, H, W, K), labels (B, C)] -> x * (1 + labels @ W_s) + labels @ W_b``:
    a per-channel scale and shift chosen by the label. ``W_s``, ``W_b``
    ``(C, K)`` start at zero, so the layer starts as the identity."""

    def build(self, input_shape):
        (*_, k), (_, c) = input_shape
        self.scale = self.add_weight(shape=(c, k), initializer="zeros", name="scale")
        self.shift = self.add_weight(shape=(c, k), initializer="zeros", name="shift")

    def call(self, inputs):
        x, labels = inputs
        labels = tf.cast(labels, x.dtype)
        scale = tf.matmul(labels, tf.cast(self.scale, x.dtype))[:, None, None, :]
        shift = tf.matmul(labels, tf.cast(self.shift, x.dtype))[:, None, None, :]
        return x * (1.0 + scale) + shift

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def _norm(x, labels, dtype, name: str):
    x = InstanceNormalization(dtype=dtype, name=f"{name}_in")(x)
    if labels is not None:
        x = LabelModulation(dtype=dtype, name=f"{name}_mod")([x, labels])
    return x


def _norm_relu(x, labels, dtype, name: str):
    return layers.ReLU(dtype=dtype, name=f"{name}_relu")(_norm(x, labels, dtype, name))


def build_generator(image_size: int, c_dim: int, *, conv_dim: int = 64, repeat_num: int = 6,
                    modulate: bool = False, dtype: str | None = None, name: str = "G"
                    ) -> keras.Model:
    """The generator (see the module doc). ``image_size`` a multiple of 4;
    ``modulate``: also :class:`LabelModulation` after every instance norm."""
    image = keras.Input((image_size, image_size, 3), name="image")
    labels = keras.Input((c_dim,), name="labels")
    cond = labels if modulate else None
    x = LabelPlanes(dtype=dtype, name="label_planes")([image, labels])
    x = layers.Conv2D(conv_dim, 7, padding="same", use_bias=False, dtype=dtype, name="c7")(x)
    x = _norm_relu(x, cond, dtype, "c7")
    dim = conv_dim
    for i in range(2):
        dim *= 2
        x = layers.Conv2D(dim, 4, 2, padding="same", use_bias=False, dtype=dtype,
                          name=f"down{i}")(x)
        x = _norm_relu(x, cond, dtype, f"down{i}")
    for i in range(repeat_num):
        h = layers.Conv2D(dim, 3, padding="same", use_bias=False, dtype=dtype,
                          name=f"res{i}_a")(x)
        h = _norm_relu(h, cond, dtype, f"res{i}_a")
        h = layers.Conv2D(dim, 3, padding="same", use_bias=False, dtype=dtype,
                          name=f"res{i}_b")(h)
        h = _norm(h, cond, dtype, f"res{i}_b")
        x = layers.Add(dtype=dtype, name=f"res{i}")([x, h])
    for i in range(2):
        dim //= 2
        x = layers.Conv2DTranspose(dim, 4, 2, padding="same", use_bias=False, dtype=dtype,
                                   name=f"up{i}")(x)
        x = _norm_relu(x, cond, dtype, f"up{i}")
    x = layers.Conv2D(3, 7, padding="same", use_bias=False, dtype=dtype, name="to_rgb")(x)
    x = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model([image, labels], x, name=name)


def build_discriminator(image_size: int, c_dim: int, *, conv_dim: int = 64, repeat_num: int = 6,
                        dtype: str | None = None, name: str = "D") -> keras.Model:
    """The critic with its domain classifier (see the module doc);
    ``image_size`` a multiple of ``2**repeat_num``."""
    image = keras.Input((image_size, image_size, 3), name="image")
    x, dim = image, conv_dim
    for i in range(repeat_num):
        x = layers.Conv2D(dim, 4, 2, padding="same", dtype=dtype, name=f"conv{i}")(x)
        x = layers.LeakyReLU(0.01, dtype=dtype, name=f"lrelu{i}")(x)
        dim *= 2
    side = image_size // 2 ** repeat_num
    src = layers.Conv2D(1, 3, padding="same", use_bias=False, dtype=dtype, name="src_conv")(x)
    cls = layers.Conv2D(c_dim, side, padding="valid", use_bias=False, dtype=dtype,
                        name="cls_conv")(x)
    cls = layers.Reshape((c_dim,), dtype=dtype, name="cls_flat")(cls)
    src = layers.Activation("linear", dtype="float32", name="src")(src)
    cls = layers.Activation("linear", dtype="float32", name="cls")(cls)
    return keras.Model(image, {"src": src, "cls": cls}, name=name)
