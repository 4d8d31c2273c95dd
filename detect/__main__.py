"""Command line for detection and provenance.

    python -m detect build-data --out data_detect --builtin toy --builtin dcgan \\
        --from runs/cyclegan_digits --from runs/stargan --n-train 1000 --n-test 500
    python -m detect train --data data_detect --run runs/detect-cnn --detector cnn
    python -m detect train --data data_detect --run runs/detect-spectral --detector spectral
    python -m detect score --run runs/detect-cnn image.png other.png
    python -m detect provenance image.png other.jpg

Ctrl-C or SIGTERM during a CNN ``train`` saves a checkpoint; the same command resumes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.cli import add_train_command, command_parser, config_for_cli, resume_command, run_main

from .config import TrainConfig

PROG = "python -m detect"


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand (imports no TensorFlow)."""
    from .data import BUILTINS

    ap, sub = command_parser(PROG, __doc__)
    b = sub.add_parser("build-data", help="write real and fake images per generator "
                       "(OUT/<generator>/{train,test}/{real,fake}/*.png)")
    b.add_argument("--out", required=True, type=Path, help="dataset folder to write (a "
                   "generator already built there with the same settings is kept)")
    b.add_argument("--from", dest="runs", action="append", default=[], metavar="[NAME=]RUN",
                   help="a trained run of python -m cogan, cyclegan, stargan or nst.fast whose "
                   "generator makes the fakes (repeatable); NAME= names its folder (default: "
                   "the run's model)")
    b.add_argument("--builtin", action="append", default=[], choices=BUILTINS,
                   help="toy, toy_nearest: smooth noise vs a checkerboard or nearest-neighbour "
                   "upsampling of it, no model; dcgan: a "
                   "DCGAN trained once on MNIST and cached (about 2.5 min at 3000 steps) "
                   "(repeatable)")
    b.add_argument("--n-train", type=int, default=1000,
                   help="training images per class and generator (default 1000)")
    b.add_argument("--n-test", type=int, default=500,
                   help="test images per class and generator (default 500)")
    b.add_argument("--seed", type=int, default=0, help="seed of every draw (default 0)")
    b.add_argument("--dcgan-steps", type=int, default=3000,
                   help="training steps of the built-in DCGAN (default 3000)")
    b.add_argument("--photo-size", type=int, default=64,
                   help="side of photo crops (pix2pix colourisation, photo->painting, "
                   "nst.fast) in px (default 64)")
    b.add_argument("--quiet", action="store_true", help="no progress bars")

    t = add_train_command(sub, TrainConfig, "train a detector (or resume a CNN run) and score "
                          "the test split of every generator")
    t.description = ("Train a detector on --data's train split and score the test split of "
                     "every generator in it; a CNN run in --run with a checkpoint resumes "
                     "(options not given keep the saved run's values; --steps may grow).")

    s = sub.add_parser("score", help="probability that each image is fake, with why it is "
                       "only evidence")
    s.add_argument("--run", required=True, help="a trained detector run folder")
    s.add_argument("images", nargs="+", type=Path, help="image files (JPEG, PNG, GIF, BMP, "
                   "WebP); larger than 1024 px: their central 1024 px crop is scored")
    s.add_argument("--json", action="store_true", help="print JSON instead of lines")

    p = sub.add_parser("provenance", help="the repository's PNG marks and the C2PA manifest "
                       "(valid, tampered or absent) of each file")
    p.add_argument("files", nargs="+", type=Path, help="files to check")
    p.add_argument("--json", action="store_true", help="print JSON instead of lines")
    return ap


def _quiet_tensorflow() -> None:
    from core.env import quiet_tensorflow

    quiet_tensorflow()


def _build(args: argparse.Namespace) -> None:
    for flag, value, low in (("--n-train", args.n_train, 1), ("--n-test", args.n_test, 1),
                             ("--dcgan-steps", args.dcgan_steps, 1),
                             ("--photo-size", args.photo_size, 8)):
        if value < low:
            raise ValueError(f"{flag} must be at least {low}, got {value}")
    if not args.runs and not args.builtin:
        raise ValueError("nothing to build: give --from RUN (a trained generator) and/or "
                         "--builtin toy|toy_nearest|dcgan")
    if args.runs or "dcgan" in args.builtin:  # the toy sources need no TensorFlow
        _quiet_tensorflow()
    from .data import build_dataset, builtin_source, parse_run_spec, source_from_run

    sources = [builtin_source(name, dcgan_steps=args.dcgan_steps, seed=args.seed,
                              show_progress=not args.quiet) for name in dict.fromkeys(args.builtin)]
    for text in args.runs:
        name, run = parse_run_spec(text)
        try:
            sources.append(source_from_run(run, name=name, photo_size=args.photo_size))
        except ValueError as exc:
            raise ValueError(f"--from {exc}") from None
    names = [s.name for s in sources]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"--from: two generators named {twice[0]!r}; name them apart with "
                         "NAME=RUN")
    summary = build_dataset(args.out, sources, n_train=args.n_train, n_test=args.n_test,
                            seed=args.seed, show_progress=not args.quiet)
    for name, record in summary.items():
        print(f"{args.out / name}: {record['status']} ({record['n_train']} + {record['n_test']} "
              "images per class)")


def _train(args: argparse.Namespace) -> None:
    from .train import train

    config = config_for_cli(TrainConfig, args.run, args)
    if config.detector == "cnn":  # the spectral detector is NumPy and SciPy only
        _quiet_tensorflow()
    result = train(config, show_progress=not args.quiet)
    for name, s in result.report["test"].items():
        where = "trained on" if s["in_distribution"] else "unseen"
        print(f"{name} ({where}): AP {s['ap']:.3f}, accuracy at 0.5 {s['acc']:.3f} (real "
              f"{s['real_acc']:.3f}, fake {s['fake_acc']:.3f}, n={s['n']})")
    step = f", step {result.detector.step}" if config.detector == "cnn" else ""
    print(f"{args.run}: {config.detector} detector{step} ({result.seconds:.0f}s this session); "
          f"report in {Path(args.run) / 'report.json'}")


def _score(args: argparse.Namespace) -> int:
    from .train import EVIDENCE_NOTE, load_run, score_files

    run_options = Path(args.run) / "options.json"
    if not run_options.is_file():
        raise ValueError(f"--run {args.run}: not a detector run (no options.json)")
    if json.loads(run_options.read_text()).get("detector") == "cnn":
        _quiet_tensorflow()
    detector = load_run(args.run)
    rows = score_files(detector, args.images)
    if args.json:
        print(json.dumps({"run": args.run, "detector": detector.kind, "note": EVIDENCE_NOTE,
                          "images": [{"file": f, "p_fake": p, "error": e} for f, p, e in rows]},
                         indent=2))
    else:
        for f, p, e in rows:
            if e:
                print(e if e.startswith(f) else f"{f}: {e}")
            else:
                print(f"{f}: P(fake) = {p:.3f}")
        print(EVIDENCE_NOTE)
    return 1 if any(e for _, _, e in rows) else 0


def _provenance(args: argparse.Namespace) -> int:
    from .provenance import check_provenance, describe

    reports = [check_provenance(f) for f in args.files]
    if args.json:
        print(json.dumps(reports, indent=2))
    else:
        for report in reports:
            print("\n".join(describe(report)))
    return 1 if any(r["error"] for r in reports) else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    body = {"build-data": _build, "train": _train, "score": _score,
            "provenance": _provenance}[args.command]
    resume = resume_command(PROG, args.run) if args.command == "train" else None
    return run_main(lambda: body(args), resume=resume)


if __name__ == "__main__":
    sys.exit(main())
