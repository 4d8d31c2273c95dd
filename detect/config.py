"""Options of a detector run (imports no TensorFlow, so ``python -m detect
train --help`` answers at once)."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import RunOptions, invalid, loop_option, option

__all__ = ["DETECTORS", "TrainConfig", "config_from_run"]

DETECTORS = ("spectral", "cnn")


@dataclass
class TrainConfig(RunOptions):
    """Options of a detector run (saved as ``options.json`` in the run folder).

    ``spectral``: Durall et al. 2020's azimuthal spectrum and an L2
    logistic regression (fits in seconds; uses ``bins`` and ``l2``).
    ``cnn``: a small CNN with Wang et al. 2020's blur and JPEG augmentation
    (their values: probabilities 0.5, sigma ~ U[0, 3], quality ~ U{30..100});
    only ``cnn`` takes a ``strategy`` other than ``default``.
    """

    run_dir: str = loop_option("run_dir", "runs/detect")
    data: str = option("", "dataset folder: DATA/<generator>/{train,test}/{real,fake}/*.png "
                       "(python -m detect build-data writes one)")
    detector: str = option("cnn", "spectral (Durall et al. 2020) or cnn (after Wang et al. "
                           "2020)", choices=DETECTORS)
    generators: str = option("all", "comma-separated generator folders to train on (all: "
                             "every one in --data)")
    bins: int = option(48, "spectral: rings of the azimuthal spectrum", unit="bins")
    l2: float = option(1e-3, "spectral: L2 penalty of the logistic regression")
    steps: int = option(1500, "cnn: Adam steps (a larger value extends a saved run)",
                        unit="steps")
    batch_size: int = option(64, "cnn: images per step, half real, half fake", unit="images")
    crop: int = option(0, "cnn: side of the training crops (centre crops of every training "
                       "image; 0: the smallest image side, at most 64)", unit="px")
    width: int = option(16, "cnn: channels of the first convolution", unit="channels")
    learning_rate: float = option(1e-3, "cnn: Adam learning rate")
    augment: bool = option(True, "cnn: Wang et al.'s blur and JPEG augmentation (a random "
                           "mirror is always on)")
    blur_prob: float = option(0.5, "cnn: probability of the Gaussian blur", unit="probability")
    blur_sigma: float = option(3.0, "cnn: blur sigma ~ U[0, this]", unit="px")
    jpeg_prob: float = option(0.5, "cnn: probability of the JPEG compression",
                              unit="probability")
    jpeg_quality: int = option(30, "cnn: JPEG quality ~ U{this, ..., 100}", unit="quality")
    seed: int = option(0, "seed of the initial weights, the batches and the augmentation")
    strategy: str = loop_option("strategy")
    log_every: int = loop_option("log_every")
    sample_every: int = loop_option("sample_every")
    checkpoint_every: int = loop_option("checkpoint_every")
    skip_bad_images: bool = loop_option("skip_bad_images")

    def __post_init__(self):
        self.check_choices()
        self.check_positive("bins", "steps", "batch_size", "width", "log_every", "sample_every",
                            "checkpoint_every")
        if self.batch_size < 2 or self.batch_size % 2:
            raise invalid("batch_size", "an even number >= 2 (half real, half fake)",
                          self.batch_size)
        if self.crop != 0 and self.crop < 8:
            raise invalid("crop", "0 (automatic) or at least 8 px", self.crop)
        self.check_numbers("blur_prob", "jpeg_prob", high=1)
        self.check_numbers("blur_sigma", "l2")
        self.check_numbers("learning_rate", strict=True)
        if not 1 <= self.jpeg_quality <= 100:
            raise invalid("jpeg_quality", "in [1, 100]", self.jpeg_quality)

    def generator_list(self) -> list[str] | None:
        """The generators to train on, or None for all."""
        if self.generators.strip() in ("", "all"):
            return None
        names = [g.strip() for g in self.generators.split(",") if g.strip()]
        if not names:
            raise invalid("generators", "all or comma-separated generator folders",
                          self.generators)
        return names


config_from_run = TrainConfig.from_run
