"""Losses of pix2pix and CycleGAN (pure functions, float32 scalars; images in
[-1, 1]). The adversarial terms live in :mod:`core.gan_losses`."""

from __future__ import annotations

import tensorflow as tf

__all__ = ["cycle_loss", "identity_loss", "l1_loss"]


def l1_loss(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Mean absolute difference ``mean |a - b|`` over every element."""
    return tf.reduce_mean(tf.abs(tf.cast(a, tf.float32) - tf.cast(b, tf.float32)))


def cycle_loss(real: tf.Tensor, cycled: tf.Tensor, weight: float = 10.0) -> tf.Tensor:
    """Cycle consistency ``weight * mean |F(G(x)) - x|`` (Zhu et al. 2017, eq. 2,
    one direction; lambda = 10 in the paper)."""
    return weight * l1_loss(real, cycled)


def identity_loss(real: tf.Tensor, same: tf.Tensor, weight: float = 5.0) -> tf.Tensor:
    """Identity mapping ``weight * mean |G(y) - y|`` (Taesung Park's addition;
    0.5 x the cycle weight in the paper's painting experiments)."""
    return weight * l1_loss(real, same)
