"""Per-style networks as SavedModels with Magenta's TF-Hub signature, and
loading any stylisation model a user names.

An exported folder is a SavedModel whose object is called as
``model(content, style)[0]`` (both float32 ``(B, H, W, 3)`` in [0, 1]; the
style input is accepted and ignored: the style is in the weights), so
:func:`nst.fast.load_arbitrary_stylization` loads it exactly as it loads the
hub handle. Beside ``saved_model.pb`` it holds :data:`INFO_FILE`, a JSON
description (model, style, options, step) that needs no TensorFlow to read.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from .config import MODEL
from .hub import HubModelUnavailable, fast_stylize, load_arbitrary_stylization
from .transformer import MIN_SIDE, stylize_array

__all__ = ["INFO_FILE", "Stylizer", "export_run", "export_saved_model", "load_stylizer"]

#: the description an exported folder carries beside saved_model.pb
INFO_FILE = "nst_fast.json"
_SPEC = tf.TensorSpec([None, None, None, 3], tf.float32)


class _PerStyle(tf.Module):
    """The Magenta signature around a per-style network."""

    def __init__(self, net: keras.Model):
        super().__init__(name="per_style_stylization")
        self.net = net

    @tf.function(input_signature=[_SPEC, _SPEC])
    def __call__(self, content, style):
        del style  # the network renders one style only
        return [self.net(content, training=False)]


def export_saved_model(net: keras.Model, target: str | os.PathLike, info: dict[str, Any], *,
                       force: bool = False) -> Path:
    """Save ``net`` as a SavedModel folder ``target`` with the Magenta
    signature and ``info`` as :data:`INFO_FILE`; return ``target``.

    Written beside ``target`` and moved into place once complete. An
    existing ``target`` raises ValueError naming it unless ``force`` (then it
    is replaced, only after the new folder is complete)."""
    target = Path(target)
    if target.exists() and not force:
        raise ValueError(f"{target}: already exists; choose another folder or pass --force to "
                         "replace it")
    parent = target.parent
    if not parent.is_dir():
        raise ValueError(f"{target}: the folder {parent} does not exist")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    try:
        module = _PerStyle(net)
        tf.saved_model.save(module, str(tmp), signatures={
            "serving_default": module.__call__.get_concrete_function()})
        (tmp / INFO_FILE).write_text(json.dumps(dict(info), indent=2, sort_keys=True,
                                                default=str) + "\n")
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=parent))
            os.replace(target, old / target.name)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def export_run(run_dir: str | os.PathLike, target: str | os.PathLike, *,
               force: bool = False) -> Path:
    """Export the newest checkpoint of a training run (see
    :func:`export_saved_model`)."""
    from .train import load_run

    config, net, step = load_run(run_dir)
    options = json.loads((Path(run_dir) / "options.json").read_text())
    info = {"model": MODEL, "style": config.style, "style_size": config.style_size,
            "step": step, "signature": "model(content, style)[0]; style ignored",
            "options": options}
    return export_saved_model(net, target, info, force=force)


@dataclass
class Stylizer:
    """A loaded stylisation model: ``stylizer(content)`` (and ``style`` for an
    arbitrary-style model) -> ``(H, W, 3)`` float32 in [0, 1]. ``info``: what
    the model says about itself (its run's options, or :data:`INFO_FILE`);
    ``per_style``: the style is in the weights."""

    fn: Callable[..., np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)
    per_style: bool = True

    def __call__(self, content: Any, style: Any = None) -> np.ndarray:
        if not self.per_style and style is None:
            raise ValueError("this is an arbitrary-style model: pass a style image (--style)")
        return self.fn(content, style)


def _saved_model(path: Path) -> Stylizer:
    try:
        model = load_arbitrary_stylization(path)
    except HubModelUnavailable as exc:
        reason = " ".join(str(exc).split(". It needs a download")[0].split())  # one line
        raise ValueError(reason[:400]) from None
    info_path = path / INFO_FILE
    if not info_path.is_file():  # e.g. Magenta's model: any style
        return Stylizer(lambda c, s: fast_stylize(model, c, s), {}, per_style=False)
    try:
        info = json.loads(info_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{info_path}: unreadable description ({exc})") from None

    def run(content, style):
        x = np.asarray(content, np.float32)
        if x.ndim != 3 or x.shape[-1] != 3 or min(x.shape[:2]) < MIN_SIDE:
            raise ValueError(f"content: expected (H, W, 3) with sides >= {MIN_SIDE} px, got "
                             f"{x.shape}")
        dummy = tf.zeros([1, 1, 1, 3], tf.float32)  # the signature's style, ignored
        out = model(tf.constant(x[None]), dummy)[0]
        return np.clip(np.asarray(out[0], np.float32), 0.0, 1.0)
    return Stylizer(run, info, per_style=True)


def load_stylizer(path: str | os.PathLike) -> Stylizer:
    """The model in ``path``: a training run of this package (its newest
    checkpoint), a SavedModel folder (exported here, or any model with
    Magenta's signature), or the name of a model shipped with the repository
    (:data:`nst.fast.pretrained.PRETRAINED`, e.g. ``"starry_night"``; its
    files' digests are checked). Anything else, or a corrupt one, raises
    ValueError naming ``path``."""
    from .pretrained import PRETRAINED, pretrained_path

    if not Path(path).exists() and str(path) in PRETRAINED:
        path = pretrained_path(str(path))
    path = Path(path)
    expected = ("expected a training run folder of nst.fast (options.json, checkpoints/), a "
                "SavedModel folder (saved_model.pb) or a shipped model's name ("
                + ", ".join(sorted(PRETRAINED)) + ")")
    if not path.exists():
        raise ValueError(f"{path}: not found; {expected}")
    if not path.is_dir():
        raise ValueError(f"{path}: is a file; {expected}")
    if (path / "saved_model.pb").is_file():
        return _saved_model(path)
    if (path / "options.json").is_file():
        from .train import load_run

        config, net, step = load_run(path)
        info = {"model": MODEL, "style": config.style, "step": step, "run": str(path)}
        return Stylizer(lambda c, s: stylize_array(net, c), info, per_style=True)
    raise ValueError(f"{path}: {expected}")
