"""The patch MRF of Rosales, Achan and Frey (2003) and image translation with it.

The output image is a grid of overlapping ``P x P`` patches, each one taken
from the style examples (the *library*). For the patch at site ``s`` the
model has

- a likelihood ``P(source patch | candidate)`` (unary cost): how well the
  candidate explains the source patch there through the style's rendering
  (:mod:`patch_mrf.rendering`): the squared distance, per pixel value,
  between the source patch and the candidate's rendering, in the source
  patches' PCA coordinates;
- a prior (pairwise cost) between neighbouring sites: the mean squared
  difference, per pixel value, of the two candidates where they overlap
  (``overlap`` columns or rows), times ``pairwise_weight``. Neighbours that
  agree make a seamless image.

Each site considers only its ``candidates`` (``K``) nearest library patches
(a k-d tree on the PCA coordinates): the candidates' costs are
exact, the patches outside the K are never considered. The MAP labelling is found by loopy
belief propagation (:func:`patch_mrf.inference.min_sum_bp`); the baseline
picks each site's nearest patch independently. The image is assembled by
averaging the chosen patches where they overlap.

:func:`translate` does it all; :func:`build_mrf` stops before inference
(for figures of the candidates and costs).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from .config import TranslateOptions
from .inference import BPResult, independent_labels, min_sum_bp, mrf_energy
from .patches import assemble_patches, dense_patches, extract_patches, pad_to_grid
from .rendering import Rendering, fit_rendering

__all__ = ["PatchMRF", "Translation", "build_mrf", "overlap_costs", "style_library",
           "translate"]


def style_library(styles: Sequence[np.ndarray], patch_size: int, step: int = 1,
                  max_patches: int | None = None, seed: int = 0) -> np.ndarray:
    """Every ``P x P`` patch (at ``step``) of the style images, at most
    ``max_patches`` of them drawn at random with ``seed``:
    ``(M, P, P, 3)`` float32."""
    rows = [dense_patches(np.asarray(s, np.float32), patch_size, step) for s in styles]
    library = np.concatenate(rows)
    if max_patches is not None and len(library) > max_patches:
        keep = np.random.default_rng(seed).choice(len(library), max_patches, replace=False)
        library = library[np.sort(keep)]
    return library.reshape(-1, patch_size, patch_size, library.shape[1] // patch_size ** 2)


def overlap_costs(patches: np.ndarray, overlap: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean squared difference, per pixel value, of neighbouring candidates
    where they overlap.

    ``patches``: the candidates, ``(rows, cols, K, P, P, C)``. Returns ``pair_h`` ``(rows, cols - 1, K, K)``: ``[r, c, k, l]``
    compares the right ``overlap`` columns of candidate ``k`` at ``(r, c)``
    with the left ones of candidate ``l`` at ``(r, c + 1)``; ``pair_v``
    ``(rows - 1, cols, K, K)`` likewise for the bottom rows against the top
    rows of the site below.
    """
    def ssd(a, b):  # (..., K, F), (..., K, F) -> (..., K, K), |a - b|^2 = |a|^2 + |b|^2 - 2ab
        a, b = a.astype(np.float64), b.astype(np.float64)
        cross = np.einsum("...kf,...lf->...kl", a, b)
        out = (a * a).sum(-1)[..., :, None] + (b * b).sum(-1)[..., None, :] - 2.0 * cross
        return np.maximum(out, 0.0) / a.shape[-1]

    r, c, k = patches.shape[:3]
    strips = {"right": patches[..., -overlap:, :], "left": patches[..., :overlap, :],
              "bottom": patches[..., -overlap:, :, :], "top": patches[..., :overlap, :, :]}
    strips = {name: v.reshape(r, c, k, -1) for name, v in strips.items()}
    pair_h = ssd(strips["right"][:, :-1], strips["left"][:, 1:])
    pair_v = ssd(strips["bottom"][:-1], strips["top"][1:])
    return pair_h, pair_v


@dataclass
class PatchMRF:
    """A patch MRF built for one source image.

    ``source``: the source image ``(H, W, 3)``; ``library``: style patches
    ``(M, P, P, 3)``; ``candidates``: ``(rows, cols, K)`` library indices,
    nearest first; ``patches``: the candidates themselves
    ``(rows, cols, K, P, P, 3)``; ``unary`` ``(rows, cols, K)``; ``pair_h``,
    ``pair_v``: see :func:`overlap_costs` (already times the pairwise
    weight); ``rendering``: the estimated rendering (style -> source).
    """

    source: np.ndarray
    patch_size: int
    step: int
    library: np.ndarray
    candidates: np.ndarray
    patches: np.ndarray
    unary: np.ndarray
    pair_h: np.ndarray
    pair_v: np.ndarray
    rendering: Rendering

    @property
    def grid(self) -> tuple[int, int]:
        return self.candidates.shape[:2]

    def energy(self, labels: np.ndarray) -> float:
        """The MRF energy of ``labels`` (``(rows, cols)`` ints in ``[0, K)``)."""
        return mrf_energy(labels, self.unary, self.pair_h, self.pair_v)

    def chosen(self, labels: np.ndarray) -> np.ndarray:
        """The library patches ``labels`` choose: ``(rows, cols, P, P, 3)``."""
        return np.take_along_axis(self.patches, labels[..., None, None, None, None], 2)[:, :, 0]

    def render(self, labels: np.ndarray) -> np.ndarray:
        """The output image of ``labels``: chosen patches averaged where they
        overlap, cropped to the source's size; float32 ``(H, W, 3)``."""
        h, w = self.source.shape[:2]
        return np.clip(assemble_patches(self.chosen(labels), self.step)[:h, :w], 0.0, 1.0)

    def render_weighted(self, costs: np.ndarray, temperature: float) -> np.ndarray:
        """The output image of soft choices: each site's patch the mean of its
        candidates weighted by ``exp(-(cost - min cost) / temperature)``, then
        overlaps averaged; float32 ``(H, W, 3)``. ``costs``: ``(rows, cols, K)``,
        the unary costs (the likelihood alone) or BP's beliefs (min-marginals).
        ``temperature`` in cost units (> 0; ``inf``: the plain mean of the K)."""
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        shifted = np.asarray(costs, np.float64) - np.min(costs, axis=-1, keepdims=True)
        weight = np.exp(-shifted / temperature)
        weight /= weight.sum(axis=-1, keepdims=True)
        patches = np.einsum("rck,rck...->rc...", weight, self.patches).astype(np.float32)
        h, w = self.source.shape[:2]
        return np.clip(assemble_patches(patches, self.step)[:h, :w], 0.0, 1.0)


def _options(options: dict[str, Any]) -> TranslateOptions:
    try:
        opts = TranslateOptions(**options)
    except TypeError:
        names = {f.name for f in dataclasses.fields(TranslateOptions)}
        unknown = ", ".join(sorted(set(options) - names))
        raise TypeError(f"unknown option(s) {unknown}; expected some of "
                        f"{', '.join(sorted(names))}") from None
    opts.check()
    return opts


def build_mrf(source: np.ndarray, styles: Sequence[np.ndarray], *,
              examples: Sequence[np.ndarray] = (), rendering_model: Rendering | None = None,
              **options: Any) -> PatchMRF:
    """The patch MRF translating ``source`` into the style of ``styles``.

    Args:
      source: ``(H, W, 3)`` float in [0, 1], both sides >= ``patch_size``.
      styles: style example images ``(H_i, W_i, 3)`` in [0, 1]; unpaired
        (not renderings of ``source``).
      examples: more source-like images (photos) for the EM of the
        rendering; the source's own patches are always used.
      rendering_model: a fitted :class:`Rendering` to use instead of
        estimating one (``rendering``, ``em_iterations`` are then ignored).
      options: fields of :class:`patch_mrf.config.TranslateOptions`
        (``patch_size``, ``overlap``, ``candidates``, ``pairwise_weight``,
        ``rendering``, ``em_iterations``, ``dims``, ``style_step``,
        ``max_library``, ``seed``; the inference ones are not used here).

    Raises:
      core.config.ConfigError: a bad option (naming it).
      ValueError: an image smaller than a patch.
    """
    opts = _options(options)
    p = opts.patch_size
    source = np.asarray(source, np.float32)
    for i, image in enumerate([source, *styles, *examples]):
        if image.ndim != 3 or min(image.shape[:2]) < p:
            what = "source" if i == 0 else (f"style {i}" if i <= len(styles)
                                            else f"example {i - len(styles)}")
            raise ValueError(f"{what}: {image.shape[1]}x{image.shape[0]} px is smaller than the "
                             f"patch size {p}")
    if not styles:
        raise ValueError("no style images given")
    step = p - opts.overlap
    library = style_library(styles, p, opts.style_step, opts.max_library, opts.seed)
    flat = library.reshape(len(library), -1)
    rendering = rendering_model
    if rendering is None:
        photos = np.concatenate([dense_patches(np.asarray(e, np.float32), p, 2)
                                 for e in [source, *examples]])
        rendering = fit_rendering(flat, photos, kind=opts.rendering, dims=opts.dims,
                                  iterations=opts.em_iterations, seed=opts.seed)
    grid = extract_patches(pad_to_grid(source, p, step), p, step)
    rows, cols = grid.shape[:2]
    k = min(opts.candidates, len(library))
    # likelihood P(source patch | style patch): distance between the source
    # patch and the style patch's rendering, in the source's PCA coordinates
    query = rendering.source.coords(grid.reshape(rows * cols, -1))
    dist, index = cKDTree(rendering.render_coords(flat)).query(query, k=k)
    index = index.reshape(rows, cols, k)
    unary = dist.reshape(rows, cols, k) ** 2 / flat.shape[1]
    patches = library[index]
    pair_h, pair_v = overlap_costs(patches, opts.overlap)
    w = opts.pairwise_weight
    return PatchMRF(source, p, step, library, index, patches, unary, w * pair_h, w * pair_v,
                    rendering)


@dataclass
class Translation:
    """What :func:`translate` returns: ``image`` (the MAP labelling's output,
    ``(H, W, 3)`` in [0, 1]), ``independent`` (each site's nearest patch, the
    baseline), ``labels`` / ``independent_labels`` ``(rows, cols)``, the BP
    record ``bp`` (energy per iteration), the ``mrf``, wall ``seconds`` per
    stage and the ``options`` used."""

    image: np.ndarray
    independent: np.ndarray
    labels: np.ndarray
    independent_labels: np.ndarray
    bp: BPResult
    mrf: PatchMRF
    seconds: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


def translate(source: np.ndarray, styles: Sequence[np.ndarray], *,
              examples: Sequence[np.ndarray] = (), rendering_model: Rendering | None = None,
              **options: Any) -> Translation:
    """Render ``source`` (``(H, W, 3)`` in [0, 1]) in the style of the
    unpaired examples ``styles``: build the patch MRF (:func:`build_mrf`),
    run loopy BP (:func:`patch_mrf.inference.min_sum_bp`) and assemble the
    chosen patches. ``options``: fields of
    :class:`patch_mrf.config.TranslateOptions` (defaults there).
    Deterministic for a given ``seed``."""
    opts = _options(options)
    start = time.perf_counter()
    mrf = build_mrf(source, styles, examples=examples, rendering_model=rendering_model,
                    **options)
    built = time.perf_counter()
    bp = min_sum_bp(mrf.unary, mrf.pair_h, mrf.pair_v, iterations=opts.iterations,
                    damping=opts.damping, icm=opts.icm)
    solved = time.perf_counter()
    nearest = independent_labels(mrf.unary)
    image, independent = mrf.render(bp.labels), mrf.render(nearest)
    end = time.perf_counter()
    used = opts.as_kwargs()
    if rendering_model is not None:
        used["rendering"] = f"given ({rendering_model.kind})"
    return Translation(image, independent, bp.labels, nearest, bp, mrf,
                       {"build": built - start, "inference": solved - built,
                        "assemble": end - solved, "total": end - start}, used)
