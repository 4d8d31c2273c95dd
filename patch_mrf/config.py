"""The options of a patch-MRF translation, declared once: their meaning,
unit and allowed values feed the command line's flags and help
(:func:`core.cli.add_config_arguments`) and :meth:`TranslateOptions.check`.

Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from core.config import RunOptions, invalid, option

from .rendering import RENDERINGS

__all__ = ["TranslateOptions"]


@dataclass
class TranslateOptions(RunOptions):
    """Options of :func:`patch_mrf.translate` (and of ``python -m patch_mrf``)."""

    patch_size: int = option(8, "side of the square patches the output is made of", unit="px")
    overlap: int = option(3, "pixels shared by neighbouring patches (the grid step is "
                          "patch size minus overlap); compatibility is measured there",
                          unit="px")
    candidates: int = option(15, "K: style patches considered per site, the nearest by the "
                             "likelihood", unit="patches")
    iterations: int = option(30, "loopy belief-propagation iterations", unit="iterations")
    damping: float = option(0.5, "message damping of belief propagation in [0, 1): the share "
                            "of the old message kept (tames oscillation on the loopy grid)")
    pairwise_weight: float = option(0.3, "weight of the overlap compatibility (prior) against "
                                    "the likelihood; 0 gives the independent nearest patches")
    icm: bool = option(True, "improve the best labelling by an ICM sweep after every BP "
                       "iteration (the energy then never rises)")
    rendering: str = option("em", "how style patches are compared with source patches: em "
                            "(linear rendering learned by EM from the unpaired images), wct "
                            "(moment matching only) or identity (as they are)",
                            choices=RENDERINGS)
    em_iterations: int = option(10, "EM iterations of the rendering", unit="iterations")
    dims: int = option(16, "PCA dimensions of the patch features", unit="dimensions")
    style_step: int = option(1, "stride of the style patches taken from the style images",
                             unit="px")
    max_library: int = option(60_000, "at most this many style patches (a random subset "
                              "beyond)", unit="patches")
    seed: int = option(0, "seed of the random subsets (library, EM samples); the result is "
                       "deterministic for a seed")

    def check(self) -> None:
        """Raise :class:`core.config.ConfigError` naming the first bad option."""
        self.check_choices()
        self.check_positive("candidates", "em_iterations", "dims", "style_step", "max_library")
        for name in ("iterations", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise invalid(name, "an integer >= 0", value)
        self.check_positive("patch_size")
        if self.patch_size < 2:
            raise invalid("patch_size", "an integer >= 2", self.patch_size)
        self.check_positive("overlap")
        if self.overlap >= self.patch_size:
            raise invalid("overlap", f"smaller than {{}} ({self.patch_size})", self.overlap,
                          refs=["patch_size"])
        self.check_numbers("pairwise_weight")
        self.check_numbers("damping")
        if not self.damping < 1.0:
            raise invalid("damping", "in [0, 1)", self.damping)

    def as_kwargs(self) -> dict:
        """The options as keyword arguments of :func:`patch_mrf.translate`."""
        return dataclasses.asdict(self)
