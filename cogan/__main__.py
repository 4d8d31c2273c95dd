"""Command line for GAN / CoGAN / conditional-GAN runs.

    python -m cogan train --run runs/cogan-neg --model cogan --task negatives --steps 3000
    python -m cogan train --run runs/cogan-neg --steps 6000      # resume and extend
    python -m cogan sample --run runs/cogan-neg -o pairs.png     # pairs from shared noise
    python -m cogan evaluate --run runs/cogan-neg                # pixel agreement, stroke IoU
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path


def _train_parser(sub) -> None:
    from core.loop import add_config_arguments

    from .train import TrainConfig

    p = sub.add_parser("train", help="train a new run or resume one")
    p.add_argument("--run", required=True, help="run folder (resumed if it has checkpoints)")
    add_config_arguments(p, TrainConfig)
    p.add_argument("--quiet", action="store_true")


def _load(run: str):
    from .train import build_model, config_from_run
    from core.loop import Run

    config = config_from_run(run)
    model = build_model(config)
    r = Run(run, dataclasses.asdict(config), trackables={"model": model})
    return config, model, r.restore_weights()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cogan", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    s = sub.add_parser("sample", help="write a grid of pairs generated from shared noise")
    s.add_argument("--run", required=True)
    s.add_argument("-o", "--output", required=True, type=Path)
    s.add_argument("-n", type=int, default=32, help="number of pairs")
    s.add_argument("--seed", type=int, default=777)
    e = sub.add_parser("evaluate", help="pixel agreement ratio (and stroke IoU) of a "
                       "CoGAN/cGAN run")
    e.add_argument("--run", required=True)
    e.add_argument("-n", type=int, default=10000, help="number of generated pairs")
    e.add_argument("--json", type=Path, help="also write the result as JSON")
    args = ap.parse_args(argv)

    try:
        if args.command == "train":
            from .metrics import pixel_agreement_of_model
            from core.loop import config_for_cli

            from .train import TrainConfig, train

            config = config_for_cli(TrainConfig, args.run, args)
            result = train(config, show_progress=not args.quiet)
            print(f"{args.run}: step {config.steps} ({result.seconds:.0f}s this session)")
            if config.model != "dcgan":
                ratio = pixel_agreement_of_model(result.model, config.task)
                print(f"pixel agreement ({config.task}): {ratio:.4f}")
        elif args.command == "sample":
            from data import save_image

            from .train import sample_grid

            config, model, step = _load(args.run)
            save_image(args.output, sample_grid(model, n=args.n, seed=args.seed),
                       generator=f"{config.model} (step {step})",
                       params={"run": args.run, "seed": args.seed, "n": args.n})
            print(f"wrote {args.output}")
        else:
            from .metrics import pair_scores_of_model

            config, model, step = _load(args.run)
            if config.model == "dcgan":
                raise ValueError(f"{args.run}: pixel agreement needs a two-domain model "
                                 "(cogan or cgan), this run is a dcgan")
            if (config.image_size, config.channels) != (28, 1):
                raise ValueError(f"{args.run}: pixel agreement is defined for the MNIST tasks "
                                 f"(28x28x1), this run is {config.image_size}px x "
                                 f"{config.channels}")
            out = {"run": args.run, "model": config.model, "task": config.task, "step": step,
                   "pairs": args.n, **pair_scores_of_model(model, config.task, n=args.n)}
            print(json.dumps(out))
            if args.json:
                from data import atomic_path

                with atomic_path(args.json) as tmp:
                    tmp.write_text(json.dumps(out, indent=2))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
