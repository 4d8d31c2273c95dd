"""Neural style transfer: Gatys pixel optimisation on VGG19, and fast
feed-forward stylisation through TF-Hub.

>>> from data import load_image, samples
>>> from nst import stylize
>>> result = stylize(load_image(samples.path("grace_hopper")),
...                  load_image(samples.path("starry_night")), size=256, steps=200,
...                  optimizer="lbfgs")
>>> result.image.shape, result.history[-1]["loss"]
"""

from .fast import MAGENTA_HANDLE, HubModelUnavailable, fast_stylize, load_arbitrary_stylization
from .losses import content_loss, gram_matrix, style_loss, total_variation_loss
from .stylize import StylizeResult, bf16_supported, get_extractor, stylize
from .vgg import (CONTENT_LAYERS, STYLE_LAYERS, VGG19Features, WeightsUnavailableError,
                  build_vgg19, resolve_vgg19_weights)

__all__ = [
    "CONTENT_LAYERS",
    "MAGENTA_HANDLE",
    "STYLE_LAYERS",
    "HubModelUnavailable",
    "StylizeResult",
    "VGG19Features",
    "WeightsUnavailableError",
    "bf16_supported",
    "build_vgg19",
    "content_loss",
    "fast_stylize",
    "get_extractor",
    "gram_matrix",
    "load_arbitrary_stylization",
    "resolve_vgg19_weights",
    "style_loss",
    "stylize",
    "total_variation_loss",
]
