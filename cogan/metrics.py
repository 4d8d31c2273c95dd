"""The CoGAN paper's evaluation: average pixel agreement ratio.

For ``n`` noise vectors ``z``, the pair ``(x1, x2) = (G1(z), G2(z))`` is scored by
transforming ``x1`` into domain 2 with the same transform that built the
domain-2 training data (edges or negatives), binarising both images at
``threshold`` and counting the fraction of the ``28 x 28`` pixels that agree.
The ratio is the mean over pairs. We use ``threshold = 0.5`` and ``n = 10000``
pairs; the paper does not state its threshold (its code has no evaluation
script).

The ratio counts background pixels too, so an image with few strokes scores
well against any partner (a blank edge image scores 0.871 against the edges
of real digits, a random pairing of real digits 0.81). ``stroke_iou`` is a diagnostic
beside it that ignores the background: intersection over union of the stroke
pixels of ``transform(x1)`` and ``x2`` (strokes are the bright pixels of an
edge image and the dark ones of a negative).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from data.mnist import DOMAIN_TRANSFORMS

__all__ = ["PAPER_TABLE", "pair_scores_of_model", "pixel_agreement", "pixel_agreement_of_model",
           "stroke_iou"]

#: The CoGAN paper's table (NIPS 2016): average pixel agreement ratios.
PAPER_TABLE = {("cogan", "edges"): 0.952, ("cogan", "negatives"): 0.967,
               ("cgan", "edges"): 0.909, ("cgan", "negatives"): 0.778}


def pixel_agreement(x1: tf.Tensor, x2: tf.Tensor, transform: str,
                    threshold: float = 0.5) -> tf.Tensor:
    """Per-pair agreement ``(B,)`` in [0, 1] of ``transform(x1)`` and ``x2``,
    both ``(B, H, W, 1)`` in [0, 1]."""
    t = DOMAIN_TRANSFORMS[transform](tf.convert_to_tensor(x1, tf.float32))
    a = t >= threshold
    b = tf.convert_to_tensor(x2, tf.float32) >= threshold
    return tf.reduce_mean(tf.cast(tf.equal(a, b), tf.float32), axis=[1, 2, 3])


#: Whether a domain-2 image draws its strokes dark on a light background.
DARK_STROKES = {"edges": False, "negatives": True}


def stroke_iou(x1: tf.Tensor, x2: tf.Tensor, transform: str,
               threshold: float = 0.5) -> tf.Tensor:
    """Per-pair intersection over union ``(B,)`` in [0, 1] of the stroke
    pixels of ``transform(x1)`` and ``x2`` (both ``(B, H, W, 1)`` in [0, 1]);
    1 when neither image has a stroke."""
    t = DOMAIN_TRANSFORMS[transform](tf.convert_to_tensor(x1, tf.float32))
    x2 = tf.convert_to_tensor(x2, tf.float32)
    a, b = (t < threshold, x2 < threshold) if DARK_STROKES[transform] else \
        (t >= threshold, x2 >= threshold)
    inter = tf.reduce_sum(tf.cast(a & b, tf.float32), axis=[1, 2, 3])
    union = tf.reduce_sum(tf.cast(a | b, tf.float32), axis=[1, 2, 3])
    return tf.where(union > 0, inter / tf.maximum(union, 1.0), 1.0)


def pair_scores_of_model(model, transform: str, *, n: int = 10000, seed: int = 12345,
                         batch_size: int = 500, threshold: float = 0.5) -> dict[str, float]:
    """``{"pixel_agreement", "stroke_iou"}``: means over ``n`` pairs generated
    from seeded uniform noise (the same pairs for both)."""
    ratios, ious = [], []
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        z = tf.random.stateless_uniform([b, model.noise_dim], [seed, start], -1.0, 1.0)
        x1, x2 = model.generate(z, training=False)
        ratios.append(pixel_agreement(x1, x2, transform, threshold).numpy())
        ious.append(stroke_iou(x1, x2, transform, threshold).numpy())
    return {"pixel_agreement": float(np.concatenate(ratios).mean()),
            "stroke_iou": float(np.concatenate(ious).mean())}


def pixel_agreement_of_model(model, transform: str, **kwargs) -> float:
    """Mean pixel agreement over generated pairs (arguments as
    :func:`pair_scores_of_model`)."""
    return pair_scores_of_model(model, transform, **kwargs)["pixel_agreement"]
