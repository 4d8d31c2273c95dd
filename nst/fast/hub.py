"""Fast (feed-forward) arbitrary style transfer through TF-Hub.

The Magenta model (Ghiasi et al. 2017) predicts a style embedding from the
style image and renders the content in one forward pass. It is called as
``model(content, style)[0]`` with both images float32 ``(1, H, W, 3)`` in
[0, 1]; the style image should be 256x256 (what the model was trained on).

Online, :data:`MAGENTA_HANDLE` downloads the model through ``tensorflow_hub``;
a local SavedModel folder with the same signature works anywhere, such as
the per-style networks this package trains and exports
(:func:`nst.fast.export.export_saved_model`, which ignore the style input).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import tensorflow as tf

from ..images import as_batch

__all__ = ["MAGENTA_HANDLE", "STYLE_SIZE", "HubModelUnavailable", "fast_stylize",
           "load_arbitrary_stylization"]

MAGENTA_HANDLE = "https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2"
STYLE_SIZE = 256


class HubModelUnavailable(OSError):
    """The stylisation model could not be downloaded or loaded."""


def load_arbitrary_stylization(handle: str | os.PathLike = MAGENTA_HANDLE) -> Any:
    """``hub.load`` a model by TF-Hub handle/URL or local SavedModel path.

    Raises:
      HubModelUnavailable: naming the handle, when it cannot be fetched (no
        internet) or is not a SavedModel callable as ``model(content, style)``.
    """
    import tensorflow_hub as hub

    handle = os.fspath(handle)
    try:
        model = hub.load(handle)
    except Exception as exc:  # network errors, missing folder, bad SavedModel
        raise HubModelUnavailable(
            f"{handle}: could not load the stylisation model ({type(exc).__name__}: {exc}). "
            "It needs a download from TF-Hub/Kaggle; offline, pass the path of a SavedModel "
            "folder with the signature model(content, style) -> [stylised].") from None
    if not callable(model):
        raise HubModelUnavailable(f"{handle}: the SavedModel has no __call__; expected "
                                  "model(content, style) -> [stylised]")
    return model


def fast_stylize(model: Any, content: Any, style: Any, *,
                 style_size: int = STYLE_SIZE) -> np.ndarray:
    """Stylise in one forward pass: ``(H, W, 3)`` in [0, 1] -> ``(H, W, 3)`` in [0, 1].

    The style image is resized to ``style_size`` square, as the Magenta model
    expects; the content keeps its size.
    """
    c = as_batch(content, "content")
    s = tf.image.resize(as_batch(style, "style"), (style_size, style_size), antialias=True)
    out = model(tf.constant(c), tf.constant(tf.clip_by_value(s, 0.0, 1.0)))[0]
    out = tf.clip_by_value(tf.convert_to_tensor(out), 0.0, 1.0)
    return np.asarray(out[0, : c.shape[1], : c.shape[2]], dtype=np.float32)
