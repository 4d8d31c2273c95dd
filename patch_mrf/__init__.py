"""Unsupervised image translation with a patch MRF (Rosales, Achan and Frey, ICCV 2003).

The output image is a grid of overlapping patches taken from style examples.
Its most probable form given the source photo combines

- a *prior* ``P(X)``: a Markov random field on the grid whose pairwise terms
  say how well neighbouring style patches agree where they overlap;
- a *likelihood* ``P(Y | X)``: how a style patch would appear as a photo
  patch, through a linear *rendering* learned by EM from unpaired examples
  (:mod:`patch_mrf.rendering`);
- MAP inference by max-product loopy belief propagation
  (:mod:`patch_mrf.inference`), the output assembled by averaging the chosen
  patches where they overlap (:mod:`patch_mrf.patches`).

Baselines: each site's nearest patch chosen independently
(``Translation.independent``), and Image Analogies when a paired example
exists (:func:`image_analogy`).

>>> from patch_mrf import translate
>>> result = translate(photo, [painting], patch_size=8, candidates=15)
>>> result.image, result.independent, result.bp.energy

The known-filter experiment of the benchmark and notebook 02b (filters with a
ground truth, the unpaired split, PSNR/SSIM): :mod:`patch_mrf.experiment`.

Command line: ``python -m patch_mrf SOURCE STYLE [STYLE...] -o OUT.png``.
NumPy and SciPy only (TensorFlow is imported by the command line's image
loader, not here).
"""

from .analogies import Analogy, image_analogy
from .config import TranslateOptions
from .inference import BPResult, icm, icm_sweep, independent_labels, min_sum_bp, mrf_energy
from .mrf import PatchMRF, Translation, build_mrf, overlap_costs, style_library, translate
from .patches import assemble_patches, dense_patches, extract_patches, grid_shape, pad_to_grid
from .rendering import RENDERINGS, PCA, Rendering, fit_pca, fit_rendering

__all__ = ["PCA", "RENDERINGS", "Analogy", "BPResult", "PatchMRF", "Rendering",
           "TranslateOptions", "Translation", "assemble_patches", "build_mrf", "dense_patches",
           "extract_patches", "fit_pca", "fit_rendering", "grid_shape", "icm", "icm_sweep",
           "image_analogy", "independent_labels", "min_sum_bp", "mrf_energy", "overlap_costs",
           "pad_to_grid", "style_library", "translate"]
