"""Options of a StarGAN run (imports no TensorFlow, so ``python -m stargan
train --help`` answers at once)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.config import RunOptions, invalid, loop_option, option, precision_option
from core.precision import keras_policy, resolve_precision

__all__ = ["CELEBA_ATTRIBUTES", "DIGIT_ATTRIBUTES", "TrainConfig", "config_from_run"]

#: the paper's CelebA attributes (hair colours, sex, age)
CELEBA_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
#: the offline digits' attributes (mirrors data.digit_attributes.ATTRIBUTES, TF-free here)
DIGIT_ATTRIBUTES = ("inverted", "bold", "textured")


@dataclass
class TrainConfig(RunOptions):
    """Options of a run (saved as ``options.json`` beside the checkpoints).

    ``data``: ``digits`` (offline: MNIST with the attributes inverted, bold,
    textured; :mod:`data.digit_attributes`), ``celeba`` (``tfds`` CelebA) or a
    folder: CelebA's aligned layout (``img_align_celeba/`` and
    ``list_attr_celeba.txt``), or one subfolder of images per domain
    (exclusive domains, RaFD-style, cross-entropy classification).

    One step is one generator update after ``n_critic`` critic updates, each
    on its own batch (the official code counts critic updates: its 200,000
    iterations are 40,000 of our steps). Paper configuration (Choi et al.
    2018, CelebA): ``conditioning="planes"``, ``image_size=128``,
    ``g_conv_dim=d_conv_dim=64``, ``g_repeat_num=6``, ``d_repeat_num=6``,
    ``batch_size=16``, ``steps=40000``, ``decay_fraction=0.5``, learning
    rates 1e-4.
    """

    run_dir: str = loop_option("run_dir", "runs/stargan")
    data: str = option("digits", "training data: digits (offline MNIST attributes), celeba "
                       "(tensorflow-datasets), or a folder: aligned CelebA (img_align_celeba/ "
                       "and list_attr_celeba.txt) or one subfolder of images per domain")
    attributes: str = option("auto", "comma-separated attribute names of a CelebA source "
                             "(auto: Black_Hair,Blond_Hair,Brown_Hair,Male,Young); digits: "
                             "always inverted,bold,textured; domain folders: their subfolders")
    image_size: int = option(0, "side of the training images (0: 32 for digits, 128 for "
                             "CelebA and folders)", unit="px")
    crop_size: int = option(178, "CelebA and folders: centre crop side before resizing",
                            unit="px")
    g_conv_dim: int = option(32, "channels of the generator's first layer (64 in the paper)",
                             unit="channels")
    d_conv_dim: int = option(32, "channels of the critic's first layer (64 in the paper)",
                             unit="channels")
    conditioning: str = option("planes+norm", "how G sees the target label: planes (the "
                               "paper: tiled as extra input channels) or planes+norm (also a "
                               "label-chosen scale and shift after every instance norm, as "
                               "StarGAN v2's AdaIN; on the digits only this one learned to "
                               "invert, see benchmarks/RESULTS.md)",
                               choices=("planes", "planes+norm"))
    g_repeat_num: int = option(4, "residual blocks of the generator (6 in the paper)",
                               unit="blocks")
    d_repeat_num: int = option(0, "stride-2 convolutions of the critic (0: log2(image_size) "
                               "- 1, which leaves a 2x2 map; 6 for 128 px in the paper)",
                               unit="layers")
    batch_size: int = option(16, "images per critic update, over all replicas",
                             unit="images")
    steps: int = option(3000, "generator updates of the run (a larger value extends a saved "
                        "run; the paper's 200k critic iterations are 40k)", unit="steps")
    n_critic: int = option(5, "critic updates per generator update", unit="updates")
    lambda_cls: float = option(1.0, "weight of the domain classification losses")
    lambda_rec: float = option(10.0, "weight of the reconstruction |G(G(x, c), c_orig) - x|")
    lambda_gp: float = option(10.0, "weight of the WGAN-GP gradient penalty")
    g_lr: float = option(1e-4, "generator's Adam learning rate before the decay")
    d_lr: float = option(1e-4, "critic's Adam learning rate before the decay")
    beta_1: float = option(0.5, "Adam's first-moment decay")
    beta_2: float = option(0.999, "Adam's second-moment decay")
    decay_fraction: float = option(0.5, "learning rates decay linearly to 0 over this last "
                                   "fraction of the steps, in [0, 1]", unit="fraction")
    precision: str = precision_option()
    seed: int = option(0, "seed of the initial weights, the data order and the target labels")
    strategy: str = loop_option("strategy")
    log_every: int = loop_option("log_every", 25)
    sample_every: int = loop_option("sample_every")
    checkpoint_every: int = loop_option("checkpoint_every")
    skip_bad_images: bool = loop_option("skip_bad_images")

    def __post_init__(self):
        self.check_choices()
        self.precision = resolve_precision(self.precision)
        if self.image_size == 0:
            self.image_size = 32 if self.data == "digits" else 128
        if self.d_repeat_num == 0:
            self.d_repeat_num = max(1, self.image_size.bit_length() - 2)
        self.check_positive("g_conv_dim", "d_conv_dim", "g_repeat_num", "d_repeat_num",
                            "batch_size", "steps", "n_critic", "image_size", "crop_size",
                            "log_every", "sample_every", "checkpoint_every")
        if self.data == "digits" and self.image_size != 32:
            raise invalid("image_size", "32 (or 0) for the digits", self.image_size)
        if self.image_size % 4:  # two stride-2 downs and ups in G
            raise invalid("image_size", "a multiple of 4", self.image_size)
        if self.image_size % 2 ** self.d_repeat_num:
            raise invalid("image_size", "a multiple of 2**{} (" + str(2 ** self.d_repeat_num)
                          + ")", self.image_size, refs=["d_repeat_num"])
        self.check_numbers("decay_fraction", high=1)
        self.check_numbers("lambda_cls", "lambda_rec", "lambda_gp")
        self.check_numbers("g_lr", "d_lr", strict=True)

    @property
    def dtype(self) -> str:
        """The Keras dtype policy of the networks."""
        return keras_policy(self.precision)

    def attribute_names(self) -> tuple[str, ...]:
        """Names of the label's entries, in order (a domain folder's are its
        subfolders, sorted; raises ValueError naming ``data`` if it has none)."""
        if self.data == "digits":
            return DIGIT_ATTRIBUTES
        if self.is_domain_folder():
            names = sorted(p.name for p in Path(self.data).iterdir()
                           if p.is_dir() and not p.name.startswith("."))
            if len(names) < 2:
                raise invalid("data", "a folder with at least two domain subfolders (or "
                              "CelebA's list_attr_celeba.txt)", self.data)
            return tuple(names)
        if self.attributes == "auto":
            return CELEBA_ATTRIBUTES
        names = tuple(a.strip() for a in self.attributes.split(",") if a.strip())
        if not names:
            raise invalid("attributes", "comma-separated attribute names", self.attributes)
        return names

    def is_domain_folder(self) -> bool:
        """``data`` is a folder of per-domain subfolders (not CelebA's layout)."""
        root = Path(self.data)
        return (self.data not in ("digits", "celeba") and root.is_dir()
                and not (root / "list_attr_celeba.txt").is_file())

    @property
    def exclusive(self) -> bool:
        """Domains are exclusive (one-hot labels, cross-entropy) rather than
        independent attributes (multi-hot, binary cross-entropy)."""
        return self.is_domain_folder()

    def check_data(self) -> None:
        """Raise ConfigError naming ``data`` unless it is a built-in name or an
        existing folder."""
        if self.data in ("digits", "celeba"):
            return
        if not Path(self.data).is_dir():
            raise invalid("data", "digits, celeba or an existing folder", self.data)


config_from_run = TrainConfig.from_run
