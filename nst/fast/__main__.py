"""Command line for per-style fast style transfer (Johnson et al. 2016).

    python -m nst.fast train --style starry_night --run runs/fast-starry   # offline photos
    python -m nst.fast train --style painting.jpg --run runs/fast-p --data coco   # online
    python -m nst.fast stylize --model runs/fast-starry photo.jpg -o out.png
    python -m nst.fast export --run runs/fast-starry -o models/starry     # a SavedModel
    python -m nst.fast stylize --model models/starry photo.jpg -o out.png

Ctrl-C or SIGTERM during ``train`` saves a checkpoint; the same command
resumes. ``stylize`` takes any image size and writes a PNG marked synthetic,
never over an existing file (then to the first free ``OUT_1.png``,
``OUT_2.png``, ...); ``--model`` is a training run or a SavedModel folder (one
exported here, or Magenta's arbitrary-style model with ``--style``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli import (add_train_command, command_parser, resume_command, run_main,
                      train_from_cli)

from .config import TrainConfig

PROG = "python -m nst.fast"


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand (imports no TensorFlow)."""
    ap, sub = command_parser(PROG, __doc__)
    add_train_command(sub, TrainConfig, "train a per-style network (new run or resume one)")
    s = sub.add_parser("stylize", help="stylise an image in one forward pass")
    s.add_argument("--model", default="starry_night", metavar="RUN_OR_DIR",
                   help="a training run folder, a SavedModel folder, or the name of a network "
                   "shipped with the repository (default: starry_night, trained by the "
                   "command in nst/fast/pretrained.py)")
    s.add_argument("content", type=Path, help="content image (any size >= 5 px)")
    s.add_argument("-o", "--output", required=True, type=Path, metavar="PNG",
                   help="output .png (its folder must exist); an existing file is kept and "
                   "the image goes to the first free OUT_1.png, OUT_2.png, ...")
    s.add_argument("--max-side", type=int, default=1024, metavar="PX",
                   help="shrink the content so its longer side is at most this (0: keep its "
                   "size; default 1024)")
    s.add_argument("--style", type=Path, help="style image, for an arbitrary-style SavedModel "
                   "only (a per-style network ignores it)")
    e = sub.add_parser("export", help="export a run's network as a SavedModel with the TF-Hub "
                       "(Magenta) signature")
    e.add_argument("--run", required=True, help="training run folder")
    e.add_argument("-o", "--output", required=True, type=Path, metavar="DIR",
                   help="SavedModel folder to create")
    e.add_argument("--force", action="store_true", help="replace --output if it exists")
    return ap


def _quiet_tensorflow() -> None:
    from core.env import quiet_tensorflow

    quiet_tensorflow()


def _train(args: argparse.Namespace) -> None:
    train_from_cli(TrainConfig, args, "nst.fast.train")


def _stylize(args: argparse.Namespace) -> None:
    import time

    if args.output.suffix.lower() != ".png":
        raise ValueError(f"--output {args.output}: must end in .png")
    if not args.output.parent.is_dir():
        raise ValueError(f"--output {args.output}: the folder {args.output.parent} does not exist")
    if args.max_side < 0:
        raise ValueError(f"--max-side must be >= 0, got {args.max_side}")
    _quiet_tensorflow()
    from data.images import load_image, save_image

    from .config import MODEL
    from .export import load_stylizer

    content = load_image(args.content, max_side=args.max_side or None)
    style = load_image(args.style) if args.style else None
    stylizer = load_stylizer(args.model)
    t0 = time.perf_counter()
    image = stylizer(content, style)
    seconds = time.perf_counter() - t0
    generator = MODEL if stylizer.per_style else "nst.fast arbitrary-style SavedModel"
    params = {"model": str(args.model), "content": str(args.content),
              "style": stylizer.info.get("style", str(args.style) if args.style else None),
              "step": stylizer.info.get("step")}
    written = save_image(args.output, image, generator=generator, params=params, replace=False)
    h, w = image.shape[:2]
    print(f"wrote {written} ({w}x{h} px, {seconds:.2f}s)")


def _export(args: argparse.Namespace) -> None:
    _quiet_tensorflow()
    from .export import export_run

    print(f"wrote {export_run(args.run, args.output, force=args.force)}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    body = {"train": _train, "stylize": _stylize, "export": _export}[args.command]
    resume = resume_command(PROG, args.run) if args.command == "train" else None
    return run_main(lambda: body(args), resume=resume)


if __name__ == "__main__":
    sys.exit(main())
