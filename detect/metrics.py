"""Scores of a detector, as small pure NumPy functions.

Labels are 1 for fake (generated) and 0 for real; scores are the detector's
probabilities that an image is fake (any monotone score works for AP).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["accuracy_at", "average_precision", "detection_scores"]


def _check(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(np.int64).ravel()
    s = np.asarray(scores, np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.size} vs {s.size}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    return y, s


def average_precision(labels: Any, scores: Any) -> float:
    """Average precision of ``scores`` for ``labels`` (1 = positive):
    ``sum_k (R_k - R_{k-1}) P_k`` over the distinct score thresholds in
    decreasing order, ``P_k``/``R_k`` the precision and recall of calling
    everything scoring ``>=`` the k-th threshold positive (scikit-learn's
    ``average_precision_score``; ties are one threshold). NaN without positives."""
    y, s = _check(labels, scores)
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    y, s = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]  # last index of each distinct score
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def accuracy_at(labels: Any, scores: Any, threshold: float = 0.5) -> float:
    """Fraction of images classified right when ``score >= threshold`` means fake."""
    y, s = _check(labels, scores)
    return float(np.mean((s >= threshold) == (y == 1)))


def detection_scores(labels: Any, scores: Any, threshold: float = 0.5) -> dict[str, float]:
    """``{"ap", "acc", "real_acc", "fake_acc", "n"}``: AP, accuracy at
    ``threshold`` (0.5 for probabilities; 0 for logits, the same decision)
    and its parts on real and fake images (calibration shows in their gap)."""
    y, s = _check(labels, scores)
    real, fake = y == 0, y == 1
    return {"ap": average_precision(y, s), "acc": accuracy_at(y, s, threshold),
            "real_acc": accuracy_at(y[real], s[real], threshold) if real.any() else float("nan"),
            "fake_acc": accuracy_at(y[fake], s[fake], threshold) if fake.any() else float("nan"),
            "n": int(y.size)}
