"""Options of a learned face-swap run (imports no TensorFlow, so
``python -m faceswap train --help`` answers at once; resolving
``precision="auto"`` may load it to look for a GPU).

Two models share the options: the shared-encoder / two-decoder
``autoencoder`` (:mod:`faceswap.models`) and a ``cyclegan`` trained through
:mod:`cyclegan.train` on the two aligned face sets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from core.config import RunOptions, invalid, loop_option, option, precision_option
from core.precision import keras_policy, resolve_precision
from cyclegan.config import GENERATOR_NAMES

__all__ = ["BOTTLENECKS", "DOWNSAMPLES", "MODELS", "OPTIONS_FILE", "RESUMABLE", "TrainConfig",
           "config_from_run"]

MODELS = ("autoencoder", "cyclegan")
#: the autoencoder's bottleneck: convolutional (a ``latent``-channel map at
#: 1/16 of the side) or dense (``latent`` units from a 1/16-side map)
BOTTLENECKS = ("conv", "dense")
#: stride-2 stages of the encoder (the image side must be a multiple of 2**DOWNSAMPLES)
DOWNSAMPLES = 4
#: the face-swap options of a cyclegan run (its ``options.json`` holds the
#: options of :mod:`cyclegan.train`); an autoencoder run keeps them in ``options.json``
OPTIONS_FILE = "faceswap.json"
#: options that may change when a run is resumed
RESUMABLE = ("steps", "decay_fraction", "log_every", "sample_every", "checkpoint_every", "run_dir")


@dataclass
class TrainConfig(RunOptions):
    """Options of a face-swap run (saved as ``RUN/options.json``, or
    ``RUN/faceswap.json`` beside CycleGAN's own for ``model="cyclegan"``).

    ``a`` and ``b`` are faces folders written by ``python -m faceswap
    extract`` (aligned crops + ``faces.npz``); only their training faces
    (``held_out`` False) are trained on. A swap ``AtoB`` gives faces of A
    the identity of B.

    The defaults are the configuration probed on the Megamind clip (128 px,
    ~120 training faces per identity, 2 cores with native bf16, about 1.9
    steps/s): a dense 512-unit bottleneck transferred identity within 5
    minutes where a convolutional one (8 x 8 x 64) still had 0.0 one way
    after 15; the extra weight on eyes, brows and mouth made swapped faces
    re-detectable sooner (0.9 vs 0.0 at 5 minutes).
    """

    run_dir: str = loop_option("run_dir", "runs/faceswap")
    a: str = option("", "faces folder of identity A (written by `python -m faceswap extract`)")
    b: str = option("", "faces folder of identity B (written by `python -m faceswap extract`)")
    model: str = option("autoencoder", "autoencoder: one shared encoder, one decoder per "
                        "identity (the deepfakes idea); cyclegan: two generators with cycle "
                        "consistency (python -m cyclegan), trained on the two face sets",
                        choices=MODELS)
    image_size: int = option(128, "side of the face crops the model takes (faces folders of "
                             "another size are resized; a multiple of 16)", unit="px")
    batch_size: int = option(8, "faces of EACH identity per step", unit="images")
    steps: int = option(6000, "total steps of the run (a larger value extends a saved run)",
                        unit="steps")
    learning_rate: float = option(5e-4, "Adam learning rate before the decay")
    decay_fraction: float = option(0.25, "learning rate decays linearly to 0 over this last "
                                   "fraction of the steps, in [0, 1]", unit="fraction")
    beta_1: float = option(0.5, "Adam's first-moment decay")
    width: int = option(24, "channels of the first encoder layer, doubled at each of the 4 "
                        "halvings (the decoders mirror it); cyclegan: ngf and ndf",
                        unit="channels")
    bottleneck: str = option("dense", "autoencoder bottleneck: conv (a map of --latent channels "
                             "at 1/16 of the side) or dense (--latent units)",
                             choices=BOTTLENECKS)
    latent: int = option(512, "bottleneck size: channels (conv) or units (dense)",
                         unit="channels/units")
    shared_stages: int = option(2, "autoencoder: the decoders' last this many upsampling "
                                "stages (of 4) and output layers are shared by both identities",
                                unit="stages")
    l1_weight: float = option(1.0, "weight of the mean absolute error of the reconstruction")
    ssim_weight: float = option(1.0, "weight of the structural dissimilarity (1 - SSIM) / 2 "
                                "(11 px Gaussian window, sigma 1.5)")
    feature_weight: float = option(2.0, "extra L1 weight on the eyes with brows and the mouth "
                                   "(landmark hulls grown by 0.1 inter-ocular distance): what "
                                   "the detector and the landmark predictor look at")
    mask: bool = option(True, "autoencoder: a fourth output channel learns the face mask "
                        "(the landmark hull, brows raised), used when pasting back")
    mask_weight: float = option(0.5, "weight of the mask's mean absolute error")
    mask_grow: float = option(0.25, "the mask target: the landmark hull grown by this many "
                              "inter-ocular distances (more of the outline and hair is "
                              "pasted)", unit="fraction")
    warp: float = option(0.02, "random warp: standard deviation of the 5 x 5 control-point "
                         "offsets, as a fraction of the side (0: no warp); the network sees "
                         "the warped face and must produce the unwarped one",
                         unit="fraction")
    rotation: float = option(10.0, "random rotation, uniform in +-this", unit="degrees")
    zoom: float = option(0.05, "random scale, uniform in 1 +- this", unit="fraction")
    shift: float = option(0.05, "random shift, uniform in +- this fraction of the side",
                          unit="fraction")
    flip: float = option(0.5, "probability of a horizontal flip", unit="probability")
    lightness: float = option(0.3, "colour jitter: Lab lightness moved up to this fraction of "
                              "the way to white or black", unit="fraction")
    ab: float = option(0.08, "colour jitter: Lab a and b scaled by 1 +- up to this",
                       unit="fraction")
    generator: str = option("resnet6", "cyclegan: the generator (python -m cyclegan's "
                            "--generator)", choices=GENERATOR_NAMES)
    precision: str = precision_option()
    seed: int = option(0, "seed of the initial weights, the data order and the augmentation")
    strategy: str = loop_option("strategy")
    log_every: int = loop_option("log_every")
    sample_every: int = loop_option("sample_every")
    checkpoint_every: int = loop_option("checkpoint_every")

    def __post_init__(self):
        self.check_choices()
        self.precision = resolve_precision(self.precision)
        self.check_positive("image_size", "batch_size", "steps", "width", "latent",
                            "log_every", "sample_every", "checkpoint_every")
        multiple = 2 ** DOWNSAMPLES
        if self.image_size % multiple:
            raise invalid("image_size", f"a multiple of {multiple}", self.image_size)
        if self.model == "cyclegan" and self.image_size < 32:
            raise invalid("image_size", "at least 32 for --model cyclegan (the PatchGAN "
                          "discriminator's minimum)", self.image_size)
        for name in ("learning_rate", "l1_weight", "ssim_weight", "feature_weight",
                     "mask_weight", "mask_grow", "warp", "rotation", "zoom", "shift",
                     "lightness", "ab"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0):
                raise invalid(name, "a number >= 0", value)
        if not self.learning_rate > 0:
            raise invalid("learning_rate", "> 0", self.learning_rate)
        if self.shared_stages not in range(DOWNSAMPLES):
            raise invalid("shared_stages", f"an integer in 0..{DOWNSAMPLES - 1}",
                          self.shared_stages)
        if not 0 <= self.decay_fraction <= 1:
            raise invalid("decay_fraction", "in [0, 1]", self.decay_fraction)
        if not 0 <= self.beta_1 < 1:
            raise invalid("beta_1", "in [0, 1)", self.beta_1)
        if not self.l1_weight + self.ssim_weight > 0:
            raise invalid("ssim_weight", "> 0 when {} is 0", self.ssim_weight,
                          refs=["l1_weight"])
        for name in ("zoom", "shift", "lightness", "ab"):
            if getattr(self, name) >= 1:
                raise invalid(name, "a fraction in [0, 1)", getattr(self, name))
        if not 0 <= self.flip <= 1:
            raise invalid("flip", "a probability in [0, 1]", self.flip)

    @property
    def dtype(self) -> str:
        """The Keras dtype policy of the networks."""
        return keras_policy(self.precision)

    def check_faces(self) -> None:
        """Raise :class:`ConfigError` naming ``a`` or ``b`` unless each is a
        folder holding a ``faces.npz`` (its contents are checked where read)."""
        for name in ("a", "b"):
            folder = getattr(self, name)
            if not folder or not (Path(folder) / "faces.npz").is_file():
                raise invalid(name, "a faces folder with a faces.npz (written by "
                              "`python -m faceswap extract`)", folder)

    @classmethod
    def from_run(cls, run_dir, **overrides):
        """The options saved in ``run_dir/faceswap.json`` (a cyclegan run) or
        else ``run_dir/options.json`` (an autoencoder run), with ``overrides``
        and ``run_dir`` applied (ValueError naming the file if unreadable)."""
        if not Path(run_dir).is_dir():
            raise ValueError(f"--run {run_dir}: no such run folder (train one with "
                             "`python -m faceswap train`)")
        path = Path(run_dir) / OPTIONS_FILE
        if not path.is_file():
            path = Path(run_dir) / "options.json"
        try:
            saved = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: no readable options file ({exc})") from None
        names = {f.name for f in fields(cls)}
        saved = {k: v for k, v in saved.items() if k in names}
        saved.update(overrides, run_dir=str(run_dir))
        return cls(**saved)


config_from_run = TrainConfig.from_run
