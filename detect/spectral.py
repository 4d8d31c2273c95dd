"""The spectral detector (after Durall et al. 2020, "Watch your up-convolution").

Generators that upsample (transposed convolutions, nearest or bilinear
upsampling) leave periodic traces that show as excess or missing energy at
high spatial frequencies. The feature (:func:`azimuthal_spectrum`) is the
azimuthally averaged log-magnitude spectrum of the grey image: the 2-D DFT of
the luma, ``log(|F| + eps)`` without the DC term, averaged over rings of
equal radial frequency, in ``bins`` equal rings from 0 to ``sqrt(2) / 2``
cycles/pixel (the corners of the spectrum), then scaled to [0, 1] per image.
Frequencies are in cycles per pixel, so images of any size give comparable
features. A logistic regression with an L2 penalty (:func:`fit_spectral`,
L-BFGS from SciPy on standardised features) separates real from fake.

Imports neither TensorFlow nor scikit-learn.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DEFAULT_BINS", "MAX_RADIUS", "SpectralDetector", "azimuthal_spectrum",
           "fit_spectral", "luma", "same_size_chunks", "spectra"]

DEFAULT_BINS = 48
#: the largest radial frequency of a 2-D DFT, cycles/pixel (a corner)
MAX_RADIUS = float(np.sqrt(0.5))
_EPS = 1e-6  # floor of |F|: images in [0, 1] never have meaningful energy below it


def luma(images: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma (as ``tf.image.rgb_to_grayscale``): ``(..., H, W, 3)``
    -> ``(..., H, W)`` float64; ``(..., H, W)`` grey passes through."""
    x = np.asarray(images, np.float64)
    if x.ndim >= 3 and x.shape[-1] == 3:
        return x @ np.array([0.2989, 0.5870, 0.1140])
    if x.ndim >= 3 and x.shape[-1] == 1:
        return x[..., 0]
    return x


@lru_cache(maxsize=32)
def _ring_index(h: int, w: int, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Ring of every DFT coefficient of an ``h x w`` image but the DC term
    (flattened index 0, left out) and the coefficients per ring."""
    radius = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :])
    ring = np.minimum((radius / MAX_RADIUS * bins).astype(np.int64), bins - 1).ravel()[1:]
    return ring, np.bincount(ring, minlength=bins)


def azimuthal_spectrum(images: Any, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Durall's feature of one image ``(H, W[, C])`` -> ``(bins,)``, or of a
    batch of equal-sized images ``(N, H, W, C)`` -> ``(N, bins)``; float64 in
    [0, 1] (min-max per image; a flat image gives zeros). Ring ``k`` covers
    radial frequencies ``[k, k + 1) * MAX_RADIUS / bins`` cycles/pixel; rings
    no coefficient falls in (small images) are interpolated from their
    neighbours."""
    x = np.asarray(images)
    single = x.ndim == 2 or (x.ndim == 3 and x.shape[-1] in (1, 3))
    grey = luma(x[None] if single else x)
    if grey.ndim != 3:
        raise ValueError(f"images must be (H, W[, C]) or (N, H, W, C), got shape {x.shape}")
    n, h, w = grey.shape
    # the DC term (mean brightness) is left out: it is not an artefact, and as the
    # smallest or largest value it would set every image's min-max scaling
    magnitude = np.log(np.abs(np.fft.fft2(grey)) + _EPS).reshape(n, -1)[:, 1:]
    ring, counts = _ring_index(h, w, bins)
    sums = np.zeros((n, bins))
    np.add.at(sums, (slice(None), ring), magnitude)
    filled = counts > 0
    profile = sums[:, filled] / counts[filled]
    if not filled.all():
        centres = np.arange(bins)
        profile = np.stack([np.interp(centres, centres[filled], p) for p in profile])
    low, high = profile.min(1, keepdims=True), profile.max(1, keepdims=True)
    flat = high - low < 1e-6  # rounding noise of a flat image is not a spectrum
    out = np.where(flat, 0.0, (profile - low) / np.where(flat, 1.0, high - low))
    return out[0] if single else out


def same_size_chunks(images: Sequence[np.ndarray], size: int) -> Iterator[list[int]]:
    """Indices of ``images`` in chunks of at most ``size`` images of one shape
    (so a batch can be stacked), every index once."""
    by_shape: dict[tuple, list[int]] = {}
    for i, image in enumerate(images):
        by_shape.setdefault(np.shape(image), []).append(i)
    for idx in by_shape.values():
        for start in range(0, len(idx), size):
            yield idx[start:start + size]


def spectra(images: Sequence[np.ndarray], bins: int = DEFAULT_BINS) -> np.ndarray:
    """:func:`azimuthal_spectrum` of images of any sizes -> ``(N, bins)``
    (images of one size are transformed together)."""
    out = np.zeros((len(images), bins))
    for chunk in same_size_chunks(images, 512):  # bounded memory
        out[chunk] = azimuthal_spectrum(np.stack([images[i] for i in chunk]), bins)
    return out


def _nll(params: np.ndarray, x: np.ndarray, y: np.ndarray, l2: float):
    """Mean logistic loss + ``l2 / 2 * |w|^2`` and its gradient."""
    w, b = params[:-1], params[-1]
    z = x @ w + b
    sign = 2.0 * y - 1.0
    loss = np.mean(np.logaddexp(0.0, -sign * z)) + 0.5 * l2 * (w @ w)
    p = 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid without overflow
    residual = (p - y) / len(y)
    return loss, np.r_[x.T @ residual + l2 * w, residual.sum()]


@dataclass
class SpectralDetector:
    """Logistic regression on standardised :func:`azimuthal_spectrum` features:
    ``P(fake) = sigmoid(((f - mean) / scale) @ weights + bias)``."""

    bins: int
    l2: float
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def logits(self, features: np.ndarray) -> np.ndarray:
        return ((np.asarray(features) - self.mean) / self.scale) @ self.weights + self.bias

    def decision(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """The logit of "fake" per image ``(H, W, 3)`` in [0, 1] (any sizes) -> ``(N,)``."""
        return self.logits(spectra(images, self.bins))

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """``P(fake)`` per image ``(H, W, 3)`` in [0, 1] (any sizes) -> ``(N,)``."""
        return 0.5 * (1.0 + np.tanh(0.5 * self.decision(images)))

    def to_dict(self) -> dict[str, Any]:
        return {"bins": self.bins, "l2": self.l2, "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "weights": self.weights.tolist(),
                "bias": self.bias}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpectralDetector:
        return cls(bins=int(d["bins"]), l2=float(d["l2"]), mean=np.asarray(d["mean"]),
                   scale=np.asarray(d["scale"]), weights=np.asarray(d["weights"]),
                   bias=float(d["bias"]))

    def save(self, path: str | os.PathLike) -> Path:
        """Write as JSON, atomically."""
        from data.cache import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict()))
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> SpectralDetector:
        """Read :meth:`save`'s file; ValueError naming it when it is not one."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: not a spectral detector ({exc})") from None


def fit_spectral(features: np.ndarray, labels: np.ndarray, *, l2: float = 1e-3,
                 bins: int | None = None) -> SpectralDetector:
    """Fit the L2-regularised logistic regression (L-BFGS-B from SciPy) on
    ``features`` ``(N, bins)`` and ``labels`` ``(N,)`` in {0 real, 1 fake}."""
    from scipy.optimize import minimize

    x = np.asarray(features, np.float64)
    y = np.asarray(labels, np.float64).ravel()
    if x.ndim != 2 or len(x) != len(y) or len(np.unique(y)) != 2:
        raise ValueError("the spectral detector needs features (N, bins) and labels of both "
                         f"classes, got {x.shape} and classes {np.unique(y).tolist()}")
    mean, scale = x.mean(0), x.std(0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    xs = (x - mean) / scale
    result = minimize(_nll, np.zeros(x.shape[1] + 1), args=(xs, y, l2), jac=True,
                      method="L-BFGS-B", options={"maxiter": 1000})
    return SpectralDetector(bins=int(bins or x.shape[1]), l2=float(l2), mean=mean, scale=scale,
                            weights=result.x[:-1], bias=float(result.x[-1]))
