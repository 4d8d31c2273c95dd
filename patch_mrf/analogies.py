"""Image Analogies (Hertzmann, Jacobs, Oliver, Curless and Salesin 2001), single scale.

The paired baseline: given an example photo ``A`` and its rendering ``A'``
(aligned pixel for pixel), render a new photo ``B`` as ``B'`` such that
``A : A' :: B : B'``. Pixels of ``B'`` are made in scan-line order, each
copied from the pixel ``p`` of ``A'`` whose neighbourhood best matches:

- the feature of a pixel is its ``n x n`` neighbourhood in ``A`` (``B``),
  Gaussian weighted, and the already-made ("causal") half of its
  neighbourhood in ``A'`` (``B'``), rows above and pixels to the left;
- *best match*: among the ``candidates`` nearest pixels of ``A`` by the
  ``A``/``B`` part (a k-d tree on PCA coordinates, all pixels at once), the
  one nearest by the whole feature;
- *coherence* (Ashikhmin 2001): each made neighbour ``r`` of ``q`` proposes
  the pixel continuing its own source, ``s(r) + (q - r)``; the best of these
  wins when its distance is at most ``(1 + kappa)`` times the best match's
  (the paper's ``1 + 2^(l - L) kappa`` at the finest level ``l = L``).

Differences from the paper, for speed and colour: one scale (no Gaussian
pyramid), RGB features and RGB copies (the paper matches luminance and keeps
``B``'s colour; here the style's colours are the point), and the best match
is searched among ``candidates`` re-ranked neighbours instead of the full
approximate-nearest-neighbour search. The scan is a Python loop over pixels
(vectorised within a pixel): about 1-2 s per 100 x 100 px.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .rendering import fit_pca

__all__ = ["Analogy", "image_analogy"]


@dataclass
class Analogy:
    """``image``: ``B'`` ``(H, W, 3)`` in [0, 1]; ``source``: ``(H, W, 2)``
    the ``(row, col)`` of ``A'`` each pixel was copied from; ``coherent``:
    the fraction of pixels that took the coherence candidate."""

    image: np.ndarray
    source: np.ndarray
    coherent: float


def _neighbourhoods(image: np.ndarray, radius: int, weights: np.ndarray,
                    offsets: np.ndarray) -> np.ndarray:
    """``(H * W, len(offsets) * C)``: each pixel's values at ``offsets``
    (reflect-padded), times ``weights`` (one per offset)."""
    h, w, c = image.shape
    padded = np.pad(image, ((radius, radius), (radius, radius), (0, 0)), mode="reflect")
    cols = [padded[radius + dy:radius + dy + h, radius + dx:radius + dx + w] * wt
            for (dy, dx), wt in zip(offsets, weights)]
    return np.stack(cols, axis=2).reshape(h * w, len(offsets) * c)


def image_analogy(a: np.ndarray, a_prime: np.ndarray, b: np.ndarray, *, kappa: float = 2.0,
                  neighbourhood: int = 5, candidates: int = 8, dims: int = 24) -> Analogy:
    """``B'`` for ``A : A' :: B : B'`` (see the module docstring).

    Args:
      a, a_prime: the paired example, ``(H_a, W_a, 3)`` each, in [0, 1].
      b: the photo to render, ``(H, W, 3)`` in [0, 1].
      kappa: coherence weight (0: always the best match; Hertzmann et al.
        use 2-25 for artistic filters).
      neighbourhood: ``n``, odd, side of the matched neighbourhood in pixels.
      candidates: nearest ``A`` pixels re-ranked for the best match.
      dims: PCA axes of the nearest-neighbour search.
    """
    a, a_prime, b = (np.asarray(x, np.float64) for x in (a, a_prime, b))
    if a.shape != a_prime.shape:
        raise ValueError(f"A {a.shape} and A' {a_prime.shape} must have one shape (a pair)")
    if neighbourhood < 3 or neighbourhood % 2 == 0:
        raise ValueError(f"neighbourhood must be an odd number >= 3, got {neighbourhood}")
    if kappa < 0:
        raise ValueError(f"kappa must be >= 0, got {kappa}")
    r = neighbourhood // 2
    if min(a.shape[:2]) <= r or min(b.shape[:2]) <= r:
        raise ValueError(f"images must be larger than the neighbourhood ({neighbourhood} px)")
    ha, wa = a.shape[:2]
    h, w = b.shape[:2]
    grid = [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
    sigma = neighbourhood / 4.0
    gauss = np.array([np.exp(-(dy * dy + dx * dx) / (2 * sigma * sigma)) for dy, dx in grid])
    root = np.sqrt(gauss / gauss.sum())  # distances are then Gaussian-weighted SSDs
    causal = [i for i, (dy, dx) in enumerate(grid) if dy < 0 or (dy == 0 and dx < 0)]
    c_off = np.array([grid[i] for i in causal])  # (m, 2)
    c_root = root[causal]

    feat_a = _neighbourhoods(a, r, root, grid)
    feat_b = _neighbourhoods(b, r, root, grid)
    feat_ap = _neighbourhoods(a_prime, r, c_root, c_off)  # (Ha*Wa, m*3)
    pca = fit_pca(feat_a[np.random.default_rng(0).permutation(len(feat_a))[:20000]], dims)
    k = min(candidates, len(feat_a))
    _, ann = cKDTree(pca.coords(feat_a)).query(pca.coords(feat_b), k=k)
    ann = ann.reshape(h * w, k)

    out = np.zeros((h + r, w + 2 * r, 3))  # made pixels of B', padded above, left, right
    src = np.zeros((h, w), np.int64)  # flat index into A
    coherent = 0
    a_rows, a_cols = np.divmod(np.arange(ha * wa), wa)
    for y in range(h):
        for x in range(w):
            q = y * w + x
            ny, nx = y + c_off[:, 0], x + c_off[:, 1]
            inside = (ny >= 0) & (nx >= 0) & (nx < w)
            made = out[ny + r, nx + r] * c_root[:, None]  # (m, 3)
            mask = np.repeat(inside, 3)
            # coherence proposals: s(q + d) - d for made neighbours q + d
            s = src[ny[inside], nx[inside]]
            py, px = a_rows[s] - c_off[inside, 0], a_cols[s] - c_off[inside, 1]
            ok = (py >= 0) & (py < ha) & (px >= 0) & (px < wa)
            coh = py[ok] * wa + px[ok]
            cand = np.concatenate([ann[q], coh])
            d = ((feat_a[cand] - feat_b[q]) ** 2).sum(1)
            d += (((feat_ap[cand] - made.ravel()) ** 2) * mask).sum(1)
            best = int(np.argmin(d[:k]))
            p, d_app = cand[best], d[best]
            if len(coh):
                j = k + int(np.argmin(d[k:]))
                if d[j] <= d_app * (1.0 + kappa):
                    p = cand[j]
                    coherent += 1
            src[y, x] = p
            out[y + r, x + r] = a_prime[a_rows[p], a_cols[p]]
    image = out[r:, r:r + w].astype(np.float32)
    source = np.stack([a_rows[src], a_cols[src]], axis=-1)
    return Analogy(image, source, coherent / (h * w))
