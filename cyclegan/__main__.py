"""Command line for pix2pix and CycleGAN.

    python -m cyclegan train --run runs/cg-digits                         # CycleGAN, MNIST <-> MNIST-M
    python -m cyclegan train --run runs/h2z --data datasets/horse2zebra \\
        --generator resnet9 --image-size 256 --load-size 286 --batch-size 1 --steps 266800
    python -m cyclegan train --run runs/p2p --model pix2pix --data mnistm_to_mnist
    python -m cyclegan translate --run runs/h2z --input photos/ --output out/ [--direction BtoA]
    python -m cyclegan evaluate --run runs/cg-digits                      # metrics with floors
    python -m cyclegan export --run runs/h2z --output exported/h2z        # SavedModel

Ctrl-C or SIGTERM during ``train`` saves a checkpoint; the same command resumes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli import (add_train_command, command_parser, emit_json, resume_command, run_main,
                      train_from_cli)

from .config import TrainConfig

PROG = "python -m cyclegan"
#: how ``translate`` spells translate_folder()'s arguments (for error messages)
TRANSLATE_FLAGS = {"src": "--input", "dst": "--output"}


def _pixels_or_zero(text: str) -> int:
    """``--max-side``'s type: a whole number of pixels >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of pixels >= 0 (0: no limit), "
                                         f"got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand (imports no TensorFlow)."""
    ap, sub = command_parser(PROG, __doc__)
    add_train_command(sub, TrainConfig, "train a new run or resume one (pix2pix: --model pix2pix)")
    t = sub.add_parser("translate", help="translate a folder of images (any size)")
    t.add_argument("--run", required=True, help="run folder")
    t.add_argument("--input", required=True, type=Path, help="folder of images")
    t.add_argument("--output", required=True, type=Path,
                   help="folder for the PNGs, not --input (nothing is replaced: a name already "
                   "there gets _1, _2, ...)")
    t.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB",
                   help="AtoB: G; BtoA: F, CycleGAN only (default AtoB)")
    t.add_argument("--max-side", type=_pixels_or_zero, default=1024, metavar="PX",
                   help="shrink images with a longer side to this many px (0: no limit; "
                   "default 1024)")
    t.add_argument("--skip-bad-images", action="store_true",
                   help="skip unreadable images with a counted warning (default: stop and "
                   "name the first one)")
    e = sub.add_parser("evaluate", help="held-out metrics of a run, with floors")
    e.add_argument("--run", required=True, help="run folder")
    e.add_argument("-n", type=int, default=2000, help="test images (default 2000)")
    e.add_argument("--json", type=Path, help="also write the result as JSON")
    x = sub.add_parser("export", help="export a generator as a SavedModel")
    x.add_argument("--run", required=True, help="run folder")
    x.add_argument("--output", required=True, type=Path,
                   help="SavedModel folder (must be new or empty unless --force)")
    x.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB",
                   help="AtoB: G; BtoA: F, CycleGAN only (default AtoB)")
    x.add_argument("--force", action="store_true",
                   help="replace a non-empty --output (atomically: written beside it, then "
                   "renamed)")
    return ap


def _quiet_tensorflow() -> None:
    from core.env import quiet_tensorflow

    quiet_tensorflow()


def _generator(nets, direction: str):
    if direction == "AtoB":
        return nets.g
    if nets.f is None:
        raise ValueError("--direction BtoA needs a CycleGAN run (pix2pix maps A to B only)")
    return nets.f


def _train(args: argparse.Namespace) -> None:
    train_from_cli(TrainConfig, args, "cyclegan.train")


def _translate(args: argparse.Namespace) -> None:
    _quiet_tensorflow()
    from .infer import translate_folder
    from .train import load_run

    config, nets, step = load_run(args.run)
    written = translate_folder(
        _generator(nets, args.direction), args.input, args.output,
        max_side=args.max_side or None, skip_bad=args.skip_bad_images,
        params={"run": args.run, "step": step, "direction": args.direction,
                "model": config.model})
    print(f"wrote {len(written)} images to {args.output}")


def _evaluate(args: argparse.Namespace) -> None:
    _quiet_tensorflow()
    from .evaluate import evaluate_run

    emit_json(evaluate_run(args.run, n=args.n), args.json)


def _export(args: argparse.Namespace) -> None:
    _quiet_tensorflow()
    from .infer import export_generator
    from .train import load_run

    _, nets, _ = load_run(args.run)
    path = export_generator(_generator(nets, args.direction), args.output, force=args.force)
    print(f"exported to {path}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    body = {"train": _train, "translate": _translate, "evaluate": _evaluate,
            "export": _export}[args.command]
    resume = resume_command(PROG, args.run) if args.command == "train" else None
    return run_main(lambda: body(args), resume=resume, flags=TRANSLATE_FLAGS)


if __name__ == "__main__":
    sys.exit(main())
