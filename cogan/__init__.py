"""GANs and Coupled GANs (Liu & Tuzel, NIPS 2016) on MNIST domains.

>>> from cogan import TrainConfig, train, pixel_agreement_of_model
>>> result = train(TrainConfig(run_dir="runs/cogan-neg", model="cogan", task="negatives",
...                            steps=3000))
>>> pixel_agreement_of_model(result.model, "negatives")

Names load on first use, so ``python -m cogan --help`` imports no TensorFlow.
"""

from core.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["PAPER_TABLE", "pair_scores_of_model", "pixel_agreement",
                     "pixel_agreement_of_model", "stroke_iou"], ".metrics"),
    **dict.fromkeys(["NOISE_DIM", "CoGAN", "ConditionalGAN", "DCGAN"], ".models"),
    **dict.fromkeys(["TrainConfig", "config_from_run"], ".config"),
    **dict.fromkeys(["MODELS", "TrainResult", "build_model", "sample_grid", "train"], ".train"),
}
__all__ = sorted(_EXPORTS)
lazy_exports(__name__, _EXPORTS)
