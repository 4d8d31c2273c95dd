"""Command line: ``python -m nst CONTENT STYLE [STYLE ...] -o OUT.png``.

Examples::

    python -m nst data/samples/grace_hopper.jpg data/samples/starry_night.jpg -o out.png
    python -m nst photo.jpg a.jpg b.jpg --blend 0.7 0.3 --optimizer lbfgs --steps 300 -o out.png
    python -m nst photo.jpg painting.jpg --preserve-color --scales 3 --steps 200 -o out.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .losses import CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m nst",
                                description="Gatys neural style transfer on VGG19.")
    p.add_argument("content", help="content image (path or URL)")
    p.add_argument("styles", nargs="+", metavar="style", help="style image(s) (path or URL)")
    p.add_argument("-o", "--output", required=True, type=Path, help="output .png")
    p.add_argument("--size", type=int, default=512, help="longer side in px (default 512)")
    p.add_argument("--steps", type=int, nargs="+", default=[1000],
                   help="loss evaluations per scale: one value, or one per scale")
    p.add_argument("--optimizer", choices=["adam", "lbfgs"], default="adam")
    p.add_argument("--lr", type=float, default=0.02, help="Adam learning rate")
    p.add_argument("--init", choices=["content", "style", "noise"], default="content")
    p.add_argument("--style-weight", type=float, default=STYLE_WEIGHT)
    p.add_argument("--content-weight", type=float, default=CONTENT_WEIGHT)
    p.add_argument("--tv-weight", type=float, default=TV_WEIGHT)
    p.add_argument("--blend", type=float, nargs="+", help="one weight per style image")
    p.add_argument("--preserve-color", action="store_true",
                   help="transfer on luminance only, keep the content's colours")
    p.add_argument("--scales", type=int, default=1,
                   help="coarse-to-fine levels, each twice the previous side (default 1)")
    p.add_argument("--precision", choices=["auto", "float32", "bfloat16"], default="auto")
    p.add_argument("--weights", default="imagenet", help="'imagenet' or a VGG19 notop .h5")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--history", type=Path, help="write the per-step loss history as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.output.suffix.lower() != ".png":
        build_parser().error(f"--output {args.output}: must end in .png")
    from data import atomic_path, load_image, save_image

    from .stylize import stylize

    try:
        content = load_image(args.content, max_side=args.size)
        styles = [load_image(s, max_side=args.size) for s in args.styles]
        steps = args.steps[0] if len(args.steps) == 1 else args.steps
        result = stylize(content, styles, style_blend=args.blend, size=args.size, steps=steps,
                         optimizer=args.optimizer, init=args.init,
                         style_weight=args.style_weight, content_weight=args.content_weight,
                         tv_weight=args.tv_weight, learning_rate=args.lr,
                         preserve_color=args.preserve_color, scales=args.scales,
                         precision=args.precision, seed=args.seed, weights=args.weights,
                         progress=not args.quiet)
    except (ValueError, OSError) as exc:  # bad input, or weights/URL unreachable
        print(f"error: {exc}", file=sys.stderr)
        return 2
    params = dict(result.params, content=str(args.content), styles=[str(s) for s in args.styles])
    save_image(args.output, result.image, generator="nst.stylize (Gatys et al., VGG19)",
               params=params)
    if args.history:
        with atomic_path(args.history) as tmp:
            tmp.write_text(json.dumps(result.history, indent=1))
    last = result.history[-1] if result.history else {}
    print(f"wrote {args.output}  loss={last.get('loss', float('nan')):.4g}  "
          f"steps={len(result.history)}  {result.seconds:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
