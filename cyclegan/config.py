"""Options of a pix2pix / CycleGAN run (imports no TensorFlow, so
``python -m cyclegan train --help`` answers at once; resolving
``precision="auto"`` may load it to look for a GPU)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.config import GAN_LOSSES, RunOptions, invalid, loop_option, option, precision_option
from core.precision import keras_policy, resolve_precision

__all__ = ["BUILTIN_DATA", "GENERATOR_NAMES", "PAIRED_DATA", "UNPAIRED_DATA", "TrainConfig",
           "config_from_run", "size_multiple", "unet_depth"]

BUILTIN_DATA = {"cyclegan": ("mnist_mnistm", "photo_painting"),
                "pix2pix": ("mnistm_to_mnist", "gray_photo")}
# the digit sets are rendered pairwise, so pix2pix may train on either direction
PAIRED_DATA = ("mnistm_to_mnist", "mnist_mnistm", "gray_photo")
UNPAIRED_DATA = ("photo_painting",)
#: generator architectures (see :func:`cyclegan.models.build_generator`)
GENERATOR_NAMES = ("unet", "resnet6", "resnet9")


def unet_depth(image_size: int) -> int:
    """Down blocks that take ``image_size`` to a 1x1 bottleneck (8 at 256 px,
    7 at 128 px, 5 at 32 px), as the tutorial's and junyanz's U-Nets do.
    Raises :class:`core.config.ConfigError` naming ``image_size`` unless it
    is a power of two."""
    depth = max(2, int(image_size).bit_length() - 1)
    if 2 ** depth != image_size:
        raise invalid("image_size", "a power of two for the U-Net generator", image_size)
    return depth


def size_multiple(generator: str, image_size: int | None = None,
                  num_downs: int | None = None) -> int:
    """What the generator's input sides must be a multiple of: ``2**depth``
    for the U-Net (``num_downs``, else the depth for ``image_size``, else 8),
    4 for the ResNets (two stride-2 downsamples)."""
    if generator == "unet":
        return 2 ** (num_downs or unet_depth(image_size or 256))
    return 4


def _builtin_names() -> list[str]:
    return sorted({name for names in BUILTIN_DATA.values() for name in names})


@dataclass
class TrainConfig(RunOptions):
    """Options of a run (saved as ``options.json`` beside the checkpoints).

    ``data``: a built-in offline set (default ``"auto"``: ``mnist_mnistm`` for
    CycleGAN, ``mnistm_to_mnist`` for pix2pix; CycleGAN takes any built-in
    set, ``photo_painting`` included; pix2pix only the paired ones,
    ``PAIRED_DATA``), a folder (CycleGAN: junyanz's unaligned ``trainA/
    trainB/``; pix2pix: aligned ``train/`` of A|B side-by-side images) or
    ``tfds:NAME`` (CycleGAN: ``tfds:horse2zebra`` etc. from ``cycle_gan/``;
    pix2pix: ``tfds:facades`` needs the folder layout instead, see
    :mod:`data.translation`). :meth:`check_data` checks it exists.

    Paper configuration (Zhu et al. 2017, junyanz's defaults): ``generator=
    "resnet9"``, ``image_size=256``, ``load_size=286``, ``ngf=ndf=64``,
    ``batch_size=1``, ``gan_loss="lsgan"``, ``cycle_weight=10``,
    ``identity_weight=0.5``, ``pool_size=50``, 200 epochs with the last 100
    decaying (``decay_fraction=0.5``). pix2pix: ``generator="unet"``,
    ``gan_loss="bce"``, ``l1_weight=100``, no pool.
    """

    run_dir: str = loop_option("run_dir", "runs/cyclegan")
    model: str = option("cyclegan", "cyclegan: unpaired, two generators with cycle "
                        "consistency; pix2pix: paired, one conditional GAN",
                        choices=("cyclegan", "pix2pix"))
    data: str = option("auto", "training data: a built-in set (CycleGAN: mnist_mnistm, "
                       "photo_painting, or a paired set; pix2pix: mnistm_to_mnist, "
                       "mnist_mnistm, gray_photo), a folder (CycleGAN: trainA/ and trainB/; "
                       "pix2pix: train/ of A|B side-by-side images) or tfds:NAME (CycleGAN); "
                       "auto: mnist_mnistm (CycleGAN), mnistm_to_mnist (pix2pix)")
    generator: str = option("unet", "generator: the pix2pix U-Net, or the CycleGAN paper's "
                            "ResNet with 6 or 9 residual blocks", choices=GENERATOR_NAMES)
    ngf: int = option(32, "channels of the generators' first layer (64 in the papers)",
                      unit="channels")
    ndf: int = option(32, "channels of the discriminators' first layer (64 in the papers)",
                      unit="channels")
    image_size: int = option(32, "side of the training crops (a power of two for unet, a "
                             "multiple of 4 for resnet; the digit sets are 32)", unit="px")
    load_size: int = option(0, "folders: resize to this side, then random-crop to the image "
                            "size (0: resize to the image size, no crop; the paper: 286 for "
                            "256)",
                            unit="px")
    batch_size: int = option(8, "image pairs per step, over all replicas", unit="images")
    steps: int = option(2000, "total steps of the run (a larger value extends a saved run)",
                        unit="steps")
    decay_fraction: float = option(0.5, "learning rate decays linearly to 0 over this last "
                                   "fraction of the steps, in [0, 1]", unit="fraction")
    learning_rate: float = option(2e-4, "Adam learning rate before the decay")
    beta_1: float = option(0.5, "Adam's first-moment decay")
    gan_loss: str = option("auto", "GAN objective: lsgan (least squares) or bce "
                           "(non-saturating); auto: lsgan for CycleGAN, bce for pix2pix",
                           choices=("auto", *GAN_LOSSES))
    cycle_weight: float = option(10.0, "lambda_A, weight of the forward cycle |F(G(a)) - a|")
    backward_cycle_scale: float = option(1.0, "lambda_B / lambda_A: scales the backward cycle "
                                         "|G(F(b)) - b| and the identity term |G(b) - b|",
                                         unit="factor")
    identity_weight: float = option(0.5, "identity terms, as a fraction of lambda_A for "
                                    "|F(a) - a| and of lambda_B for |G(b) - b|",
                                    unit="fraction")
    l1_weight: float = option(100.0, "pix2pix: weight of |G(a) - b|")
    pool_size: int = option(50, "CycleGAN: earlier fakes the discriminators may see "
                            "instead of the newest (0: none)", unit="images")
    precision: str = precision_option()
    seed: int = option(0, "seed of the initial weights, the pools and the data order")
    strategy: str = loop_option("strategy")
    log_every: int = loop_option("log_every")
    sample_every: int = loop_option("sample_every")
    checkpoint_every: int = loop_option("checkpoint_every")
    skip_bad_images: bool = loop_option("skip_bad_images")

    def __post_init__(self):
        self.check_choices()
        if self.data == "auto":
            self.data = BUILTIN_DATA[self.model][0]
        # pix2pix needs corresponding pairs: photo_painting and tfds sets have none
        if self.model == "pix2pix" and (self.data in UNPAIRED_DATA
                                        or self.data.startswith("tfds:")):
            raise invalid("data", f"a paired set for pix2pix (one of {', '.join(PAIRED_DATA)} "
                          "or a folder of aligned A|B images; tfds and photo_painting are "
                          "unpaired)", self.data)
        if self.gan_loss == "auto":
            self.gan_loss = "lsgan" if self.model == "cyclegan" else "bce"
        self.precision = resolve_precision(self.precision)
        self.check_positive("ngf", "ndf", "batch_size", "steps", "log_every", "sample_every",
                            "checkpoint_every", "image_size")
        self.check_numbers("decay_fraction", high=1)
        self.check_numbers("pool_size", "cycle_weight", "backward_cycle_scale",
                           "identity_weight", "l1_weight")
        if self.load_size and self.load_size < self.image_size:
            raise invalid("load_size", f"0 or >= {{}} ({self.image_size})", self.load_size,
                          refs=["image_size"])
        if self.image_size < 17:  # three stride-2 halvings must leave the PatchGAN 3 px
            raise invalid("image_size", "at least 17 (the PatchGAN discriminator's minimum)",
                          self.image_size)
        multiple = size_multiple(self.generator, self.image_size)  # U-Net: a power of two
        if self.image_size % multiple:
            raise invalid("image_size", f"a multiple of {multiple} for {self.generator}",
                          self.image_size)

    @property
    def dtype(self) -> str:
        """The Keras dtype policy of the networks."""
        return keras_policy(self.precision)

    def check_data(self) -> None:
        """Raise :class:`ConfigError` naming ``data`` unless it is a built-in
        set, ``tfds:NAME`` or an existing folder (its layout is checked where
        it is read, :mod:`data.translation`)."""
        if self.data in _builtin_names() or (self.data.startswith("tfds:") and self.data[5:]):
            return
        if not Path(self.data).is_dir():
            raise invalid("data", f"a built-in set ({', '.join(_builtin_names())}), an "
                          "existing folder or tfds:NAME", self.data)


config_from_run = TrainConfig.from_run
