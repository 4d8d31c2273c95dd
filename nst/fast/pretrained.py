"""Per-style networks trained by this repository and shipped with it, so that
``nst.fast`` and notebook 04 stylise offline without training first.

Each entry of :data:`PRETRAINED` is a SavedModel folder under
``nst/fast/models/<name>/`` exported by ``python -m nst.fast export`` (Magenta's
signature, see :mod:`.export`), with the SHA-256 of every file and the exact
commands that made it. :func:`pretrained_path` checks every digest before a
model is used: a changed, truncated or missing file is refused with one line
naming it (:class:`data.cache.ChecksumError`, a ValueError).

Importing this module does not import TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from data.cache import ChecksumError, sha256_file

__all__ = ["MODELS_DIR", "PRETRAINED", "Pretrained", "pretrained_path"]

MODELS_DIR = Path(__file__).resolve().parent / "models"


@dataclass(frozen=True)
class Pretrained:
    """``files``: path inside the model folder -> SHA-256; ``commands``: what
    trained and exported it; ``summary``: what it is, and how it measured."""

    files: dict[str, str]
    commands: tuple[str, ...]
    summary: str


#: name -> shipped model (measured in benchmarks/results/fast-style-*.json)
PRETRAINED: dict[str, Pretrained] = {
    "starry_night": Pretrained(
        files={
            "fingerprint.pb":
                "e59debe6f0d6fabc387d4c97e6330a2215f4d33958dde1d5a4bc3b8b6d9f1b0c",
            "nst_fast.json":
                "7dd648d3456f7ed881c3a7fe74d376d25cb503c31959d09034548e9c9a3c33c9",
            "saved_model.pb":
                "87ecfd518efa8a8ed199e771cc94d299782c600dc35d6b25423003acc5007eb4",
            "variables/variables.data-00000-of-00001":
                "6deecef3d6891ec4c43de6b3cbcff31b70293a2bc8400626f4f2fd2b607c1baf",
            "variables/variables.index":
                "de171c95c0d9e5ed69a41d9125c0219770c7522d0b9b1f6b0a45160effa056b5",
        },
        commands=(
            "python -m nst.fast train --run runs/fast-starry --style starry_night --width 0.75 "
            "--batch-size 1 --learning-rate 1e-3 --steps 4000 --decay-fraction 0.2 "
            "--precision bf16 --sample-every 500 --checkpoint-every 250",
            "python -m nst.fast export --run runs/fast-starry -o nst/fast/models/starry_night",
        ),
        summary="Johnson et al. network, width 0.75 (0.95 M weights), for Van Gogh's The Starry "
                "Night at style size 512 px, trained on the offline photos (data.photos)",
    ),
}


def pretrained_path(name: str) -> Path:
    """The checked folder of the shipped model ``name`` (a SavedModel that
    :func:`nst.fast.load_stylizer` and :func:`nst.fast.load_arbitrary_stylization`
    load). ValueError naming the model for an unknown name; ChecksumError
    naming the file when a file is missing or differs from its digest."""
    if name not in PRETRAINED:
        known = ", ".join(sorted(PRETRAINED)) or "none"
        raise ValueError(f"{name}: no shipped fast-style model of that name (shipped: {known})")
    folder = MODELS_DIR / name
    for rel, digest in PRETRAINED[name].files.items():
        path = folder / rel
        if not path.is_file():
            raise ChecksumError(f"{path}: missing file of the shipped model {name!r}; "
                                "reinstall or check out the repository again")
        actual = sha256_file(path)
        if actual != digest:
            raise ChecksumError(f"{path}: SHA-256 mismatch, expected {digest} but got {actual}; "
                                "the shipped model is corrupt or was changed")
    return folder
