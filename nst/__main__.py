"""Command line: ``python -m nst CONTENT STYLE [STYLE ...] -o OUT.png``.

Every flag is checked, the images are read and ``-o`` is tried for writing
before TensorFlow and VGG19 load. No file is ever replaced: if ``-o`` exists
(an earlier result), the image goes beside it as ``STEM_1.png`` (``_2``, ...).
Ctrl-C or SIGTERM during the optimisation saves the image so far, marked
partial in its metadata, to ``-o``, or, if that file exists, beside it as
``STEM.partial.png`` (``_1``, ``_2``, ... if taken) (exit 130 / 143).
``--help`` imports no TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
from pathlib import Path

from core.cli import Interrupted, run_main
from core.precision import PRECISIONS

from .options import (ADAM_DEFAULTS, CONTENT_WEIGHT, INITS, OPTIMIZERS, STYLE_WEIGHT, TV_WEIGHT,
                      check_settings, scale_schedule, style_blend_weights)

PROG = "python -m nst"
EXAMPLES = f"""examples:
  # a quick first result: 256 px, 100 L-BFGS steps
  {PROG} data/samples/grace_hopper.jpg data/samples/starry_night.jpg \\
      --size 256 --optimizer lbfgs --steps 100 -o out.png

  # two styles blended 70/30, coarse-to-fine at 512 px, content colours kept
  {PROG} photo.jpg a.jpg b.jpg --blend 0.7 0.3 --optimizer lbfgs --scales 2 \\
      --steps 200 100 --preserve-color -o out.png
"""

#: stylize()'s arguments this command line spells differently (for error
#: messages; the others are the name with dashes, ``tv_weight`` -> ``--tv-weight``)
FLAGS = {"style_blend": "--blend", "learning_rate": "--lr"}


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option's default (lists as typed), and the epilog's layout kept."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" in text or action.required or action.default in (None, argparse.SUPPRESS):
            return text
        if not action.option_strings:
            return text
        default = action.default
        if isinstance(default, (list, tuple)):
            default = " ".join(map(str, default))
        return f"{text} (default: {str(default).replace('%', '%%')})"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, formatter_class=_HelpFormatter, epilog=EXAMPLES,
                                description="Gatys neural style transfer: optimise the pixels "
                                            "of an image so that its VGG19 features match\nthe "
                                            "content image's and its Gram matrices the style "
                                            "image's.")
    p.add_argument("content", help="content image (path or http(s) URL)")
    p.add_argument("styles", nargs="+", metavar="style",
                   help="style image(s) (path or URL); several are blended, see --blend")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="PNG",
                   help="output .png (its folder must exist); an existing file is kept and "
                        "the image goes to STEM_1.png (_2, ...); on Ctrl-C the image so far "
                        "is saved there, or beside it as STEM.partial.png if the file exists")
    p.add_argument("--size", type=int, default=512, metavar="PX",
                   help="longer side of the output in pixels (>= 16)")
    p.add_argument("--steps", type=int, nargs="+", default=[1000], metavar="N",
                   help="loss evaluations per scale: one count, or one per scale")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                   help="adam: the TensorFlow tutorial's; lbfgs: Gatys et al.'s, fewer steps "
                        "for the same loss")
    p.add_argument("--lr", type=float, default=ADAM_DEFAULTS["learning_rate"],
                   help="Adam learning rate (pixel values are in [0, 1])")
    p.add_argument("--init", choices=INITS, default="content",
                   help="start from the content image, the (first) style image or uniform noise")
    p.add_argument("--style-weight", type=float, default=STYLE_WEIGHT, metavar="W",
                   help="weight of the style (Gram matrix) loss")
    p.add_argument("--content-weight", type=float, default=CONTENT_WEIGHT, metavar="W",
                   help="weight of the content (block5_conv2 feature) loss")
    p.add_argument("--tv-weight", type=float, default=TV_WEIGHT, metavar="W",
                   help="weight of the total-variation (smoothness) loss")
    p.add_argument("--blend", type=float, nargs="+", metavar="W",
                   help="one weight per style image, normalised to sum 1 (default: equal)")
    p.add_argument("--preserve-color", action="store_true",
                   help="transfer on luminance only and keep the content's colours")
    p.add_argument("--scales", type=int, default=1, metavar="N",
                   help="coarse-to-fine levels, each twice the previous side")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="VGG19 compute: auto is float32, or where the CPU has native bf16, "
                        "bf16 for the bulk and float32 for the last steps (at least the last "
                        "10%%; L-BFGS switches when its bf16 search stalls), so the result is "
                        "the float32 optimum; bf16 or float32 force one throughout "
                        "(DEEPFAKE_LAB_PRECISION=float32|bf16 sets what auto means)")
    p.add_argument("--weights", default="imagenet", metavar="SOURCE",
                   help="'imagenet' (Keras download, else an offline mirror) or the path of a "
                        "VGG19 notop .h5")
    p.add_argument("--seed", type=int, default=0, help="seed of --init noise")
    p.add_argument("--history", type=Path, metavar="JSON",
                   help="also write the per-step loss history as JSON to this file "
                        "(default: not written)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def check_writable(path: Path, name: str) -> None:
    """Raise unless ``path`` (a file to create or replace) can be written:
    ValueError for a missing folder or a directory in its place, OSError
    (naming ``name`` and the path) when the folder refuses a new file. The
    probe file is removed again."""
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{name} {path}: {folder} is a file, not a folder")
    if not folder.is_dir():
        raise ValueError(f"{name} {path}: the folder {folder} does not exist")
    if path.is_dir():
        raise ValueError(f"{name} {path}: is a directory, expected a file name")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write there ({exc.strerror})", f"{name} {path}") from None
    os.close(fd)
    os.unlink(probe)


def _write_history(path: Path, history: list, *, replace: bool = True) -> Path:
    """Write ``history`` as JSON to ``path`` (``replace=False``: to its first
    free numbered name, see :func:`data.cache.write_new`); return the path."""
    from data.cache import atomic_path, numbered, write_new

    text = json.dumps(history, indent=1)
    if not replace:
        return write_new(numbered(path), lambda tmp: tmp.write_text(text))
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def _partial(path: Path) -> Path:
    """Where an interrupted run saves what belongs in ``path``: ``path``
    itself unless it exists, else ``STEM.partial.SUFFIX`` beside it."""
    return path.with_name(f"{path.stem}.partial{path.suffix}") if path.exists() else path


def _run(args: argparse.Namespace) -> int:
    if args.output.suffix.lower() != ".png":
        raise ValueError(f"--output {args.output}: must end in .png")
    steps = args.steps[0] if len(args.steps) == 1 else args.steps
    check_settings(size=args.size, optimizer=args.optimizer, init=args.init,
                   precision=args.precision, style_weight=args.style_weight,
                   content_weight=args.content_weight, tv_weight=args.tv_weight,
                   learning_rate=args.lr)
    style_blend_weights(args.blend, len(args.styles))
    scale_schedule(args.scales, steps)
    if args.weights != "imagenet" and not Path(args.weights).is_file():
        raise ValueError(f"--weights {args.weights}: file not found (expected 'imagenet' or the "
                         "path of vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5)")
    check_writable(args.output, "--output")
    if args.history:
        check_writable(args.history, "--history")

    from core.env import quiet_tensorflow

    quiet_tensorflow()  # before anything imports it (load_image resizes with tf.image)
    from data import load_image, save_image

    content = load_image(args.content, max_side=args.size)
    styles = [load_image(s, max_side=args.size) for s in args.styles]
    # the module, not the function nst.stylize
    stylize_module = importlib.import_module("nst.stylize")
    try:
        result = stylize_module.stylize(
            content, styles, style_blend=args.blend, size=args.size, steps=steps,
            optimizer=args.optimizer, init=args.init, style_weight=args.style_weight,
            content_weight=args.content_weight, tv_weight=args.tv_weight, learning_rate=args.lr,
            preserve_color=args.preserve_color, scales=args.scales, precision=args.precision,
            seed=args.seed, weights=args.weights, progress=not args.quiet)
        interrupted = None
    except stylize_module.StylizeInterrupted as exc:
        if not exc.result.history:  # stopped before the first step: nothing new to keep
            raise Interrupted(exc.signum) from None
        result, interrupted = exc.result, exc
    params = dict(result.params, content=str(args.content), styles=[str(s) for s in args.styles])
    done = interrupted is None
    # never replace what the user has (an earlier result): take the next free name
    out = save_image(args.output if done else _partial(args.output), result.image,
                     generator="nst.stylize (Gatys et al., VGG19)", params=params,
                     replace=False)
    if args.history:
        history = _write_history(args.history if done else _partial(args.history),
                                 result.history, replace=False)
    if not done:
        h, w = result.image.shape[:2]
        raise Interrupted(interrupted.signum,
                          f"partial image (step {len(result.history)} of "
                          f"{sum(result.params['steps'])}, {w}x{h} px) saved to {out}"
                          + (f", its loss history to {history}" if args.history else ""))
    print(f"wrote {out}" + (f" (history: {history})" if args.history else "")
          + f"  loss={result.loss:.4g}  "
          f"steps={len(result.history)}  {result.seconds:.1f}s")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: _run(args), flags=FLAGS)


if __name__ == "__main__":
    sys.exit(main())
