"""Command line for pix2pix and CycleGAN.

    python -m cyclegan train --run runs/cg-digits                         # CycleGAN, MNIST <-> MNIST-M
    python -m cyclegan train --run runs/h2z --data datasets/horse2zebra \\
        --generator resnet9 --image-size 256 --load-size 286 --batch-size 1 --steps 266800
    python -m cyclegan train --run runs/p2p --model pix2pix --data mnistm_to_mnist
    python -m cyclegan translate --run runs/h2z --input photos/ --output out/ [--direction BtoA]
    python -m cyclegan evaluate --run runs/cg-digits                      # metrics with floors
    python -m cyclegan export --run runs/h2z --output exported/h2z        # SavedModel
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _train_parser(sub) -> None:
    from core.loop import add_config_arguments

    from .train import TrainConfig

    p = sub.add_parser("train", help="train a new run or resume one (pix2pix: --model pix2pix)")
    p.add_argument("--run", required=True, help="run folder (resumed if it has checkpoints)")
    add_config_arguments(p, TrainConfig)
    p.add_argument("--quiet", action="store_true")


def _generator(nets, direction: str):
    if direction == "AtoB":
        return nets.g
    if nets.f is None:
        raise ValueError("--direction BtoA needs a CycleGAN run (pix2pix maps A to B only)")
    return nets.f


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cyclegan", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    t = sub.add_parser("translate", help="translate a folder of images (any size)")
    t.add_argument("--run", required=True)
    t.add_argument("--input", required=True, type=Path, help="folder of images")
    t.add_argument("--output", required=True, type=Path, help="folder for the PNGs")
    t.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB")
    t.add_argument("--max-side", type=int, default=1024,
                   help="shrink images with a longer side to this many px (0: no limit)")
    e = sub.add_parser("evaluate", help="held-out metrics of a run, with floors")
    e.add_argument("--run", required=True)
    e.add_argument("-n", type=int, default=2000, help="test images")
    e.add_argument("--json", type=Path, help="also write the result as JSON")
    x = sub.add_parser("export", help="export a generator as a SavedModel")
    x.add_argument("--run", required=True)
    x.add_argument("--output", required=True, type=Path)
    x.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB")
    args = ap.parse_args(argv)

    try:
        if args.command == "train":
            from core.loop import config_for_cli

            from .train import TrainConfig, train

            config = config_for_cli(TrainConfig, args.run, args)
            result = train(config, show_progress=not args.quiet)
            print(f"{args.run}: step {config.steps} ({result.seconds:.0f}s this session)")
        elif args.command == "translate":
            from .infer import translate_folder
            from .train import load_run

            config, nets, step = load_run(args.run)
            written = translate_folder(
                _generator(nets, args.direction), args.input, args.output,
                max_side=args.max_side or None,
                params={"run": args.run, "step": step, "direction": args.direction,
                        "model": config.model})
            print(f"wrote {len(written)} images to {args.output}")
        elif args.command == "evaluate":
            from .evaluate import evaluate_run

            out = evaluate_run(args.run, n=args.n)
            print(json.dumps(out, indent=2))
            if args.json:
                from data import atomic_path

                with atomic_path(args.json) as tmp:
                    tmp.write_text(json.dumps(out, indent=2))
        else:
            from .infer import export_generator
            from .train import load_run

            _, nets, _ = load_run(args.run)
            print(f"exported to {export_generator(_generator(nets, args.direction), args.output)}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
