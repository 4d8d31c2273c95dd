"""Overlapping patches on a grid, and images assembled back from them.

A *grid* of patches of side ``P`` with step ``P - overlap`` covers an image
whose sides are ``P + n * step``; :func:`pad_to_grid` reflect-pads any image
(of sides >= ``P``) up to the next such size, so the last row and column of
patches overlap their neighbours exactly as the others do. Images are float
``(H, W, C)``; patch arrays are ``(rows, cols, P, P, C)``.

Pure NumPy (no TensorFlow).
"""

from __future__ import annotations

import numpy as np

__all__ = ["assemble_patches", "dense_patches", "extract_patches", "grid_shape", "pad_to_grid"]


def grid_shape(height: int, width: int, patch_size: int, step: int) -> tuple[int, int]:
    """Rows and columns of the patch grid covering ``height x width`` (after
    :func:`pad_to_grid`): ``1 + ceil((side - P) / step)`` each."""
    if min(height, width) < patch_size:
        raise ValueError(f"image of {width}x{height} px is smaller than the patch size "
                         f"{patch_size}")
    return tuple(1 + -(-(side - patch_size) // step) for side in (height, width))


def pad_to_grid(image: np.ndarray, patch_size: int, step: int) -> np.ndarray:
    """``image`` reflect-padded at the bottom and right to ``P + n * step``
    pixels per side (unchanged if it already fits)."""
    rows, cols = grid_shape(*image.shape[:2], patch_size, step)
    ph = patch_size + (rows - 1) * step - image.shape[0]
    pw = patch_size + (cols - 1) * step - image.shape[1]
    if ph == pw == 0:
        return image
    pad = [(0, ph), (0, pw)] + [(0, 0)] * (image.ndim - 2)
    # "symmetric" also works when the pad is longer than the image side minus one
    return np.pad(image, pad, mode="symmetric")


def extract_patches(image: np.ndarray, patch_size: int, step: int) -> np.ndarray:
    """Every ``P x P`` patch of ``image`` (``(H, W, C)``) whose top-left corner
    is a multiple of ``step``: ``(rows, cols, P, P, C)``, a copy. Pad first
    (:func:`pad_to_grid`) for the grid to reach the bottom and right edges."""
    windows = np.lib.stride_tricks.sliding_window_view(image, (patch_size, patch_size),
                                                       axis=(0, 1))
    # sliding_window_view puts the window axes last: (rows, cols, C, P, P)
    return np.ascontiguousarray(windows[::step, ::step].transpose(0, 1, 3, 4, 2))


def dense_patches(image: np.ndarray, patch_size: int, step: int = 1) -> np.ndarray:
    """All patches of ``image`` at ``step`` as rows of a matrix:
    ``(n, P * P * C)`` (a patch library)."""
    patches = extract_patches(image, patch_size, step)
    return patches.reshape(-1, patches[0, 0].size)


def assemble_patches(patches: np.ndarray, step: int) -> np.ndarray:
    """The image made of ``patches`` (``(rows, cols, P, P, C)``, top-left
    corners at multiples of ``step``), each pixel the mean of the patch pixels
    that cover it: ``(P + (rows-1) * step, P + (cols-1) * step, C)``."""
    rows, cols, p, _, channels = patches.shape
    height, width = p + (rows - 1) * step, p + (cols - 1) * step
    total = np.zeros((height, width, channels), np.float64)
    count = np.zeros((height, width, 1), np.float64)
    # one strided add per offset inside the patch: the patches' pixels at one
    # offset never land on the same output pixel, so no add collides
    for dy in range(p):
        for dx in range(p):
            ys = slice(dy, dy + rows * step, step)
            xs = slice(dx, dx + cols * step, step)
            total[ys, xs] += patches[:, :, dy, dx]
            count[ys, xs] += 1.0
    return (total / count).astype(patches.dtype)
