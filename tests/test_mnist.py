"""MNIST loading (classic pickle decoder, offline mirror), the CoGAN domains and
the unpaired, resumable tf.data stream."""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from data import UnsafePickleError
from data.mnist import decode_mnist_pickle, edges, load_mnist, negatives, unpaired_domains


def classic_pickle(rng, n=(5, 3, 4)) -> tuple[bytes, list]:
    """Write the deeplearning.net mnist.pkl.gz layout: x = uint8 / 256 as float32."""
    parts = []
    for count in n:
        x = rng.integers(0, 256, (count, 784), dtype=np.uint8)
        y = rng.integers(0, 10, count).astype(np.int64)
        parts.append((x, y))
    payload = tuple((x.astype(np.float32) / 256.0, y) for x, y in parts)
    return gzip.compress(pickle.dumps(payload, protocol=2)), parts


def test_classic_pickle_decodes_to_uint8(rng):
    data, parts = classic_pickle(rng)
    out = decode_mnist_pickle(data, source="m.pkl.gz", n_train=8, n_test=4)
    np.testing.assert_array_equal(out["x_train"].reshape(8, 784),
                                  np.concatenate([parts[0][0], parts[1][0]]))
    np.testing.assert_array_equal(out["y_train"], np.concatenate([parts[0][1], parts[1][1]]))
    np.testing.assert_array_equal(out["x_test"].reshape(4, 784), parts[2][0])
    assert out["x_train"].dtype == np.uint8 and out["x_train"].shape == (8, 28, 28)


def test_pickle_with_foreign_global_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    data = gzip.compress(pickle.dumps(((Evil(), 1), (2, 3), (4, 5)), protocol=2))
    with pytest.raises(UnsafePickleError, match="m.pkl.gz: refusing to unpickle global"):
        decode_mnist_pickle(data, source="m.pkl.gz")
    assert not marker.exists()


def test_wrong_shapes_and_garbage_are_named(rng):
    data, _ = classic_pickle(rng)
    with pytest.raises(ValueError, match=r"m.pkl.gz: x_train should have shape \(60000, 28, 28\)"):
        decode_mnist_pickle(data, source="m.pkl.gz")
    with pytest.raises(ValueError, match="m.pkl.gz: not a gzip file"):
        decode_mnist_pickle(b"plain bytes", source="m.pkl.gz")


def test_real_mnist_matches_published_statistics():
    (x, y), (xt, yt) = load_mnist()
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert x.dtype == np.uint8 and x.max() == 255 and x.min() == 0
    # published class counts of the standard split (LeCun et al.)
    assert np.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(yt).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert y[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3] and yt[:8].tolist() == [7, 2, 1, 0, 4, 1, 4, 9]


def test_edges_are_dilation_minus_image(rng):
    x = rng.random((3, 12, 10, 1)).astype(np.float32)
    reference = np.stack([ndimage.grey_dilation(im[..., 0], size=(3, 3), mode="nearest")
                          for im in x])[..., None] - x
    np.testing.assert_allclose(edges(tf.constant(x)).numpy(), reference, atol=1e-6)
    dot = np.zeros((1, 5, 5, 1), np.float32)
    dot[0, 2, 2, 0] = 1.0
    ring = edges(tf.constant(dot)).numpy()[0, ..., 0]
    assert ring.sum() == 8 and ring[2, 2] == 0 and ring[1:4, 1:4].sum() == 8


def test_negatives_are_the_complement_of_the_uint8_pixels():
    raw = np.array([0, 1, 64, 128, 200, 254, 255], np.uint8).reshape(1, 7, 1, 1)
    x = tf.constant(raw.astype(np.float32) / 255.0)  # how the streams scale pixels
    expected = (255 - raw).astype(np.float64) / 255.0  # complemented in uint8, then scaled
    np.testing.assert_allclose(negatives(x).numpy(), expected, atol=1e-7)
    np.testing.assert_allclose(negatives(x).numpy().ravel()[[0, -1]], [1.0, 0.0])  # ink <-> paper


def _indexed_images(n: int) -> np.ndarray:
    """Images whose two first pixels spell out their index."""
    x = np.zeros((n, 28, 28), np.uint8)
    x[:, 0, 0] = np.arange(n) % 256
    x[:, 0, 1] = np.arange(n) // 256
    x[:, 5:20, 10:14] = 200
    return x


def _index(images: np.ndarray) -> np.ndarray:
    px = np.round(images[:, 0, :2, 0] * 255).astype(int)
    return px[:, 0] + 256 * px[:, 1]


def test_unpaired_domains_come_from_disjoint_halves():
    x = _indexed_images(600)
    seen1, seen2 = set(), set()
    for d1, d2 in unpaired_domains(x, "negatives", batch_size=32, seed=5).take(20):
        assert d1.shape == (32, 28, 28, 1) and d1.dtype == tf.float32
        seen1 |= set(_index(d1.numpy()))
        # domain 2 is the negative of a raw image: index pixels complemented in uint8
        complement = np.round(d2.numpy()[:, 0, :2, 0] * 255).astype(int)
        index = (255 - complement[:, 0]) + 256 * (255 - complement[:, 1])
        np.testing.assert_allclose(d2.numpy()[..., 0], (255 - x[index]) / 255.0, atol=1e-6)
        seen2 |= set(index)
    assert seen1 and seen2 and not seen1 & seen2
    assert len(seen1 | seen2) > 300  # draws cover the data, not a fixed few


def test_stream_is_resumable():
    x = _indexed_images(200)
    full = [b[0].numpy() for b in unpaired_domains(x, "edges", batch_size=8, seed=1).take(6)]
    resumed = [b[0].numpy() for b in
               unpaired_domains(x, "edges", batch_size=8, seed=1, start_step=4).take(2)]
    np.testing.assert_array_equal(full[4], resumed[0])
    np.testing.assert_array_equal(full[5], resumed[1])
    other = next(iter(unpaired_domains(x, "edges", batch_size=8, seed=1, shard=1)))[0].numpy()
    assert not np.array_equal(full[0], other)


def test_bad_arguments():
    with pytest.raises(ValueError, match="transform must be one of"):
        unpaired_domains(_indexed_images(4), "blur", batch_size=2)
    with pytest.raises(ValueError, match="x must be uint8 images"):
        unpaired_domains(np.zeros((4, 28, 28), np.float32), "edges", batch_size=2)
    with pytest.raises(ValueError, match="source must be"):
        load_mnist("internet")
