"""StarGAN (Choi et al. 2018): one generator translates an image to any of
several domains, conditioned on the target label.

>>> from stargan import TrainConfig, train, evaluate_run
>>> result = train(TrainConfig(run_dir="runs/stargan-digits"))   # offline digits
>>> evaluate_run("runs/stargan-digits")     # attribute accuracy, content, round trip

Names load on first use, so ``python -m stargan --help`` imports no TensorFlow.
"""

from core.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["CELEBA_ATTRIBUTES", "DIGIT_ATTRIBUTES", "TrainConfig", "config_from_run"],
                    ".config"),
    **dict.fromkeys(["baseline_scores", "evaluate_nets", "evaluate_run", "parse_attrs",
                     "translate_files"], ".evaluate"),
    **dict.fromkeys(["classification_loss", "permute_labels"], ".losses"),
    **dict.fromkeys(["build_judge", "domain_name", "judge_images", "load_judge",
                     "translation_scores"], ".metrics"),
    **dict.fromkeys(["LabelPlanes", "build_discriminator", "build_generator"], ".models"),
    **dict.fromkeys(["Nets", "TrainResult", "build_nets", "domain_labels", "load_run",
                     "make_stream", "make_train_step", "sample_grid", "train", "translate"],
                    ".train"),
}
__all__ = sorted(_EXPORTS)
lazy_exports(__name__, _EXPORTS)
