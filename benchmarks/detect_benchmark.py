"""Detectors of the repository's own fakes: in distribution, across
generators and after post-processing.

    python -m detect build-data --out data_detect --builtin dcgan --from runs/cyclegan_digits \\
        --from runs/stargan ... --n-train 1000 --n-test 500
    python benchmarks/detect_benchmark.py --data data_detect

For every generator folder G of ``--data`` and every detector variant
(``spectral``: Durall et al.'s azimuthal spectrum + logistic regression;
``cnn``: the small CNN with Wang et al.'s blur + JPEG augmentation;
``cnn_noaug``: the same CNN without it) a detector is trained on G's train
split alone (runs under ``--runs``; a finished CNN run is reused, an
interrupted one resumes). Then, on test splits:

- in distribution: AP and accuracy at 0.5 on G's own test split (target AP
  >= 0.99), with the accuracy on reals and on fakes apart (calibration);
- generalisation: the matrix of AP, trained on the row's generator, tested
  on the column's (off the diagonal: generators the detector never saw);
- robustness: AP on G's test split after JPEG at quality 75 and after
  downscaling by 2 (Pillow), for every variant (with and without the
  augmentation).

Writes ``benchmarks/results/detect-DATE.json`` (never overwriting one) with
the date, CPU model and flags, settings, training times and every number, and
the figures ``detect_spectra.png`` (mean azimuthal spectrum of real and fake
test images per generator) and ``detect_matrix.png`` (the AP matrices) in
``--figures``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.env import quiet_tensorflow  # noqa: E402

tf = quiet_tensorflow()

import numpy as np  # noqa: E402

from benchmarks import cpu_description, write_result  # noqa: E402

VARIANTS = {"spectral": {"detector": "spectral"},
            "cnn": {"detector": "cnn", "augment": True},
            "cnn_noaug": {"detector": "cnn", "augment": False}}


def train_variant(data: Path, runs: Path, variant: str, generator: str, args) -> tuple:
    """(detector, report, seconds) of ``variant`` trained on ``generator`` alone."""
    from detect.config import TrainConfig
    from detect.train import train

    config = TrainConfig(run_dir=str(runs / f"{variant}_{generator}"), data=str(data),
                         generators=generator, steps=args.steps, batch_size=args.batch_size,
                         seed=args.seed, checkpoint_every=args.steps, sample_every=args.steps,
                         **VARIANTS[variant])
    t0 = time.perf_counter()
    result = train(config, show_progress=not args.quiet)
    return result.detector, result.report, time.perf_counter() - t0


def spectra_figure(tests: dict, bins: int, folder: Path) -> Path:
    """Mean azimuthal spectrum of real and fake test images, one panel per generator."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from data.figures import save_figure
    from detect.spectral import MAX_RADIUS, spectra

    names = list(tests)
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    freq = (np.arange(bins) + 0.5) * MAX_RADIUS / bins
    for ax in axes.ravel():
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names):
        ax.axis("on")
        split = tests[name]
        feats = spectra(split.images, bins)
        for label, colour, text in ((0, "tab:blue", "real"), (1, "tab:red", "fake")):
            rows_ = feats[split.labels == label]
            mean, std = rows_.mean(0), rows_.std(0)
            ax.plot(freq, mean, color=colour, label=text)
            ax.fill_between(freq, mean - std, mean + std, color=colour, alpha=0.15)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("radial frequency (cycles/px)")
        ax.grid(alpha=0.3)
    axes.ravel()[0].set_ylabel("log |F|, min-max per image")
    axes.ravel()[0].legend(fontsize=8)
    fig.suptitle("Azimuthally averaged spectra of test images (mean +- std)")
    fig.tight_layout()
    path = save_figure(fig, "detect_spectra", folder, synthetic=False)
    plt.close(fig)
    return path


def matrix_figure(matrices: dict, names: list, folder: Path) -> Path:
    """One heatmap of AP per variant: rows trained on, columns tested on."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from data.figures import save_figure

    n = len(names)
    fig, axes = plt.subplots(1, len(matrices), figsize=(1.0 + 0.75 * n * len(matrices) + 1.5,
                                                        1.0 + 0.7 * n), squeeze=False)
    for ax, (variant, matrix) in zip(axes.ravel(), matrices.items()):
        grid = np.array([[matrix[r][c] for c in names] for r in names])
        ax.imshow(grid, vmin=0.5, vmax=1.0, cmap="viridis")
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if grid[i, j] < 0.8 else "black")
        ax.set_xticks(range(n), names, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(n), names, fontsize=8)
        ax.set_title(f"{variant}: AP", fontsize=10)
        ax.set_xlabel("tested on")
    axes.ravel()[0].set_ylabel("trained on")
    fig.tight_layout()
    path = save_figure(fig, "detect_matrix", folder, synthetic=False)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    from detect.data import downscale, generators_in, jpeg, load_split
    from detect.metrics import average_precision
    from detect.spectral import DEFAULT_BINS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, type=Path,
                    help="dataset folder (python -m detect build-data)")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "detect_benchmark",
                    help="folder of the detector runs (default runs/detect_benchmark)")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help=f"comma-separated subset of {', '.join(VARIANTS)}")
    ap.add_argument("--steps", type=int, default=1500, help="CNN training steps (default 1500)")
    ap.add_argument("--batch-size", type=int, default=64, help="CNN batch (default 64)")
    ap.add_argument("--seed", type=int, default=0, help="seed of every detector (default 0)")
    ap.add_argument("--figures", type=Path, default=ROOT / "figures",
                    help="folder of the figures (default figures/)")
    ap.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/"
                    "detect-DATE.json, never overwriting)")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"--variants: unknown {unknown[0]!r}; expected {', '.join(VARIANTS)}")

    names = generators_in(args.data)
    tests = load_split(args.data, "test")
    perturbed = {name: {"jpeg75": jpeg(split.images, 75), "down2": downscale(split.images, 2)}
                 for name, split in tests.items()}
    results, matrices, seconds = {}, {}, {}
    for variant in variants:
        matrices[variant], seconds[variant] = {}, {}
        for name in names:
            detector, report, secs = train_variant(args.data, args.runs, variant, name, args)
            seconds[variant][name] = round(secs, 1)
            matrices[variant][name] = {c: report["test"][c]["ap"] for c in names}
            own = report["test"][name]
            robust = {kind: average_precision(tests[name].labels, detector.logits(images))
                      for kind, images in perturbed[name].items()}
            results.setdefault(name, {})[variant] = dict(own, **robust, step=detector.step)
            print(f"{variant:9s} {name:12s} AP {own['ap']:.3f} acc {own['acc']:.3f} "
                  f"(real {own['real_acc']:.2f} fake {own['fake_acc']:.2f}) | JPEG75 AP "
                  f"{robust['jpeg75']:.3f} | down2 AP {robust['down2']:.3f} | {secs:.0f}s")

    figures = [str(spectra_figure(tests, DEFAULT_BINS, args.figures)),
               str(matrix_figure(matrices, names, args.figures))]
    report = {
        "benchmark": "detect", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": cpu_description(), "data": str(args.data),
        "settings": {"variants": variants, "cnn_steps": args.steps,
                     "batch_size": args.batch_size, "seed": args.seed,
                     "spectral_bins": DEFAULT_BINS,
                     "test_images": {n: len(s.labels) for n, s in tests.items()}},
        "in_distribution": results,
        "matrix_ap": matrices,
        "train_seconds": seconds,
        "figures": figures,
        "notes": "matrix_ap[variant][trained_on][tested_on]; jpeg75/down2: AP on the "
                 "trained-on generator's test split after Pillow JPEG q75 / bilinear "
                 "downscaling by 2 (detectors never see these at test time otherwise)."}
    path = write_result(report, "detect", args.out)
    print(f"wrote {path} and {', '.join(figures)}")


if __name__ == "__main__":
    main()
