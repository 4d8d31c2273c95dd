"""Similarity alignment of faces to a mean face (Umeyama), and face masks.

An alignment is a float32 (2, 3) affine matrix mapping frame pixels to crop
pixels (``cv2.warpAffine(frame, matrix, (size, size))``). Pixel centres sit at
integer coordinates; unit crop coordinates [0, 1] span the crop's outer edges,
so unit ``u`` is pixel ``u * size - 0.5``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["COVERAGE", "JAW", "MEAN_FACE", "NON_JAW", "align_face", "alignment", "face_mask",
           "inter_ocular", "template", "transform_points", "umeyama"]

JAW = np.arange(0, 17)
NON_JAW = np.arange(17, 68)  # brows, nose, eyes, mouth: rigid enough to align on
BROWS = np.arange(17, 27)
LEFT_EYE, RIGHT_EYE = np.arange(36, 42), np.arange(42, 48)

# Default crop coverage: the mean face's 68 points span 0.60 of the crop's width
# (jaw to jaw); vertically the box from 0.25 x the brow-to-chin height above the
# brows (forehead) down to the chin is centred, so the crop holds the whole face
# with its outline, brows and some forehead, with a margin of 0.15-0.2 of the side.
COVERAGE = 0.6

# dlib's 68 landmarks of a mean face in unit crop coordinates at COVERAGE.
# Computed by generalised Procrustes analysis (similarity transforms fitted by
# Umeyama on the 51 non-jaw points, iterated to convergence) of the 265 faces
# >= 80 px that dlib's HOG detector finds in OpenCV's Megamind.avi and of the 4
# face_recognition 1.3.0 test photos (obama, obama2, obama3, biden), the clip
# and the photos weighted 1/2 each; made left-right symmetric by averaging with
# its mirror image (landmark indices swapped), so head yaw averages out; eyes
# level; then scaled and placed as COVERAGE describes.
MEAN_FACE = np.array([
    [0.2000, 0.4037],
    [0.2053, 0.4785],
    [0.2160, 0.5537],
    [0.2337, 0.6270],
    [0.2642, 0.6945],
    [0.3120, 0.7528],
    [0.3695, 0.8014],
    [0.4315, 0.8412],
    [0.5000, 0.8532],
    [0.5685, 0.8412],
    [0.6305, 0.8014],
    [0.6880, 0.7528],
    [0.7358, 0.6945],
    [0.7663, 0.6270],
    [0.7840, 0.5537],
    [0.7947, 0.4785],
    [0.8000, 0.4037],
    [0.2579, 0.3403],
    [0.2933, 0.3042],
    [0.3446, 0.2881],
    [0.4004, 0.2904],
    [0.4537, 0.3081],
    [0.5463, 0.3081],
    [0.5996, 0.2904],
    [0.6554, 0.2881],
    [0.7067, 0.3042],
    [0.7421, 0.3403],
    [0.5000, 0.3753],
    [0.5000, 0.4238],
    [0.5000, 0.4711],
    [0.5000, 0.5197],
    [0.4424, 0.5581],
    [0.4705, 0.5671],
    [0.5000, 0.5752],
    [0.5295, 0.5671],
    [0.5576, 0.5581],
    [0.3204, 0.3884],
    [0.3531, 0.3665],
    [0.3934, 0.3666],
    [0.4271, 0.3944],
    [0.3910, 0.4019],
    [0.3510, 0.4017],
    [0.5729, 0.3944],
    [0.6066, 0.3666],
    [0.6469, 0.3665],
    [0.6796, 0.3884],
    [0.6490, 0.4017],
    [0.6090, 0.4019],
    [0.3881, 0.6556],
    [0.4287, 0.6323],
    [0.4699, 0.6219],
    [0.5000, 0.6283],
    [0.5301, 0.6219],
    [0.5713, 0.6323],
    [0.6119, 0.6556],
    [0.5726, 0.6937],
    [0.5330, 0.7100],
    [0.5000, 0.7138],
    [0.4670, 0.7100],
    [0.4274, 0.6937],
    [0.4048, 0.6564],
    [0.4692, 0.6451],
    [0.5000, 0.6481],
    [0.5308, 0.6451],
    [0.5952, 0.6564],
    [0.5310, 0.6745],
    [0.5000, 0.6784],
    [0.4690, 0.6745],
], dtype=np.float32)


def umeyama(src: np.ndarray, dst: np.ndarray, estimate_scale: bool = True) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping
    ``src`` (N, 2) onto ``dst`` (N, 2): the (3, 3) float64 homogeneous matrix
    T with dst ~ T @ [src, 1] (Umeyama 1991, reflections excluded)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"umeyama: expected two (N, 2) arrays, N >= 2, got {src.shape} and "
                         f"{dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rot = u @ sign @ vt
    var = (s ** 2).sum() / len(src)
    scale = float(np.trace(np.diag(sig) @ sign) / var) if estimate_scale and var > 0 else 1.0
    out = np.eye(3)
    out[:2, :2] = scale * rot
    out[:2, 2] = mu_d - scale * rot @ mu_s
    return out


def template(size: int, coverage: float = COVERAGE) -> np.ndarray:
    """MEAN_FACE in crop pixels float32 (68, 2) for a ``size`` px crop whose
    face spans ``coverage`` of the side (scaled about the crop's centre)."""
    if not 0.0 < coverage <= 1.0:
        raise ValueError(f"coverage: expected a fraction in (0, 1], got {coverage}")
    unit = 0.5 + (MEAN_FACE - 0.5) * (coverage / COVERAGE)
    return (unit * size - 0.5).astype(np.float32)


def alignment(landmarks: np.ndarray, size: int, coverage: float = COVERAGE) -> np.ndarray:
    """Frame -> crop similarity float32 (2, 3) putting the 51 non-jaw landmarks
    of ``landmarks`` (68, 2) onto the mean face in a ``size`` px crop (the jaw
    line moves with head pose, so it is left out of the fit)."""
    lm = np.asarray(landmarks, dtype=np.float64).reshape(68, 2)
    return umeyama(lm[NON_JAW], template(size, coverage)[NON_JAW])[:2].astype(np.float32)


def align_face(rgb: np.ndarray, landmarks: np.ndarray, size: int,
               coverage: float = COVERAGE) -> tuple[np.ndarray, np.ndarray]:
    """The aligned crop uint8 (size, size, 3) of the face at ``landmarks`` and
    its frame -> crop matrix (2, 3). Bilinear; pixels outside the frame repeat
    the border."""
    import cv2

    matrix = alignment(landmarks, size, coverage)
    crop = cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    return crop, matrix


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``points`` (..., 2) (x, y) mapped by the (2, 3) affine ``matrix`` (e.g.
    frame landmarks -> crop pixels with an :func:`alignment`), float64."""
    m = np.asarray(matrix, np.float64)
    return np.asarray(points, np.float64) @ m[:, :2].T + m[:, 2]


def inter_ocular(landmarks: np.ndarray) -> float:
    """Distance between the two eye centres (mean of each eye's 6 points), pixels."""
    lm = np.asarray(landmarks, dtype=np.float64).reshape(68, 2)
    return float(np.linalg.norm(lm[LEFT_EYE].mean(0) - lm[RIGHT_EYE].mean(0)))


def face_mask(landmarks: np.ndarray, shape, grow: float = 0.0,
              forehead: float = 0.2) -> np.ndarray:
    """Face region float32 (H, W) in {0, 1} for an image of ``shape`` (H, W[, C]):
    the convex hull of the 68 landmarks with the brows also copied upwards by
    ``forehead`` x the brow-to-chin distance (the forehead), dilated by ``grow``
    x the inter-ocular distance. Hard edged: feathering is the blender's job."""
    import cv2

    h, w = int(shape[0]), int(shape[1])
    lm = np.asarray(landmarks, dtype=np.float64).reshape(68, 2)
    chin, brow = lm[8], lm[BROWS].mean(0)
    up = brow - chin  # face's vertical axis, chin -> brows
    pts = np.concatenate([lm, lm[BROWS] + forehead * up])
    hull = cv2.convexHull(np.round(pts * 16).astype(np.int32))  # 4 fractional bits
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=4)
    radius = grow * inter_ocular(lm)
    if radius > 0:
        # exact dilation: every pixel within `radius` of the hull
        dist = cv2.distanceTransform(1 - mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        mask = (dist <= radius).astype(np.uint8)
    return mask.astype(np.float32)
