"""Face swap end to end: extract faces, swap them (classical, autoencoder or
CycleGAN), paste them back into images and videos, and measure the result.

    python -m faceswap swap SOURCE.jpg TARGET.jpg -o OUT.png           # classical, one pair
    python -m faceswap extract megamind --out build/faces/megamind --identities 2
    python -m faceswap extract VIDEO_OR_FOLDER --out FACES_DIR         # one person
    python -m faceswap train --run runs/fs --a FACES_A --b FACES_B [--model autoencoder|cyclegan]
    python -m faceswap convert --run runs/fs --input VIDEO_OR_IMAGE --output OUT --direction AtoB
    python -m faceswap evaluate --run runs/fs                          # identity, realism, pose

Only swap faces of people who consented; everything written is marked as
synthetic (PNG metadata, a visible label and a JSON sidecar on videos).
Ctrl-C or SIGTERM during ``train`` saves a checkpoint; the same command resumes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli import (add_train_command, command_parser, emit_json, resume_command, run_main,
                      train_from_cli)

from .config import TrainConfig
from .convert import DIRECTIONS, MASKS
from .faces import DETECTORS

PROG = "python -m faceswap"


def _positive(kind: type):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
        return value
    return parse


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand (imports no TensorFlow)."""
    ap, sub = command_parser(PROG, __doc__)

    s = sub.add_parser("swap", help="classical swap of the face in SOURCE onto TARGET")
    s.add_argument("source", type=Path, help="image whose face is pasted (the donor)")
    s.add_argument("target", type=Path, help="image that receives the face (its size is kept)")
    s.add_argument("-o", "--output", required=True, type=Path,
                   help="PNG to write (refused if it exists, unless --force)")
    s.add_argument("--detector", choices=DETECTORS, default="hog",
                   help="face detector: hog (dlib, default), mtcnn (TensorFlow) or haar (OpenCV)")
    s.add_argument("--no-colour", action="store_true",
                   help="keep the donor's colours (default: Reinhard Lab transfer to the target)")
    s.add_argument("--no-seamless", action="store_true",
                   help="feathered alpha blend only (default: then cv2.seamlessClone)")
    s.add_argument("--force", action="store_true", help="replace --output if it exists")

    e = sub.add_parser("extract", help="detect, landmark and align the faces of a video, "
                       "folder or image")
    e.add_argument("source", help="video file, folder of images, one image, or 'megamind' "
                   "(OpenCV's sample clip, fetched offline from Debian's opencv-doc)")
    e.add_argument("--out", required=True, type=Path,
                   help="faces folder to create (refused if it holds faces already)")
    e.add_argument("--size", type=_positive(int), default=128, metavar="PX",
                   help="side of the aligned crops in pixels (default 128)")
    e.add_argument("--identities", type=_positive(int), default=1, metavar="K",
                   help="cluster the faces into K identities by their dlib embeddings, one "
                   "sub-folder each (default 1)")
    e.add_argument("--held-out", type=_fraction, default=0.15, metavar="FRAC",
                   help="last contiguous fraction of each identity's frames kept for "
                   "evaluation (default 0.15)")
    e.add_argument("--detector", choices=DETECTORS, default="hog",
                   help="face detector (default hog)")
    e.add_argument("--min-face", type=_positive(int), default=80, metavar="PX",
                   help="ignore faces narrower than this many pixels (default 80)")
    e.add_argument("--every", type=_positive(int), default=1, metavar="N",
                   help="use every N-th video frame (default 1)")
    e.add_argument("--quiet", action="store_true", help="no progress bar")

    add_train_command(sub, TrainConfig, "train an autoencoder or CycleGAN swap, or resume one")

    c = sub.add_parser("convert", help="swap the faces of an image or video with a trained run")
    c.add_argument("--run", required=True, help="run folder of `train`")
    c.add_argument("--input", required=True, type=Path, help="image or video")
    c.add_argument("--output", required=True, type=Path,
                   help="image (.png) or video (.mp4/.avi) of the same size and frame count "
                   "(refused if it exists, unless --force)")
    c.add_argument("--direction", choices=tuple(DIRECTIONS), default="AtoB",
                   help="AtoB: faces of identity A get B's identity (default); BtoA: the reverse")
    c.add_argument("--no-label", action="store_true",
                   help="no visible 'AI-generated' label on video frames (the JSON sidecar and "
                   "PNG metadata still mark the output as synthetic)")
    c.add_argument("--detector", choices=DETECTORS, default="hog",
                   help="face detector (default hog)")
    c.add_argument("--mask", choices=MASKS, default="learned",
                   help="learned: paste with the autoencoder's own mask, grown beyond the face "
                   "(more of the donor's outline and brows, more identity); hull: the "
                   "landmark hull plus forehead (nothing outside the face changes); default "
                   "learned, CycleGAN always hull")
    c.add_argument("--force", action="store_true", help="replace --output if it exists")
    c.add_argument("--quiet", action="store_true", help="no progress bar")

    v = sub.add_parser("evaluate", help="identity transfer, re-detection, landmark error and "
                       "PSNR outside the face on held-out frames, with floors")
    v.add_argument("--run", required=True, help="run folder of `train`")
    v.add_argument("--json", type=Path,
                   help="also write the result as JSON (refused if it exists, unless --force)")
    v.add_argument("--force", action="store_true", help="replace --json if it exists")
    v.add_argument("--max-frames", type=_positive(int), metavar="N",
                   help="held-out frames per direction (default: all)")
    v.add_argument("--no-baselines", action="store_true",
                   help="only the run's model (default: also no swap, the floor, and the "
                   "classical swap)")
    v.add_argument("--detector", choices=DETECTORS, default="hog",
                   help="detector for re-detection and convert's path (default hog)")
    return ap


def _quiet_tensorflow() -> None:
    from core.env import quiet_tensorflow

    quiet_tensorflow()


def _swap(args: argparse.Namespace) -> None:
    from .classical import swap_files

    info = swap_files(args.source, args.target, args.output, detector=args.detector,
                      colour=not args.no_colour, seamless=not args.no_seamless,
                      force=args.force)
    print(info)


def _extract(args: argparse.Namespace) -> None:
    if args.detector == "mtcnn":
        _quiet_tensorflow()
    from .extract import extract_faces

    summary = extract_faces(args.source, args.out, size=args.size, identities=args.identities,
                            held_out=args.held_out, detector=args.detector,
                            min_face=args.min_face, every=args.every,
                            progress=not args.quiet)
    print(summary)


def _train(args: argparse.Namespace) -> None:
    train_from_cli(TrainConfig, args, "faceswap.train")


def _convert(args: argparse.Namespace) -> None:
    from .convert import convert_file  # TensorFlow loads with the run, after the input checks

    summary = convert_file(args.run, args.input, args.output, direction=args.direction,
                           label=not args.no_label, detector=args.detector, force=args.force,
                           mask=args.mask,
                           progress=not args.quiet)
    print(summary)


def _evaluate(args: argparse.Namespace) -> None:
    _quiet_tensorflow()
    from .evaluate import evaluate_run

    if args.json and args.json.exists() and not args.force:
        raise ValueError(f"--json {args.json}: exists (use --force to replace it)")
    out = evaluate_run(args.run, max_frames=args.max_frames, baselines=not args.no_baselines,
                       detector=args.detector)
    emit_json(out, args.json)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    body = {"swap": _swap, "extract": _extract, "train": _train, "convert": _convert,
            "evaluate": _evaluate}[args.command]
    resume = resume_command(PROG, args.run) if args.command == "train" else None
    return run_main(lambda: body(args), resume=resume)


if __name__ == "__main__":
    sys.exit(main())
