"""The patch MRF (Rosales et al. 2003) against a known style: PSNR and SSIM of
belief propagation, independent nearest patches and Image Analogies, the
learned rendering against none, the energy per iteration, times at 128 and
256 px, and an artistic example (a photo in the style of The Starry Night).

    python benchmarks/patch_mrf_benchmark.py            # about 3-5 min on 2 cores

Protocol (offline, :mod:`data.photos`): a known filter makes the style. The
training photos are cut in half; the filtered *left* halves are the style
examples and the unfiltered *right* halves the photos EM learns the
rendering from, so no style example is a rendering of any photo the method
sees (unpaired; :mod:`patch_mrf.experiment`). Each held-out photo (:data:`data.photos.HELD_OUT`) is
translated and compared with the same filter applied to it. Image Analogies
is given what the MRF is not: the aligned pair (left halves, their filtered
versions). Filters:

- ``painterly``: OpenCV's edge-preserving smoothing, a colour grade (sepia
  mixed with a channel rotation), posterisation to 5 levels;
- ``stylization``: OpenCV's ``cv2.stylization`` (its defaults);
- ``posterise``: Gaussian blur (1 px) then 4 levels per channel.

Each MRF's choices are also assembled softly
(:meth:`patch_mrf.PatchMRF.render_weighted`): each site's candidates weighted
by BP's min-marginals (beliefs), or by the likelihood alone (the independent
choice's), at one temperature chosen on the training photos; and their plain
mean. This separates what BP's inference adds from what averaging adds.

Every method is scored with :func:`cyclegan.metrics.paired_scores` (PSNR in
dB and SSIM, ``tf.image``). Writes ``benchmarks/results/patch_mrf-DATE.json``
(never overwriting one) and the figures ``figures/patch_mrf_benchmark.png``
and ``figures/patch_mrf_starry_night.png`` (marked synthetic).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.env import quiet_tensorflow  # noqa: E402

tf = quiet_tensorflow()

import numpy as np  # noqa: E402

from benchmarks import cpu_description, write_result  # noqa: E402
from patch_mrf.experiment import (FILTERS, TRAIN_PHOTOS, WEIGHTED_TEMPERATURE,  # noqa: E402
                                  best_of_candidates, energy_never_rises, load_photos,
                                  painterly, scores, unpaired_split)

def known_filter_study(size: int, settings: dict[str, dict], held_out, filters, renderings,
                       kappa: float, temperature: float) -> tuple[dict, dict]:
    """Scores per filter, held-out photo and method (each MRF run under each
    of ``settings`` (name -> options) and each rendering; the choices also
    assembled softly at ``temperature``, :meth:`patch_mrf.PatchMRF.render_weighted`);
    and the images of the first filter and photo (for the figure)."""
    from patch_mrf import image_analogy, translate

    photos = load_photos(TRAIN_PHOTOS, size)
    tests = load_photos(held_out, size)
    out, shown = {}, {}
    for fname in filters:
        filt = FILTERS[fname]
        styles, examples, a, a_prime = unpaired_split(photos, filt)
        out[fname] = {}
        for name, photo in tests.items():
            truth = filt(photo)
            row = {"identity_photo": scores(photo, truth)}
            for (setting, options), rendering in itertools.product(settings.items(),
                                                                    renderings):
                result = translate(photo, styles, examples=examples, rendering=rendering,
                                   **options)
                key = f"{setting}_{rendering}"
                row[key] = {
                    "bp": scores(result.image, truth),
                    "independent": scores(result.independent, truth),
                    "best_candidate_of_k": scores(best_of_candidates(result.mrf, truth), truth),
                    "energy": [round(e, 4) for e in result.bp.energy],
                    "initial_energy": round(result.bp.initial_energy, 4),
                    "energy_never_rises": energy_never_rises(result.bp.energy, result.bp.initial_energy),
                    "raw_bp_decoding_rises": int(sum(
                        b > a for a, b in zip(result.bp.decoded_energy,
                                              result.bp.decoded_energy[1:]))),
                    "em_objective": [round(o, 4) for o in result.mrf.rendering.objective],
                    "seconds": {k: round(v, 2) for k, v in result.seconds.items()}}
                row[key]["bp_minus_independent_db"] = round(
                    row[key]["bp"]["psnr"] - row[key]["independent"]["psnr"], 3)
                # one assembly for both: candidates weighted by BP's min-marginals or by the
                # likelihood alone; and their plain mean (does averaging, not BP, win PSNR?)
                mrf = result.mrf
                row[key]["weighted"] = {
                    "temperature": temperature,
                    "bp": scores(mrf.render_weighted(result.bp.beliefs, temperature), truth),
                    "independent": scores(mrf.render_weighted(mrf.unary, temperature), truth),
                    "mean_of_k": scores(mrf.render_weighted(mrf.unary, np.inf), truth)}
                print(f"{fname:11s} {name:12s} {key:16s} BP {row[key]['bp']['psnr']:6.2f} dB"
                      f" / {row[key]['bp']['ssim']:.3f}  independent "
                      f"{row[key]['independent']['psnr']:6.2f} / "
                      f"{row[key]['independent']['ssim']:.3f}  best-of-K "
                      f"{row[key]['best_candidate_of_k']['psnr']:6.2f}  energy "
                      f"{result.bp.initial_energy:.3f}->{result.bp.energy[-1]:.3f} "
                      f"monotone {row[key]['energy_never_rises']}  "
                      f"{result.seconds['total']:.1f}s; weighted: BP "
                      f"{row[key]['weighted']['bp']['psnr']:6.2f}  independent "
                      f"{row[key]['weighted']['independent']['psnr']:6.2f}  mean of K "
                      f"{row[key]['weighted']['mean_of_k']['psnr']:6.2f}", flush=True)
                if not shown:
                    shown = {"photo": photo, "truth": truth, "bp": result.image,
                             "independent": result.independent, "result": result,
                             "filter": fname, "name": name}
            start = time.perf_counter()
            analogy = image_analogy(a, a_prime, photo, kappa=kappa)
            seconds = time.perf_counter() - start
            best_match = image_analogy(a, a_prime, photo, kappa=0.0)
            row["image_analogies"] = dict(scores(analogy.image, truth), kappa=kappa,
                                          coherent=round(analogy.coherent, 3),
                                          seconds=round(seconds, 2))
            row["image_analogies_best_match"] = dict(scores(best_match.image, truth), kappa=0.0)
            print(f"{fname:11s} {name:12s} Image Analogies kappa {kappa}: "
                  f"{row['image_analogies']['psnr']:6.2f} dB / "
                  f"{row['image_analogies']['ssim']:.3f}; best match only "
                  f"{row['image_analogies_best_match']['psnr']:6.2f} / "
                  f"{row['image_analogies_best_match']['ssim']:.3f}  ({seconds:.1f}s)",
                  flush=True)
            if shown.get("name") == name and shown.get("filter") == fname:
                shown["analogy"] = analogy.image
            out[fname][name] = row
    return out, shown


def summary(study: dict, runs) -> dict:
    """Means over filters and photos of each method's PSNR/SSIM, and the BP
    minus independent gain per rendering."""
    def mean(values):
        return round(float(np.mean(values)), 3)

    rows = [row for per_photo in study.values() for row in per_photo.values()]
    out = {"n_cases": len(rows)}
    for key in runs:
        for method in ("bp", "independent", "best_candidate_of_k"):
            for metric in ("psnr", "ssim"):
                out[f"{key}_{method}_{metric}"] = mean([r[key][method][metric] for r in rows])
        out[f"{key}_bp_minus_independent_db"] = mean(
            [r[key]["bp_minus_independent_db"] for r in rows])
        out[f"{key}_bp_gain_cases_over_0.5_db"] = sum(
            r[key]["bp_minus_independent_db"] >= 0.5 for r in rows)
        out[f"{key}_energy_never_rises"] = all(r[key]["energy_never_rises"] for r in rows)
        for name, method in (("bp_weighted", "bp"), ("independent_weighted", "independent"),
                             ("mean_of_k", "mean_of_k")):
            for metric in ("psnr", "ssim"):
                out[f"{key}_{name}_{metric}"] = mean(
                    [r[key]["weighted"][method][metric] for r in rows])
        out[f"{key}_bp_minus_independent_weighted_db"] = mean(
            [r[key]["weighted"]["bp"]["psnr"] - r[key]["weighted"]["independent"]["psnr"]
             for r in rows])
    for method in ("image_analogies", "image_analogies_best_match", "identity_photo"):
        for metric in ("psnr", "ssim"):
            out[f"{method}_{metric}"] = mean([r[method][metric] for r in rows])
    return out


def timing(sizes, options: dict) -> dict:
    """Seconds of one translation (painterly style) per source size; style
    examples and EM photos at the same scale."""
    from patch_mrf import translate

    out = {}
    for size in sizes:
        photos = load_photos(TRAIN_PHOTOS, size)
        styles, examples, _, _ = unpaired_split(photos, painterly)
        photo = load_photos(("grace_hopper",), size)["grace_hopper"]
        result = translate(photo, styles, examples=examples, **options)
        rows, cols = result.labels.shape
        out[str(size)] = {"image": list(photo.shape[:2]), "sites": rows * cols,
                          "library_patches": int(len(result.mrf.library)),
                          **{k: round(v, 2) for k, v in result.seconds.items()}}
        print(f"{size} px ({photo.shape[1]}x{photo.shape[0]}, {rows * cols} sites, "
              f"{len(result.mrf.library)} style patches): {result.seconds['total']:.1f}s "
              f"(build {result.seconds['build']:.1f}s, BP {result.seconds['inference']:.1f}s)",
              flush=True)
    return out


def artistic(size: int, style_size: int, options: dict, figure: Path) -> dict:
    """A held-out photo in the style of The Starry Night; figure with the
    style, the independent choice, BP and the energy per iteration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from data.figures import save_figure
    from data.images import load_image
    from data.samples import path as sample_path
    from patch_mrf import translate

    photo = load_photos(("grace_hopper",), size)["grace_hopper"]
    painting = load_image(sample_path("starry_night"), max_side=style_size)
    result = translate(photo, [painting], **options)
    fig, axes = plt.subplots(1, 5, figsize=(17, 3.8),
                             gridspec_kw={"width_ratios": [1, 1.6, 1, 1, 1.2]})
    for ax, image, title in zip(axes, (photo, painting, result.independent, result.image),
                                ("photo (held out)", "style: The Starry Night",
                                 "independent nearest patches", "loopy BP (MAP)")):
        ax.imshow(np.clip(image, 0, 1))
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    energy = [result.bp.initial_energy] + result.bp.energy
    axes[4].plot(range(len(energy)), energy, "o-", ms=3, label="labelling kept")
    axes[4].plot(range(1, len(energy)), result.bp.decoded_energy, ".", ms=3, alpha=0.6,
                 label="raw BP decoding")
    axes[4].set_xlabel("iteration")
    axes[4].set_ylabel("MRF energy")
    axes[4].legend(fontsize=8)
    fig.suptitle("Patch MRF (Rosales et al. 2003): output made of the painting's patches, "
                 "synthetic image", fontsize=10)
    fig.tight_layout()
    path = save_figure(fig, figure.name, figure.parent)
    plt.close(fig)
    print("figure", path)
    return {"photo": "grace_hopper", "size": list(photo.shape[:2]),
            "style_size": list(painting.shape[:2]), "energy": [round(e, 4) for e in energy],
            "energy_never_rises": energy_never_rises(result.bp.energy, result.bp.initial_energy),
            "seconds": {k: round(v, 2) for k, v in result.seconds.items()},
            "figure": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)}


def comparison_figure(shown: dict, figure: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from data.figures import image_grid, save_figure

    images = [shown["photo"], shown["truth"], shown["analogy"], shown["independent"],
              shown["bp"]]
    titles = [f"{shown['name']} (held out)", f"truth: {shown['filter']} filter",
              "Image Analogies (paired)", "independent nearest patches",
              "patch MRF + BP (unpaired)"]
    fig = image_grid(images, titles, size=3.0)
    path = save_figure(fig, figure.name, figure.parent)
    print("figure", path)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=128, help="longer side of every image in "
                    "the known-filter study, px (default 128)")
    ap.add_argument("--filters", nargs="+", choices=tuple(FILTERS), default=list(FILTERS),
                    help="known filters making the style (default: all)")
    ap.add_argument("--held-out", nargs="+", default=["grace_hopper", "astronaut"],
                    help="photos translated and scored (default: data.photos.HELD_OUT)")
    ap.add_argument("--renderings", nargs="+", default=["em", "identity"],
                    choices=("em", "wct", "identity"),
                    help="likelihoods compared: em (learned), identity (none), wct")
    ap.add_argument("--kappa", type=float, default=2.0,
                    help="Image Analogies' coherence weight (default 2)")
    ap.add_argument("--temperature", type=float, default=WEIGHTED_TEMPERATURE,
                    help="temperature of the weighted assembly, in unary-cost units (default "
                    f"{WEIGHTED_TEMPERATURE}: patch_mrf.experiment.WEIGHTED_TEMPERATURE, chosen "
                    "on the training photos)")
    ap.add_argument("--timing-sizes", nargs="*", type=int, default=[128, 256],
                    help="sizes of the timing runs, px (default 128 256)")
    ap.add_argument("--no-artistic", action="store_true", help="skip the Starry Night example")
    ap.add_argument("--figure", type=Path, default=ROOT / "figures" / "patch_mrf_benchmark.png",
                    help="figure: one held-out photo by each method")
    ap.add_argument("--artistic-figure", type=Path,
                    default=ROOT / "figures" / "patch_mrf_starry_night.png",
                    help="figure: the artistic example and its energy per iteration")
    ap.add_argument("--out", type=Path, help="result JSON (default: a new dated file)")
    args = ap.parse_args(argv)

    from patch_mrf import TranslateOptions

    options = {k: v for k, v in TranslateOptions().as_kwargs().items() if k != "rendering"}
    # the package defaults, and smaller patches (more sites, finer detail)
    settings = {"patch8": options, "patch5": dict(options, patch_size=5, overlap=2)}
    report = {"cpu": cpu_description(), "settings": settings, "size": args.size,
              "train_photos": list(TRAIN_PHOTOS), "held_out": args.held_out,
              "protocol": "style = filter(left halves of the training photos); EM photos = "
                          "their right halves (unpaired); Image Analogies gets the aligned "
                          "pair (left halves, filtered left halves)"}
    start = time.perf_counter()
    study, shown = known_filter_study(args.size, settings, args.held_out, args.filters,
                                      args.renderings, args.kappa, args.temperature)
    report["known_filter"] = study
    report["summary"] = summary(study, [f"{s}_{r}" for s in settings for r in args.renderings])
    comparison_figure(shown, args.figure)
    report["timing_seconds"] = timing(args.timing_sizes, options)
    if not args.no_artistic:
        report["artistic"] = artistic(256, 256, dict(options, rendering="em"),
                                      args.artistic_figure)
    report["benchmark_seconds"] = round(time.perf_counter() - start, 1)
    print(f"CPU: {report['cpu']['model']}  flags: {' '.join(report['cpu']['flags'])}")
    for key, value in report["summary"].items():
        print(f"  {key}: {value}")
    print("written", write_result(report, "patch_mrf", args.out))


if __name__ == "__main__":
    main()
