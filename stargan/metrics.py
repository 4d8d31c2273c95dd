"""How well StarGAN translates the offline digits, judged by a network that
is not the critic.

The *judge* (:func:`load_judge`) is a small CNN trained here on real
labelled renders of MNIST training digits in all 8 attribute domains; it
has two heads: the three attributes (sigmoid logits) and the digit (10-way).
Its digit head is trained on every domain because the CycleGAN digit
classifier (:mod:`cyclegan.metrics`) never saw inverted or bold digits.

:func:`translation_scores` translates every held-out input to every target
domain and reports:

- ``attr_acc``: per attribute, the fraction of translations whose judged
  attribute equals the target's (over all inputs and targets), and
  ``attr_acc_mean`` / ``all_attrs_acc`` (every attribute right at once);
  ``real_attr_acc`` the same for real renders of the targets (the judge's
  own ceiling);
- ``content``: per target domain, the judge's digit accuracy on the
  translations and on *real* renders of the same digits in that domain
  (``real``), and their difference ``gap = real - fake`` (``max_gap`` the
  worst);
- ``rec_l1``: mean ``|G(G(x, c), c_orig) - x|`` in [0, 1] units.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

__all__ = ["build_judge", "domain_name", "judge_images", "load_judge", "train_judge",
           "translation_scores"]

_JUDGE_RECIPE = {"version": 1, "steps": 2000, "batch_size": 64, "lr": 1e-3}

Translate = Callable[[np.ndarray, np.ndarray], np.ndarray]


def build_judge(c_dim: int = 3) -> keras.Model:
    """``(B, 32, 32, 3)`` in [0, 1] -> ``{"attrs": (B, c_dim), "digit": (B, 10)}``
    logits (the CycleGAN digit classifier's network with these two heads)."""
    from cyclegan.metrics import build_digit_classifier

    return build_digit_classifier({"attrs": c_dim, "digit": 10}, name="judge")


def train_judge(x_train: np.ndarray, y_train: np.ndarray, *, seed: int = 0,
                steps: int = _JUDGE_RECIPE["steps"], show_progress: bool = False) -> keras.Model:
    """Train :func:`build_judge` on renders of ``x_train`` (uint8 ``(N, 28, 28)``)
    with random attributes (:func:`data.digit_attributes.attribute_stream`'s
    recipe, training backgrounds)."""
    from core.train import fit_classifier
    from data.digit_attributes import ATTRIBUTES, render_attributes
    from data.mnistm import background_bank

    keras.utils.set_random_seed(seed)
    model = build_judge(len(ATTRIBUTES))
    bank = tf.constant(background_bank("train", seed=seed))
    xs, ys = tf.constant(x_train), tf.constant(np.asarray(y_train, np.int32))
    b = _JUDGE_RECIPE["batch_size"]
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def batch(k):
        key = tf.stack([tf.cast(seed, tf.int64), k])
        idx = tf.random.stateless_uniform([b], key, 0, tf.shape(xs)[0], tf.int32)
        bg = tf.gather(bank, tf.random.stateless_uniform([b], key + 1, 0, tf.shape(bank)[0],
                                                         tf.int32))
        attrs = tf.cast(tf.random.stateless_uniform([b, len(ATTRIBUTES)], key + 2, 0, 2,
                                                    tf.int32), tf.float32)
        return render_attributes(tf.gather(xs, idx), attrs, bg), (tf.gather(ys, idx), attrs)

    def loss(targets, out):
        return ce(targets[0], out["digit"]) + tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=targets[1], logits=out["attrs"]))

    return fit_classifier(model, batch, loss, steps=steps, learning_rate=_JUDGE_RECIPE["lr"],
                          desc="judge", show_progress=show_progress)


def load_judge(x_train: np.ndarray | None = None, y_train: np.ndarray | None = None, *,
               seed: int = 0, steps: int = _JUDGE_RECIPE["steps"],
               show_progress: bool = False) -> keras.Model:
    """The judge, trained once and cached under the project cache (keyed by
    its recipe, ``steps`` and a hash of the training digits)."""
    from core.train import cached_weights
    from data.digit_attributes import ATTRIBUTES
    from data.mnist import load_mnist

    if x_train is None or y_train is None:
        (x_train, y_train), _ = load_mnist()
    return cached_weights(
        "stargan_judge", dict(_JUDGE_RECIPE, steps=steps), x_train, seed,
        lambda: build_judge(len(ATTRIBUTES)),
        lambda: train_judge(x_train, y_train, seed=seed, steps=steps,
                            show_progress=show_progress))


def judge_images(judge: keras.Model, images: np.ndarray, batch_size: int = 1000
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(attributes ``(N, C)`` in {0, 1} (logit > 0), digits ``(N,)``) the judge
    reads in ``images`` ``(N, 32, 32, 3)`` in [0, 1]."""
    attrs, digits = [], []
    for i in range(0, len(images), batch_size):
        out = judge(tf.constant(images[i:i + batch_size], tf.float32), training=False)
        attrs.append(np.asarray(out["attrs"]) > 0)
        digits.append(np.argmax(out["digit"], -1))
    return np.concatenate(attrs).astype(np.float32), np.concatenate(digits)


def domain_name(label: np.ndarray, names: tuple[str, ...]) -> str:
    """``"bold+textured"`` for a label with those attributes on, ``"plain"`` for none."""
    on = [n for n, v in zip(names, label) if v > 0.5]
    return "+".join(on) or "plain"


def translation_scores(translate: Translate, judge: keras.Model, images: np.ndarray,
                       attrs: np.ndarray, digit_images: np.ndarray, digits: np.ndarray,
                       backgrounds: np.ndarray, *,
                       targets: np.ndarray | None = None, reconstruct: bool = True) -> dict:
    """Scores of ``translate(images, labels) -> images`` on held-out renders.

    ``images`` ``(N, 32, 32, 3)`` in [0, 1] are renders of the MNIST test
    digits ``digit_images`` (uint8 ``(N, 28, 28)``, classes ``digits`` ``(N,)``)
    with ``attrs`` ``(N, 3)`` on ``backgrounds``; every
    input goes to every row of ``targets`` (default: all 8 domains); pass a
    subset of inputs and targets to score a model that covers fewer domains
    (a CycleGAN pair). ``reconstruct``: also translate back to ``attrs``.
    """
    from data.digit_attributes import ATTRIBUTES, all_domains, render_attributes

    targets = all_domains(len(ATTRIBUTES)) if targets is None else np.asarray(targets, np.float32)
    correct = np.zeros(len(ATTRIBUTES))
    real_correct = np.zeros(len(ATTRIBUTES))
    all_right = 0.0
    total = 0
    content, rec = {}, []
    for t in targets:
        labels = np.broadcast_to(t, attrs.shape).astype(np.float32)
        fake = translate(images, labels)
        got_attrs, got_digits = judge_images(judge, fake)
        correct += (got_attrs == t).sum(0)
        all_right += float((got_attrs == t).all(1).sum())
        total += len(images)
        real = render_attributes(digit_images, labels, backgrounds).numpy()
        real_attrs, real_digits = judge_images(judge, real)
        real_correct += (real_attrs == t).sum(0)
        real_acc = float(np.mean(real_digits == digits))
        fake_acc = float(np.mean(got_digits == digits))
        content[domain_name(t, ATTRIBUTES)] = {"fake": fake_acc, "real": real_acc,
                                               "gap": real_acc - fake_acc}
        if reconstruct:
            rec.append(float(np.mean(np.abs(translate(fake, attrs) - images))))
    acc = correct / total
    out = {"attr_acc": dict(zip(ATTRIBUTES, map(float, acc))),
           "attr_acc_mean": float(acc.mean()), "all_attrs_acc": all_right / total,
           "real_attr_acc": dict(zip(ATTRIBUTES, map(float, real_correct / total))),
           "content": content, "max_gap": max(v["gap"] for v in content.values()),
           "n_inputs": len(images), "n_targets": len(targets)}
    if reconstruct:
        out["rec_l1"] = float(np.mean(rec))
    return out
