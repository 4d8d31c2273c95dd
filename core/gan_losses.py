"""GAN objectives on discriminator logits (pure functions, float32 scalars).

``bce``: the original minimax game with the non-saturating generator loss
(Goodfellow et al. 2014). ``lsgan``: least squares (Mao et al. 2017), the
CycleGAN paper's choice. Discriminators output logits (no sigmoid): for BCE
that is the numerically stable form; LSGAN uses them as scores directly.
"""

from __future__ import annotations

import tensorflow as tf

from core.config import GAN_LOSSES  # TF-free, for the CLI help

__all__ = ["GAN_LOSSES", "discriminator_loss", "generator_loss"]


def _bce(logits: tf.Tensor, target: float) -> tf.Tensor:
    logits = tf.cast(logits, tf.float32)
    labels = tf.fill(tf.shape(logits), target)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def _check(kind: str) -> None:
    if kind not in GAN_LOSSES:
        raise ValueError(f"GAN loss must be one of {GAN_LOSSES}, got {kind!r}")


def discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor,
                       kind: str = "bce") -> tf.Tensor:
    """Loss for D: real -> 1, fake -> 0 (mean over all logits).

    ``bce``: ``-log D(x) - log(1 - D(G(z)))``; ``lsgan``: ``((D(x)-1)^2 + D(G(z))^2) / 2``.
    """
    _check(kind)
    if kind == "bce":
        return _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)
    real = tf.cast(real_logits, tf.float32)
    fake = tf.cast(fake_logits, tf.float32)
    return 0.5 * (tf.reduce_mean(tf.square(real - 1.0)) + tf.reduce_mean(tf.square(fake)))


def generator_loss(fake_logits: tf.Tensor, kind: str = "bce") -> tf.Tensor:
    """Loss for G: fakes -> 1. ``bce``: ``-log D(G(z))`` (non-saturating);
    ``lsgan``: ``(D(G(z)) - 1)^2``."""
    _check(kind)
    if kind == "bce":
        return _bce(fake_logits, 1.0)
    return tf.reduce_mean(tf.square(tf.cast(fake_logits, tf.float32) - 1.0))
