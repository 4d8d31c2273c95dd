"""Evaluation and inference of StarGAN runs.

- :func:`evaluate_nets` / :func:`evaluate_run`: the digit metrics of
  :mod:`stargan.metrics` on held-out MNIST test digits, beside the floors a
  model must beat: the identity (no change) and an untrained generator.
- :func:`parse_attrs` and :func:`translate_files`: ``python -m stargan
  translate``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .train import Nets, TrainConfig, build_nets, load_run, translate

__all__ = ["evaluate_nets", "evaluate_run", "held_out", "parse_attrs", "translate_files"]


def held_out(n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """The first ``n`` MNIST test digits rendered with seeded random attributes:
    ``images``, ``attrs``, ``digit_images`` (uint8 ``(n, 28, 28)``), ``digits``
    (their classes), ``backgrounds`` (see
    :func:`data.digit_attributes.attribute_test`)."""
    from data.digit_attributes import attribute_test
    from data.mnist import load_mnist

    _, (x_test, y_test) = load_mnist()
    images, attrs, bg = attribute_test(x_test, n=n, seed=seed)
    return {"images": images, "attrs": attrs, "digit_images": np.asarray(x_test[:n]),
            "digits": np.asarray(y_test[:n]),
            "backgrounds": bg}


def evaluate_nets(config: TrainConfig, nets: Nets, *, n: int = 1000, floors: bool = True,
                  judge=None) -> dict[str, dict]:
    """Scores of ``nets`` on ``n`` held-out digits, each translated to all 8
    domains: ``{"model": ..., "identity": ..., "untrained": ...}`` (floors
    when ``floors``). ``judge``: default :func:`stargan.metrics.load_judge`."""
    from .metrics import load_judge, translation_scores

    if config.data != "digits":
        raise ValueError(f"data={config.data!r}: the built-in evaluation covers the digits "
                         "(CelebA has no held-out attribute judge here)")
    split = held_out(n)
    judge = judge or load_judge()
    args = (judge, split["images"], split["attrs"], split["digit_images"], split["digits"],
            split["backgrounds"])
    out = {"model": translation_scores(lambda x, c: translate(nets.g, x, c), *args)}
    if floors:
        out["identity"] = translation_scores(lambda x, c: x, *args)
        untrained = build_nets(config)
        out["untrained"] = translation_scores(lambda x, c: translate(untrained.g, x, c), *args)
    return out


def evaluate_run(run_dir: str | os.PathLike, *, n: int = 1000, floors: bool = True) -> dict:
    """:func:`evaluate_nets` for the newest checkpoint of ``run_dir``."""
    config, nets, step, _ = load_run(run_dir)
    return {"run": str(run_dir), "step": step, "data": config.data,
            "scores": evaluate_nets(config, nets, n=n, floors=floors)}


def parse_attrs(text: str, names: tuple[str, ...], exclusive: bool = False) -> np.ndarray:
    """``"bold=1,inverted=0"`` -> the label ``(C,)`` float32 over ``names``.
    Attribute runs need every name; exclusive-domain runs exactly one set to 1.
    Unknown names, values other than 0/1 and missing names raise ValueError
    naming ``--attrs``."""
    values: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or value.strip() not in ("0", "1"):
            raise ValueError(f"--attrs: expected NAME=0 or NAME=1, got {part!r}")
        if name not in names:
            raise ValueError(f"--attrs: unknown attribute {name!r}; this run has "
                             f"{', '.join(names)}")
        values[name] = float(value.strip())
    if exclusive:
        on = [k for k, v in values.items() if v]
        if len(on) != 1:
            raise ValueError(f"--attrs: this run's domains are exclusive; set exactly one of "
                             f"{', '.join(names)} to 1")
        return np.array([float(k == on[0]) for k in names], np.float32)
    missing = [k for k in names if k not in values]
    if missing:
        raise ValueError(f"--attrs: give every attribute of this run; missing "
                         f"{', '.join(missing)} (e.g. {','.join(k + '=0' for k in missing)})")
    return np.array([values[k] for k in names], np.float32)


def _read_input(path: Path, size: int) -> np.ndarray:
    """``path`` as ``(size, size, 3)`` float32 in [0, 1]; grey images become
    RGB. Other sizes and channel counts raise ValueError naming the file."""
    from PIL import Image

    from data.images import load_image

    try:
        with Image.open(path) as img:
            bands, (w, h) = len(img.getbands()), img.size
            mode = img.mode
    except OSError as exc:
        raise ValueError(f"{path}: not a readable image ({exc})") from None
    if bands not in (1, 3):
        raise ValueError(f"{path}: expected a grey or RGB image (1 or 3 channels), got "
                         f"{mode} with {bands} channels")
    if (w, h) != (size, size):
        raise ValueError(f"{path}: expected {size}x{size} pixels (the run's image size), got "
                         f"{w}x{h}")
    return load_image(path, max_side=None)


def translate_files(run_dir: str | os.PathLike, src: str | os.PathLike,
                    dst: str | os.PathLike, attrs: str) -> list[Path]:
    """Translate the image ``src`` (to the PNG ``dst``) or every image of the
    folder ``src`` (to ``dst/<stem>.png``) to the domain ``attrs`` (see
    :func:`parse_attrs`); return the written paths. Outputs are marked
    synthetic; no file is replaced (a taken name gets ``_1``, ``_2``, ...).
    Every input is checked before anything is written."""
    from data.images import save_image
    from data.translation import IMAGE_SUFFIXES

    src, dst = Path(src), Path(dst)
    config, nets, step, names = load_run(run_dir)
    label = parse_attrs(attrs, names, config.exclusive)
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"{src}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
        if dst.exists() and not dst.is_dir():
            raise ValueError(f"{dst}: --output must be a folder when --input is a folder")
        targets = [dst / f"{p.stem}.png" for p in files]
    elif src.is_file():
        files = [src]
        if dst.suffix.lower() != ".png":
            raise ValueError(f"{dst}: --output for one image must be a .png file")
        targets = [dst]
    else:
        raise ValueError(f"{src}: --input is neither an image nor a folder")
    images = np.stack([_read_input(p, config.image_size) for p in files])
    out = translate(nets.g, images, label)
    params = {"run": str(run_dir), "step": step, "attrs": dict(zip(names, label.tolist()))}
    return [save_image(t, o, generator="stargan", params=dict(params, source=p.name),
                       replace=False) for t, o, p in zip(targets, out, files)]
