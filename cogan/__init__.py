"""GANs and Coupled GANs (Liu & Tuzel, NIPS 2016) on MNIST domains.

>>> from cogan import TrainConfig, train, pixel_agreement_of_model
>>> result = train(TrainConfig(run_dir="runs/cogan-neg", model="cogan", task="negatives",
...                            steps=3000))
>>> pixel_agreement_of_model(result.model, "negatives")
"""

from .metrics import (PAPER_TABLE, pair_scores_of_model, pixel_agreement,
                      pixel_agreement_of_model, stroke_iou)
from .models import NOISE_DIM, CoGAN, ConditionalGAN, DCGAN
from .train import MODELS, TrainConfig, TrainResult, build_model, config_from_run, sample_grid, train

__all__ = ["MODELS", "NOISE_DIM", "PAPER_TABLE", "CoGAN", "ConditionalGAN", "DCGAN",
           "TrainConfig", "TrainResult", "build_model", "config_from_run", "pair_scores_of_model",
           "pixel_agreement", "pixel_agreement_of_model", "sample_grid", "stroke_iou", "train"]
