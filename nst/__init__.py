"""Neural style transfer: Gatys pixel optimisation on VGG19, and fast
feed-forward stylisation (:mod:`nst.fast`: per-style networks trained here,
or Magenta's arbitrary-style model through TF-Hub).

>>> from data import load_image, samples
>>> from nst import stylize
>>> result = stylize(load_image(samples.path("grace_hopper")),
...                  load_image(samples.path("starry_night")), size=256, steps=200,
...                  optimizer="lbfgs")
>>> result.image.shape, result.loss

Names load on first use, so ``python -m nst --help`` imports no TensorFlow;
``nst.stylize`` is the function (the module is ``sys.modules["nst.stylize"]``).
"""

from core.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["MAGENTA_HANDLE", "HubModelUnavailable", "fast_stylize",
                     "load_arbitrary_stylization"], ".fast"),
    **dict.fromkeys(["content_loss", "gram_matrix", "style_loss", "total_variation_loss"],
                    ".losses"),
    **dict.fromkeys(["CONTENT_WEIGHT", "STYLE_WEIGHT", "TV_WEIGHT"], ".options"),
    **dict.fromkeys(["StylizeInterrupted", "StylizeResult", "get_extractor", "stylize"],
                    ".stylize"),
    **dict.fromkeys(["bf16_supported", "resolve_precision"], "core.precision"),
    **dict.fromkeys(["CONTENT_LAYERS", "STYLE_LAYERS", "ApproximateWeightsWarning",
                     "VGG19Features", "WeightsUnavailableError", "build_vgg19",
                     "resolve_vgg19_weights"], ".vgg"),
}
__all__ = sorted(_EXPORTS)
lazy_exports(__name__, _EXPORTS)
