"""GAN, CoGAN and conditional-GAN models for 28x28 digits (Keras 3).

Shapes: noise ``(B, noise_dim)`` uniform in [-1, 1]; images
``(B, image_size, image_size, channels)`` in [0, 1] (sigmoid outputs; 28x28x1
for MNIST, 64x64x3 for CelebA faces); discriminators return logits ``(B, 1)``.

CoGAN (Liu & Tuzel 2016): two generators that share every layer except
their output layer, and two discriminators that share every layer except
their input layer. Sharing is literal: the same layer objects (same
variables) are called on both streams.

``width`` scales the generator's channels: 1.0 gives 1024-512-256 like the
paper's MNIST generator (whose 4x4 deconvolution stem is a Dense 7x7 stem
here, as in the TensorFlow DCGAN tutorial); 0.125 fits a 2-core CPU. The
discriminator is the paper's at every width: conv20-pool-conv50-pool-fc500.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from core.layers import normal_init

__all__ = ["CoGAN", "ConditionalGAN", "DCGAN", "NOISE_DIM", "init"]

NOISE_DIM = 100


def init() -> keras.initializers.Initializer:
    """normal(0, 0.02), the DCGAN/CycleGAN initialisation."""
    return normal_init(0.02)


def _ch(base: int, width: float) -> int:
    return max(8, int(round(base * width)))


def generator_trunk(width: float, name: str, image_size: int = 28) -> list[layers.Layer]:
    """Noise -> ``(B, S, S, C)`` features: Dense to an ``S/4`` grid, two stride-2
    transposed convolutions, batch norm and PReLU after each."""
    if image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4, got {image_size}")
    c1, c2, c3 = _ch(1024, width), _ch(512, width), _ch(256, width)
    s = image_size // 4
    return [
        layers.Dense(s * s * c1, use_bias=False, kernel_initializer=init(), name=f"{name}_fc"),
        layers.BatchNormalization(name=f"{name}_bn0"),
        layers.PReLU(shared_axes=None, name=f"{name}_act0"),
        layers.Reshape((s, s, c1), name=f"{name}_reshape"),
        layers.Conv2DTranspose(c2, 3, strides=2, padding="same", use_bias=False,
                               kernel_initializer=init(), name=f"{name}_up1"),
        layers.BatchNormalization(name=f"{name}_bn1"),
        layers.PReLU(shared_axes=[1, 2], name=f"{name}_act1"),
        layers.Conv2DTranspose(c3, 3, strides=2, padding="same", use_bias=False,
                               kernel_initializer=init(), name=f"{name}_up2"),
        layers.BatchNormalization(name=f"{name}_bn2"),
        layers.PReLU(shared_axes=[1, 2], name=f"{name}_act2"),
    ]


def generator_head(name: str, channels: int = 1) -> layers.Layer:
    """Per-domain output layer: features -> ``channels`` sigmoid channels."""
    return layers.Conv2DTranspose(channels, 5, padding="same", activation="sigmoid",
                                  kernel_initializer=init(), name=name)


def discriminator_input(name: str) -> list[layers.Layer]:
    """Per-domain input layer: conv 5x5 (20, no padding) + max-pool (the
    paper's first D layer; Caffe's LeNet layout)."""
    return [layers.Conv2D(20, 5, padding="valid", kernel_initializer=init(),
                          name=f"{name}_conv"),
            layers.MaxPooling2D(2, name=f"{name}_pool")]


def discriminator_trunk(name: str) -> list[layers.Layer]:
    """Shared part of D (the paper's): conv 5x5 (50, no padding)-pool,
    fc500-PReLU, fc1 (logit)."""
    return [layers.Conv2D(50, 5, padding="valid", kernel_initializer=init(),
                          name=f"{name}_conv"),
            layers.MaxPooling2D(2, name=f"{name}_pool"),
            layers.Flatten(name=f"{name}_flat"),
            layers.Dense(500, kernel_initializer=init(), name=f"{name}_fc"),
            layers.PReLU(name=f"{name}_act"),
            layers.Dense(1, kernel_initializer=init(), name=f"{name}_logit")]


def _apply(stack, x, training=None):
    for layer in stack:
        x = layer(x, training=training) if isinstance(layer, layers.BatchNormalization) else layer(x)
    return x


class DCGAN(keras.Model):
    """One generator and one discriminator (the GAN basics notebook).

    ``generate(z)``: ``z`` ``(B, noise_dim)`` -> ``(B, image_size, image_size,
    channels)`` in [0, 1] (MNIST: ``(B, 28, 28, 1)``); ``discriminate(x) ->
    (B, 1)`` logits.
    """

    def __init__(self, width: float = 0.125, noise_dim: int = NOISE_DIM, *,
                 image_size: int = 28, channels: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.noise_dim, self.width = noise_dim, width
        self.image_size, self.channels = image_size, channels
        self.g_layers = generator_trunk(width, "g", image_size) + [generator_head("g_out", channels)]
        self.d_layers = discriminator_input("d_in") + discriminator_trunk("d")

    def generate(self, z, training=False):
        return _apply(self.g_layers, z, training)

    def discriminate(self, x, training=False):
        return _apply(self.d_layers, x, training)

    def build_all(self):
        self.discriminate(self.generate(tf.zeros((1, self.noise_dim))))

    @property
    def generator_variables(self):
        return [v for layer in self.g_layers for v in layer.trainable_variables]

    @property
    def discriminator_variables(self):
        return [v for layer in self.d_layers for v in layer.trainable_variables]

    def call(self, z, training=False):
        return self.generate(z, training)


class CoGAN(keras.Model):
    """Coupled GAN: ``generate(z) -> (x1, x2)`` from one shared trunk and two
    heads; ``discriminate(x, domain) -> (B, 1)`` logits from a per-domain input
    layer and a shared trunk."""

    def __init__(self, width: float = 0.125, noise_dim: int = NOISE_DIM, *,
                 image_size: int = 28, channels: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.noise_dim, self.width = noise_dim, width
        self.image_size, self.channels = image_size, channels
        self.g_shared = generator_trunk(width, "g_shared", image_size)
        self.g_heads = [generator_head("g1_out", channels), generator_head("g2_out", channels)]
        self.d1_in = discriminator_input("d1_in")
        self.d2_in = discriminator_input("d2_in")
        self.d_shared = discriminator_trunk("d_shared")

    def generate(self, z, training=False):
        h = _apply(self.g_shared, z, training)
        return self.g_heads[0](h), self.g_heads[1](h)

    def discriminate(self, x, domain: int, training=False):
        d_in = self.d1_in if domain == 0 else self.d2_in
        return _apply(self.d_shared, _apply(d_in, x, training), training)

    def build_all(self):
        x1, x2 = self.generate(tf.zeros((1, self.noise_dim)))
        self.discriminate(x1, 0)
        self.discriminate(x2, 1)

    @property
    def generator_variables(self):
        stack = self.g_shared + self.g_heads
        return [v for layer in stack for v in layer.trainable_variables]

    @property
    def discriminator_variables(self):
        stack = self.d1_in + self.d2_in + self.d_shared
        return [v for layer in stack for v in layer.trainable_variables]

    def call(self, z, training=False):
        return self.generate(z, training)


class ConditionalGAN(DCGAN):
    """The CoGAN paper's baseline: one generator and one discriminator that
    take a binary domain variable. ``generate(z) -> (x1, x2)`` renders both
    domains from the same noise (``d = 0`` and ``d = 1``, one-hot, appended
    to ``z``); ``discriminate(x, domain)`` appends the one-hot ``d`` as two
    constant input channels. Layers are DCGAN's."""

    def generate(self, z, training=False):
        # both domains go through the network as one batch: batch norm after the
        # first layer would otherwise subtract the (batch-constant) domain code
        # away in training mode. The code is one-hot, appended to z.
        n = tf.shape(z)[0]
        codes = tf.one_hot(tf.concat([tf.zeros([n], tf.int32), tf.ones([n], tf.int32)], 0), 2,
                           dtype=z.dtype)
        both = _apply(self.g_layers, tf.concat([tf.concat([z, z], 0), codes], -1), training)
        return both[:n], both[n:]

    def discriminate(self, x, domain: int, training=False):
        shape = tf.concat([tf.shape(x)[:3], [1]], 0)
        planes = [tf.fill(shape, tf.cast(domain == k, x.dtype)) for k in (0, 1)]
        return _apply(self.d_layers, tf.concat([x] + planes, -1), training)

    def build_all(self):
        x1, _ = self.generate(tf.zeros((1, self.noise_dim)))
        self.discriminate(x1, 0)
