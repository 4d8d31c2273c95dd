"""The known-filter experiment: a style whose ground truth is known.

A known filter (:data:`FILTERS`) makes the style. The training photos
(:data:`TRAIN_PHOTOS`) are cut in half: the filtered *left* halves are the
style examples, the unfiltered *right* halves the photos EM learns the
rendering from (:func:`unpaired_split`), so no style example is a rendering
of any photo the method sees. A held-out photo (:data:`data.photos.HELD_OUT`)
is translated and compared with the same filter applied to it
(:func:`scores`: PSNR in dB and SSIM). Image Analogies, the paired baseline,
gets what the patch MRF does not: the aligned pair (left halves, their
filtered versions).

Used by ``benchmarks/patch_mrf_benchmark.py`` and notebook 02b. The filters
need OpenCV (``painterly``, ``stylization``; ``posterise`` is SciPy only);
:func:`load_photos` and :func:`scores` import TensorFlow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["FILTERS", "TRAIN_PHOTOS", "WEIGHTED_TEMPERATURE", "UnpairedSplit", "best_of_candidates",
           "energy_never_rises", "load_photos", "painterly", "posterise", "scores",
           "stylization", "unpaired_split"]

#: colour photos (:mod:`data.photos`) the style examples and EM photos are cut from
TRAIN_PHOTOS = ("chelsea", "coffee", "rocket", "motorcycle", "china", "flower")
#: temperature of the soft assembly (:meth:`patch_mrf.PatchMRF.render_weighted`) the
#: experiment scores, in unary-cost units (mean squared error per pixel value): chosen on
#: the training photos (leave one out: coffee, china), never on the held-out ones; from
#: about 0.1 up every weighting gives the plain mean of the K candidates
WEIGHTED_TEMPERATURE = 0.02
_SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])


def _u8_bgr(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8)[..., ::-1])


def _float_rgb(bgr: np.ndarray) -> np.ndarray:
    return bgr[..., ::-1].astype(np.float32) / 255.0


def painterly(image: np.ndarray, levels: int = 5) -> np.ndarray:
    """OpenCV's edge-preserving smoothing, a colour grade (sepia mixed with a
    channel rotation), posterisation to ``levels`` levels: ``(H, W, 3)`` in [0, 1]."""
    import cv2

    smooth = _float_rgb(cv2.edgePreservingFilter(_u8_bgr(image), flags=1, sigma_s=20,
                                                 sigma_r=0.3))
    graded = np.clip(0.6 * smooth @ _SEPIA.T + 0.4 * smooth[..., [2, 0, 1]], 0, 1)
    return (np.round(graded * (levels - 1)) / (levels - 1)).astype(np.float32)


def stylization(image: np.ndarray) -> np.ndarray:
    """OpenCV's painterly ``cv2.stylization`` (sigma_s 60, sigma_r 0.45)."""
    import cv2

    return _float_rgb(cv2.stylization(_u8_bgr(image), sigma_s=60, sigma_r=0.45))


def posterise(image: np.ndarray, levels: int = 4) -> np.ndarray:
    """Gaussian blur (sigma 1 px), then ``levels`` levels per channel."""
    from scipy import ndimage

    blurred = ndimage.gaussian_filter(np.asarray(image, np.float32), (1.0, 1.0, 0))
    return (np.round(np.clip(blurred, 0, 1) * (levels - 1)) / (levels - 1)).astype(np.float32)


#: name -> filter ``(H, W, 3)`` in [0, 1] -> the same
FILTERS = {"painterly": painterly, "stylization": stylization, "posterise": posterise}


def load_photos(names: Iterable[str], size: int) -> dict[str, np.ndarray]:
    """The named photos (:func:`data.photos.photo_path`), longer side ``size`` px."""
    from data.images import load_image
    from data.photos import photo_path

    return {n: load_image(photo_path(n), max_side=size) for n in names}


class UnpairedSplit(NamedTuple):
    """``styles``: the filtered left halves (style examples); ``examples``: the
    right halves (photos EM learns the rendering from); ``a``, ``a_prime``:
    Image Analogies' aligned pair (the left halves side by side, cut to one
    height, and their filtered version)."""

    styles: list[np.ndarray]
    examples: list[np.ndarray]
    a: np.ndarray
    a_prime: np.ndarray


def unpaired_split(photos: dict[str, np.ndarray] | Sequence[np.ndarray],
                   filt) -> UnpairedSplit:
    """Cut each photo in half and make the unpaired style examples (see the
    module docstring) with ``filt``."""
    photos = list(photos.values()) if isinstance(photos, dict) else list(photos)
    lefts = [p[:, :p.shape[1] // 2] for p in photos]
    rights = [p[:, p.shape[1] // 2:] for p in photos]
    h = min(x.shape[0] for x in lefts)
    a = np.concatenate([x[:h] for x in lefts], axis=1)
    return UnpairedSplit([filt(x) for x in lefts], rights, a, filt(a))


def scores(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """PSNR (dB, 3 decimals) and SSIM (4 decimals) of ``(H, W, 3)`` images in
    [0, 1] (:func:`cyclegan.metrics.paired_scores`, ``tf.image``)."""
    from cyclegan.metrics import paired_scores

    s = paired_scores(pred[None], target[None])
    return {"psnr": round(s["psnr"], 3), "ssim": round(s["ssim"], 4)}


def best_of_candidates(mrf, truth: np.ndarray) -> np.ndarray:
    """The image made of each site's candidate nearest ``truth`` (mean squared
    error over the patch): the best any choice among the K candidates can do,
    a measure of the candidates' quality. ``mrf``: a :class:`patch_mrf.PatchMRF`
    built for a source of ``truth``'s size."""
    from .patches import extract_patches, pad_to_grid

    target = extract_patches(pad_to_grid(truth, mrf.patch_size, mrf.step), mrf.patch_size,
                             mrf.step)
    err = ((mrf.patches - target[:, :, None]) ** 2).mean(axis=(3, 4, 5))
    return mrf.render(err.argmin(-1))


def energy_never_rises(energy: Sequence[float], start: float) -> bool:
    """Whether ``start, *energy`` is non-increasing."""
    seq = [start, *energy]
    return all(b <= a for a, b in zip(seq, seq[1:]))
