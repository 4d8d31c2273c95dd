"""Instance norm: the hand-written layer (:class:`HandWritten`, what
``core.layers.InstanceNormalization`` was) against Keras's
``keras.layers.GroupNormalization(groups=-1)`` (what it now is), side by
side in one run.

For each shape (CycleGAN-like activations), both layers get the same gamma
and beta and the same random input, and the script reports

1. the result: max |difference| of the outputs and of the gradients with
   respect to the input, gamma and beta (float32), absolute and relative to
   the largest value;
2. the speed: median time of a forward + backward pass (one ``tf.function``
   each, interleaved repetitions) and the ratio Keras / hand-written (< 1:
   Keras is faster), under the float32 and the mixed_bfloat16 policies (the two
   precisions the GANs train in).

Prints the CPU model and its vector/bf16 flags, and writes JSON to
``benchmarks/results/instance-norm-<date>.json`` (see
:func:`benchmarks.write_result`).

    python benchmarks/instance_norm_benchmark.py
    python benchmarks/instance_norm_benchmark.py --shapes 8,32,32,64 1,128,128,64 --reps 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.env import quiet_tensorflow  # noqa: E402

tf = quiet_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import write_result  # noqa: E402
from core.layers import InstanceNormalization  # noqa: E402
from benchmarks import cpu_description  # noqa: E402

EPSILON = 1e-5
class HandWritten(keras.layers.Layer):
    """The instance norm core/layers.py had before it used Keras's: moments
    in float32 over H, W, then ``(x - mean) * rsqrt(var + eps) * gamma + beta``."""

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), name="gamma", initializer="ones")
        self.beta = self.add_weight(shape=(input_shape[-1],), name="beta", initializer="zeros")

    def call(self, x):
        x32 = tf.cast(x, tf.float32)
        mean, var = tf.nn.moments(x32, axes=[1, 2], keepdims=True)
        y = (x32 - mean) * tf.math.rsqrt(var + self.epsilon)
        y = y * tf.cast(self.gamma, tf.float32) + tf.cast(self.beta, tf.float32)
        return tf.cast(y, x.dtype)


def layers_with_equal_weights(channels: int, rng: np.random.Generator, policy: str = "float32"):
    assert isinstance(InstanceNormalization(), keras.layers.GroupNormalization)
    hand = HandWritten(epsilon=EPSILON, dtype=policy)
    theirs = InstanceNormalization(epsilon=EPSILON, dtype=policy)  # GroupNormalization(-1)
    for layer in (hand, theirs):
        layer.build((None, None, None, channels))
    gamma = rng.normal(1.0, 0.5, channels).astype(np.float32)
    beta = rng.normal(0.0, 0.5, channels).astype(np.float32)
    for layer in (hand, theirs):
        layer.set_weights([gamma, beta])
    return {"hand_written": hand, "keras": theirs}


def forward_backward(layer, x, upstream):
    @tf.function
    def fn():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * upstream)
        grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
        return y, grads

    return fn


def _diff(a: tf.Tensor, b: tf.Tensor) -> dict:
    a, b = tf.cast(a, tf.float64), tf.cast(b, tf.float64)
    err = float(tf.reduce_max(tf.abs(a - b)))
    return {"abs": err, "rel": err / max(float(tf.reduce_max(tf.abs(b))), 1e-30)}


def compare(shape: tuple[int, ...], reps: int, seed: int, policy: str) -> dict:
    rng = np.random.default_rng(seed)
    dtype = tf.bfloat16 if policy == "mixed_bfloat16" else tf.float32
    x = tf.cast(rng.normal(3.0, 2.0, shape).astype(np.float32), dtype)
    upstream = tf.cast(rng.normal(size=shape).astype(np.float32), dtype)
    fns = {name: forward_backward(layer, x, upstream)
           for name, layer in layers_with_equal_weights(shape[-1], rng, policy).items()}
    out = {name: fn() for name, fn in fns.items()}  # traces, and the values compared
    (y0, g0), (y1, g1) = out["hand_written"], out["keras"]
    diffs = {"output": _diff(y0, y1)}
    for name, a, b in zip(("grad_input", "grad_gamma", "grad_beta"), g0, g1):
        diffs[name] = _diff(a, b)
    times = {name: [] for name in fns}
    for _ in range(reps):  # interleaved: machine noise hits both alike
        for name, fn in fns.items():
            t = time.perf_counter()
            y, grads = fn()
            _ = y.numpy(), [g.numpy() for g in grads]
            times[name].append(time.perf_counter() - t)
    median = {name: statistics.median(t) for name, t in times.items()}
    return {"shape": list(shape), "policy": policy, "max_diff": diffs,
            "median_s": median,
            "keras_over_hand_written": median["keras"] / median["hand_written"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", nargs="+", default=["8,32,32,64", "1,128,128,64"],
                    help="NHWC shapes, comma-separated")
    ap.add_argument("--reps", type=int, default=30, help="timed repetitions per layer and shape")
    ap.add_argument("--policies", nargs="+", default=["float32", "mixed_bfloat16"],
                    choices=["float32", "mixed_bfloat16"], help="Keras dtype policies timed")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None,
                    help="result JSON (default: benchmarks/results/instance-norm-DATE.json)")
    args = ap.parse_args()

    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "cpu": cpu_description(), "tensorflow": tf.__version__,
              "keras": keras.__version__, "epsilon": EPSILON, "reps": args.reps, "results": []}
    print(f"CPU: {report['cpu']['model']}  flags: {' '.join(report['cpu']['flags'])}")
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}")
    print("max |hand-written - keras| (relative to max |keras|): output, d/dx, d/dgamma, "
          "d/dbeta;  forward + backward median time")
    for policy in args.policies:
        for text in args.shapes:
            shape = tuple(int(s) for s in text.split(","))
            r = compare(shape, args.reps, args.seed, policy)
            report["results"].append(r)
            d = "  ".join(f"{v['abs']:.1e} ({v['rel']:.0e})" for v in r["max_diff"].values())
            print(f"{policy:>14} {str(shape):>17}  {d}  |  hand-written "
                  f"{1e3 * r['median_s']['hand_written']:.2f} ms  keras "
                  f"{1e3 * r['median_s']['keras']:.2f} ms  keras/hand-written "
                  f"{r['keras_over_hand_written']:.2f}x", flush=True)
    out = write_result(report, "instance-norm", args.out)
    print(f"wrote {out}")
    print(json.dumps([{k: r[k] for k in ("policy", "shape", "keras_over_hand_written")}
                      for r in report["results"]]))


if __name__ == "__main__":
    main()
