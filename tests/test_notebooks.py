"""Every numbered notebook runs top to bottom in the `test` preset (the fewest
steps that still run every cell) and writes figures with real content; the
runner keeps its outputs out of git; the Colab links and the packaging agree
with pyproject.toml."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from data import read_provenance
from notebooks import runner
from notebooks.runner import PRESETS, execute_notebook, find_notebooks

ROOT = Path(__file__).resolve().parents[1]

EXPECTED_FIGURES = {  # the last one of each list holds generated images
    "01_gans": ["01_gan_loop", "01_loss_curves", "01_samples_over_training",
                "01_final_samples"],
    "02_image_to_image": ["02_unet", "02_patchgan", "02_pairs", "02_loss_curves", "02_metrics",
                          "02_results", "02_colorization"],
    "02b_bayesian_patch_translation": ["02b_unpaired_examples", "02b_rendering", "02b_candidates",
                                       "02b_energy", "02b_known_filter", "02b_artistic"],
    "03_cogan": ["03_weight_sharing", "03_domains", "03_agreement_table", "03_pairs_edges",
                 "03_pairs_negatives"],
    "05_cyclegan": ["05_cycle", "05_domains", "05_loss_curves", "05_metrics", "05_translations",
                    "05_photo_painting"],
    "06_face_swap": ["06_identities", "06_landmarks_alignment", "06_aligned_faces",
                     "06_classical_steps", "06_loss_curves", "06_heldout_swaps", "06_metrics",
                     "06_video_strip"],
    "04_neural_style_transfer": ["04_feature_maps", "04_gram_matrices", "04_high_frequencies",
                                 "04_triptych", "04_progress", "04_loss_curves",
                                 "04_adam_vs_lbfgs", "04_multiscale_vs_single",
                                 "04_fast_stylized", "04_fast_training",
                                 "04_fast_vs_optimisation", "04_stylized_adam"],
    "07_stargan": ["07_one_generator", "07_domains", "07_loss_curves", "07_translations",
                   "07_metrics", "07_attribute_sweep"],
    "08_detection": ["08_examples", "08_provenance", "08_spectra", "08_augmentation", "08_scores",
                     "08_matrix", "08_robustness", "08_verdicts"],
}

# TensorFlow's start-up lines (oneDNN, CPU features, CUDA probe, absl), as TF 2.21 prints them
TF_STARTUP = re.compile(r"absl::InitializeLog|oneDNN custom operations|cuda drivers"
                        r"|cpu_feature_guard|cuInit|rebuild TensorFlow")


def figure_problems(png: bytes | Path, *, generated: bool) -> list[str]:
    """What makes a figure blank or near-uniform (empty list: it has content).

    The PNG is cut into 8x8 tiles with colours rounded to 32 levels per
    channel; a flat panel (an empty axes, a uniform grey "sample") repeats the
    same tile, real content (curves, text, digits, photos) rarely does.
    Calibrated on this repository's figures (test and small presets): plots and
    diagrams have >= 8.9% distinct tiles, figures with generated images >= 26%;
    matplotlib figures holding only empty axes, flat curves, blank tables or
    uniform image panels have <= 7.6%. ``generated``: the figure shows
    generated images (synthetic mark), which must not be flat.
    """
    data = png.read_bytes() if isinstance(png, Path) else png
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    problems = []
    if rgb.astype(np.float32).std() < 10:
        problems.append(f"pixel std {rgb.std():.1f} < 10 (near-uniform)")
    t = 8
    h, w = (rgb.shape[0] // t) * t, (rgb.shape[1] // t) * t
    tiles = (rgb[:h, :w] >> 3).reshape(h // t, t, w // t, t, 3).transpose(0, 2, 1, 3, 4)
    tiles = tiles.reshape(-1, t * t * 3)
    distinct = len(np.unique(tiles, axis=0)) / max(len(tiles), 1)
    floor = 0.2 if generated else 0.07
    if distinct < floor:
        problems.append(f"only {distinct:.1%} distinct 8x8 tiles (< {floor:.0%}: flat panels)")
    return problems


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def test_figure_check_rejects_blank_figures_and_accepts_content():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from data.figures import image_grid

    rng = np.random.default_rng(0)
    blank = {
        "white": plt.figure(figsize=(6, 4)),
        "grey samples": image_grid([np.full((32, 32, 3), 0.5)] * 12, ["G(x)"] * 12, ncols=6,
                                   size=1.4),
        "black panels": image_grid([np.zeros((128, 128, 3))] * 3, ["Content", "Style", "Out"]),
    }
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(range(100), np.ones(100), label="flat loss")
    ax.set_xlabel("step"); ax.set_ylabel("loss"); ax.grid(alpha=0.3); ax.legend()
    ax.set_title("a flat curve")
    blank["flat curve"] = fig
    for name, fig in blank.items():
        assert figure_problems(_png(fig), generated=name != "flat curve"), name
        plt.close(fig)
    digits = rng.random((12, 32, 32, 3)) ** 4  # dark background, bright strokes
    fig = image_grid(list(digits), ["G(x)"] * 12, ncols=6, size=1.4)
    assert figure_problems(_png(fig), generated=True) == []
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = np.arange(300)
    for k in range(3):
        ax.plot(steps, np.exp(-steps / (50 + 40 * k)) + 0.05 * rng.random(300), label=f"t{k}")
    ax.set_yscale("log"); ax.legend(); ax.grid(alpha=0.3)
    assert figure_problems(_png(fig), generated=False) == []
    plt.close("all")


def test_every_notebook_is_covered():
    assert {p.stem for p in find_notebooks()} == set(EXPECTED_FIGURES)


@pytest.mark.parametrize("notebook", find_notebooks(), ids=lambda p: p.stem)
def test_notebook_runs_in_test_preset(notebook, tmp_path):
    figures = tmp_path / "figures"
    executed = execute_notebook(notebook, preset="test", figures_dir=figures,
                                output_dir=tmp_path / "executed", runs_dir=tmp_path / "runs",
                                timeout=600)
    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:  # the set-up cell silenced TensorFlow's start-up lines
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            assert not TF_STARTUP.search(text), f"{notebook.name}: TensorFlow log: {text[:200]}"
    for name in EXPECTED_FIGURES[notebook.stem]:
        path = figures / f"{name}.png"
        assert path.exists(), f"{notebook.name} did not write {path.name}"
        generated = read_provenance(path).get("AI-Generated") == "true"
        assert figure_problems(path, generated=generated) == [], path.name
    # figures holding generated images carry the synthetic marker
    marked = EXPECTED_FIGURES[notebook.stem][-1]
    assert read_provenance(figures / f"{marked}.png")["AI-Generated"] == "true"


def _code_cells(book: Path) -> list[str]:
    return [c.source for c in nbformat.read(book, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("preset", list(PRESETS))
def test_parameters_cell_defines_every_preset(preset, monkeypatch):
    """The parameters cell (plain Python, no imports beyond os) picks the
    preset named by DEEPFAKE_PRESET in every notebook."""
    monkeypatch.setenv("DEEPFAKE_PRESET", preset)
    for book in find_notebooks():
        cells = nbformat.read(book, as_version=4).cells
        params = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1, f"{book.name}: one cell tagged 'parameters'"
        namespace: dict = {}
        exec(params[0].source, namespace)  # noqa: S102 - the repository's own cell
        assert namespace["PRESET"] == preset
        assert set(namespace["PRESETS"]) == set(PRESETS), book.name


def _repository() -> str:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return meta["urls"]["Repository"].rstrip("/")


def test_colab_badges_and_clone_cell_use_pyprojects_repository():
    repo = _repository()
    owner_name = repo.removeprefix("https://github.com/")
    readme = (ROOT / "README.md").read_text()
    for book in find_notebooks():
        badge = (f"https://colab.research.google.com/github/{owner_name}/blob/main/"
                 f"notebooks/{book.name}")
        cells = nbformat.read(book, as_version=4).cells
        assert cells[0].cell_type == "markdown" and badge in cells[0].source, book.name
        assert badge in readme, f"README has no Colab badge for {book.name}"
        colab = cells[1]
        assert colab.cell_type == "code" and f'"{repo}"' in colab.source, book.name
        # outside Colab the cell does nothing: only the guarded branch acts
        namespace: dict = {}
        cwd = os.getcwd()
        exec(colab.source, namespace)  # noqa: S102 - the repository's own cell
        assert os.getcwd() == cwd and "REPOSITORY" not in namespace
        assert 'if "google.colab" in sys.modules:' in colab.source


def test_runner_writes_to_ignored_folders_and_gallery_only_on_request(tmp_path, monkeypatch):
    """`python -m notebooks` puts figures under build/ (ignored); the committed
    gallery changes only with --update-gallery."""
    def fake_execute(path, *, preset, figures_dir, output_dir=None, runs_dir=None, timeout=0):
        Path(figures_dir).mkdir(parents=True, exist_ok=True)
        (Path(figures_dir) / f"{path.stem[:2]}_fig.png").write_bytes(b"png")
        out = Path(output_dir) / path.name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("{}")
        return out

    monkeypatch.setattr(runner, "ROOT", tmp_path)
    monkeypatch.setattr(runner, "execute_notebook", fake_execute)
    assert runner.main(["--preset", "small", "--only", "01"]) == 0
    assert (tmp_path / "build" / "figures" / "small" / "01_fig.png").exists()
    assert (tmp_path / "build" / "notebooks" / "small" / "01_gans.ipynb").exists()
    assert not (tmp_path / "figures").exists()
    (tmp_path / "figures" / "small").mkdir(parents=True)
    kept = tmp_path / "figures" / "small" / "99_kept.png"
    kept.write_bytes(b"old")
    assert runner.main(["--preset", "small", "--only", "01", "--update-gallery"]) == 0
    assert (tmp_path / "figures" / "small" / "01_fig.png").read_bytes() == b"png"
    assert kept.read_bytes() == b"old"  # nothing the gallery had is deleted
    # and git ignores what a run writes (the real repository's .gitignore)
    if (ROOT / ".git").exists():
        paths = ["build/figures/small/01_gan_loop.png", "build/notebooks/small/01_gans.ipynb",
                 "runs/small/01_dcgan_small/options.json", "figures/interactive/01_x.png",
                 ".venv/bin/python"]
        done = subprocess.run(["git", "check-ignore", *paths], cwd=ROOT, capture_output=True,
                              text=True)
        assert sorted(done.stdout.split()) == sorted(paths)


def test_runner_rejects_an_unknown_notebook_in_one_line(capsys):
    assert runner.main(["--only", "99"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--only 99" in err[0] and "01_gans" in err[0]


def _names(requirements: list[str]) -> dict[str, str]:
    out = {}
    for line in requirements:
        line = line.split("#")[0].strip()
        if line:
            name = re.split(r"[<>=!~\[ ;]", line, maxsplit=1)[0].lower().replace("_", "-")
            out[name] = line.replace(" ", "")
    return out


def test_runtime_dependencies_exclude_test_and_notebook_tools():
    """`pip install -e .` installs the runtime only; requirements.txt (the
    README's set-up) is the runtime plus the [dev] and [notebooks] extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _names(project["dependencies"])
    extras = {k: {n: r for n, r in _names(v).items() if n != project["name"]}  # [dev] pulls
              for k, v in project["optional-dependencies"].items()}           # [notebooks] in
    assert not {"pytest", "jupyter", "nbclient", "nbformat", "ipykernel"} & set(runtime)
    assert "pytest" in extras["dev"] and {"jupyter", "nbclient", "nbformat",
                                           "ipykernel"} <= set(extras["notebooks"])
    everything = dict(runtime)
    for reqs in extras.values():
        everything.update(reqs)
    listed = _names((ROOT / "requirements.txt").read_text().splitlines())
    assert listed == {k: v for k, v in everything.items() if k in listed}
    assert set(listed) == set(everything)


def test_runner_help_does_not_import_tensorflow():
    code = ("import sys\nfrom notebooks.runner import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)
