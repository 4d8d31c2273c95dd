"""Image tensors shared by the Gatys (:mod:`nst.stylize`) and fast
(:mod:`nst.fast`) paths."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

__all__ = ["as_batch"]


def as_batch(image: Any, name: str = "image") -> tf.Tensor:
    """``(H, W, 3)`` (or ``(1, H, W, 3)``) float RGB in [0, 1] -> float32
    tensor ``(1, H, W, 3)``; ValueError naming ``name`` for any other shape."""
    x = tf.convert_to_tensor(np.asarray(image, dtype=np.float32))
    if x.shape.rank == 3:
        x = x[tf.newaxis]
    if x.shape.rank != 4 or x.shape[0] != 1 or x.shape[-1] != 3:
        raise ValueError(f"{name}: images must have shape (H, W, 3), got {tuple(x.shape)}")
    return x
