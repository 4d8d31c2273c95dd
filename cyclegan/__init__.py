"""Image-to-image translation: pix2pix (Isola et al. 2017) and CycleGAN
(Zhu et al. 2017).

>>> from cyclegan import TrainConfig, train, evaluate_run
>>> result = train(TrainConfig(run_dir="runs/cyclegan-digits", data="mnist_mnistm"))
>>> evaluate_run("runs/cyclegan-digits")        # class preservation, cycle error

Names load on first use, so ``python -m cyclegan --help`` imports no TensorFlow.
"""

from core.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["evaluate_nets", "evaluate_run"], ".evaluate"),
    **dict.fromkeys(["export_generator", "load_exported", "run_generator", "translate_folder"],
                    ".infer"),
    **dict.fromkeys(["cycle_loss", "identity_loss", "l1_loss"], ".losses"),
    **dict.fromkeys(["GENERATORS", "build_generator", "resnet_generator", "unet_generator"],
                    ".models"),
    **dict.fromkeys(["TrainConfig", "config_from_run"], ".config"),
    **dict.fromkeys(["LinearDecay", "Nets", "TrainResult", "build_nets", "load_run",
                     "make_cyclegan_step", "make_pix2pix_step", "train"], ".train"),
}
__all__ = sorted(_EXPORTS)
lazy_exports(__name__, _EXPORTS)
