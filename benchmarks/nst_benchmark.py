"""Neural style transfer: this repository's paths against the TensorFlow
tutorial's recipe, measured side by side in one run.

The recipe is re-implemented here as the tutorial writes it (fp32 VGG19,
``preprocess_input``, ``@tf.function`` train step on a ``tf.Variable``, Adam
lr 0.02 / beta_1 0.99 / epsilon 0.1, style 1e-2, content 1e4, TV 30, clip to
[0, 1]); both sides load the same VGG19 weights file.

Prints and writes to ``benchmarks/results/nst-<size>px-<date>.json`` (see
:func:`benchmarks.write_result`):

1. per-step time (median of interleaved steps) of the recipe, of this repo's
   default path (``precision="auto"``) and of forced bf16, as ratios;
2. the loss the recipe reaches after ``--recipe-steps`` steps, the wall time
   it took, and the wall time this repo's fast configuration needs to reach
   the same float32 loss: ``stylize(optimizer="lbfgs")`` at the default
   precision, and with ``--float32-too`` in float32 throughout;
3. the peak resident memory of a ``--memory-size`` px run (separate process).

    python benchmarks/nst_benchmark.py                 # 512 px, as in the issue
    python benchmarks/nst_benchmark.py --size 256      # what fits a 2-core CPU session
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from data import load_image, samples  # noqa: E402
from benchmarks import cpu_description, write_result  # noqa: E402
from core.precision import resolve_precision  # noqa: E402
from nst.losses import gram_matrix  # noqa: E402
from nst.options import ADAM_DEFAULTS, CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT  # noqa: E402
from nst.stylize import get_extractor, make_adam_step, stylize  # noqa: E402
from nst.vgg import CONTENT_LAYERS, STYLE_LAYERS, resolve_vgg19_weights  # noqa: E402


class TutorialRecipe:
    """The tutorial's StyleContentModel + train_step, kept deliberately literal."""

    def __init__(self, content: np.ndarray, style: np.ndarray, weights_path: Path):
        vgg = keras.applications.VGG19(include_top=False, weights=None)
        vgg.load_weights(str(weights_path))
        vgg.trainable = False
        outputs = [vgg.get_layer(n).output for n in STYLE_LAYERS + CONTENT_LAYERS]
        self.model = keras.Model([vgg.input], outputs)
        self.style_targets = self.extract(tf.constant(style[None]))["style"]
        self.content_targets = self.extract(tf.constant(content[None]))["content"]
        self.image = tf.Variable(content[None])
        self.opt = keras.optimizers.Adam(**ADAM_DEFAULTS)
        self.train_step = tf.function(self._train_step)

    @staticmethod
    def gram_matrix(t):
        result = tf.linalg.einsum("bijc,bijd->bcd", t, t)
        shape = tf.shape(t)
        return result / tf.cast(shape[1] * shape[2], tf.float32)

    def extract(self, inputs):
        pre = keras.applications.vgg19.preprocess_input(inputs * 255.0)
        outs = self.model(pre)
        n = len(STYLE_LAYERS)
        return {"style": {k: self.gram_matrix(v) for k, v in zip(STYLE_LAYERS, outs[:n])},
                "content": dict(zip(CONTENT_LAYERS, outs[n:]))}

    def loss(self, image):
        out = self.extract(image)
        s = tf.add_n([tf.reduce_mean((out["style"][k] - self.style_targets[k]) ** 2)
                      for k in STYLE_LAYERS]) * STYLE_WEIGHT / len(STYLE_LAYERS)
        c = tf.add_n([tf.reduce_mean((out["content"][k] - self.content_targets[k]) ** 2)
                      for k in CONTENT_LAYERS]) * CONTENT_WEIGHT / len(CONTENT_LAYERS)
        return s + c + TV_WEIGHT * tf.image.total_variation(image)[0]

    def _train_step(self):
        with tf.GradientTape() as tape:
            loss = self.loss(self.image)
        grad = tape.gradient(loss, self.image)
        self.opt.apply_gradients([(grad, self.image)])
        self.image.assign(tf.clip_by_value(self.image, 0.0, 1.0))
        return loss


def repo_step(content, style, precision):
    """This repository's Adam step on ``precision`` (built as stylize() builds it)."""
    ex = get_extractor("imagenet", precision)
    st = {k: gram_matrix(v) for k, v in ex(tf.constant(style[None]))["style"].items()}
    ct = ex(tf.constant(content[None]))["content"]
    var = tf.Variable(content[None])
    opt = keras.optimizers.Adam(**ADAM_DEFAULTS)
    return make_adam_step(ex, var, st, ct, (STYLE_WEIGHT, CONTENT_WEIGHT, TV_WEIGHT), opt)


def timed(fn) -> float:
    t = time.perf_counter()
    out = fn()
    tf.nest.map_structure(lambda x: x.numpy() if hasattr(x, "numpy") else x, out)
    return time.perf_counter() - t


def per_step(content, style, weights_path, reps):
    recipe = TutorialRecipe(content, style, weights_path)
    variants = {"tutorial recipe (fp32)": recipe.train_step,
                "repo default (precision=auto -> %s)" % resolve_precision("auto"):
                    repo_step(content, style, resolve_precision("auto")),
                "repo bf16 (forced)": repo_step(content, style, "bf16")}
    first = {name: timed(fn) for name, fn in variants.items()}  # tracing
    times = {name: [] for name in variants}
    for _ in range(reps):  # interleave so machine noise hits every variant alike
        for name, fn in variants.items():
            times[name].append(timed(fn))
    med = {name: statistics.median(t) for name, t in times.items()}
    base = med["tutorial recipe (fp32)"]
    return {name: {"first_call_s": first[name], "median_step_s": med[name],
                   "speedup_vs_recipe": base / med[name]} for name in variants}


def convergence(content, style, weights_path, recipe_steps, fast_steps, size,
                float32_too=False):
    recipe = TutorialRecipe(content, style, weights_path)
    t0 = time.perf_counter()
    for i in range(recipe_steps):
        recipe.train_step()
        if (i + 1) % 100 == 0:
            print(f"  recipe step {i + 1}/{recipe_steps}  {time.perf_counter() - t0:.0f}s",
                  flush=True)
    recipe_time = time.perf_counter() - t0
    target = float(recipe.loss(recipe.image))
    result = {"recipe_steps": recipe_steps, "recipe_loss": target, "recipe_seconds": recipe_time}
    # the default path (precision "auto": bf16 then float32 where bf16 is native),
    # then, if asked, float32 throughout: what a CPU without bf16 runs
    paths = {"lbfgs": dict(optimizer="lbfgs")}
    if float32_too:
        paths["lbfgs_float32"] = dict(optimizer="lbfgs", precision="float32")
    for name, kwargs in paths.items():
        r = stylize(content, style, size=size, steps=fast_steps, stop_loss=target,
                    progress=False, **kwargs)
        final = [h for h in r.history if h["scale"] == max(x["scale"] for x in r.history)]
        reached = r.loss <= target  # the float32 loss of the image returned
        bf16 = [h for h in r.history if h.get("bf16")]
        result[name] = {"precision": r.params["precision"], "steps": len(r.history),
                        "bf16_steps": len(bf16),
                        "bf16_seconds": bf16[-1]["seconds"] if bf16 else 0.0,
                        "seconds": r.seconds, "reached": reached, "loss": r.loss,
                        "time_ratio_vs_recipe": r.seconds / recipe_time}
        print(f"  {name} ({r.params['precision']}): reached={reached} loss={r.loss:.4g} "
              f"in {r.seconds:.0f}s ({len(r.history)} evaluations, {len(bf16)} in bf16), "
              f"{r.seconds / recipe_time:.3f} of the recipe's time", flush=True)
    return result


MEMORY_SNIPPET = """
import resource, sys
sys.path.insert(0, {root!r})
from data import load_image, samples
from nst.stylize import stylize
c = load_image(samples.path('grace_hopper'), max_side=None)
s = load_image(samples.path('starry_night'), max_side=None)
stylize(c, s, size={size}, steps=2, optimizer={opt!r}, progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def peak_memory(size: int, optimizer: str) -> float:
    code = MEMORY_SNIPPET.format(root=str(ROOT), size=size, opt=optimizer)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=512, help="longer side in px (issue: 512)")
    ap.add_argument("--reps", type=int, default=5, help="interleaved timed steps per variant")
    ap.add_argument("--recipe-steps", type=int, default=1000)
    ap.add_argument("--fast-steps", type=int, default=1000, help="budget of the fast path")
    ap.add_argument("--memory-size", type=int, default=1024)
    ap.add_argument("--float32-too", action="store_true",
                    help="also time L-BFGS in float32 throughout to the recipe's loss (what a "
                         "CPU without native bf16 runs; on one with it, a proxy)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["step", "converge", "memory"])
    ap.add_argument("--out", type=Path, default=None,
                    help="result JSON (default: benchmarks/results/nst-SIZEpx-DATE.json, "
                         "with the time appended if that file exists)")
    args = ap.parse_args()

    content = load_image(samples.path("grace_hopper"), max_side=args.size)
    style = load_image(samples.path("starry_night"), max_side=args.size)
    weights_path = resolve_vgg19_weights("imagenet")
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{platform.node()} {platform.processor() or platform.machine()}, "
                         f"{os.cpu_count()} CPUs", "tensorflow": tf.__version__,
              "keras": keras.__version__, "size": args.size, "weights": str(weights_path),
              "content": "grace_hopper", "style": "starry_night", "cpu": cpu_description(),
              "command": "python " + " ".join(sys.argv)}
    try:
        cpu = [ln for ln in open("/proc/cpuinfo") if ln.startswith("model name")][0]
        report["machine"] += " / " + cpu.split(":", 1)[1].strip()
    except (OSError, IndexError):
        pass
    if "step" not in args.skip:
        print("== per-step time", flush=True)
        report["per_step"] = per_step(content, style, weights_path, args.reps)
        print(json.dumps(report["per_step"], indent=2), flush=True)
    if "converge" not in args.skip:
        print("== time to the recipe's loss", flush=True)
        report["convergence"] = convergence(content, style, weights_path, args.recipe_steps,
                                            args.fast_steps, args.size, args.float32_too)
        print(json.dumps(report["convergence"], indent=2), flush=True)
    if "memory" not in args.skip:
        print(f"== peak memory at {args.memory_size} px", flush=True)
        report["peak_rss_gb"] = {opt: peak_memory(args.memory_size, opt)
                                 for opt in ("adam", "lbfgs")}
        print(json.dumps(report["peak_rss_gb"], indent=2), flush=True)
    out = write_result(report, f"nst-{args.size}px", args.out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
