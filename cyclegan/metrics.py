"""How well translations work, measured without downloaded weights.

- :func:`paired_scores` (pix2pix): L1 (mean absolute error in [0, 1] units),
  PSNR (dB, ``tf.image.psnr`` with ``max_val=1``) and SSIM
  (``tf.image.ssim``, 11x11 Gaussian window) of predictions against targets.
- :func:`cyclegan_scores` (CycleGAN on MNIST <-> MNIST-M): a digit classifier
  trained here (:func:`load_digit_classifier`) reads the translated test
  digits. *Class preservation* is the fraction whose predicted digit is the
  source digit's label; *target-domain rate* the fraction its domain head
  puts in the target domain (a translation must change the domain, else the
  identity mapping would score perfectly on class preservation); *cycle
  error* the mean absolute difference ``|F(G(a)) - a|`` in [0, 1] units.
  *Stroke polarity* splits the MNIST-M side: a render ``|photo - digit|``
  has dark strokes where the photo is light (:func:`dark_stroke`); F's class
  preservation is reported for dark- and light-stroke renders apart, and
  G's dark-stroke rate beside the real renders' rate (a G that rarely draws
  dark strokes never shows F such inputs through the forward cycle).
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf
from keras import layers

__all__ = ["build_digit_classifier", "classify", "cyclegan_scores", "dark_stroke",
           "load_digit_classifier", "paired_scores", "train_digit_classifier"]

_CLASSIFIER_RECIPE = {"version": 2, "steps": 2000, "batch_size": 64, "lr": 1e-3}


def paired_scores(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Mean L1, PSNR (dB) and SSIM of ``pred`` vs ``target``, both
    ``(B, H, W, C)`` in [0, 1] (H, W >= 11 for SSIM's window)."""
    p = tf.clip_by_value(tf.convert_to_tensor(pred, tf.float32), 0.0, 1.0)
    t = tf.convert_to_tensor(target, tf.float32)
    if p.shape != t.shape:
        raise ValueError(f"pred and target shapes differ: {p.shape} vs {t.shape}")
    return {"l1": float(tf.reduce_mean(tf.abs(p - t))),
            "psnr": float(tf.reduce_mean(tf.image.psnr(p, t, max_val=1.0))),
            "ssim": float(tf.reduce_mean(tf.image.ssim(p, t, max_val=1.0)))}


def build_digit_classifier(heads: Mapping[str, int] | None = None,
                           name: str = "digit_classifier") -> keras.Model:
    """``(B, 32, 32, 3)`` in [0, 1] -> ``{head: (B, classes)}`` logits, by default
    ``{"digit": (B, 10), "domain": (B, 2)}`` (domain 0 = MNIST, 1 = MNIST-M):
    three conv-pool blocks, a dense layer, dropout, one dense head each."""
    heads = heads or {"digit": 10, "domain": 2}
    inp = keras.Input((32, 32, 3))
    x = inp
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.3)(x)
    return keras.Model(inp, {k: layers.Dense(n, name=k)(x) for k, n in heads.items()}, name=name)


def train_digit_classifier(x_train: np.ndarray, y_train: np.ndarray, *, seed: int = 0,
                           steps: int = _CLASSIFIER_RECIPE["steps"], show_progress: bool = False
                           ) -> keras.Model:
    """Train :func:`build_digit_classifier` on MNIST and MNIST-M renders of the
    MNIST training digits (half of each batch per domain)."""
    from core.train import fit_classifier
    from data.mnistm import background_bank, mnist32, mnistm_render

    keras.utils.set_random_seed(seed)
    model = build_digit_classifier()
    bank = tf.constant(background_bank("train", seed=seed))
    xs, ys = tf.constant(x_train), tf.constant(y_train.astype(np.int32))
    b = _CLASSIFIER_RECIPE["batch_size"] // 2
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def batch(k):
        key = tf.stack([tf.cast(seed, tf.int64), k])
        idx = tf.random.stateless_uniform([2 * b], key, 0, tf.shape(xs)[0], tf.int32)
        bg = tf.gather(bank, tf.random.stateless_uniform([b], key + 1, 0, tf.shape(bank)[0],
                                                         tf.int32))
        digits = tf.gather(xs, idx)
        images = tf.concat([mnist32(digits[:b]), mnistm_render(digits[b:], bg)], 0)
        domains = tf.concat([tf.zeros([b], tf.int32), tf.ones([b], tf.int32)], 0)
        return images, (tf.gather(ys, idx), domains)

    def loss(targets, out):
        return ce(targets[0], out["digit"]) + ce(targets[1], out["domain"])

    return fit_classifier(model, batch, loss, steps=steps, learning_rate=_CLASSIFIER_RECIPE["lr"],
                          desc="digit classifier", show_progress=show_progress)


def load_digit_classifier(x_train: np.ndarray | None = None, y_train: np.ndarray | None = None,
                          *, seed: int = 0, steps: int = _CLASSIFIER_RECIPE["steps"],
                          show_progress: bool = False) -> keras.Model:
    """The digit classifier, trained once and cached under the project cache
    (keyed by its recipe, ``steps`` and a hash of the training digits).

    The default 2000 steps (about 3 min on 2 CPU cores) read the 2,000
    held-out MNIST test digits of the CycleGAN table at 98.6% and their
    MNIST-M-style renders at 95.9% (README); fewer steps make a quicker,
    weaker judge for demos."""
    from core.train import cached_weights
    from data.mnist import load_mnist

    if x_train is None or y_train is None:
        (x_train, y_train), _ = load_mnist()
    return cached_weights(
        "digit_classifier", dict(_CLASSIFIER_RECIPE, steps=steps), x_train, seed,
        build_digit_classifier,
        lambda: train_digit_classifier(x_train, y_train, seed=seed, steps=steps,
                                       show_progress=show_progress))


def classify(classifier: keras.Model, images: np.ndarray, batch_size: int = 500
             ) -> tuple[np.ndarray, np.ndarray]:
    """(digit predictions ``(B,)``, domain predictions ``(B,)``) for ``(B, 32, 32, 3)``
    images in [0, 1]."""
    digits, domains = [], []
    for i in range(0, len(images), batch_size):
        out = classifier(tf.constant(images[i:i + batch_size], tf.float32), training=False)
        digits.append(np.argmax(out["digit"], -1))
        domains.append(np.argmax(out["domain"], -1))
    return np.concatenate(digits), np.concatenate(domains)


def dark_stroke(images: np.ndarray, digits: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """``(B,)`` bool: the stroke of ``images`` ``(B, H, W, 3)`` in [0, 1] is darker
    than its background. Stroke pixels are where the clean ``digits`` (same
    shape, [0, 1]) exceed ``threshold``; brightness is the channel mean."""
    gray = np.asarray(images, np.float32).mean(-1)
    stroke = np.asarray(digits, np.float32).mean(-1) > threshold
    n_stroke = np.maximum(stroke.sum((1, 2)), 1)
    n_back = np.maximum((~stroke).sum((1, 2)), 1)
    return (gray * stroke).sum((1, 2)) / n_stroke < (gray * ~stroke).sum((1, 2)) / n_back


def cyclegan_scores(g_fn, f_fn, classifier: keras.Model, mnist: np.ndarray, mnistm: np.ndarray,
                    labels: np.ndarray) -> dict[str, float]:
    """Scores of a MNIST -> MNIST-M mapping ``g_fn`` and its inverse ``f_fn``
    (callables on ``(B, 32, 32, 3)`` arrays in [0, 1]) on held-out test pairs.

    Returns ``g_class`` / ``f_class`` (class preservation of G on ``mnist``, F
    on ``mnistm``), ``g_domain`` / ``f_domain`` (target-domain rate) and
    ``g_cycle`` / ``f_cycle`` (``|F(G(a)) - a|``, ``|G(F(b)) - b|``);
    ``f_class_dark`` / ``f_class_light`` (F's class preservation on renders
    with dark / light strokes), ``g_dark_rate`` and ``real_dark_rate`` (the
    fraction of ``G(mnist)`` and of ``mnistm`` with dark strokes). ``mnistm[i]``
    must be the render of ``mnist[i]``.
    """
    fake_m, fake_d = g_fn(mnist), f_fn(mnistm)
    g_digit, g_dom = classify(classifier, fake_m)
    f_digit, f_dom = classify(classifier, fake_d)
    dark = dark_stroke(mnistm, mnist)
    f_ok = f_digit == labels
    return {"g_class": float(np.mean(g_digit == labels)),
            "f_class": float(np.mean(f_ok)),
            "f_class_dark": float(np.mean(f_ok[dark])) if dark.any() else float("nan"),
            "f_class_light": float(np.mean(f_ok[~dark])) if (~dark).any() else float("nan"),
            "g_dark_rate": float(np.mean(dark_stroke(fake_m, mnist))),
            "real_dark_rate": float(np.mean(dark)),
            "g_domain": float(np.mean(g_dom == 1)), "f_domain": float(np.mean(f_dom == 0)),
            "g_cycle": float(np.mean(np.abs(f_fn(fake_m) - mnist))),
            "f_cycle": float(np.mean(np.abs(g_fn(fake_d) - mnistm)))}
