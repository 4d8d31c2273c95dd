"""Figures for the notebooks: image grids, loss curves, and saving them.

Figures are saved as PNG atomically into ``FIGURES_DIR`` (the notebooks
runner sets it), with PNG metadata saying that they contain synthetic images.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .cache import atomic_path
from .images import IPTC_SYNTHETIC

__all__ = ["figures_dir", "image_grid", "loss_curves", "save_figure"]


def figures_dir(default: str | os.PathLike = "figures") -> Path:
    """``$FIGURES_DIR`` if set, else ``default``; created if missing."""
    path = Path(os.environ.get("FIGURES_DIR", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def image_grid(images: Sequence[Any], titles: Sequence[str] | None = None, *,
               ncols: int | None = None, size: float = 3.2):
    """A matplotlib figure showing ``(H, W, 3)`` images in [0, 1] side by side."""
    import matplotlib.pyplot as plt

    n = len(images)
    ncols = ncols or n
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, image in enumerate(images):
        ax = axes.ravel()[i]
        arr = np.asarray(image, dtype=np.float32)
        ax.imshow(np.clip(arr[0] if arr.ndim == 4 else arr, 0, 1),
                  cmap="gray" if arr.ndim == 2 else None)
        if titles:
            ax.set_title(titles[i], fontsize=10)
    fig.tight_layout()
    return fig


def loss_curves(histories: Mapping[str, Sequence[Mapping[str, float]]], *,
                keys: Sequence[str] = ("loss",), x: str = "step", logy: bool = True,
                title: str | None = None, ax=None):
    """Plot ``history[key]`` against ``history[x]`` for several labelled runs."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for label, history in histories.items():
        xs = [h[x] for h in history]
        for key in keys:
            name = label if len(keys) == 1 else f"{label}: {key}"
            ax.plot(xs, [h[key] for h in history], label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel({"seconds": "wall time (s)"}.get(x, x))
    ax.set_ylabel("loss" if len(keys) > 1 else keys[0])
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def save_figure(fig, name: str, folder: str | os.PathLike | None = None, *,
                synthetic: bool = True, dpi: int = 110) -> Path:
    """Save ``fig`` as ``folder/name.png`` atomically and return the path."""
    folder = Path(folder) if folder is not None else figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name if name.endswith(".png") else f"{name}.png")
    metadata = {"Software": "deepfake-lab"}
    if synthetic:
        metadata.update({"AI-Generated": "true", "DigitalSourceType": IPTC_SYNTHETIC,
                         "Description": "Figure containing synthetic (generated) images"})
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", metadata=metadata)
    return path
