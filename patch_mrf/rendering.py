"""The style's rendering, estimated by EM from unpaired examples.

The likelihood of the patch MRF, ``P(source | output)``, says how a source
patch ``y`` shows an output (style) patch ``x``. Here the rendering is linear
in patch space, with Gaussian noise:

    y = mu_y + U_y^T (W z + b) + noise,    z = U_x (x - mu_x)

with ``U_x`` and ``U_y`` PCA bases (``dims`` rows) of the style and the
source-like patches and ``(W, b)`` unknown. Only *unpaired* examples are
seen (style images that are not renderings of the photos, and photos), so
which style patch a photo's patch renders is a latent variable.

:func:`fit_rendering` estimates ``(W, b)`` by hard ("classification") EM on
both directions of the correspondence, as ICP does for point sets:

- E-step: each photo patch is assigned its nearest rendered style patch
  ``W z_j + b`` (every photo patch must be explained), and each rendered
  style patch its nearest photo patch (every rendering must look like a
  photo, which rules out spreading the renderings out or collapsing them).
- M-step: ``(W, b)`` by least squares over all those pairs (each direction
  weighted by its mean).

The objective, the mean squared distance in the two directions (a Chamfer
distance between the rendered style patches and the photos'), never
increases: each step minimises it over one block with the other fixed. It
starts from moment matching (``W = D_y^1/2 U_y U_x^T D_x^-1/2``, the
whitening-colouring transform, exact for a blur or a colour map of
stationary images up to a rotation the EM then resolves).

``kind="identity"`` (no rendering: patches compared as they are) and
``kind="wct"`` (moment matching only) are the ablations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from .patches import assemble_patches, extract_patches, pad_to_grid

__all__ = ["RENDERINGS", "PCA", "Rendering", "fit_pca", "fit_rendering"]

#: the renderings :func:`fit_rendering` estimates
RENDERINGS = ("em", "wct", "identity")


@dataclass
class PCA:
    """``mean`` ``(d,)``, ``basis`` ``(k, d)`` (orthonormal rows, by falling
    variance), ``variance`` ``(k,)`` along each."""

    mean: np.ndarray
    basis: np.ndarray
    variance: np.ndarray

    def coords(self, x: np.ndarray) -> np.ndarray:
        """``(n, d)`` -> ``(n, k)``."""
        return (np.asarray(x, np.float64) - self.mean) @ self.basis.T

    def patches(self, z: np.ndarray) -> np.ndarray:
        """``(n, k)`` coordinates -> ``(n, d)`` vectors in the subspace."""
        return self.mean + z @ self.basis


def fit_pca(x: np.ndarray, dims: int) -> PCA:
    """PCA of the rows of ``x`` (``(n, d)``), keeping ``min(dims, d)`` axes."""
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0)
    cov = np.cov(x - mean, rowvar=False).reshape(x.shape[1], x.shape[1])
    variance, vectors = np.linalg.eigh(cov)
    order = np.argsort(variance)[::-1][:min(dims, x.shape[1])]
    return PCA(mean, vectors[:, order].T.copy(), np.maximum(variance[order], 0.0))


@dataclass
class Rendering:
    """A linear rendering style patch -> source (photo) patch (see the module
    docstring): ``style``, ``source`` are the PCAs of the two sides,
    ``weight`` ``(k_y, k_x)`` and ``bias`` ``(k_y,)`` the map between their
    coordinates. ``objective[t]``: the Chamfer distance after EM iteration
    ``t`` (``objective[0]``: at the start), in squared PCA units."""

    style: PCA
    source: PCA
    weight: np.ndarray
    bias: np.ndarray
    kind: str
    objective: list[float] = field(default_factory=list)

    def render_coords(self, style_patches: np.ndarray) -> np.ndarray:
        """``(n, d_x)`` style patches -> ``(n, k_y)`` source PCA coordinates of their renderings."""
        return self.style.coords(style_patches) @ self.weight.T + self.bias

    def render(self, style_patches: np.ndarray) -> np.ndarray:
        """``(n, d_x)`` style patches -> ``(n, d_y)`` their renderings (source patch space)."""
        return self.source.patches(self.render_coords(style_patches))

    def render_image(self, image: np.ndarray, patch_size: int, step: int) -> np.ndarray:
        """How the rendering shows a style image ``(H, W, C)`` as a photo: each
        patch of the grid (side ``patch_size``, the one the rendering was
        fitted on, at ``step``) rendered, overlaps averaged; ``(H, W, C_y)``
        float32 clipped to [0, 1]."""
        h, w = image.shape[:2]
        grid = extract_patches(pad_to_grid(np.asarray(image, np.float32), patch_size, step),
                               patch_size, step)
        rows, cols = grid.shape[:2]
        rendered = self.render(grid.reshape(rows * cols, -1))
        rendered = rendered.reshape(rows, cols, patch_size, patch_size, -1)
        return np.clip(assemble_patches(rendered, step)[:h, :w], 0.0, 1.0).astype(np.float32)


def nearest(queries: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact nearest neighbour of each row of ``queries`` among the rows of
    ``points`` (a k-d tree): squared distances and indices."""
    dist, index = cKDTree(points).query(queries, k=1)
    return dist ** 2, index


def _chamfer_pairs(rendered: np.ndarray, source: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Objective and the two assignments: nearest source patch of each
    rendered style patch, nearest rendered style patch of each source patch."""
    d_fwd, to_source = nearest(rendered, source)
    d_bwd, to_style = nearest(source, rendered)
    return float(np.mean(d_fwd) + np.mean(d_bwd)), to_source, to_style


def fit_rendering(style_patches: np.ndarray, source_patches: np.ndarray, *, kind: str = "em",
                  dims: int = 16, iterations: int = 10, max_patches: int = 4000,
                  seed: int = 0, ridge: float = 1e-6) -> Rendering:
    """Estimate the rendering style -> source from unpaired patches.

    Args:
      style_patches: ``(m, d_x)`` patches of the style examples.
      source_patches: ``(n, d_y)`` patches of source-like images (photos).
      kind: ``em`` (moment matching, then EM), ``wct`` (moment matching
        only) or ``identity`` (no rendering; needs ``d_x == d_y``).
      dims: PCA axes kept on each side.
      iterations: EM iterations (``kind="em"``).
      max_patches: EM and PCA use at most this many patches of each side,
        drawn at random with ``seed``.
      ridge: Tikhonov term of the M-step least squares, relative to the
        style coordinates' variance (keeps it well posed).

    Returns: the :class:`Rendering`; with ``kind="em"``, ``objective`` is
    non-increasing.
    """
    if kind not in RENDERINGS:
        raise ValueError(f"rendering must be one of {', '.join(RENDERINGS)}, got {kind!r}")
    rng = np.random.default_rng(seed)

    def sample(x):
        x = np.asarray(x, np.float64)
        return x[rng.choice(len(x), max_patches, replace=False)] if len(x) > max_patches else x

    x, y = sample(style_patches), sample(source_patches)
    sty = fit_pca(x, dims)
    # no rendering: source patches are read in the style's own coordinates
    src = sty if kind == "identity" else fit_pca(y, dims)
    z_x, z_y = sty.coords(x), src.coords(y)
    cross = src.basis @ sty.basis.T  # (k_y, k_x): style axes seen in the source basis
    if kind == "identity":
        if x.shape[1] != y.shape[1]:
            raise ValueError("rendering 'identity' needs source and style patches of one size")
        weight, bias = cross, np.zeros(len(src.variance))
    else:
        eps = 1e-6 * max(float(sty.variance[0]), 1e-12)
        weight = np.sqrt(src.variance)[:, None] * cross / np.sqrt(sty.variance + eps)[None, :]
        bias = np.zeros(len(src.variance))
    rendering = Rendering(sty, src, weight, bias, kind)
    if kind != "em":
        return rendering

    design = np.hstack([z_x, np.ones((len(z_x), 1))])  # rows: [z, 1]
    reg = ridge * float(np.mean(sty.variance)) * np.eye(design.shape[1])
    reg[-1, -1] = 0.0  # no penalty on the bias
    objective, to_source, to_style = _chamfer_pairs(z_x @ weight.T + bias, z_y)
    rendering.objective.append(objective)
    for _ in range(iterations):
        # M-step: least squares over both directions' pairs, each mean-weighted
        w_f, w_b = 1.0 / len(z_x), 1.0 / len(z_y)
        a_b = design[to_style]
        gram = w_f * design.T @ design + w_b * a_b.T @ a_b + reg
        rhs = w_f * design.T @ z_y[to_source] + w_b * a_b.T @ z_y
        solution = np.linalg.solve(gram, rhs)  # (k_x + 1, k_y)
        new_weight, new_bias = solution[:-1].T, solution[-1]
        # E-step
        new_objective, new_to_source, new_to_style = _chamfer_pairs(
            z_x @ new_weight.T + new_bias, z_y)
        if new_objective > objective:  # only the ridge term can make it rise: stop
            break
        weight, bias, objective = new_weight, new_bias, new_objective
        to_source, to_style = new_to_source, new_to_style
        rendering.objective.append(objective)
        if rendering.objective[-2] - objective <= 1e-9 * objective:
            break
    rendering.weight, rendering.bias = weight, bias
    return rendering
