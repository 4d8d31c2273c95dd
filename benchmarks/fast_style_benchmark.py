"""A per-style feed-forward network (``nst.fast``) against the Gatys
optimisation it learns to replace, on the held-out content photos.

    python -m nst.fast train --run runs/fast-starry ...   # the shipped model's command:
                                                        # nst/fast/pretrained.py
    python benchmarks/fast_style_benchmark.py --run runs/fast-starry

For each held-out photo (:data:`data.photos.HELD_OUT`, never seen in
training) at ``--size`` px, the benchmark runs:

- the network: one forward pass, float32 (median of ``--repeats`` timed calls
  after a warm-up call), and the style and content loss of its output;
- Gatys: ``--gatys-steps`` L-BFGS evaluations of :func:`nst.stylize` from the
  content image (same VGG19, layers, normalisation and weights), recording
  the loss after every evaluation.

Quality is each loss of the network divided by Gatys' (aim: <= 2 on both).
Speed compares the network with the optimisation time Gatys needs to reach
the network's style loss (the first evaluation at or below it; all of
``--gatys-steps`` if it never gets there, a lower bound on the ratio); aim
>= 100x. The training wall time comes from the run's history. Writes
``benchmarks/results/fast-style-DATE.json`` (CPU model and flags included;
never overwriting one) and ``figures/fast_style.png`` (content | Gatys |
feed-forward per photo), marked synthetic.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.env import quiet_tensorflow  # noqa: E402

tf = quiet_tensorflow()

import numpy as np  # noqa: E402

from benchmarks import cpu_description, training_seconds, write_result  # noqa: E402


def seconds_to_reach(history: list[dict], style: float) -> tuple[float, int, bool]:
    """(seconds, evaluations, reached): when the optimisation's style loss
    first falls to ``style`` or below (the whole history if it never does)."""
    for row in history:
        if row["style"] <= style:
            return row["seconds"], int(row["step"]), True
    return history[-1]["seconds"], int(history[-1]["step"]), False


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="nst.fast training run folder")
    ap.add_argument("--size", type=int, default=512, help="longer side of the content "
                    "photos, px (the issue's 512)")
    ap.add_argument("--gatys-steps", type=int, default=100,
                    help="L-BFGS loss evaluations of the Gatys reference (the issue's 100)")
    ap.add_argument("--repeats", type=int, default=5,
                    help="timed forward passes per photo (the median is reported)")
    ap.add_argument("--out", type=Path, help="result JSON (default: a new file in "
                    "benchmarks/results/)")
    ap.add_argument("--figure", default="fast_style", help="figure name in figures/ "
                    "(FIGURES_DIR overrides the folder)")
    args = ap.parse_args(argv)

    from data.figures import image_grid, save_figure
    from data.images import load_image
    from data.photos import HELD_OUT, photo_path
    from nst.fast.train import batch_losses, load_run, load_style, style_grams
    from nst.fast.transformer import stylize_array
    from nst.options import CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT
    from nst.stylize import get_extractor, stylize

    config, net, step = load_run(args.run, precision="float32")
    extractor = get_extractor(config.weights, "float32")
    style, _ = load_style(config.style, config.style_size)
    grams = style_grams(extractor, style)
    weights = dict(style_weight=STYLE_WEIGHT, content_weight=CONTENT_WEIGHT,
                   tv_weight=TV_WEIGHT)

    def losses(image: np.ndarray, content: np.ndarray) -> dict[str, float]:
        out = batch_losses(extractor, tf.constant(image[None], tf.float32),
                           tf.constant(content[None], tf.float32), grams, **weights)
        return {k: float(v) for k, v in out.items()}

    photos, figure_rows = {}, []
    for name in HELD_OUT:
        content = load_image(photo_path(name), max_side=args.size)
        stylize_array(net, content)  # warm-up: traces the network at this size
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fast = stylize_array(net, content)
            times.append(time.perf_counter() - t0)
        fast_seconds = statistics.median(times)
        gatys = stylize(content, style, size=args.size, steps=args.gatys_steps,
                        optimizer="lbfgs", precision="float32", weights=config.weights,
                        progress=False, **weights)
        f, g = losses(fast, content), losses(gatys.image, content)
        reach_s, reach_n, reached = seconds_to_reach(gatys.history, f["style"])
        photos[name] = {
            "size": list(content.shape[:2]),
            "feed_forward": dict(f, seconds=fast_seconds),
            "gatys": dict(g, seconds=gatys.seconds, evaluations=len(gatys.history)),
            "style_ratio": f["style"] / g["style"],
            "content_ratio": f["content"] / g["content"],
            "gatys_to_same_style": {"seconds": reach_s, "evaluations": reach_n,
                                    "reached": reached},
            "speedup": reach_s / fast_seconds,
        }
        print(f"{name}: network {fast_seconds:.3f} s, style x{photos[name]['style_ratio']:.2f}, "
              f"content x{photos[name]['content_ratio']:.2f} of Gatys; Gatys needs "
              f"{reach_s:.0f} s ({reach_n} evaluations{'' if reached else ', not reached'}) "
              f"for the same style loss: {photos[name]['speedup']:.0f}x", flush=True)
        figure_rows += [content, gatys.image, fast]

    fig = image_grid(figure_rows, [f"{t}" for _ in HELD_OUT for t in
                                   ("content (held out)", f"Gatys, {args.gatys_steps} L-BFGS",
                                    f"feed-forward, step {step}")], ncols=3, size=3.4)
    figure = save_figure(fig, args.figure)
    report = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": cpu_description(),
        "tensorflow": tf.__version__,
        "run": str(args.run),
        "options": json.loads((Path(args.run) / "options.json").read_text()),
        "step": step,
        "training_seconds": training_seconds(args.run),
        "size": args.size,
        "gatys_steps": args.gatys_steps,
        "photos": photos,
        "worst_style_ratio": max(p["style_ratio"] for p in photos.values()),
        "worst_content_ratio": max(p["content_ratio"] for p in photos.values()),
        "min_speedup": min(p["speedup"] for p in photos.values()),
        "figure": str(figure),
        "command": "python benchmarks/fast_style_benchmark.py " + " ".join(
            argv if argv is not None else sys.argv[1:]),
    }
    path = write_result(report, "fast-style", args.out)
    print(f"worst ratios: style x{report['worst_style_ratio']:.2f}, content "
          f"x{report['worst_content_ratio']:.2f}; min speed-up {report['min_speedup']:.0f}x; "
          f"training {report['training_seconds'] / 60:.1f} min -> {path}")


if __name__ == "__main__":
    main()
