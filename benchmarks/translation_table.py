"""pix2pix and CycleGAN on the offline digit data: train, evaluate on the
held-out split against the floors, record CPU time.

    python benchmarks/translation_table.py                       # both models
    python benchmarks/translation_table.py --models cyclegan --cyclegan-steps 4000
    python benchmarks/translation_table.py --models cyclegan --cyclegan-steps 1500 \
        --backward-cycle-scale 0.2                               # lambda_B = 2
    python benchmarks/translation_table.py --models cyclegan --generator resnet6
    python benchmarks/translation_table.py --models pix2pix_gray # grey -> colour photos

CycleGAN: MNIST <-> MNIST-M, class preservation of G and F read by the
digit classifier trained in the repo, target-domain rate and cycle error;
the identity mapping and an untrained model are the floors. pix2pix:
MNIST-M -> digit (``pix2pix``) and grey -> colour photo crops at 64 px
(``pix2pix_gray``), L1 / PSNR / SSIM on held-out pairs; the input itself and
an untrained model are the floors. Runs live in ``runs/translation_table/``
and resume; results go to ``benchmarks/results/translation_table.json``.
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

import tensorflow as tf  # noqa: E402

from cyclegan import TrainConfig, evaluate_nets, train  # noqa: E402
from cyclegan.evaluate import test_size  # noqa: E402
from cyclegan.metrics import classify, load_digit_classifier  # noqa: E402
from data.cache import atomic_path  # noqa: E402
from data.mnist import load_mnist  # noqa: E402
from data.mnistm import mnist_mnistm_test  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _sessions(previous: dict | None, start_step: int) -> list[dict]:
    """The training sessions recorded for a run before this one (a resumed run
    keeps its history; a run that starts from step 0 starts a new one)."""
    if not previous or start_step == 0:
        return []
    rows = list(previous.get("sessions", []))
    if not rows and previous.get("train_wall_seconds_this_session"):  # entries older than sessions
        rows.append({"from_step": previous.get("resumed_from", 0),
                     "to_step": previous["config"]["steps"],
                     "wall_seconds": previous["train_wall_seconds_this_session"],
                     "cpu_seconds": previous["train_cpu_seconds_this_session"],
                     "command": previous.get("command", "")})
    if rows and rows[-1]["to_step"] != start_step:  # recorded for another run folder
        return []
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["cyclegan", "pix2pix"],
                    choices=["cyclegan", "pix2pix", "pix2pix_gray"])
    ap.add_argument("--cyclegan-steps", type=int, default=2000)
    ap.add_argument("--cycle-weight", type=float, default=10.0)
    ap.add_argument("--backward-cycle-scale", type=float, default=1.0,
                    help="lambda_B / lambda_A (1: the paper's equal weights)")
    ap.add_argument("--identity-weight", type=float, default=0.5, help="x cycle weight")
    ap.add_argument("--pix2pix-steps", type=int, default=1000)
    ap.add_argument("--gray-steps", type=int, default=600)
    ap.add_argument("--generator", default="unet", help="unet | resnet6 | resnet9")
    ap.add_argument("--ngf", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-n", type=int, default=10000, help="held-out test digits")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "translation_table")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results"
                    / "translation_table.json")
    args = ap.parse_args()

    (x_train, y_train), (x_test, y_test) = load_mnist()
    report = json.loads(args.out.read_text()) if args.out.exists() else {}
    t0, c0 = time.perf_counter(), cpu_seconds()
    classifier = load_digit_classifier(x_train, y_train, show_progress=True)
    mnist, mnistm = mnist_mnistm_test(x_test, n=args.n)
    labels = y_test[:args.n]
    report["classifier"] = {
        "mnist_test_accuracy": float((classify(classifier, mnist)[0] == labels).mean()),
        "mnistm_test_accuracy": float((classify(classifier, mnistm)[0] == labels).mean()),
        "domain_accuracy": float(((classify(classifier, mnist)[1] == 0).mean()
                                  + (classify(classifier, mnistm)[1] == 1).mean()) / 2),
        "seconds_incl_training_if_not_cached": time.perf_counter() - t0}
    print(json.dumps(report["classifier"]), flush=True)
    for model in args.models:
        key, steps, extra = model, args.pix2pix_steps, {}
        if model == "cyclegan":
            steps = args.cyclegan_steps
            extra = {"cycle_weight": args.cycle_weight,
                     "backward_cycle_scale": args.backward_cycle_scale,
                     "identity_weight": args.identity_weight}
            if (args.cycle_weight, args.backward_cycle_scale) != (10.0, 1.0):
                key = f"cyclegan_cyc{args.cycle_weight:g}_bwd{args.backward_cycle_scale:g}"
            if args.identity_weight != 0.5:
                key += f"_idt{args.identity_weight:g}"
        if args.generator != "unet":
            key += f"_{args.generator}"
        if args.seed != 0:  # seed 0's keys predate this suffix
            key += f"_s{args.seed}"
        data, size, batch = {"cyclegan": ("mnist_mnistm", 32, args.batch_size),
                             "pix2pix": ("mnistm_to_mnist", 32, args.batch_size),
                             "pix2pix_gray": ("gray_photo", 64, 4)}[model]
        if model == "pix2pix_gray":
            steps = args.gray_steps
        config = TrainConfig(run_dir=str(args.runs / f"{key}_s{args.seed}"),
                             model="cyclegan" if model == "cyclegan" else "pix2pix", data=data,
                             gan_loss="lsgan" if model == "cyclegan" else "bce",
                             pool_size=50 if model == "cyclegan" else 0, image_size=size,
                             generator=args.generator, ngf=args.ngf, ndf=args.ngf,
                             batch_size=batch, steps=steps,
                             seed=args.seed, sample_every=max(1, steps // 4),
                             checkpoint_every=max(1, steps // 10), **extra)
        c0, w0 = cpu_seconds(), time.perf_counter()
        result = train(config, x_train=x_train, show_progress=True)
        cpu, wall = cpu_seconds() - c0, time.perf_counter() - w0
        scores = evaluate_nets(config, result.nets, n=args.n)
        command = "python " + " ".join(["benchmarks/translation_table.py"] + sys.argv[1:])
        sessions = _sessions(report.get(key), result.start_step)
        if result.start_step < config.steps:  # this session trained (not only evaluated)
            sessions.append({"from_step": result.start_step, "to_step": config.steps,
                             "wall_seconds": result.seconds, "cpu_seconds": cpu,
                             "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                             "command": command})
        report[key] = {"config": {k: getattr(config, k) for k in (
            "model", "data", "generator", "ngf", "ndf", "image_size", "batch_size", "steps",
            "gan_loss", "cycle_weight", "backward_cycle_scale", "identity_weight", "pool_size",
            "seed")},
            "scores": scores, "train_wall_seconds_this_session": result.seconds,
            "train_cpu_seconds_this_session": cpu, "wall_seconds": wall,
            "resumed_from": result.start_step, "test_images": test_size(config, args.n),
            "sessions": sessions,
            # None: trained outside this script (e.g. the CLI), time not on record here
            "train_wall_seconds_total": sum(r["wall_seconds"] for r in sessions) if sessions else None,
            "train_cpu_seconds_total": sum(r["cpu_seconds"] for r in sessions) if sessions else None,
            "command": command}
        print(key, json.dumps(scores, indent=1), flush=True)
    report.update(date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  machine=f"{platform.node() or 'vm'} {platform.machine()}, {os.cpu_count()} CPUs",
                  tensorflow=tf.__version__, command="python " + " ".join(
                      ["benchmarks/translation_table.py"] + sys.argv[1:]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
