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
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.env import quiet_tensorflow  # noqa: E402

tf = quiet_tensorflow()

from benchmarks import cpu_description, write_result  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from data.figures import save_figure
    from detect.data import generators_in, load_split
    from detect.figures import matrix_figure, spectra_figure
    from detect.spectral import DEFAULT_BINS
    from detect.study import VARIANTS, perturb, robustness, train_variant

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
    perturbed = {name: perturb(split.images) for name, split in tests.items()}
    results, matrices, seconds = {}, {}, {}
    for variant in variants:
        matrices[variant], seconds[variant] = {}, {}
        for name in names:
            result = train_variant(args.data, args.runs, variant, name, steps=args.steps,
                                   batch_size=args.batch_size, seed=args.seed,
                                   show_progress=not args.quiet)
            detector, report, secs = result.detector, result.report, result.seconds
            seconds[variant][name] = round(secs, 1)
            matrices[variant][name] = {c: report["test"][c]["ap"] for c in names}
            own = report["test"][name]
            robust = robustness(detector, tests[name], perturbed[name])
            results.setdefault(name, {})[variant] = dict(own, **robust, step=detector.step)
            print(f"{variant:9s} {name:12s} AP {own['ap']:.3f} acc {own['acc']:.3f} "
                  f"(real {own['real_acc']:.2f} fake {own['fake_acc']:.2f}) | JPEG75 AP "
                  f"{robust['jpeg75']:.3f} | down2 AP {robust['down2']:.3f} | {secs:.0f}s")

    figures = [str(save_figure(spectra_figure(tests, DEFAULT_BINS), "detect_spectra", args.figures,
                               synthetic=False)),
               str(save_figure(matrix_figure(matrices, names), "detect_matrix", args.figures,
                               synthetic=False))]
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
