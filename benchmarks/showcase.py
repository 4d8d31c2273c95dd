"""Render the best results this repository produces on a CPU into ``figures/showcase/``.

    python benchmarks/showcase.py                  # all three parts (~35 min on 2 cores)
    python benchmarks/showcase.py --only nst       # nst, cogan or cyclegan

- ``nst``: Gatys style transfer with L-BFGS at 384 px on the shipped samples,
  three content/style pairs (one with the content's colours kept).
- ``cogan``: CoGAN digit / negative pairs from one noise vector each, after a
  longer run than the notebooks' (and its pixel agreement on 10,000 pairs).
- ``cyclegan``: MNIST <-> MNIST-M translations both ways and back, from a
  longer run with the best loss weights of the README's ablation (cycle 3,
  identity 0).

Training runs and NST results are kept in ``runs/showcase/``: a rerun resumes
or reuses them and only redraws the figures. Every figure carries the
synthetic-image marks in its PNG metadata and stays under 1 MB.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PARTS = ("nst", "cogan", "cyclegan")
#: (content, style, preserve_color): all shipped in data/samples
NST_PAIRS = [("grace_hopper", "starry_night", False), ("chelsea", "starry_night", False),
             ("astronaut", "starry_night", True)]
MAX_BYTES = 1_000_000


def _compact_png(path: Path, limit: int = MAX_BYTES) -> int:
    """Re-encode ``path`` with an adaptive 256-colour palette if it is larger
    than ``limit`` bytes, keeping its text metadata (the synthetic marks).
    Returns the final size."""
    from PIL import Image, PngImagePlugin

    from data.cache import atomic_path

    size = path.stat().st_size
    if size <= limit:
        return size
    with Image.open(path) as im:
        info = PngImagePlugin.PngInfo()
        for k, v in im.text.items():
            info.add_text(k, v)
        small = im.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
        buf = io.BytesIO()
        small.save(buf, format="PNG", optimize=True, pnginfo=info)
    if len(buf.getvalue()) > limit:
        raise ValueError(f"{path}: {len(buf.getvalue())} bytes even with a palette; "
                         f"lower the figure size")
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())
    return path.stat().st_size


def _save(fig, name: str, out: Path) -> Path:
    import matplotlib.pyplot as plt

    from data.figures import save_figure

    path = save_figure(fig, name, out, dpi=100)
    plt.close(fig)
    print(f"  {path} ({_compact_png(path) / 1e3:.0f} kB)", flush=True)
    return path


def showcase_nst(out: Path, runs: Path, *, size: int, steps: int) -> None:
    """Three L-BFGS stylisations at ``size`` px; results cached in ``runs/nst``."""
    from data import load_image, samples, save_image
    from data.figures import image_grid
    from nst import stylize

    for content, style, keep_colour in NST_PAIRS:
        tag = f"{content}_{style}{'_colour' if keep_colour else ''}_{size}px_{steps}"
        cached = runs / "nst" / f"{tag}.png"
        c_img = load_image(samples.path(content), max_side=size)
        s_img = load_image(samples.path(style), max_side=size)
        note = "cached"
        if not cached.exists():
            result = stylize(c_img, s_img, size=size, steps=steps, optimizer="lbfgs",
                             preserve_color=keep_colour, seed=0)
            save_image(cached, result.image, generator="nst.stylize (Gatys, VGG19, L-BFGS)",
                       params=dict(result.params, content=content, style=style))
            note = f"{result.seconds:.0f} s, loss {result.loss:.3g}"
        image = load_image(cached)  # the saved 8-bit image: a rerun draws the same figure
        print(f"nst {tag}: {note}", flush=True)
        label = f"L-BFGS, {steps} steps, {size} px" + (", content colours" if keep_colour else "")
        fig = image_grid([c_img, s_img, image], ["content", "style", label], size=4.2)
        _save(fig, f"nst_{content}{'_colour' if keep_colour else ''}", out)


def showcase_cogan(out: Path, runs: Path, *, steps: int) -> None:
    """CoGAN on task B (digits / negatives), the paper's setting at width 0.125."""
    from cogan import TrainConfig, pair_scores_of_model, sample_grid, train
    from data.figures import image_grid

    config = TrainConfig(run_dir=str(runs / "cogan_negatives"), model="cogan",
                         task="negatives", steps=steps, seed=0)
    result = train(config)
    scores = pair_scores_of_model(result.model, "negatives", n=10000)
    print(f"cogan negatives, {steps} steps: pixel agreement {scores['pixel_agreement']:.4f}, "
          f"stroke IoU {scores['stroke_iou']:.3f} (paper 0.967)", flush=True)
    grid = sample_grid(result.model, n=32, seed=7)
    fig = image_grid([grid], [f"CoGAN: digit | negative pairs, one noise vector each "
                              f"({steps} steps; pixel agreement "
                              f"{scores['pixel_agreement']:.3f})"], size=7)
    _save(fig, "cogan_negatives", out)


def showcase_cyclegan(out: Path, runs: Path, *, steps: int) -> None:
    """CycleGAN MNIST <-> MNIST-M at cycle 3 / identity 0 (the ablation's best)."""
    from cyclegan import TrainConfig, run_generator, train
    from data.figures import image_grid
    from data.mnist import load_mnist
    from data.mnistm import mnist_mnistm_test

    (x_train, _), (x_test, _) = load_mnist()
    config = TrainConfig(run_dir=str(runs / "cyclegan_digits"), data="mnist_mnistm",
                         image_size=32, ngf=32, ndf=32, batch_size=8, steps=steps, seed=0,
                         cycle_weight=3.0, identity_weight=0.0)
    result = train(config, x_train=x_train)
    a, b = mnist_mnistm_test(x_test, n=8)
    fake_b, fake_a = run_generator(result.nets.g, a), run_generator(result.nets.f, b)
    cols = [a, fake_b, run_generator(result.nets.f, fake_b),
            b, fake_a, run_generator(result.nets.g, fake_a)]
    titles = ["x (MNIST)", "G(x)", "F(G(x))", "y (MNIST-M)", "F(y)", "G(F(y))"]
    fig = image_grid([col[i] for i in range(len(a)) for col in cols], titles * len(a),
                     ncols=6, size=1.3)
    fig.suptitle(f"CycleGAN, held-out digits ({steps} steps, cycle 3, identity 0)", y=1.01)
    _save(fig, "cyclegan_digits", out)


def main(argv: list[str] | None = None) -> int:
    from core.cli import run_main

    ap = argparse.ArgumentParser(prog="python benchmarks/showcase.py",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", choices=PARTS, default=list(PARTS), metavar="PART",
                    help=f"parts to render: {', '.join(PARTS)} (default: all)")
    ap.add_argument("--out", type=Path, default=ROOT / "figures" / "showcase",
                    help="figures folder (default: figures/showcase)")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "showcase",
                    help="runs and cached results, resumed by a rerun (default: runs/showcase)")
    ap.add_argument("--nst-size", type=int, default=384, metavar="PX",
                    help="NST output's longer side (default: 384)")
    ap.add_argument("--nst-steps", type=int, default=300, metavar="N",
                    help="L-BFGS loss evaluations per NST image (default: 300)")
    ap.add_argument("--cogan-steps", type=int, default=2000, metavar="N",
                    help="CoGAN training steps (default: 2000)")
    ap.add_argument("--cyclegan-steps", type=int, default=4000, metavar="N",
                    help="CycleGAN training steps (default: 4000)")
    args = ap.parse_args(argv)

    def body() -> None:
        from core.env import quiet_tensorflow

        quiet_tensorflow()
        parts = {"nst": lambda: showcase_nst(args.out, args.runs, size=args.nst_size,
                                             steps=args.nst_steps),
                 "cogan": lambda: showcase_cogan(args.out, args.runs, steps=args.cogan_steps),
                 "cyclegan": lambda: showcase_cyclegan(args.out, args.runs,
                                                       steps=args.cyclegan_steps)}
        for name in args.only:
            wall, cpu = time.perf_counter(), time.process_time()
            parts[name]()
            print(f"[{name}] {time.perf_counter() - wall:.0f} s wall, "
                  f"{time.process_time() - cpu:.0f} s CPU", flush=True)

    cmd = "python benchmarks/showcase.py " + " ".join(sys.argv[1:] if argv is None else argv)
    return run_main(body, prog="showcase", resume=cmd.strip())


if __name__ == "__main__":
    sys.exit(main())
