"""StarGAN's own losses and label sampling (pure functions, float32 scalars).

The adversarial terms are WGAN-GP (:mod:`core.gan_losses`); the
reconstruction term ``lambda_rec * mean |G(G(x, c), c_orig) - x|`` is the
cycle loss of :mod:`cyclegan.losses`.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["classification_loss", "permute_labels"]


def classification_loss(logits: tf.Tensor, labels: tf.Tensor, exclusive: bool = False
                        ) -> tf.Tensor:
    """Domain classification loss of ``logits`` ``(B, C)`` against ``labels``
    ``(B, C)`` in {0, 1}.

    Attributes (``exclusive=False``, CelebA): binary cross-entropy summed over
    the C attributes and averaged over the batch (the official code's
    ``size_average=False`` sum divided by the batch size). Exclusive domains
    (RaFD; ``labels`` one-hot): softmax cross-entropy averaged over the batch.
    """
    logits = tf.cast(logits, tf.float32)
    labels = tf.cast(labels, tf.float32)
    if exclusive:
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels,
                                                                       logits=logits))
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    return tf.reduce_mean(tf.reduce_sum(bce, axis=-1))


def permute_labels(labels: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
    """The target labels: ``labels`` ``(B, C)`` with its rows in a random
    order (the official code's ``c_org[randperm(B)]``), so targets follow the
    data's label distribution. ``key``: a stateless-RNG key ``(2,)`` int."""
    n = tf.shape(labels)[0]
    order = tf.argsort(tf.random.stateless_uniform([n], key))
    return tf.gather(labels, order)
