"""The CoGAN paper's evaluation: average pixel agreement ratio.

For ``n`` noise vectors ``z``, the pair ``(x1, x2) = (G1(z), G2(z))`` is scored by
transforming ``x1`` into domain 2 with the same transform that built the
domain-2 training data (edges or negatives), binarising both images at
``threshold`` and counting the fraction of the ``28 x 28`` pixels that agree.
The ratio is the mean over pairs. We use ``threshold = 0.5`` and ``n = 10000``
pairs; the paper does not state its threshold (its code has no evaluation
script).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from data.mnist import DOMAIN_TRANSFORMS

__all__ = ["PAPER_TABLE", "pixel_agreement", "pixel_agreement_of_model"]

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


def pixel_agreement_of_model(model, transform: str, *, n: int = 10000, seed: int = 12345,
                             batch_size: int = 500, threshold: float = 0.5) -> float:
    """Mean pixel agreement over ``n`` pairs generated from seeded uniform noise."""
    ratios = []
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        z = tf.random.stateless_uniform([b, model.noise_dim], [seed, start], -1.0, 1.0)
        x1, x2 = model.generate(z, training=False)
        ratios.append(pixel_agreement(x1, x2, transform, threshold).numpy())
    return float(np.concatenate(ratios).mean())
