"""Fast (feed-forward) style transfer: one forward pass per image.

- Arbitrary style through TF-Hub (Magenta, Ghiasi et al. 2017):
  :func:`load_arbitrary_stylization`, :func:`fast_stylize` (:mod:`.hub`).
- Per-style networks trained here (Johnson et al. 2016) with the VGG19 losses
  of :mod:`nst`: :func:`build_transformer` (:mod:`.transformer`),
  :func:`train` with :class:`TrainConfig` (:mod:`.train`, offline photos of
  :mod:`data.photos`), exported with Magenta's signature so
  :func:`load_arbitrary_stylization` loads them too (:mod:`.export`).

>>> from nst.fast import TrainConfig, train, export_run, load_stylizer
>>> train(TrainConfig(run_dir="runs/fast-starry", style="starry_night"))
>>> export_run("runs/fast-starry", "models/starry")
>>> load_stylizer("models/starry")(content)          # (H, W, 3) in [0, 1]
>>> load_stylizer(pretrained_path("starry_night"))(content)   # the shipped network

Command line: ``python -m nst.fast train|stylize|export``. Names load on first
use, so ``python -m nst.fast --help`` imports no TensorFlow.
"""

from core.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["MAGENTA_HANDLE", "STYLE_SIZE", "HubModelUnavailable", "fast_stylize",
                     "load_arbitrary_stylization"], ".hub"),
    **dict.fromkeys(["MODEL", "TrainConfig", "config_from_run"], ".config"),
    **dict.fromkeys(["MIN_SIDE", "build_transformer", "stylize_array"], ".transformer"),
    **dict.fromkeys(["TrainResult", "load_run", "train"], ".train"),
    **dict.fromkeys(["Stylizer", "export_run", "export_saved_model", "load_stylizer"],
                    ".export"),
    **dict.fromkeys(["PRETRAINED", "pretrained_path"], ".pretrained"),
}
__all__ = sorted(_EXPORTS)
lazy_exports(__name__, _EXPORTS)
