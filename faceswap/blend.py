"""Putting a face into a frame: Reinhard colour transfer, feathered masks,
inverse warps and (optionally) Poisson seamless cloning, all confined to the
mask: pixels where the final mask is 0 are returned bit-identical.

Images are RGB uint8 ``(H, W, 3)``; masks float32 ``(H, W)`` in [0, 1].
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["blend_into", "colour_transfer", "feather", "paste_back"]


def _lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float32 CIE Lab (L in [0, 100], a/b about [-127, 127]), OpenCV's D65."""
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def colour_transfer(src: np.ndarray, ref: np.ndarray, mask: np.ndarray | None = None,
                    ref_mask: np.ndarray | None = None) -> np.ndarray:
    """Reinhard et al. (2001) colour transfer in OpenCV's float Lab: each
    channel of ``src`` is shifted and scaled so its mean and standard
    deviation over ``mask`` equal those of ``ref`` over ``ref_mask`` (default:
    ``mask``; both default to every pixel). Returns the whole ``src``
    transformed, uint8 ``src.shape`` (Lab values outside the RGB gamut are clipped).

    src, ref: uint8 RGB ``(H, W, 3)`` and ``(H', W', 3)``; masks: ``(H, W)`` /
    ``(H', W')``, pixels > 0.5 count.
    """
    src_lab, ref_lab = _lab(src), _lab(ref)
    if ref_mask is None:
        ref_mask = mask
    src_px = src_lab.reshape(-1, 3) if mask is None else src_lab[np.asarray(mask) > 0.5]
    ref_px = ref_lab.reshape(-1, 3) if ref_mask is None else ref_lab[np.asarray(ref_mask) > 0.5]
    if len(src_px) < 2 or len(ref_px) < 2:  # nothing to measure: leave the colours
        return src.copy()
    src_mean, src_std = src_px.mean(0, dtype=np.float64), src_px.std(0, dtype=np.float64)
    ref_mean, ref_std = ref_px.mean(0, dtype=np.float64), ref_px.std(0, dtype=np.float64)
    scale = ref_std / np.maximum(src_std, 1e-6)
    lab = ((src_lab - src_mean) * scale + ref_mean).astype(np.float32)
    rgb = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    return np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)


def feather(mask: np.ndarray, width: float) -> np.ndarray:
    """A soft-edged version of ``mask`` that never leaves it: erode by
    ``width / 2`` pixels, then blur with a Gaussian truncated at that radius,
    so values fall from 1 to 0 over about ``width`` pixels inside the edge
    and every pixel where ``mask <= 0.5`` is exactly 0. float32 ``(H, W)``."""
    hard = (np.asarray(mask) > 0.5).astype(np.float32)
    r = max(1, int(round(width / 2)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    eroded = cv2.erode(hard, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    soft = cv2.GaussianBlur(eroded, (2 * r + 1, 2 * r + 1), r / 2.0,
                            borderType=cv2.BORDER_CONSTANT)
    soft[hard == 0] = 0.0  # the truncated kernel keeps it there already; float dust aside
    return np.clip(soft, 0.0, 1.0)


def _seamless(face: np.ndarray, frame: np.ndarray, support: np.ndarray) -> np.ndarray:
    """cv2.seamlessClone (normal clone) of ``face`` into ``frame`` over
    ``support`` (bool), placed exactly where it is: both are padded so the
    mask's bounding box never touches an edge, and the box's centre is given
    in the padded frame."""
    pad = 4
    ys, xs = np.nonzero(support)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    # seamlessClone centres a box of the mask's bounding size at `center`
    # (integer division), so give it an odd-free box: crop to the box itself
    box = (slice(y0, y1), slice(x0, x1))
    src = cv2.copyMakeBorder(face[box], pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    msk = cv2.copyMakeBorder(support[box].astype(np.uint8) * 255, pad, pad, pad, pad,
                             cv2.BORDER_CONSTANT, value=0)
    dst = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    h, w = msk.shape
    centre = (int(x0 + w // 2), int(y0 + h // 2))  # in padded frame coords: x0 - pad + pad + w//2
    out = cv2.seamlessClone(src, dst, msk, centre, cv2.NORMAL_CLONE)
    return out[pad:-pad, pad:-pad]


def blend_into(frame: np.ndarray, face: np.ndarray, mask: np.ndarray, *, colour: bool = True,
               seamless: bool = False,
               feather_width: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Blend ``face`` (already in ``frame``'s coordinates) into ``frame`` over ``mask``.

    frame, face: uint8 RGB ``(H, W, 3)``; mask: float ``(H, W)`` in [0, 1],
    the region the face may replace. ``feather_width``: pixels of the soft
    edge (default 8% of the mask's equivalent diameter). ``colour``: Reinhard
    transfer of the face to the frame's statistics over the inner face (where
    the feathered mask is >= 0.5). ``seamless``: Poisson clone
    (``cv2.seamlessClone``) over that inner face, then the same feathered
    alpha blend. Returns ``(new_frame, alpha)``: the blended uint8
    frame and the feathered float32 mask used; every pixel where ``alpha`` is
    0 (all of ``mask <= 0.5`` included) equals ``frame``'s.
    """
    if frame.shape != face.shape or frame.shape[:2] != mask.shape:
        raise ValueError(f"frame {frame.shape}, face {face.shape} and mask {mask.shape} "
                         "must have the same height and width")
    alpha = np.zeros(mask.shape, np.float32)
    ys, xs = np.nonzero(np.asarray(mask) > 0.5)
    if len(ys) == 0:
        return frame.copy(), alpha
    h, w = mask.shape
    # work in the mask's bounding box (+2 px): a face is a few % of a frame
    box = (slice(max(ys.min() - 2, 0), min(ys.max() + 3, h)),
           slice(max(xs.min() - 2, 0), min(xs.max() + 3, w)))
    out = frame.copy()
    out[box], alpha[box] = _blend(frame[box], face[box], np.asarray(mask)[box], colour,
                                  seamless, feather_width)
    return out, alpha


def _blend(frame: np.ndarray, face: np.ndarray, mask: np.ndarray, colour: bool,
           seamless: bool, feather_width: float | None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`blend_into` on a window around the mask."""
    inside = mask > 0.5
    area = int(inside.sum())
    if feather_width is None:
        feather_width = max(2.0, 0.08 * np.sqrt(4.0 * area / np.pi))
    alpha = feather(mask, feather_width)
    support = alpha > 0
    if not support.any():
        return frame, alpha
    # the inner face (alpha >= 0.5, half the feather inside the edge) drives
    # colour statistics and the Poisson clone: the mask's rim often samples
    # hair or background through the jaw line, whose gradients a clone
    # would spread over the cheek
    inner = alpha >= 0.5
    if not inner.any():
        inner = support
    if colour:
        face = colour_transfer(face, frame, inner)
    if seamless:  # the clone equals `frame` outside `inner`, so the blend stays continuous
        face = _seamless(face, frame, inner)
    a = alpha[..., None]
    mixed = a * face.astype(np.float32) + (1.0 - a) * frame.astype(np.float32)
    out = np.where(support[..., None], np.clip(np.round(mixed), 0, 255), frame)
    return out.astype(np.uint8), alpha


def paste_back(frame: np.ndarray, face_crop: np.ndarray, matrix: np.ndarray,
               mask_crop: np.ndarray, *, colour: bool = True,
               seamless: bool = False) -> np.ndarray:
    """Put an aligned face crop back into the frame it was cut from.

    frame: uint8 RGB ``(H, W, 3)``; face_crop: uint8 ``(S, S, 3)``; matrix:
    ``(2, 3)`` frame -> crop affine (as from ``faceswap.align.align_face``);
    mask_crop: float ``(S, S)`` in [0, 1], where the crop's face is. The
    crop and its mask are warped back with the inverse affine (bilinear),
    then :func:`blend_into` (feathered, colour-matched, optionally seamless).
    Pixels outside the warped mask are returned bit-identical.
    """
    h, w = frame.shape[:2]
    size = face_crop.shape[0]
    inverse = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
    # the crop's footprint in the frame (+2 px for bilinear): warp only there
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64)
    xy = corners @ inverse.T
    x0, y0 = np.maximum(np.floor(xy.min(0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(xy.max(0)).astype(int) + 3, (w, h))
    out = frame.copy()
    if x1 <= x0 or y1 <= y0:  # the crop lies outside the frame
        return out
    shifted = inverse - np.array([[0, 0, x0], [0, 0, y0]], np.float64)
    win = (slice(y0, y1), slice(x0, x1))
    face = cv2.warpAffine(face_crop, shifted, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    mask = cv2.warpAffine(np.asarray(mask_crop, np.float32), shifted, (x1 - x0, y1 - y0),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    out[win] = blend_into(frame[win], face, mask, colour=colour, seamless=seamless)[0]
    return out
