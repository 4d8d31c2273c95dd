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

from dataclasses import dataclass, field
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
    extra: dict = field(default_factory=dict)


#: name -> shipped model (measured in benchmarks/results/fast-style-*.json)
PRETRAINED: dict[str, Pretrained] = {
    "starry_night": Pretrained(
        files={
            "fingerprint.pb":
                "a6718a55ae920ac7c299e174826cffa38ac7ac1b927c555f46aafc27360df90f",
            "nst_fast.json":
                "ab486fc79cebad15676a649fe21d2b7d35cd6e0f8bee80a8e825c2557210992f",
            "saved_model.pb":
                "87ecfd518efa8a8ed199e771cc94d299782c600dc35d6b25423003acc5007eb4",
            "variables/variables.data-00000-of-00001":
                "be19a5936adb63f9e694cee504db6eafa03fa10d7f273b960aae5881e5a3a6bc",
            "variables/variables.index":
                "657d530d792aa2fd82908a8cc105b190d4c66c65161885450506b6c904933f51",
        },
        commands=(
            "python -m nst.fast train --run runs/fast-starry --style starry_night --width 0.75 "
            "--batch-size 1 --learning-rate 1e-3 --steps 6000 --decay-fraction 0.2 "
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
