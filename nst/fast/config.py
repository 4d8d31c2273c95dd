"""Options of a per-style network's training run (imports no TensorFlow, so
``python -m nst.fast train --help`` answers at once)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.config import RunOptions, invalid, loop_option, option, precision_option
from core.precision import keras_policy, resolve_precision

from ..options import CONTENT_WEIGHT, MIN_SIZE, STYLE_WEIGHT, TV_WEIGHT

__all__ = ["MODEL", "TrainConfig", "config_from_run"]

#: what ``options.json`` of a run of this package says it is (and what samples
#: and stylised images name as their generator)
MODEL = "nst.fast (Johnson et al. 2016 per-style network)"


@dataclass
class TrainConfig(RunOptions):
    """Options of a run (saved as ``options.json`` beside the checkpoints).

    The loss is the Gatys objective of :func:`nst.stylize` with its layers,
    normalisation and weights, averaged over the batch: for each output image
    ``y`` of content ``x``, ``style_weight / 5 * sum_l mean((G_l(y) -
    G_l(style))^2) + content_weight * mean((F(y) - F(x))^2) + tv_weight *
    TV(y)`` (:mod:`nst.losses`). TV is a sum over pixels, so at a fixed
    weight it counts for more on larger images.

    Paper configuration (Johnson et al. 2016): ``width=1``,
    ``image_size=256``, ``batch_size=4``, ``learning_rate=1e-3``, 40,000 steps
    on COCO (``data=coco``), with their own loss layers and weights.
    """

    run_dir: str = loop_option("run_dir", "runs/fast-style")
    style: str = option("starry_night", "style image: a data/samples name (starry_night) or a "
                        "path or http(s) URL")
    style_size: int = option(512, "longer side of the style image when its Gram matrices are "
                             "computed (brush strokes keep this scale in the outputs; "
                             "evaluate at the same size)", unit="px")
    data: str = option("photos", "content images: photos (offline: data/samples and the "
                       "scikit-image and scikit-learn sample photos, evaluation images held "
                       "out), coco (tensorflow-datasets, online), or a folder of images "
                       "(subfolders searched)")
    image_size: int = option(256, "side of the random training crops, a multiple of 4",
                             unit="px")
    width: float = option(1.0, "channel multiplier of the network (1: the paper's "
                          "32-64-128; 0.5: a quarter of the weights and compute)")
    batch_size: int = option(4, "crops per step, over all replicas", unit="images")
    steps: int = option(2000, "optimizer steps of the run (a larger value extends a saved run)",
                        unit="steps")
    learning_rate: float = option(1e-3, "Adam's learning rate before the decay")
    decay_fraction: float = option(0.2, "the learning rate decays linearly to 0 over this last "
                                   "fraction of the steps, in [0, 1]", unit="fraction")
    style_weight: float = option(STYLE_WEIGHT, "weight of the Gram style loss (nst's)")
    content_weight: float = option(CONTENT_WEIGHT, "weight of the block5_conv2 content loss "
                                   "(nst's)")
    tv_weight: float = option(TV_WEIGHT, "weight of the total variation, a sum over each "
                              "image's pixels (nst's)")
    weights: str = option("imagenet", "VGG19 weights of the loss network, as in python -m nst: "
                          "imagenet (Keras download, else the offline mirror) or the path of "
                          "a VGG19 notop .h5")
    precision: str = precision_option()
    seed: int = option(0, "seed of the initial weights and of the crops")
    strategy: str = loop_option("strategy")
    log_every: int = loop_option("log_every", 25)
    sample_every: int = loop_option("sample_every")
    checkpoint_every: int = loop_option("checkpoint_every")
    skip_bad_images: bool = loop_option("skip_bad_images")

    def __post_init__(self):
        self.check_choices()
        self.precision = resolve_precision(self.precision)
        self.check_positive("style_size", "image_size", "batch_size", "steps", "log_every",
                            "sample_every", "checkpoint_every")
        if self.image_size % 4:  # two stride-2 stages: crops need no padding
            raise invalid("image_size", "a multiple of 4", self.image_size)
        if self.image_size < 32:  # VGG19's block5 needs 2x2 px
            raise invalid("image_size", "at least 32 pixels", self.image_size)
        if self.style_size < MIN_SIZE:
            raise invalid("style_size", f"at least {MIN_SIZE} pixels", self.style_size)
        self.check_numbers("width", "learning_rate", strict=True)
        self.check_numbers("decay_fraction", high=1)
        self.check_numbers("style_weight", "content_weight", "tv_weight")

    @property
    def dtype(self) -> str:
        """The Keras dtype policy of the network and of VGG19."""
        return keras_policy(self.precision)

    def check_data(self) -> None:
        """Raise ConfigError naming ``data`` unless it is a built-in name or an
        existing folder."""
        if self.data in ("photos", "coco") or Path(self.data).is_dir():
            return
        raise invalid("data", "photos, coco or an existing folder", self.data)


config_from_run = TrainConfig.from_run
