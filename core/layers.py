"""Layers shared by the GAN packages (Keras 3).

- :func:`normal_init`: normal(0, 0.02), the DCGAN / pix2pix / CycleGAN
  initialisation.
- :class:`InstanceNormalization`: per-sample, per-channel normalisation over
  the spatial axes (Ulyanov et al. 2016), which Keras 3 does not ship.
- :class:`ReflectionPadding2D`: the CycleGAN ResNet generator's padding.

All take and return NHWC tensors.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

__all__ = ["InstanceNormalization", "ReflectionPadding2D", "normal_init"]


def normal_init(stddev: float = 0.02) -> keras.initializers.Initializer:
    """normal(0, ``stddev``) weights."""
    return keras.initializers.RandomNormal(0.0, stddev)


@keras.saving.register_keras_serializable(package="deepfake_lab")
class InstanceNormalization(layers.Layer):
    """``gamma * (x - mean) / sqrt(var + epsilon) + beta`` with mean and variance
    over H and W of each sample and channel; ``gamma``, ``beta`` per channel
    (``gamma`` starts at normal(1, 0.02) as in the pix2pix tutorial).
    Statistics are computed in float32 even under a bf16 policy."""

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"{self.name}: the channel axis must be known, got {input_shape}")
        self.gamma = self.add_weight(shape=(channels,), name="gamma",
                                     initializer=keras.initializers.RandomNormal(1.0, 0.02))
        self.beta = self.add_weight(shape=(channels,), name="beta", initializer="zeros")

    def call(self, x):
        x32 = tf.cast(x, tf.float32)
        mean, var = tf.nn.moments(x32, axes=[1, 2], keepdims=True)
        y = (x32 - mean) * tf.math.rsqrt(var + self.epsilon)
        y = y * tf.cast(self.gamma, tf.float32) + tf.cast(self.beta, tf.float32)
        return tf.cast(y, x.dtype)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="deepfake_lab")
class ReflectionPadding2D(layers.Layer):
    """Mirror-pad H and W by ``padding`` pixels (edge pixel not repeated, like
    ``torch.nn.ReflectionPad2d``)."""

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x):
        p = self.padding
        return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        grow = lambda s: None if s is None else s + 2 * self.padding  # noqa: E731
        return (b, grow(h), grow(w), c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}
