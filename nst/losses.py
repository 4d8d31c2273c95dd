"""Neural style transfer losses (Gatys et al. 2016, as in the TensorFlow tutorial).

All functions are pure and work on float32 tensors; the default weights
(:mod:`nst.options`) are the tutorial's: style 1e-2, content 1e4, total
variation 30.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf

from .options import CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT

__all__ = [
    "CONTENT_WEIGHT",
    "STYLE_WEIGHT",
    "TV_WEIGHT",
    "content_loss",
    "gram_matrix",
    "style_loss",
    "style_content_loss",
    "total_variation_loss",
]


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Channel correlations of feature maps.

    ``(B, H, W, C)`` -> ``(B, C, C)``: ``G[b, c, d] = sum_ij F[b,i,j,c] F[b,i,j,d] / (H W)``.
    """
    features = tf.cast(features, tf.float32)
    gram = tf.einsum("bijc,bijd->bcd", features, features)
    shape = tf.shape(features)
    return gram / tf.cast(shape[1] * shape[2], tf.float32)


def style_loss(features: Mapping[str, tf.Tensor], target_grams: Mapping[str, tf.Tensor],
               weight: float = STYLE_WEIGHT) -> tf.Tensor:
    """``weight / L * sum_l mean((G(F_l) - G_l*)^2)`` over the L style layers."""
    terms = [tf.reduce_mean(tf.square(gram_matrix(features[name]) - target_grams[name]))
             for name in target_grams]
    return weight * tf.add_n(terms) / len(terms)


def content_loss(features: Mapping[str, tf.Tensor], targets: Mapping[str, tf.Tensor],
                 weight: float = CONTENT_WEIGHT) -> tf.Tensor:
    """``weight / L * sum_l mean((F_l - F_l*)^2)`` over the L content layers."""
    terms = [tf.reduce_mean(tf.square(tf.cast(features[name], tf.float32) - targets[name]))
             for name in targets]
    return weight * tf.add_n(terms) / len(terms)


def total_variation_loss(images: tf.Tensor, weight: float = TV_WEIGHT) -> tf.Tensor:
    """``weight * sum |x[i+1,j] - x[i,j]| + |x[i,j+1] - x[i,j]|`` summed over the
    batch, ``(B, H, W, C)`` -> scalar (same as ``tf.image.total_variation``)."""
    dy = images[:, 1:, :, :] - images[:, :-1, :, :]
    dx = images[:, :, 1:, :] - images[:, :, :-1, :]
    return weight * (tf.reduce_sum(tf.abs(dy)) + tf.reduce_sum(tf.abs(dx)))


def style_content_loss(features: Mapping[str, Mapping[str, tf.Tensor]],
                       style_targets: Mapping[str, tf.Tensor],
                       content_targets: Mapping[str, tf.Tensor], *,
                       style_weight: float = STYLE_WEIGHT,
                       content_weight: float = CONTENT_WEIGHT) -> tuple[tf.Tensor, tf.Tensor]:
    """(style loss, content loss) of extractor output ``{"style": ..., "content": ...}``."""
    return (style_loss(features["style"], style_targets, style_weight),
            content_loss(features["content"], content_targets, content_weight))
