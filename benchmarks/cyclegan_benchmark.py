"""CycleGAN: this repository's train step against the TensorFlow tutorial's,
measured side by side in one run (same networks, same resolution, batch 1).

The tutorial's step is re-implemented here as the tutorial writes it: U-Net
generators and PatchGAN discriminators with instance norm, binary
cross-entropy, cycle weight 10, identity 5, one persistent tape and four
``tape.gradient`` calls (one per network), ``@tf.function``, fp32. Both sides
use the very same network objects (the U-Net and PatchGAN here are the
tutorial's architectures), so only the step differs.

Prints and writes ``benchmarks/results/cyclegan[-<parts>]-<date>.json`` (see
:func:`benchmarks.write_result`):

1. per-step time (median over interleaved rounds) at each ``--sizes``, and
   the ratio tutorial / ours (the issue's target: >= 1.7x);
2. the first call (tracing + first step) of our step in a fresh Python
   process at 128 px (the issue's target: < 15 s), and the tutorial's;
3. one optimiser update of the 128 px U-Net generator's weights, Keras 3's
   Adam against :class:`core.optim.FusedAdam` (same gradients, interleaved).

    python benchmarks/cyclegan_benchmark.py                    # 128 and 256 px
    python benchmarks/cyclegan_benchmark.py --sizes 128 --rounds 5
    python benchmarks/cyclegan_benchmark.py --parts adam       # only part 3
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def tutorial_step_fn(G, F, D_X, D_Y, g_opt, f_opt, dx_opt, dy_opt, lam: float = 10.0):
    """The tutorial's ``train_step`` (tensorflow/docs cyclegan.ipynb), literally."""
    import tensorflow as tf

    bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)

    def discriminator_loss(real, generated):
        return (bce(tf.ones_like(real), real) + bce(tf.zeros_like(generated), generated)) * 0.5

    def generator_loss(generated):
        return bce(tf.ones_like(generated), generated)

    def calc_cycle_loss(real_image, cycled_image):
        return lam * tf.reduce_mean(tf.abs(real_image - cycled_image))

    def identity_loss(real_image, same_image):
        return lam * 0.5 * tf.reduce_mean(tf.abs(real_image - same_image))

    @tf.function
    def train_step(real_x, real_y):
        with tf.GradientTape(persistent=True) as tape:
            fake_y = G(real_x, training=True)
            cycled_x = F(fake_y, training=True)
            fake_x = F(real_y, training=True)
            cycled_y = G(fake_x, training=True)
            same_x = F(real_x, training=True)
            same_y = G(real_y, training=True)
            disc_real_x = D_X(real_x, training=True)
            disc_real_y = D_Y(real_y, training=True)
            disc_fake_x = D_X(fake_x, training=True)
            disc_fake_y = D_Y(fake_y, training=True)
            gen_g_loss = generator_loss(disc_fake_y)
            gen_f_loss = generator_loss(disc_fake_x)
            total_cycle_loss = calc_cycle_loss(real_x, cycled_x) + calc_cycle_loss(real_y, cycled_y)
            total_gen_g_loss = gen_g_loss + total_cycle_loss + identity_loss(real_y, same_y)
            total_gen_f_loss = gen_f_loss + total_cycle_loss + identity_loss(real_x, same_x)
            disc_x_loss = discriminator_loss(disc_real_x, disc_fake_x)
            disc_y_loss = discriminator_loss(disc_real_y, disc_fake_y)
        for loss, net, opt in ((total_gen_g_loss, G, g_opt), (total_gen_f_loss, F, f_opt),
                               (disc_x_loss, D_X, dx_opt), (disc_y_loss, D_Y, dy_opt)):
            grads = tape.gradient(loss, net.trainable_variables)
            opt.apply_gradients(zip(grads, net.trainable_variables))
        return total_gen_g_loss

    return train_step


def build(size: int, which: str, ngf: int = 64):
    """(step(x, y), nets) for ``which`` in {"tutorial", "ours"} at ``size`` px."""
    import keras
    import tensorflow as tf

    from core.image_pool import ImagePool
    from cyclegan.train import TrainConfig, _optimizer, build_nets, make_cyclegan_step

    # the tutorial runs fp32; ours takes the default precision (auto)
    config = TrainConfig(image_size=size, ngf=ngf, ndf=64, batch_size=1, steps=10**6,
                         **({"precision": "float32"} if which == "tutorial" else {}))
    nets = build_nets(config)
    if which == "tutorial":
        opts = [keras.optimizers.Adam(2e-4, beta_1=0.5) for _ in range(4)]
        fn = tutorial_step_fn(nets.g, nets.f, nets.d_a, nets.d_b, *opts)
        return (lambda x, y, k: fn(x * 2 - 1, y * 2 - 1)), nets
    g_opt = _optimizer(config, nets.generator_variables)
    d_opt = _optimizer(config, nets.discriminator_variables)
    pools = (ImagePool(config.pool_size, (size, size, 3), "pool_a"),
             ImagePool(config.pool_size, (size, size, 3), "pool_b"))
    fn = make_cyclegan_step(nets, g_opt, d_opt, pools, tf.distribute.get_strategy(), seed=0,
                            gan_loss=config.gan_loss)
    return (lambda x, y, k: fn((x, y), tf.constant(k, tf.int64))), nets


def first_call(size: int, which: str) -> float:
    """Seconds from the first step call to its result, in a fresh process."""
    code = (f"import sys, time; sys.path.insert(0, {str(ROOT)!r});"
            "import tensorflow as tf;"
            "from benchmarks.cyclegan_benchmark import build;"
            f"step, _ = build({size}, {which!r});"
            f"x = tf.random.uniform([1, {size}, {size}, 3], seed=1);"
            "t = time.perf_counter(); out = step(x, x, 0); _ = [float(v) for v in (out.values() if isinstance(out, dict) else [out])];"
            "print('FIRST', time.perf_counter() - t)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    for line in res.stdout.splitlines():
        if line.startswith("FIRST"):
            return float(line.split()[1])
    raise RuntimeError(f"first-call probe failed:\n{res.stderr[-2000:]}")


def adam_update_times(size: int = 128, rounds: int = 10) -> dict:
    """Median seconds of one ``apply_gradients`` over the U-Net generator's
    weights (ngf 64 at ``size`` px), Keras Adam vs FusedAdam, interleaved."""
    import keras
    import tensorflow as tf

    from core.optim import FusedAdam
    from cyclegan.models import build_generator

    net = build_generator("unet", size, ngf=64)
    variables = net.trainable_variables
    grads = [tf.random.normal(v.shape, stddev=1e-3, seed=i) for i, v in enumerate(variables)]
    fns = {}
    for name, cls in (("keras_adam", keras.optimizers.Adam), ("fused_adam", FusedAdam)):
        opt = cls(2e-4, beta_1=0.5)
        opt.build(variables)
        fns[name] = tf.function(lambda opt=opt: opt.apply_gradients(zip(grads, variables)))
        for _ in range(2):  # tracing and a warm step
            fns[name]()
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            float(tf.reduce_sum(variables[-1]))  # wait for the update
            times[name].append(time.perf_counter() - t)
    med = {name: statistics.median(v) for name, v in times.items()}
    return {"size": size, "weights": int(sum(v.shape.num_elements() for v in variables)),
            "keras_adam_s": med["keras_adam"], "fused_adam_s": med["fused_adam"],
            "speedup": med["keras_adam"] / med["fused_adam"], "samples": times}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", nargs="+", type=int, default=[128, 256])
    ap.add_argument("--rounds", type=int, default=5, help="timed steps per side and size")
    ap.add_argument("--parts", nargs="+", choices=("step", "first", "adam"),
                    default=["step", "first", "adam"], help="which measurements to run")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import tensorflow as tf

    from cyclegan.train import TrainConfig

    precision = TrainConfig().precision  # the default path: bf16 only where native
    rows = []
    for size in (args.sizes if "step" in args.parts else []):
        steps = {w: build(size, w) for w in ("tutorial", "ours")}
        x = tf.random.uniform([1, size, size, 3], seed=1)
        y = tf.random.uniform([1, size, size, 3], seed=2)
        times = {w: [] for w in steps}
        for w, (fn, _) in steps.items():  # warm-up: tracing and first steps
            for k in range(2):
                out = fn(x, y, k)
                [float(v) for v in (out.values() if isinstance(out, dict) else [out])]
        for k in range(args.rounds):  # interleaved so drift hits both sides
            for w, (fn, _) in steps.items():
                t = time.perf_counter()
                out = fn(x, y, 2 + k)
                [float(v) for v in (out.values() if isinstance(out, dict) else [out])]
                times[w].append(time.perf_counter() - t)
        med = {w: statistics.median(v) for w, v in times.items()}
        row = {"size": size, "tutorial_s": med["tutorial"], "ours_s": med["ours"],
               "ours_precision": precision,
               "speedup": med["tutorial"] / med["ours"], "samples": times}
        rows.append(row)
        print(f"{size} px: tutorial {med['tutorial']:.3f} s/step, ours ({precision}) "
              f"{med['ours']:.3f} s/step, "
              f"{row['speedup']:.2f}x", flush=True)
        del steps
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{platform.node() or 'vm'} {platform.machine()}, "
                         f"{__import__('os').cpu_count()} CPUs",
              "tensorflow": tf.__version__, "command": "python " + " ".join(sys.argv)}
    from benchmarks import cpu_description

    result["cpu"] = cpu_description()
    if rows:
        result["rows"] = rows
    if "first" in args.parts:
        first = {w: first_call(128, w) for w in ("ours", "tutorial")}
        print(f"first call at 128 px (fresh process): ours {first['ours']:.1f} s, "
              f"tutorial {first['tutorial']:.1f} s", flush=True)
        result["first_call_128_s"] = first
    if "adam" in args.parts:
        adam = adam_update_times(128, rounds=max(args.rounds, 10))
        print(f"U-Net update at 128 px ({adam['weights'] / 1e6:.1f} M weights): Keras Adam "
              f"{adam['keras_adam_s']:.3f} s, FusedAdam {adam['fused_adam_s']:.3f} s, "
              f"{adam['speedup']:.2f}x", flush=True)
        result["adam_update_128"] = adam
    name = "cyclegan" if set(args.parts) == {"step", "first", "adam"} else \
        "cyclegan-" + "-".join(sorted(args.parts))
    from benchmarks import write_result

    out = write_result(result, name, args.out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
