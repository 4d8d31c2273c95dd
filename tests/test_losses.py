"""Loss functions against NumPy and tf.image reference definitions."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from nst.losses import content_loss, gram_matrix, style_loss, total_variation_loss


def numpy_gram(f: np.ndarray) -> np.ndarray:
    b, h, w, c = f.shape
    out = np.zeros((b, c, c))
    for n in range(b):
        flat = f[n].reshape(h * w, c).astype(np.float64)
        out[n] = flat.T @ flat / (h * w)
    return out


def test_gram_matches_numpy(rng):
    f = rng.standard_normal((2, 5, 7, 4)).astype(np.float32)
    g = gram_matrix(tf.constant(f)).numpy()
    assert g.shape == (2, 4, 4)
    np.testing.assert_allclose(g, numpy_gram(f), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g, np.swapaxes(g, 1, 2))  # symmetric


def test_gram_accepts_bf16_features(rng):
    f = rng.standard_normal((1, 4, 4, 3)).astype(np.float32)
    g = gram_matrix(tf.cast(tf.constant(f), tf.bfloat16))
    assert g.dtype == tf.float32
    np.testing.assert_allclose(g.numpy(), numpy_gram(f), rtol=0.05, atol=0.05)


@pytest.mark.parametrize("weight", [1.0, 30.0])
def test_total_variation_equals_tf_image(rng, weight):
    x = rng.random((3, 9, 11, 3)).astype(np.float32)
    ours = total_variation_loss(tf.constant(x), weight).numpy()
    reference = weight * tf.reduce_sum(tf.image.total_variation(tf.constant(x))).numpy()
    np.testing.assert_allclose(ours, reference, rtol=1e-5)
    assert total_variation_loss(tf.ones((1, 4, 4, 3))).numpy() == 0


def test_style_loss_definition(rng):
    layers = ["a", "b"]
    feats = {k: rng.standard_normal((1, 6, 6, 3)).astype(np.float32) for k in layers}
    targets = {k: numpy_gram(rng.standard_normal((1, 8, 8, 3))).astype(np.float32)
               for k in layers}
    expected = 0.5 * sum(np.mean((numpy_gram(feats[k]) - targets[k]) ** 2) for k in layers) / 2
    got = style_loss({k: tf.constant(v) for k, v in feats.items()},
                     {k: tf.constant(v) for k, v in targets.items()}, weight=0.5)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)
    same = {k: tf.constant(numpy_gram(feats[k]).astype(np.float32)) for k in layers}
    assert style_loss({k: tf.constant(v) for k, v in feats.items()}, same).numpy() < 1e-8


def test_content_loss_definition(rng):
    f = rng.standard_normal((1, 4, 5, 6)).astype(np.float32)
    t = rng.standard_normal((1, 4, 5, 6)).astype(np.float32)
    got = content_loss({"c": tf.constant(f)}, {"c": tf.constant(t)}, weight=1e4).numpy()
    np.testing.assert_allclose(got, 1e4 * np.mean((f - t) ** 2), rtol=1e-5)
