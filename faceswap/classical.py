"""The classical face swap, from a single pair of images: the donor face is
cut into the Delaunay triangles of the target's 68 landmarks, each triangle
warped affinely onto the target's, then colour-matched (Reinhard, Lab) and
blended (feathered mask, ``cv2.seamlessClone``) inside the landmarks' convex
hull. No training; identity transfers only as far as the inner face does
(hair, outline and glasses stay the target's).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .blend import blend_into

__all__ = ["classical_swap", "delaunay_warp", "swap_files"]

_SUB = 16  # fillConvexPoly fixed-point subdivisions (shift=4): sub-pixel triangle edges


def delaunay_warp(src_img: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray,
                  dst_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-affine warp of ``src_img`` so that ``src_pts`` land on ``dst_pts``.

    The triangles are the Delaunay triangulation of ``dst_pts`` (N, 2) (x, y);
    each pixel of a destination triangle samples ``src_img`` (bilinear) through
    that triangle's own affine map, so the warp is continuous across edges.
    Returns ``(warped, covered)``: uint8 ``dst_shape[:2] + (3,)`` (0 outside
    the triangles) and float32 ``dst_shape[:2]`` coverage in {0, 1} (the
    convex hull of ``dst_pts``, clipped to the image).
    """
    from scipy.spatial import Delaunay

    src_pts = np.asarray(src_pts, np.float64)
    dst_pts = np.asarray(dst_pts, np.float64)
    h, w = dst_shape[:2]
    warped = np.zeros((h, w, 3), np.uint8)
    covered = np.zeros((h, w), np.float32)
    x0, y0 = np.maximum(np.floor(dst_pts.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(dst_pts.max(0)).astype(int) + 1, (w, h))
    if x1 <= x0 or y1 <= y0:
        return warped, covered
    # which triangle each pixel of the hull's bounding box is in (0: none)
    index = np.zeros((y1 - y0, x1 - x0), np.int32)
    triangles = Delaunay(dst_pts).simplices
    inverse = np.zeros((len(triangles) + 1, 2, 3), np.float64)  # dst -> src, per triangle
    for k, tri in enumerate(triangles, start=1):
        d, s = dst_pts[tri], src_pts[tri]
        if abs(np.cross(d[1] - d[0], d[2] - d[0])) < 1e-6:
            continue  # degenerate (collinear) triangle: no area to fill
        inverse[k] = cv2.getAffineTransform(d.astype(np.float32), s.astype(np.float32))
        poly = np.round((d - (x0, y0)) * _SUB).astype(np.int32)
        cv2.fillConvexPoly(index, poly, k, lineType=cv2.LINE_8, shift=4)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    m = inverse[index]  # (h', w', 2, 3)
    map_x = (m[..., 0, 0] * xs + m[..., 0, 1] * ys + m[..., 0, 2]).astype(np.float32)
    map_y = (m[..., 1, 0] * xs + m[..., 1, 1] * ys + m[..., 1, 2]).astype(np.float32)
    inside = index > 0
    map_x[~inside] = -1.0  # outside every triangle: sample the (black) border
    map_y[~inside] = -1.0
    patch = cv2.remap(np.ascontiguousarray(src_img), map_x, map_y, cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    patch[~inside] = 0
    warped[y0:y1, x0:x1] = patch
    covered[y0:y1, x0:x1] = inside
    return warped, covered


def classical_swap(source_rgb: np.ndarray, source_lm: np.ndarray, target_rgb: np.ndarray,
                   target_lm: np.ndarray, *, colour: bool = True,
                   seamless: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The donor face of ``source_rgb`` (its 68 landmarks ``source_lm``) put
    onto the face of ``target_rgb`` at ``target_lm`` (both float (68, 2) x, y).

    Returns ``(rgb, mask)``: uint8 ``target_rgb.shape`` and the float32
    ``(H, W)`` feathered mask in [0, 1] that was blended with; every pixel
    where ``mask == 0`` is ``target_rgb``'s, bit for bit.
    """
    warped, covered = delaunay_warp(source_rgb, source_lm, target_lm, target_rgb.shape)
    # the hull's outermost pixels sample the donor's background through the
    # jaw line: the feather (8% of the face) fades them out
    return blend_into(target_rgb, warped, covered, colour=colour, seamless=seamless)


def _load_rgb(path: str | os.PathLike) -> np.ndarray:
    from data.images import load_image, to_uint8

    return to_uint8(load_image(path, max_side=None))


def swap_files(source: str | os.PathLike, target: str | os.PathLike,
               output: str | os.PathLike, *, detector: str = "hog", colour: bool = True,
               seamless: bool = True, force: bool = False) -> str:
    """``python -m faceswap swap``: the largest face of ``source`` onto the
    largest face of ``target``; writes ``output`` (PNG, the target's size,
    marked synthetic: IPTC compositeWithTrainedAlgorithmicMedia) atomically.
    Returns a one-line summary.

    Raises:
      ValueError: output exists (without ``force``) or is not .png, an image
        unreadable or without a face (naming the file).
    """
    from data.images import save_image

    from .faces import FaceTools, largest_face

    output = Path(output)
    if output.suffix.lower() != ".png":
        raise ValueError(f"-o/--output: {output}: expected a .png file name")
    if output.exists() and not force:
        raise ValueError(f"{output}: exists; pass --force to replace it")
    tools = FaceTools(detector)
    src_rgb, dst_rgb = _load_rgb(source), _load_rgb(target)
    src_face = largest_face(src_rgb, str(source), tools=tools)
    dst_face = largest_face(dst_rgb, str(target), tools=tools)
    rgb, mask = classical_swap(src_rgb, src_face.landmarks, dst_rgb, dst_face.landmarks,
                               colour=colour, seamless=seamless)
    params = {"method": "classical", "source": Path(source).name, "target": Path(target).name,
              "detector": detector, "colour": colour, "seamless": seamless}
    save_image(output, rgb.astype(np.float32) / 255.0, generator="faceswap classical",
               params=params, source_type="compositeWithTrainedAlgorithmicMedia")
    h, w = rgb.shape[:2]
    changed = float((mask > 0).mean())
    options = ("" if colour else ", no colour transfer") + ("" if seamless else ", no seamless clone")
    return (f"{output}: {w}x{h}, face of {Path(source).name} ({src_face.width} px) onto "
            f"{Path(target).name} ({dst_face.width} px), {changed:.1%} of the pixels changed"
            f"{options}")
