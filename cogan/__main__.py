"""Command line for GAN / CoGAN / conditional-GAN runs.

    python -m cogan train --run runs/cogan-neg --model cogan --task negatives --steps 3000
    python -m cogan train --run runs/cogan-neg --steps 6000      # resume and extend
    python -m cogan sample --run runs/cogan-neg -o pairs.png     # pairs from shared noise
    python -m cogan evaluate --run runs/cogan-neg                # pixel agreement, stroke IoU

Ctrl-C or SIGTERM during ``train`` saves a checkpoint; the same command resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from core.cli import add_train_command, command_parser, config_for_cli, resume_command, run_main

from .config import TrainConfig

PROG = "python -m cogan"


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand (imports no TensorFlow)."""
    ap, sub = command_parser(PROG, __doc__)
    add_train_command(sub, TrainConfig, "train a new run or resume one")
    s = sub.add_parser("sample", help="write a grid of pairs generated from shared noise")
    s.add_argument("--run", required=True, help="run folder")
    s.add_argument("-o", "--output", required=True, type=Path, help="PNG to write")
    s.add_argument("-n", type=int, default=32, help="number of pairs (default 32)")
    s.add_argument("--seed", type=int, default=777, help="noise seed (default 777)")
    e = sub.add_parser("evaluate", help="pixel agreement ratio (and stroke IoU) of a "
                       "CoGAN/cGAN run")
    e.add_argument("--run", required=True, help="run folder")
    e.add_argument("-n", type=int, default=10000,
                   help="number of generated pairs (default 10000)")
    e.add_argument("--json", type=Path, help="also write the result as JSON")
    return ap


def _load(run: str):
    from core.loop import Run

    from .train import build_model

    config = TrainConfig.from_run(run)
    model = build_model(config)
    r = Run(run, dataclasses.asdict(config), trackables={"model": model})
    return config, model, r.restore_weights()


def _train(args: argparse.Namespace) -> None:
    config = config_for_cli(TrainConfig, args.run, args)  # checked before TensorFlow loads
    from core.env import quiet_tensorflow

    quiet_tensorflow()
    from .metrics import pixel_agreement_of_model
    from .train import train

    result = train(config, show_progress=not args.quiet)
    print(f"{args.run}: step {config.steps} ({result.seconds:.0f}s this session)")
    if config.model != "dcgan":
        ratio = pixel_agreement_of_model(result.model, config.task)
        print(f"pixel agreement ({config.task}): {ratio:.4f}")


def _sample(args: argparse.Namespace) -> None:
    from core.env import quiet_tensorflow

    quiet_tensorflow()
    from data import save_image

    from .train import sample_grid

    config, model, step = _load(args.run)
    save_image(args.output, sample_grid(model, n=args.n, seed=args.seed),
               generator=f"{config.model} (step {step})",
               params={"run": args.run, "seed": args.seed, "n": args.n})
    print(f"wrote {args.output}")


def _evaluate(args: argparse.Namespace) -> None:
    config = TrainConfig.from_run(args.run)
    if config.model == "dcgan":
        raise ValueError(f"{args.run}: pixel agreement needs a two-domain model "
                         "(cogan or cgan), this run is a dcgan")
    if (config.image_size, config.channels) != (28, 1):
        raise ValueError(f"{args.run}: pixel agreement is defined for the MNIST tasks "
                         f"(28x28x1), this run is {config.image_size}px x {config.channels}")
    from core.env import quiet_tensorflow

    quiet_tensorflow()
    from .metrics import pair_scores_of_model

    config, model, step = _load(args.run)
    out = {"run": args.run, "model": config.model, "task": config.task, "step": step,
           "pairs": args.n, **pair_scores_of_model(model, config.task, n=args.n)}
    print(json.dumps(out))
    if args.json:
        from data import atomic_path

        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(out, indent=2))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    body = {"train": _train, "sample": _sample, "evaluate": _evaluate}[args.command]
    resume = resume_command(PROG, args.run) if args.command == "train" else None
    return run_main(lambda: body(args), resume=resume)


if __name__ == "__main__":
    sys.exit(main())
