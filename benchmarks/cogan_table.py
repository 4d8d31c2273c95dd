"""Reproduce the CoGAN paper's MNIST table: pixel agreement (and the stroke
IoU diagnostic) of CoGAN and the conditional-GAN baseline on task A
(digits/edges) and B (digits/negatives), over several seeds, with the CPU
time of every run.

    python benchmarks/cogan_table.py                      # 3 seeds, the CPU configuration
    python benchmarks/cogan_table.py --width 1 --steps 50000   # the paper's generator and length

Runs live in ``runs/cogan_table/<model>_<task>_s<seed>`` and resume if
interrupted (a finished run is only re-evaluated; its training wall time
comes from its ``history.json``, its CPU time from the recorded row). A run
folder already beyond ``--steps`` is refused. Results are merged into
``benchmarks/results/cogan_table.json`` by (model, task, seed, steps, width),
so the table can be filled in several invocations.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cogan import (PAPER_TABLE, TrainConfig, pair_scores_of_model,  # noqa: E402
                   pixel_agreement, stroke_iou, train)
from data.cache import atomic_path  # noqa: E402
from data.mnist import DOMAIN_TRANSFORMS, load_mnist  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["cogan", "cgan"])
    ap.add_argument("--tasks", nargs="+", default=["edges", "negatives"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--width", type=float, default=0.125)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--pairs", type=int, default=10000, help="generated pairs per evaluation")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "cogan_table")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "cogan_table.json")
    args = ap.parse_args()

    (x_train, _), _ = load_mnist()
    previous = json.loads(args.out.read_text())["rows"] if args.out.exists() else []
    key = lambda r: (r["model"], r["task"], r["seed"], r["steps"], r.get("width"))
    recorded = {key(r): r for r in previous}
    rows = []
    for model in args.models:
        for task in args.tasks:
            for seed in args.seeds:
                config = TrainConfig(run_dir=str(args.runs / f"{model}_{task}_s{seed}"),
                                     model=model, task=task, width=args.width,
                                     batch_size=args.batch_size, steps=args.steps, seed=seed,
                                     sample_every=max(1, args.steps // 4),
                                     checkpoint_every=max(1, args.steps // 10))
                cpu0, wall0 = cpu_seconds(), time.perf_counter()
                result = train(config, x_train=x_train, show_progress=False)
                cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
                if result.start_step > args.steps:
                    sys.exit(f"error: {config.run_dir} is at step {result.start_step}, beyond "
                             f"--steps {args.steps}; its scores would be recorded under the "
                             "wrong length (use another --runs folder)")
                scores = pair_scores_of_model(result.model, task, n=args.pairs)
                trained_here = result.start_step == 0
                # wall time of the training session(s), as the run recorded it
                sessions = [h["seconds"] for h, nxt in zip(result.history,
                                                           result.history[1:] + [None])
                            if nxt is None or nxt["seconds"] < h["seconds"]]
                row = dict(model=model, task=task, seed=seed, steps=args.steps,
                           width=args.width, **scores,
                           train_wall_seconds=float(sum(sessions)),
                           cpu_seconds=cpu if trained_here else None,
                           wall_seconds=wall, resumed_from=result.start_step)
                prev = recorded.get(key(row))
                if result.start_step == args.steps and prev:
                    # evaluation only: keep the training session's record
                    row = {**prev, **scores, "evaluated": datetime.now(timezone.utc)
                           .isoformat(timespec="seconds")}
                rows.append(row)
                print(json.dumps(row), flush=True)
    merged = dict(recorded)
    merged.update({key(r): r for r in rows})
    rows = sorted(merged.values(), key=lambda r: (r["model"], r["task"], r["seed"]))
    summary = {}
    for model, task, steps, width in sorted({(r["model"], r["task"], r["steps"], r["width"])
                                             for r in rows}):
        group = [r for r in rows if (r["model"], r["task"], r["steps"], r["width"])
                 == (model, task, steps, width)]
        vals = [r["pixel_agreement"] for r in group]
        ious = [r["stroke_iou"] for r in group if r.get("stroke_iou") is not None]
        summary[f"{model}/{task}/{steps}steps/width{width}"] = dict(
            mean=float(np.mean(vals)), std=float(np.std(vals)), n=len(vals),
            stroke_iou_mean=float(np.mean(ious)) if ious else None,
            stroke_iou_std=float(np.std(ious)) if ious else None, stroke_iou_n=len(ious),
            seeds=[r["seed"] for r in group], paper=PAPER_TABLE[model, task],
            train_wall_seconds_per_run=float(np.mean([r["train_wall_seconds"] for r in group])))
    # what an all-black domain-2 image scores against the transformed real test
    # digits: the level a generator must clearly beat (edges cover ~13% of a digit)
    (_, _), (x_test, _) = load_mnist()
    real = tf.constant(x_test[..., None] / 255.0, tf.float32)
    floors = {task: {"pixel_agreement": float(tf.reduce_mean(pixel_agreement(
                         real, tf.zeros_like(real), task))),
                     "stroke_iou": float(tf.reduce_mean(stroke_iou(
                         real, tf.zeros_like(real), task)))}
              for task in ("edges", "negatives")}
    # real digits paired with the transform of a different real digit: what a
    # generator whose two images are unrelated (but each realistic) would score
    other = tf.roll(real, shift=1, axis=0)
    unrelated = {task: {"pixel_agreement": float(tf.reduce_mean(pixel_agreement(
                            other, DOMAIN_TRANSFORMS[task](real), task))),
                        "stroke_iou": float(tf.reduce_mean(stroke_iou(
                            other, DOMAIN_TRANSFORMS[task](real), task)))}
                 for task in ("edges", "negatives")}
    report = dict(date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  machine=f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs",
                  tensorflow=tf.__version__, steps=args.steps, width=args.width,
                  batch_size=args.batch_size, pairs=args.pairs, threshold=0.5,
                  commands=sorted(set(json.loads(args.out.read_text()).get("commands", [])
                                      if args.out.exists() else [])
                                  | {" ".join(["python", "benchmarks/cogan_table.py"]
                                              + sys.argv[1:])}),
                  rows=rows, summary=summary, blank_image_floor=floors,
                  unrelated_real_pairs=unrelated)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
