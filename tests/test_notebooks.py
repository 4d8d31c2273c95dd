"""Every numbered notebook runs top to bottom in the small preset and writes
its figures (this is also what `python -m notebooks` does)."""

from __future__ import annotations

import pytest

from data import read_provenance
from notebooks.runner import execute_notebook, find_notebooks

EXPECTED_FIGURES = {  # the last one of each list holds generated images
    "01_gans": ["01_gan_loop", "01_loss_curves", "01_samples_over_training",
                "01_final_samples"],
    "02_image_to_image": ["02_unet", "02_patchgan", "02_pairs", "02_loss_curves", "02_metrics",
                          "02_results", "02_colorization"],
    "03_cogan": ["03_weight_sharing", "03_domains", "03_agreement_table", "03_pairs_edges",
                 "03_pairs_negatives"],
    "05_cyclegan": ["05_cycle", "05_domains", "05_loss_curves", "05_metrics", "05_translations",
                    "05_photo_painting"],
    "04_neural_style_transfer": ["04_feature_maps", "04_gram_matrices", "04_high_frequencies",
                                 "04_triptych", "04_progress", "04_loss_curves",
                                 "04_adam_vs_lbfgs", "04_multiscale_vs_single",
                                 "04_stylized_adam"],
}


def test_every_notebook_is_covered():
    assert {p.stem for p in find_notebooks()} == set(EXPECTED_FIGURES)


@pytest.mark.parametrize("notebook", find_notebooks(), ids=lambda p: p.stem)
def test_notebook_runs_in_small_preset(notebook, tmp_path):
    figures = tmp_path / "figures"
    executed = execute_notebook(notebook, preset="small", figures_dir=figures,
                                output_dir=tmp_path / "executed", runs_dir=tmp_path / "runs",
                                timeout=1200)
    assert executed.exists()
    for name in EXPECTED_FIGURES[notebook.stem]:
        path = figures / f"{name}.png"
        assert path.exists(), f"{notebook.name} did not write {path.name}"
        assert path.stat().st_size > 5_000
    # figures holding generated images carry the synthetic marker
    marked = EXPECTED_FIGURES[notebook.stem][-1]
    assert read_provenance(figures / f"{marked}.png")["AI-Generated"] == "true"
