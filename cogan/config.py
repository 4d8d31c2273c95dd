"""Options of a GAN / CoGAN / conditional-GAN run (imports no TensorFlow, so
``python -m cogan train --help`` answers at once)."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import GAN_LOSSES, RunOptions, invalid, loop_option, option

__all__ = ["MODEL_NAMES", "TASKS", "TrainConfig", "config_from_run"]

MODEL_NAMES = ("dcgan", "cogan", "cgan")
TASKS = ("edges", "negatives")


@dataclass
class TrainConfig(RunOptions):
    """Options of a run (saved as ``options.json`` beside the checkpoints).

    Paper values (Liu & Tuzel 2016, official code): batch 64, Adam lr 2e-4,
    betas (0.5, 0.999), weight decay 5e-4, noise 100-d uniform in [-1, 1],
    full-width generator (``width=1``), 50k iterations.
    """

    run_dir: str = loop_option("run_dir", "runs/cogan")
    model: str = option("cogan", "dcgan: one GAN on digits; cogan: coupled GANs sharing their "
                        "high-level layers; cgan: the conditional-GAN baseline",
                        choices=MODEL_NAMES)
    task: str = option("negatives", "domain 2 of the MNIST pair: digit edges or negatives "
                       "(dcgan trains on digits only)", choices=TASKS)
    width: float = option(0.125, "channel multiplier of the networks, in (0, 4] "
                          "(1.0 = the paper's width)", unit="factor")
    image_size: int = option(28, "image side: 28 for MNIST (other sizes need a stream_fn, "
                             "e.g. 64 for CelebA faces)", unit="px")
    channels: int = option(1, "image channels: 1 grey (MNIST), 3 colour", unit="channels")
    batch_size: int = option(64, "images per step and domain, over all replicas",
                             unit="images")
    steps: int = option(3000, "total steps of the run (a larger value extends a saved run)",
                        unit="steps")
    learning_rate: float = option(2e-4, "Adam learning rate")
    beta_1: float = option(0.5, "Adam's first-moment decay")
    beta_2: float = option(0.999, "Adam's second-moment decay")
    weight_decay: float = option(5e-4, "decoupled (AdamW-style) weight decay, 0 = none "
                                 "(the paper's Caffe code used L2)")
    gan_loss: str = option("bce", "GAN objective: bce (non-saturating) or lsgan "
                           "(least squares)", choices=GAN_LOSSES)
    seed: int = option(0, "seed of the initial weights, the noise and the data order")
    strategy: str = loop_option("strategy")
    log_every: int = loop_option("log_every")
    sample_every: int = loop_option("sample_every")
    checkpoint_every: int = loop_option("checkpoint_every")

    def __post_init__(self):
        self.check_choices()
        self.check_positive("batch_size", "steps", "log_every", "sample_every",
                            "checkpoint_every", "image_size", "channels")
        if not 0 < self.width <= 4:
            raise invalid("width", "in (0, 4]", self.width)


config_from_run = TrainConfig.from_run
