"""Evaluation of pix2pix and CycleGAN runs on the built-in offline data, with
the floors the numbers must beat (see :mod:`cyclegan.metrics`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .infer import run_generator
from .metrics import cyclegan_scores, load_digit_classifier, paired_scores
from .train import Nets, TrainConfig, build_nets, load_run

__all__ = ["GRAY_PHOTO_TEST_MAX", "evaluate_nets", "evaluate_run", "test_size", "test_split"]

# the photos' held-out region is small: more crops than this would mostly
# overlap, so the grey -> colour test set is capped here whatever ``n`` asks
GRAY_PHOTO_TEST_MAX = 256


def test_size(config: TrainConfig, n: int = 2000) -> int:
    """How many held-out pairs :func:`test_split` returns when asked for ``n``."""
    return min(n, GRAY_PHOTO_TEST_MAX) if config.data == "gray_photo" else n


def test_split(config: TrainConfig, n: int = 2000) -> dict[str, np.ndarray]:
    """Held-out ``a``, ``b`` (and ``labels`` for digits) for ``config.data``;
    ``test_size(config, n)`` pairs."""
    from data import mnistm
    from data.mnist import load_mnist

    if config.data in ("mnist_mnistm", "mnistm_to_mnist"):
        _, (x_test, y_test) = load_mnist()
        a, b = mnistm.mnist_mnistm_test(x_test, n=n)
        if config.data == "mnistm_to_mnist":
            a, b = b, a
        return {"a": a, "b": b, "labels": np.asarray(y_test[:n])}
    if config.data == "gray_photo":
        a, b = mnistm.gray_photo_test(config.image_size, n=test_size(config, n))
        return {"a": a, "b": b}
    raise ValueError(f"data={config.data!r}: built-in evaluation covers mnist_mnistm, "
                     "mnistm_to_mnist and gray_photo (others have no held-out metric)")


def evaluate_nets(config: TrainConfig, nets: Nets, *, n: int = 2000, floors: bool = True,
                  classifier=None) -> dict[str, dict[str, float]]:
    """Scores of ``nets`` on the held-out split: ``{"model": ..., "identity":
    ..., "untrained": ...}`` (floors included when ``floors``). CycleGAN runs
    are read by ``classifier`` (default: :func:`load_digit_classifier`)."""
    split = test_split(config, n)
    a, b = split["a"], split["b"]

    def gen(net):
        return lambda x: run_generator(net, x, batch_size=250)

    def identity(x):
        return x

    candidates = {"model": nets}
    if floors:
        candidates["untrained"] = build_nets(config)
    out: dict[str, dict[str, float]] = {}
    if config.model == "pix2pix":
        for name, cand in candidates.items():
            out[name] = paired_scores(gen(cand.g)(a), b)
        if floors:
            out["identity"] = paired_scores(a, b)
        return out
    if config.data != "mnist_mnistm":
        raise ValueError(f"CycleGAN evaluation needs data='mnist_mnistm', got {config.data!r}")
    classifier = classifier or load_digit_classifier()
    for name, cand in candidates.items():
        out[name] = cyclegan_scores(gen(cand.g), gen(cand.f), classifier, a, b, split["labels"])
    if floors:
        out["identity"] = cyclegan_scores(identity, identity, classifier, a, b, split["labels"])
    return out


def evaluate_run(run_dir: str | Path, *, n: int = 2000, floors: bool = True) -> dict:
    """:func:`evaluate_nets` for the newest checkpoint of ``run_dir``."""
    config, nets, step = load_run(run_dir)
    return {"run": str(run_dir), "step": step, "model": config.model, "data": config.data,
            "scores": evaluate_nets(config, nets, n=n, floors=floors)}
