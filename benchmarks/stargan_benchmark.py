"""StarGAN on the offline digit attributes: one generator for 8 domains,
beside the identity, an untrained generator and a CycleGAN trained on one
attribute pair, all judged on held-out MNIST test digits.

    python -m stargan train --run runs/sg-digits
    python -m cyclegan train --run runs/cg-digits            # plain <-> textured digits
    python benchmarks/stargan_benchmark.py --run runs/sg-digits --cyclegan-run runs/cg-digits

Writes ``benchmarks/results/stargan-DATE.json`` (never overwriting one) with
the CPU model and flags, training times and every score, and the figure
``figures/stargan_grid.png`` (each held-out input translated to all 8
attribute combinations), marked synthetic.

The CycleGAN baseline covers one pair of domains: plain digits (MNIST) and
textured ones (the MNIST-M-style render), which is exactly what its
``mnist_mnistm`` data is. StarGAN is scored on the same inputs and targets
for that pair, so the two columns compare like with like.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.env import quiet_tensorflow  # noqa: E402

tf = quiet_tensorflow()

import numpy as np  # noqa: E402

from benchmarks import cpu_description, training_seconds, write_result  # noqa: E402

def models_needed(domains: int) -> dict[str, int]:
    """Networks each method trains to translate between every pair of ``domains``."""
    pairs = domains * (domains - 1) // 2
    return {"stargan_generators": 1, "cyclegan_models": pairs, "cyclegan_generators": 2 * pairs}


def pair_scores(translate_pair, judge, n: int) -> dict:
    """Scores of a plain <-> textured translator on ``n`` held-out digits
    rendered both ways: ``plain_to_textured`` and ``textured_to_plain``."""
    from data.digit_attributes import attribute_test
    from data.mnist import load_mnist
    from stargan.metrics import translation_scores

    _, (x_test, y_test) = load_mnist()
    plain, textured = np.zeros((n, 3), np.float32), np.zeros((n, 3), np.float32)
    textured[:, 2] = 1
    out = {}
    for name, src, dst in (("plain_to_textured", plain, textured),
                           ("textured_to_plain", textured, plain)):
        images, attrs, bg = attribute_test(x_test, src, n=n)
        out[name] = translation_scores(translate_pair, judge, images, attrs, x_test[:n],
                                       y_test[:n], bg, targets=dst[:1])
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="StarGAN run folder (data=digits)")
    ap.add_argument("--also", nargs="*", default=[], metavar="RUN",
                    help="more StarGAN runs (ablations) scored on the same held-out digits")
    ap.add_argument("--cyclegan-run", help="CycleGAN run on mnist_mnistm (optional baseline)")
    ap.add_argument("-n", type=int, default=1000,
                    help="held-out digits, each translated to all 8 domains (default 1000)")
    ap.add_argument("--grid", type=Path, default=ROOT / "figures" / "stargan_grid.png",
                    help="figure: held-out inputs translated to every domain")
    ap.add_argument("--out", type=Path, help="result JSON (default: a new dated file)")
    args = ap.parse_args(argv)

    from data.images import save_image
    from stargan.evaluate import evaluate_nets, held_out
    from stargan.metrics import load_judge
    from stargan.train import load_run, sample_grid, translate

    config, nets, step, names = load_run(args.run)
    judge = load_judge(show_progress=True)
    scores = evaluate_nets(config, nets, n=args.n, judge=judge)
    runs = {"stargan": {"run": args.run, "step": step,
                        "training_seconds": training_seconds(args.run),
                        "options": json.loads((Path(args.run) / "options.json").read_text())}}
    for run in args.also:
        other_config, other, other_step, _ = load_run(run)
        name = f"stargan:{Path(run).name}"
        scores[name] = evaluate_nets(other_config, other, n=args.n, judge=judge,
                                     floors=False)["model"]
        runs[name] = {"run": run, "step": other_step, "training_seconds": training_seconds(run),
                      "options": json.loads((Path(run) / "options.json").read_text())}

    def star_pair(x, c):
        return translate(nets.g, x, c)

    pairs = {"stargan": pair_scores(star_pair, judge, args.n)}
    report = {"cpu": cpu_description(), "tensorflow": tf.__version__, "attributes": names,
              "n_inputs": args.n, "scores": scores, "runs": runs,
              "models_needed_for_8_domains": models_needed(2 ** len(names))}
    if args.cyclegan_run:
        from cyclegan.infer import run_generator
        from cyclegan.train import load_run as load_cyclegan

        cg_config, cg, cg_step = load_cyclegan(args.cyclegan_run)
        if cg_config.model != "cyclegan" or cg_config.data != "mnist_mnistm":
            raise SystemExit(f"--cyclegan-run {args.cyclegan_run}: expected a CycleGAN run on "
                             f"mnist_mnistm, got {cg_config.model} on {cg_config.data}")

        def cg_pair(x, c):  # G: plain -> textured (MNIST -> MNIST-M), F: back
            c = np.asarray(c)
            net = cg.g if c[0, 2] > 0.5 else cg.f
            return run_generator(net, x, batch_size=250)

        pairs["cyclegan"] = pair_scores(cg_pair, judge, args.n)
        report["runs"]["cyclegan"] = {"run": args.cyclegan_run, "step": cg_step,
                                      "training_seconds": training_seconds(args.cyclegan_run)}
    report["pair_scores"] = pairs

    print(f"CPU: {report['cpu']['model']}  flags: {' '.join(report['cpu']['flags'])}")
    print(f"{'model':28s}" + "".join(f"{a:>10s}" for a in names)
          + f"{'all3':>8s}{'max_gap':>9s}{'rec_l1':>8s}")
    print(f"{'(judge on real renders)':28s}" + "".join(
        f"{scores['model']['real_attr_acc'][a]:10.3f}" for a in names))
    for name, s in scores.items():
        print(f"{name:28s}" + "".join(f"{s['attr_acc'][a]:10.3f}" for a in names)
              + f"{s['all_attrs_acc']:8.3f}{s['max_gap']:9.3f}{s['rec_l1']:8.3f}")
    print("content (judge's digit accuracy, real vs translated) per target domain:")
    for domain, c in scores["model"]["content"].items():
        print(f"  {domain:24s} real {c['real']:.3f}  translated {c['fake']:.3f}  "
              f"gap {c['gap']:+.3f}")
    for method, by_dir in pairs.items():
        for direction, s in by_dir.items():
            print(f"pair {method:9s}{direction:19s} textured acc "
                  f"{s['attr_acc']['textured']:.3f}  all3 {s['all_attrs_acc']:.3f}  "
                  f"gap {s['max_gap']:+.3f}  rec {s['rec_l1']:.3f}")
    for name, r in report["runs"].items():
        print(f"{name}: {r['step']} steps in {r['training_seconds'] / 60:.1f} min")
    print("written", write_result(report, "stargan", args.out))

    split = held_out(16)
    grid = sample_grid(nets.g, split["images"][:8], config.exclusive)
    print("figure", save_image(args.grid, grid, generator="stargan",
                               params={"run": args.run, "step": step,
                                       "columns": "input, then plain, textured, bold, "
                                       "bold+textured, inverted, ... (binary order)"}))


if __name__ == "__main__":
    main()
