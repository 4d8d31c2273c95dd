"""Command line for StarGAN.

    python -m stargan train --run runs/sg-digits                  # offline digits, small model
    python -m stargan train --run runs/sg-celeba --data celeba_folder/ --image-size 128 \\
        --g-conv-dim 64 --d-conv-dim 64 --g-repeat-num 6 --steps 40000   # the paper's CelebA
    python -m stargan translate --run runs/sg-digits --input digit.png --output out.png \\
        --attrs bold=1,inverted=0
    python -m stargan evaluate --run runs/sg-digits               # metrics with baselines

Ctrl-C or SIGTERM during ``train`` saves a checkpoint; the same command resumes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli import (add_train_command, command_parser, emit_json, resume_command, run_main,
                      train_from_cli)

from .config import TrainConfig

PROG = "python -m stargan"


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand (imports no TensorFlow)."""
    ap, sub = command_parser(PROG, __doc__)
    add_train_command(sub, TrainConfig, "train a new run or resume one")
    t = sub.add_parser("translate", help="translate an image or a folder of images to a "
                       "target domain")
    t.add_argument("--run", required=True, help="run folder")
    t.add_argument("--input", required=True, type=Path,
                   help="an image, or a folder of images, of the run's size (digits: 32x32) "
                   "and 3 channels (grey images are read as RGB)")
    t.add_argument("--output", required=True, type=Path,
                   help="output PNG for one image, or a folder for a folder (nothing is "
                   "replaced: a name already there gets _1, _2, ...)")
    t.add_argument("--attrs", required=True,
                   help="target domain as NAME=0|1 pairs, e.g. bold=1,inverted=0; attributes "
                   "not named keep each input's value, which the run cannot know, so name "
                   "them all unless the run has exclusive domains (then name one: smile=1)")
    e = sub.add_parser("evaluate", help="held-out metrics of a digits run, with baselines")
    e.add_argument("--run", required=True, help="run folder")
    e.add_argument("-n", type=int, default=1000, help="held-out inputs, each translated to "
                   "all 8 domains (default 1000)")
    e.add_argument("--json", type=Path, help="also write the result as JSON")
    return ap


def _quiet_tensorflow() -> None:
    from core.env import quiet_tensorflow

    quiet_tensorflow()


def _train(args: argparse.Namespace) -> None:
    train_from_cli(TrainConfig, args, "stargan.train")


def _translate(args: argparse.Namespace) -> None:
    _quiet_tensorflow()
    from .evaluate import translate_files

    written = translate_files(args.run, args.input, args.output, args.attrs)
    print(f"wrote {len(written)} image{'s' * (len(written) != 1)}: "
          + (str(written[0]) if len(written) == 1 else str(args.output)))


def _evaluate(args: argparse.Namespace) -> None:
    _quiet_tensorflow()
    from .evaluate import evaluate_run

    emit_json(evaluate_run(args.run, n=args.n), args.json)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    body = {"train": _train, "translate": _translate, "evaluate": _evaluate}[args.command]
    resume = resume_command(PROG, args.run) if args.command == "train" else None
    return run_main(lambda: body(args), resume=resume)


if __name__ == "__main__":
    sys.exit(main())
