"""GAN objectives on discriminator logits (pure functions, float32 scalars).

``bce``: the original minimax game with the non-saturating generator loss
(Goodfellow et al. 2014). ``lsgan``: least squares (Mao et al. 2017), the
CycleGAN paper's choice. Discriminators output logits (no sigmoid): for BCE
that is the numerically stable form; LSGAN uses them as scores directly.

WGAN-GP (Gulrajani et al. 2017, StarGAN's objective) has its own functions:
the critic's outputs are scores, :func:`wasserstein_critic_loss` and
:func:`wasserstein_generator_loss` the two sides, :func:`gradient_penalty`
the Lipschitz term.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from core.config import GAN_LOSSES  # TF-free, for the CLI help

__all__ = ["GAN_LOSSES", "discriminator_loss", "generator_loss", "gradient_penalty",
           "wasserstein_critic_loss", "wasserstein_generator_loss"]


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


def wasserstein_critic_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
    """The critic's WGAN loss ``mean(D(fake)) - mean(D(real))`` (lower: it
    separates the two more)."""
    return (tf.reduce_mean(tf.cast(fake_scores, tf.float32))
            - tf.reduce_mean(tf.cast(real_scores, tf.float32)))


def wasserstein_generator_loss(fake_scores: tf.Tensor) -> tf.Tensor:
    """The generator's WGAN loss ``-mean(D(fake))``."""
    return -tf.reduce_mean(tf.cast(fake_scores, tf.float32))


def gradient_penalty(critic: Callable[[tf.Tensor], tf.Tensor], real: tf.Tensor,
                     fake: tf.Tensor, alpha: tf.Tensor) -> tf.Tensor:
    """``mean((||grad_x critic(x_hat)||_2 - 1)^2)`` at ``x_hat = alpha * real +
    (1 - alpha) * fake``; ``alpha`` ``(B, 1, 1, 1)`` in [0, 1] (uniform in
    WGAN-GP). The norm runs over each sample's every element; ``critic``
    returns scores of any shape, summed (each sample's scores depend on that
    sample only, so the sum's gradient is each sample's own gradient).
    Computed in float32."""
    real, fake = tf.cast(real, tf.float32), tf.cast(fake, tf.float32)
    x_hat = alpha * real + (1.0 - alpha) * fake
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        total = tf.reduce_sum(tf.cast(critic(x_hat), tf.float32))
    grad = tape.gradient(total, x_hat)
    norm = tf.sqrt(tf.reduce_sum(tf.square(tf.reshape(grad, [tf.shape(grad)[0], -1])), 1) + 1e-12)
    return tf.reduce_mean(tf.square(norm - 1.0))
