"""Render a photo in the style of example images with a patch MRF (Rosales, Achan and Frey 2003).

    python -m patch_mrf photo.jpg painting.jpg -o out.png                  # BP, EM rendering
    python -m patch_mrf photo.jpg style1.png style2.png -o out.png --patch-size 6 --overlap 2
    python -m patch_mrf photo.jpg painting.jpg -o out.png --method independent   # baseline
    python -m patch_mrf photo.jpg a_filtered.png --paired-photo a.png -o out.png # Image Analogies

The output is made of the style images' patches (chosen by loopy belief
propagation over a grid of overlapping patches) and written as PNG marked
synthetic in its metadata; an existing file is never replaced (a free name
OUT_1.png, OUT_2.png, ... is used instead).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli import add_config_arguments, run_main
from core.config import invalid

from .config import TranslateOptions

PROG = "python -m patch_mrf"
METHODS = ("bp", "independent")


def build_parser() -> argparse.ArgumentParser:
    """The parser (imports no TensorFlow)."""
    head, _, rest = __doc__.partition("\n\n")
    ap = argparse.ArgumentParser(prog=PROG, description=head, epilog=rest,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", type=Path, metavar="SOURCE", help="the photo to render")
    ap.add_argument("styles", type=Path, nargs="+", metavar="STYLE",
                    help="style example image(s): their patches make the output")
    ap.add_argument("-o", "--output", type=Path, required=True,
                    help="output PNG (never replaced: a free numbered name is used instead)")
    ap.add_argument("--size", type=int, default=128, metavar="PX",
                    help="longer side of the source and the output; bigger photos are shrunk "
                    "(time grows with the pixel count: a few seconds at 128 px on 2 cores) "
                    "[px; default 128]")
    ap.add_argument("--style-size", type=int, default=256, metavar="PX",
                    help="longer side each style image is shrunk to; sets the scale of the "
                    "style's strokes relative to the source [px; default 256]")
    ap.add_argument("--examples", type=Path, nargs="+", default=[], metavar="PHOTO",
                    help="more photos (unpaired) from which EM learns how the style renders "
                    "photos; the source itself is always used")
    ap.add_argument("--method", choices=METHODS, default="bp",
                    help="bp: loopy belief propagation over the patch MRF; independent: each "
                    "site's nearest patch (the baseline) [default bp]")
    ap.add_argument("--paired-photo", type=Path, metavar="A",
                    help="the photo the single STYLE is a rendering of (same size, aligned): "
                    "run Image Analogies (Hertzmann et al. 2001, single scale) instead of the "
                    "patch MRF")
    ap.add_argument("--kappa", type=float, default=2.0,
                    help="Image Analogies' coherence weight (with --paired-photo; 0: best "
                    "match only) [default 2.0]")
    add_config_arguments(ap, TranslateOptions, resumable=False)
    return ap


def _check_output(path: Path) -> None:
    if path.suffix.lower() != ".png":
        raise ValueError(f"--output {path}: expected a .png file name")
    if path.is_dir():
        raise ValueError(f"--output {path}: is a directory, expected a file name")
    if not path.parent.is_dir():
        raise ValueError(f"--output {path}: the folder {path.parent} does not exist")


def _load(path: Path, max_side: int, patch: int, flag: str) -> "np.ndarray":  # noqa: F821
    from data.images import load_image

    image = load_image(path, max_side=max_side)
    h, w = image.shape[:2]
    if min(h, w) < patch:
        raise ValueError(f"{path}: {w}x{h} px (after {flag} {max_side}) is smaller than a "
                         f"patch (--patch-size {patch}); use a bigger image or smaller patches")
    return image


def _run(args: argparse.Namespace) -> None:
    given = {k: v for k, v in vars(args).items()
             if k in TranslateOptions.__dataclass_fields__ and v is not None}
    options = TranslateOptions(**given)
    options.check()
    for name in ("size", "style_size"):
        if getattr(args, name) < 1:
            raise invalid(name, "a positive number of pixels", getattr(args, name))
    if args.paired_photo is not None:
        if len(args.styles) != 1:
            raise ValueError("--paired-photo: Image Analogies takes exactly one STYLE (the "
                             f"rendering of the paired photo), got {len(args.styles)}")
        if not args.kappa >= 0:
            raise invalid("kappa", ">= 0", args.kappa)
    _check_output(args.output)

    from core.env import quiet_tensorflow

    quiet_tensorflow()  # load_image resizes with tf.image
    from data.images import save_image

    patch = options.patch_size
    source = _load(args.source, args.size, patch, "--size")
    params = {"source": args.source.name, "styles": [s.name for s in args.styles]}
    if args.paired_photo is not None:
        from .analogies import image_analogy

        a_prime = _load(args.styles[0], args.style_size, 3, "--style-size")
        a = _load(args.paired_photo, args.style_size, 3, "--style-size")
        if a.shape != a_prime.shape:
            raise ValueError(f"--paired-photo {args.paired_photo}: {a.shape[1]}x{a.shape[0]} px "
                             f"but STYLE {args.styles[0]} is {a_prime.shape[1]}x"
                             f"{a_prime.shape[0]} px; a pair must have one size")
        result = image_analogy(a, a_prime, source, kappa=args.kappa)
        image, generator = result.image, "patch_mrf image analogies (Hertzmann et al. 2001)"
        params.update(paired_photo=args.paired_photo.name, kappa=args.kappa)
        summary = f"coherent pixels {result.coherent:.0%}"
    else:
        from .mrf import translate

        styles = [_load(s, args.style_size, patch, "--style-size") for s in args.styles]
        examples = [_load(e, args.size, patch, "--size") for e in args.examples]
        result = translate(source, styles, examples=examples, **options.as_kwargs())
        image = result.image if args.method == "bp" else result.independent
        generator = "patch_mrf (patch MRF, Rosales et al. 2003)"
        params.update(result.options, method=args.method,
                      examples=[e.name for e in args.examples])
        energy = (result.bp.energy[-1] if args.method == "bp" and result.bp.energy
                  else result.mrf.energy(result.independent_labels))
        summary = f"MRF energy {energy:.4g}, {result.seconds['total']:.1f}s"
    written = save_image(args.output, image, generator=generator, params=params, replace=False)
    h, w = image.shape[:2]
    print(f"wrote {written} ({w}x{h} px, {summary})")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: _run(args), flags={"output": "--output"})


if __name__ == "__main__":
    sys.exit(main())
