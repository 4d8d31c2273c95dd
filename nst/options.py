"""The settings of neural style transfer, shared by :func:`nst.stylize` and
``python -m nst``: defaults and their validation.

Importing this module does not import TensorFlow, so the command line checks
its flags (and answers ``--help``) before loading anything. Errors are
:class:`core.config.ConfigError`: ``str(error)`` names the Python argument
(``style_blend``), ``error.spelled(...)`` the flag (``--blend``).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from core.config import ConfigError, invalid
from core.precision import PRECISIONS

__all__ = ["ADAM_DEFAULTS", "CONTENT_WEIGHT", "FINISH_FRACTION", "INITS", "MIN_SIZE", "OPTIMIZERS", "STYLE_WEIGHT",
           "TV_WEIGHT", "check_settings", "scale_schedule", "style_blend_weights"]

#: the TensorFlow tutorial's loss weights
STYLE_WEIGHT = 1e-2
CONTENT_WEIGHT = 1e4
TV_WEIGHT = 30.0
#: the TensorFlow tutorial's Adam settings for pixel optimisation
ADAM_DEFAULTS = {"learning_rate": 0.02, "beta_1": 0.99, "epsilon": 0.1}
OPTIMIZERS = ("adam", "lbfgs")
#: precision "auto" on a bf16 CPU: share of the finest scale's steps run in float32
FINISH_FRACTION = 0.1
INITS = ("content", "style", "noise")
#: smallest side in pixels (VGG19's five poolings leave 1x1 features at 32 px)
MIN_SIZE = 16


def scale_schedule(scales: int | Sequence[float], steps: int | Sequence[int]
                   ) -> list[tuple[float, int]]:
    """``[(fraction of size, steps), ...]``, coarse to fine: an int ``n`` means
    fractions ``1/2**(n-1), ..., 1/2, 1``; ``steps`` is one int for every
    scale or one per scale."""
    if isinstance(scales, numbers.Integral):
        if scales < 1:
            raise invalid("scales", ">= 1", scales)
        scales = [0.5 ** (int(scales) - 1 - i) for i in range(int(scales))]
    scales = [float(s) for s in scales]
    if not scales or any(not 0 < s <= 1 for s in scales) or scales != sorted(scales):
        raise invalid("scales", "increasing fractions in (0, 1]", scales)
    if isinstance(steps, numbers.Integral):
        steps = [int(steps)] * len(scales)
    steps = [int(s) for s in steps]
    if len(steps) != len(scales) or any(s < 0 for s in steps):
        raise ConfigError("{} must be one count >= 0, or one per scale (" + str(len(scales))
                          + f"), got {steps}", "steps")
    return list(zip(scales, steps))


def style_blend_weights(style_blend: Sequence[float] | None, n_styles: int) -> list[float]:
    """One weight per style image, normalised to sum 1 (``None``: equal)."""
    if n_styles < 1:
        raise ValueError("style: need at least one style image")
    if style_blend is None:
        return [1.0 / n_styles] * n_styles
    blend = [float(b) for b in style_blend]
    if len(blend) != n_styles or any(b < 0 for b in blend) or sum(blend) <= 0:
        raise invalid("style_blend", f"{n_styles} non-negative weight(s), one per style image, "
                      "with a positive sum", blend)
    return [b / sum(blend) for b in blend]


def check_settings(*, size: int, optimizer: str, init: str, precision: str,
                   style_weight: float, content_weight: float, tv_weight: float,
                   learning_rate: float) -> None:
    """Raise :class:`ConfigError` naming the first setting out of range."""
    if optimizer not in OPTIMIZERS:
        raise invalid("optimizer", "one of " + ", ".join(OPTIMIZERS), optimizer)
    if init not in INITS:
        raise invalid("init", "one of " + ", ".join(INITS), init)
    if precision not in PRECISIONS:
        raise invalid("precision", "one of " + ", ".join(PRECISIONS), precision)
    if not isinstance(size, numbers.Integral) or size < MIN_SIZE:
        raise invalid("size", f"at least {MIN_SIZE} pixels", size)
    for name, value in (("style_weight", style_weight), ("content_weight", content_weight),
                        ("tv_weight", tv_weight)):
        if not value >= 0:  # also refuses NaN
            raise invalid(name, ">= 0", value)
    if not learning_rate > 0:
        raise invalid("learning_rate", "> 0", learning_rate)
