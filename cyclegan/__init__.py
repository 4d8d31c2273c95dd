"""Image-to-image translation: pix2pix (Isola et al. 2017) and CycleGAN
(Zhu et al. 2017).

>>> from cyclegan import TrainConfig, train, evaluate_run
>>> result = train(TrainConfig(run_dir="runs/cyclegan-digits", data="mnist_mnistm"))
>>> evaluate_run("runs/cyclegan-digits")        # class preservation, cycle error
"""

from .evaluate import evaluate_nets, evaluate_run
from .infer import export_generator, load_exported, run_generator, translate_folder
from .losses import cycle_loss, identity_loss, l1_loss
from .models import GENERATORS, build_generator, resnet_generator, unet_generator
from .train import (
                    LinearDecay,
                    Nets,
                    TrainConfig,
                    TrainResult,
                    build_nets,
                    config_from_run,
                    load_run,
                    make_cyclegan_step,
                    make_pix2pix_step,
                    train,
)

__all__ = ["GENERATORS", "LinearDecay", "Nets", "TrainConfig", "TrainResult", "build_generator",
           "build_nets", "config_from_run", "cycle_loss", "evaluate_nets", "evaluate_run",
           "export_generator", "identity_loss", "l1_loss", "load_exported", "load_run",
           "make_cyclegan_step", "make_pix2pix_step", "resnet_generator", "run_generator",
           "train", "translate_folder", "unet_generator"]
