"""The detection study, as ``benchmarks/detect_benchmark.py`` and notebook 08
run it: one detector per variant and generator, the AP matrix across
generators, and AP after post-processing.

Variants (:data:`VARIANTS`): ``spectral`` (Durall et al. 2020's azimuthal
spectrum + logistic regression), ``cnn`` (the small CNN with Wang et al.
2020's blur + JPEG augmentation) and ``cnn_noaug`` (the same CNN without
it). Post-processing (:data:`PERTURBATIONS`): JPEG at quality 75 and
downscaling by 2, what a shared image commonly goes through (the augmented
CNN meets JPEG at qualities 30 to 100 and blur in training, never resizing;
the other variants meet neither).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .config import TrainConfig
from .data import Split, downscale, jpeg
from .metrics import average_precision

__all__ = ["PERTURBATIONS", "VARIANTS", "ap_matrix", "perturb", "robustness", "train_variant"]

#: detector variants: name -> the TrainConfig fields that make it
VARIANTS: dict[str, dict[str, Any]] = {
    "spectral": {"detector": "spectral"},
    "cnn": {"detector": "cnn", "augment": True},
    "cnn_noaug": {"detector": "cnn", "augment": False},
}

#: post-processing: name -> images (H, W, 3) in [0, 1] -> processed images, 8-bit as saved
PERTURBATIONS: dict[str, Callable[[Sequence[np.ndarray]], list[np.ndarray]]] = {
    "jpeg75": lambda images: jpeg(images, 75),
    "down2": lambda images: downscale(images, 2),
}


def train_variant(data: str | os.PathLike, runs: str | os.PathLike, variant: str,
                  generator: str = "all", *, show_progress: bool = True, **options: Any):
    """Train ``variant`` on the train split of ``generator`` alone (``"all"``:
    every generator of ``data``) in ``runs/<variant>_<generator>`` and score
    the test split of every generator; a finished run is reused (a spectral
    run refits identically, a CNN run at its ``steps`` trains no further), an
    interrupted CNN run resumes. ``options``: further
    :class:`~detect.config.TrainConfig` fields (``steps``, ``batch_size``,
    ``seed``, ...); checkpoints and preview grids default to once, at the
    end. Returns :class:`detect.train.TrainResult`."""
    from .train import train

    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    steps = options.get("steps", TrainConfig.steps)
    options = {"checkpoint_every": steps, "sample_every": steps, **options}
    config = TrainConfig(run_dir=str(Path(runs) / f"{variant}_{generator}"), data=str(data),
                         generators=generator, **VARIANTS[variant], **options)
    return train(config, show_progress=show_progress)


def perturb(images: Sequence[np.ndarray]) -> dict[str, list[np.ndarray]]:
    """``images`` after each of :data:`PERTURBATIONS` -> ``{name: images}``."""
    return {name: fn(images) for name, fn in PERTURBATIONS.items()}


def robustness(detector: Any, split: Split,
               perturbed: dict[str, Sequence[np.ndarray]] | None = None) -> dict[str, float]:
    """AP of ``detector`` (:class:`detect.train.Detector`) on ``split``'s
    images after each post-processing -> ``{name: AP}``; ``perturbed``:
    :func:`perturb` of ``split.images``, when already made."""
    perturbed = perturb(split.images) if perturbed is None else perturbed
    return {name: average_precision(split.labels, detector.logits(images))
            for name, images in perturbed.items()}


def ap_matrix(reports: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``{trained_on: {tested_on: AP}}`` from the ``report`` of each
    per-generator run (:func:`train_variant`), keyed by the generator it
    was trained on; the diagonal is in distribution."""
    return {row: {col: scores["ap"] for col, scores in report["test"].items()}
            for row, report in reports.items()}
