"""Face-swap metrics as small pure NumPy functions (no TensorFlow, no dlib).

The measurements themselves (embedding, re-detection, landmarks on the swapped
frame) need :class:`faceswap.faces.FaceTools`; see :mod:`faceswap.evaluate`.
"""

from __future__ import annotations

import numpy as np

from .align import inter_ocular

__all__ = ["PSNR_CAP_DB", "box_iou", "identity_transfer", "landmark_error",
           "psnr_outside"]

#: PSNR reported when the region outside the face is bit-identical (MSE 0)
PSNR_CAP_DB = 99.0


def landmark_error(pred: np.ndarray, ref: np.ndarray) -> float:
    """Mean point-to-point distance between two ``(68, 2)`` landmark sets over
    the reference's inter-ocular distance (dimensionless; 0 = same points,
    0.1 = a tenth of the eye distance on average)."""
    pred, ref = np.asarray(pred, np.float64), np.asarray(ref, np.float64)
    return float(np.linalg.norm(pred - ref, axis=-1).mean() / inter_ocular(ref))


def identity_transfer(embeddings: np.ndarray, donor: np.ndarray,
                      target: np.ndarray) -> dict[str, float]:
    """How far swapped faces moved toward the donor identity.

    ``embeddings`` ``(N, 128)`` of the swapped faces; ``donor`` and ``target``
    the ``(128,)`` centroids of the two identities' training faces. Returns the
    fraction of faces nearer the donor's centroid than the target's, and the
    mean Euclidean distance to each centroid (dlib units: the same person is
    typically 0.3-0.45 away, two people 0.55-0.9)."""
    emb = np.asarray(embeddings, np.float64).reshape(-1, np.shape(donor)[-1])
    d_donor = np.linalg.norm(emb - np.asarray(donor, np.float64), axis=-1)
    d_target = np.linalg.norm(emb - np.asarray(target, np.float64), axis=-1)
    if len(emb) == 0:
        return {"fraction": float("nan"), "donor_distance": float("nan"),
                "target_distance": float("nan"), "n": 0}
    return {"fraction": float(np.mean(d_donor < d_target)),
            "donor_distance": float(d_donor.mean()),
            "target_distance": float(d_target.mean()), "n": int(len(emb))}


def psnr_outside(original: np.ndarray, swapped: np.ndarray, mask: np.ndarray) -> float:
    """PSNR in dB of the pixels where ``mask`` is 0 (the region a swap must
    leave alone): ``original``/``swapped`` ``(H, W, 3)`` uint8, ``mask``
    ``(H, W)`` (any value > 0 counts as face). Bit-identical pixels give
    :data:`PSNR_CAP_DB`."""
    keep = np.asarray(mask) <= 0
    if not keep.any():
        return float("nan")
    diff = np.asarray(original, np.float64)[keep] - np.asarray(swapped, np.float64)[keep]
    mse = float(np.mean(diff ** 2))
    if mse == 0.0:
        return PSNR_CAP_DB
    return float(min(PSNR_CAP_DB, 10.0 * np.log10(255.0 ** 2 / mse)))


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
