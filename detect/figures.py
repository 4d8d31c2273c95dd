"""Figures of the detection study (the benchmark and notebook 08): mean
spectra of real vs fake images and the AP matrices across generators. Each
function returns a matplotlib figure; saving is the caller's
(:func:`data.figures.save_figure`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .data import Split
from .spectral import DEFAULT_BINS, MAX_RADIUS, spectra

__all__ = ["matrix_figure", "spectra_figure"]


def spectra_figure(tests: Mapping[str, Split], bins: int = DEFAULT_BINS):
    """Mean (+- std) azimuthal spectrum (:func:`detect.spectral.azimuthal_spectrum`)
    of the real and the fake images of each split, one panel per generator,
    against radial frequency in cycles/pixel."""
    import matplotlib.pyplot as plt

    names = list(tests)
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    freq = (np.arange(bins) + 0.5) * MAX_RADIUS / bins  # ring centres
    for ax in axes.ravel():
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names):
        ax.axis("on")
        split = tests[name]
        feats = spectra(split.images, bins)
        for label, colour, text in ((0, "tab:blue", "real"), (1, "tab:red", "fake")):
            rows_ = feats[split.labels == label]
            mean, std = rows_.mean(0), rows_.std(0)
            ax.plot(freq, mean, color=colour, label=text)
            ax.fill_between(freq, mean - std, mean + std, color=colour, alpha=0.15)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("radial frequency (cycles/px)")
        ax.grid(alpha=0.3)
    axes.ravel()[0].set_ylabel("log |F|, min-max per image")
    axes.ravel()[0].legend(fontsize=8)
    fig.suptitle("Azimuthally averaged spectra of test images (mean +- std)")
    fig.tight_layout()
    return fig


def matrix_figure(matrices: Mapping[str, Mapping[str, Mapping[str, float]]],
                  names: Sequence[str]):
    """One heatmap of AP per variant (:func:`detect.study.ap_matrix`): rows
    trained on, columns tested on, colours from 0.5 (chance) to 1."""
    import matplotlib.pyplot as plt

    n = len(names)
    fig, axes = plt.subplots(1, len(matrices), figsize=(1.0 + 0.75 * n * len(matrices) + 1.5,
                                                        1.0 + 0.7 * n), squeeze=False)
    for ax, (variant, matrix) in zip(axes.ravel(), matrices.items()):
        grid = np.array([[matrix[r][c] for c in names] for r in names])
        ax.imshow(grid, vmin=0.5, vmax=1.0, cmap="viridis")
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if grid[i, j] < 0.8 else "black")
        ax.set_xticks(range(n), names, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(n), names, fontsize=8)
        ax.set_title(f"{variant}: AP", fontsize=10)
        ax.set_xlabel("tested on")
    axes.ravel()[0].set_ylabel("trained on")
    fig.tight_layout()
    return fig
