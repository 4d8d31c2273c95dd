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

__all__ = ["cogan_sharing_diagram", "cycle_diagram", "figures_dir", "gan_loop_diagram",
           "image_grid", "loss_curves", "save_figure", "unet_diagram"]


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


def _box(ax, xy, text, color, w=1.6, h=0.8):
    from matplotlib.patches import FancyBboxPatch

    x, y = xy
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05",
                                fc=color, ec="black", lw=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=10)


def _arrow(ax, start, end, text="", color="black", style="-|>"):
    ax.annotate("", xy=end, xytext=start,
                arrowprops=dict(arrowstyle=style, color=color, lw=1.5))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.15, text, ha="center",
                fontsize=9, color=color)


def gan_loop_diagram():
    """The GAN game as a diagram: z -> G -> fake; real/fake -> D -> loss; the
    gradients flowing back to D and (through D) to G."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 4)
    ax.axis("off")
    _box(ax, (1, 1), "noise z\n~ U[-1, 1]", "#eeeeee")
    _box(ax, (3.2, 1), "Generator G", "#b7d7f0")
    _box(ax, (5.4, 1), "fake G(z)", "#f7d9b5")
    _box(ax, (5.4, 3), "real x\n(data)", "#c9e8c0")
    _box(ax, (7.4, 2), "Discriminator\nD", "#f0b7b7")
    _box(ax, (9.2, 2), "loss", "#eeeeee", w=1.0)
    _arrow(ax, (1.8, 1), (2.4, 1))
    _arrow(ax, (4.0, 1), (4.6, 1))
    _arrow(ax, (6.2, 1.2), (6.6, 1.8))
    _arrow(ax, (6.2, 2.8), (6.6, 2.2))
    _arrow(ax, (8.2, 2), (8.7, 2))
    _arrow(ax, (9.2, 1.6), (3.2, 0.5), "G: make D say 'real'", "#1f5fa0", "-|>")
    _arrow(ax, (9.2, 2.4), (7.6, 2.5), "D: tell real from fake", "#a01f1f")
    ax.set_title("A GAN: two networks trained against each other")
    return fig


def cogan_sharing_diagram():
    """CoGAN's weight sharing: generators share all layers but the output
    layer, discriminators all layers but the input layer."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4.2))
    ax.set_xlim(0, 12)
    ax.set_ylim(0, 4.4)
    ax.axis("off")
    _box(ax, (0.8, 2.2), "z", "#eeeeee", w=0.8)
    _box(ax, (2.7, 2.2), "shared layers\n(G1 = G2)", "#b7d7f0", w=2.0, h=1.4)
    _box(ax, (5.0, 3.3), "output 1", "#dbe9f6", w=1.4)
    _box(ax, (5.0, 1.1), "output 2", "#dbe9f6", w=1.4)
    _box(ax, (6.9, 3.3), "x1: digit", "#f7d9b5", w=1.5)
    _box(ax, (6.9, 1.1), "x2: edges /\nnegative", "#f7d9b5", w=1.5)
    _box(ax, (8.7, 3.3), "input 1", "#f6dbdb", w=1.2)
    _box(ax, (8.7, 1.1), "input 2", "#f6dbdb", w=1.2)
    _box(ax, (10.7, 2.2), "shared layers\n(D1 = D2)", "#f0b7b7", w=2.0, h=1.4)
    _arrow(ax, (1.2, 2.2), (1.7, 2.2))
    for y in (3.3, 1.1):
        _arrow(ax, (3.7, 2.2 + (y - 2.2) * 0.4), (4.3, y))
        _arrow(ax, (5.7, y), (6.15, y))
        _arrow(ax, (7.65, y), (8.1, y))
        _arrow(ax, (9.3, y), (9.7, 2.2 + (y - 2.2) * 0.4))
    ax.text(2.7, 0.2, "high-level semantics shared", ha="center", fontsize=9, color="#1f5fa0")
    ax.text(10.7, 0.2, "high-level features shared", ha="center", fontsize=9, color="#a01f1f")
    ax.set_title("CoGAN: one noise vector, two domains, shared weights tie the pair together")
    return fig


def unet_diagram(levels: int = 5):
    """The U-Net: an encoder that halves the image ``levels`` times, a decoder
    that doubles it back, and skip connections joining equal sizes."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.2))
    ax.set_xlim(0, 2 * levels + 2)
    ax.set_ylim(-0.6, levels + 0.8)
    ax.axis("off")
    for i in range(levels):
        y = levels - i
        h = max(0.25, 0.9 - 0.12 * i)
        _box(ax, (1 + i, y), f"down {i + 1}", "#b7d7f0", w=0.9, h=h)
        _box(ax, (2 * levels + 1 - i, y), f"up {i + 1}" if i else "out", "#f7d9b5", w=0.9, h=h)
        if i:
            _arrow(ax, (1 + i - 0.6, y + 1 - 0.3), (1 + i - 0.2, y + 0.3))
            _arrow(ax, (2 * levels + 1 - i + 0.2, y + 0.3), (2 * levels + 1 - i + 0.6, y + 0.7))
        if i < levels - 1:
            _arrow(ax, (1.45 + i, y), (2 * levels + 0.55 - i, y), "skip (concatenate)"
                   if i == 0 else "", "#888888", "-|>")
    _box(ax, (levels + 1, 0.2), "bottleneck", "#dddddd", w=1.4, h=0.5)
    _arrow(ax, (levels + 0.2, 0.9), (levels + 0.7, 0.45))
    _arrow(ax, (levels + 1.3, 0.45), (levels + 1.8, 0.9))
    ax.text(1, levels + 0.6, "input", ha="center")
    ax.text(2 * levels + 1, levels + 0.6, "output (same size)", ha="center")
    ax.set_title("U-Net: skip connections carry the input's detail straight to the output")
    return fig


def cycle_diagram():
    """CycleGAN's two mappings and the cycle-consistency losses."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.8))
    ax.set_xlim(0, 10.5)
    ax.set_ylim(0, 4)
    ax.axis("off")
    _box(ax, (1, 3), "x (domain A)", "#c9e8c0", w=1.7)
    _box(ax, (4.2, 3), "G(x)", "#f7d9b5", w=1.2)
    _box(ax, (7.4, 3), "F(G(x)) ~ x", "#c9e8c0", w=1.8)
    _box(ax, (1, 1), "y (domain B)", "#b7d7f0", w=1.7)
    _box(ax, (4.2, 1), "F(y)", "#f7d9b5", w=1.2)
    _box(ax, (7.4, 1), "G(F(y)) ~ y", "#b7d7f0", w=1.8)
    _box(ax, (4.2, 2), "D_B judges G(x)   D_A judges F(y)", "#f0b7b7", w=3.8, h=0.5)
    _arrow(ax, (1.85, 3), (3.6, 3), "G: A -> B")
    _arrow(ax, (4.8, 3), (6.5, 3), "F: B -> A")
    _arrow(ax, (1.85, 1), (3.6, 1), "F: B -> A")
    _arrow(ax, (4.8, 1), (6.5, 1), "G: A -> B")
    ax.text(9.0, 3, "|F(G(x)) - x|\nforward cycle", fontsize=9, va="center")
    ax.text(9.0, 1, "|G(F(y)) - y|\nbackward cycle", fontsize=9, va="center")
    ax.set_title("CycleGAN: two mappings, two discriminators, and cycles back to the start")
    return fig
