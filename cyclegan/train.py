"""Training pix2pix and CycleGAN.

:func:`train` is the API, ``python -m cyclegan train`` the CLI. Each step is
one ``tf.function`` run on every replica of a ``tf.distribute`` strategy.
Runs checkpoint (weights, optimizers, image pools, step; the learning rate is
a function of the optimizer's step, so it resumes too), resume exactly (on
one replica; on several, each keeps its own image pool and replica 0's is
restored into all, see :class:`core.image_pool.ImagePool`), save
their options beside the checkpoints, log to TensorBoard and save sample
grids (see :mod:`core.loop`).

The CycleGAN step computes what the TensorFlow tutorial's step computes (G
and F each get the gradient of their own losses; with identity and cycle
terms shared), but with fewer passes: the generators' losses are summed into
one objective (the paper's form; each generator's gradient is unchanged,
because the other generator's adversarial and identity terms do not depend
on it), so one backward pass serves both, and calls that share a network
are batched (``G([x, y])`` for translation and identity, ``D([real, fake])``).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.config import invalid, literal
from core.gan_losses import discriminator_loss, generator_loss
from core.image_pool import ImagePool
from core.loop import Run, get_strategy, run_steps, set_seed, tile_images
from core.patchgan import patchgan_discriminator
from core.train import (LinearDecay, build_adam, check_batch_size, distributed_step,
                        distributed_stream)

from .config import TrainConfig, config_from_run
from .losses import cycle_loss, identity_loss, l1_loss
from .models import build_generator

__all__ = ["LinearDecay", "Nets", "TrainConfig", "TrainResult", "build_nets", "config_from_run",
           "load_run", "make_cyclegan_step", "make_pix2pix_step", "make_stream", "train"]

@dataclass
class Nets:
    """The networks of a run. CycleGAN: ``g`` (A->B), ``f`` (B->A), ``d_a``
    (judges domain A), ``d_b``; pix2pix: ``g`` and the conditional ``d_b``."""

    g: keras.Model
    d_b: keras.Model
    f: keras.Model | None = None
    d_a: keras.Model | None = None

    def trackables(self) -> dict[str, keras.Model]:
        return {k: getattr(self, k) for k in ("g", "f", "d_a", "d_b") if getattr(self, k) is not None}

    @property
    def generator_variables(self) -> list[tf.Variable]:
        return self.g.trainable_variables + (self.f.trainable_variables if self.f else [])

    @property
    def discriminator_variables(self) -> list[tf.Variable]:
        return (self.d_a.trainable_variables if self.d_a else []) + self.d_b.trainable_variables


@dataclass
class TrainResult:
    """``history``: one row per step (``step, seconds, ...losses``)."""

    nets: Nets
    history: list[dict[str, float]] = field(default_factory=list)
    start_step: int = 0
    seconds: float = 0.0
    run_dir: Path | None = None


def build_nets(config: TrainConfig) -> Nets:
    """The networks of ``config`` (built, weights initialised from the seed)."""
    kw = dict(ngf=config.ngf, dtype=config.dtype)
    g = build_generator(config.generator, config.image_size, name="G_A2B", **kw)
    if config.model == "pix2pix":
        d_b = patchgan_discriminator(3, ndf=config.ndf, condition_channels=3, dtype=config.dtype,
                                     name="D_B")
        return Nets(g=g, d_b=d_b)
    f = build_generator(config.generator, config.image_size, name="F_B2A", **kw)
    d_a = patchgan_discriminator(3, ndf=config.ndf, dtype=config.dtype, name="D_A")
    d_b = patchgan_discriminator(3, ndf=config.ndf, dtype=config.dtype, name="D_B")
    return Nets(g=g, f=f, d_a=d_a, d_b=d_b)


def _optimizer(config: TrainConfig, variables) -> keras.optimizers.Optimizer:
    schedule = LinearDecay(config.learning_rate, config.steps,
                           round(config.steps * config.decay_fraction))
    return build_adam(variables, learning_rate=schedule, beta_1=config.beta_1, fused=True)


def _to_net(x):  # [0, 1] data -> [-1, 1] network range
    return tf.cast(x, tf.float32) * 2.0 - 1.0


def _replica_info():
    ctx = tf.distribute.get_replica_context()
    return ctx.num_replicas_in_sync, tf.cast(ctx.replica_id_in_sync_group, tf.int64)


def make_cyclegan_step(nets: Nets, g_opt, d_opt, pools: tuple[ImagePool, ImagePool],
                       strategy: tf.distribute.Strategy, *, seed: int, gan_loss: str = "lsgan",
                       cycle_weight: float = 10.0, identity_weight: float = 0.5,
                       backward_cycle_scale: float = 1.0,
                       counter: tf.Variable | None = None) -> Callable:
    """``step_fn((a, b), step) -> losses dict`` (a tf.function); ``a``, ``b``
    per-replica batches ``(B, H, W, 3)`` in [0, 1].

    Generators first (from one forward pass), then discriminators on real
    images and pooled fakes, each loss halved (junyanz's ``backward_D``).
    The forward cycle ``a -> G -> F`` is weighted ``cycle_weight``, the
    backward cycle ``b -> F -> G`` ``cycle_weight * backward_cycle_scale``
    (junyanz's ``lambda_A`` and ``lambda_B``). The identity terms follow
    junyanz too: ``|G(b) - b|`` is weighted ``lambda_B * identity_weight``
    and ``|F(a) - a|`` ``lambda_A * identity_weight``.
    ``counter`` is incremented in the same graph call as the weight update.
    """
    G, F, D_A, D_B = nets.g, nets.f, nets.d_a, nets.d_b
    pool_a, pool_b = pools
    g_vars, d_vars = nets.generator_variables, nets.discriminator_variables
    id_weight = identity_weight * cycle_weight

    def replica_step(batch, step):
        replicas, replica = _replica_info()
        real_a, real_b = _to_net(batch[0]), _to_net(batch[1])
        n = real_a.shape[0] or tf.shape(real_a)[0]  # static when known (the pool needs it)
        with tf.GradientTape() as tape:
            if id_weight:
                # one call per generator for translation and identity
                out_g = G(tf.concat([real_a, real_b], 0), training=True)
                out_f = F(tf.concat([real_b, real_a], 0), training=True)
                fake_b, same_b = out_g[:n], out_g[n:]
                fake_a, same_a = out_f[:n], out_f[n:]
            else:
                fake_b, fake_a = G(real_a, training=True), F(real_b, training=True)
            cycled_a = F(fake_b, training=True)
            cycled_b = G(fake_a, training=True)
            adv_g = generator_loss(D_B(fake_b, training=True), gan_loss)
            adv_f = generator_loss(D_A(fake_a, training=True), gan_loss)
            cyc = (cycle_loss(real_a, cycled_a, cycle_weight)
                   + cycle_loss(real_b, cycled_b, cycle_weight * backward_cycle_scale))
            # G's identity term sits in B's space, so it takes lambda_B (junyanz)
            idt = (identity_loss(real_a, same_a, id_weight)
                   + identity_loss(real_b, same_b, id_weight * backward_cycle_scale)
                   if id_weight else tf.constant(0.0))
            g_loss = adv_g + adv_f + cyc + idt
            # each replica holds 1/replicas of the global batch (scaled on the tape)
            g_scaled = g_loss / tf.cast(replicas, tf.float32)
        grads = tape.gradient(g_scaled, g_vars)
        g_opt.apply_gradients(zip(grads, g_vars))

        key = tf.random.experimental.stateless_fold_in(
            tf.random.experimental.stateless_fold_in(tf.stack([tf.cast(seed, tf.int64), step]), 2),
            replica)
        old_a = pool_a.query(fake_a, key)
        old_b = pool_b.query(fake_b, tf.random.experimental.stateless_fold_in(key, 1))
        with tf.GradientTape() as tape:
            logits_a = D_A(tf.concat([real_a, old_a], 0), training=True)
            logits_b = D_B(tf.concat([real_b, old_b], 0), training=True)
            d_a_loss = 0.5 * discriminator_loss(logits_a[:n], logits_a[n:], gan_loss)
            d_b_loss = 0.5 * discriminator_loss(logits_b[:n], logits_b[n:], gan_loss)
            d_scaled = (d_a_loss + d_b_loss) / tf.cast(replicas, tf.float32)
        grads = tape.gradient(d_scaled, d_vars)
        d_opt.apply_gradients(zip(grads, d_vars))
        return {"g_adv": adv_g, "f_adv": adv_f, "cycle": cyc, "identity": idt,
                "d_a": d_a_loss, "d_b": d_b_loss}

    return distributed_step(replica_step, strategy, counter)


def make_pix2pix_step(nets: Nets, g_opt, d_opt, strategy: tf.distribute.Strategy, *,
                      gan_loss: str = "bce", l1_weight: float = 100.0,
                      counter: tf.Variable | None = None) -> Callable:
    """``step_fn((a, b), step) -> losses`` for pix2pix (Isola et al. 2017):
    ``G`` maps ``a`` to ``b``; the conditional PatchGAN judges ``(a, b)``
    pairs; G's loss is adversarial + ``l1_weight * |G(a) - b|``."""
    G, D = nets.g, nets.d_b
    g_vars, d_vars = nets.generator_variables, nets.discriminator_variables

    def replica_step(batch, step):
        replicas, _ = _replica_info()
        a, b = _to_net(batch[0]), _to_net(batch[1])
        n = tf.shape(a)[0]
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = G(a, training=True)
            logits = D([tf.concat([a, a], 0), tf.concat([b, fake], 0)], training=True)
            real_logits, fake_logits = logits[:n], logits[n:]
            adv = generator_loss(fake_logits, gan_loss)
            l1 = l1_weight * l1_loss(b, fake)
            d_loss = discriminator_loss(real_logits, fake_logits, gan_loss)
            scale = 1.0 / tf.cast(replicas, tf.float32)  # replicas share the global batch
            g_scaled, d_scaled = (adv + l1) * scale, d_loss * scale
        g_grads = g_tape.gradient(g_scaled, g_vars)
        d_grads = d_tape.gradient(d_scaled, d_vars)
        g_opt.apply_gradients(zip(g_grads, g_vars))
        d_opt.apply_gradients(zip(d_grads, d_vars))
        return {"g_adv": adv, "l1": l1, "d": d_loss}

    return distributed_step(replica_step, strategy, counter)


def make_stream(config: TrainConfig, x_train: np.ndarray | None = None
                ) -> Callable[[int, int, int], tf.data.Dataset]:
    """``stream(per_replica_batch, start_element, shard) -> Dataset`` of ``(a, b)``
    batches in [0, 1] for ``config.data``. Checks that the data exists first
    (ConfigError naming ``data`` or ``image_size``); a folder's layout and
    files are checked when the stream is made (ValueError naming them)."""
    from data import mnistm, translation

    config.check_data()
    size = config.image_size
    if config.data in ("mnist_mnistm", "mnistm_to_mnist"):
        if size != mnistm.DIGIT_SIZE:
            raise invalid("image_size", f"{mnistm.DIGIT_SIZE} for {{}} "
                          + literal(repr(config.data)), size, refs=["data"])
        if x_train is None:
            from data.mnist import load_mnist
            (x_train, _), _ = load_mnist()
        swap = config.data == "mnistm_to_mnist"

        def stream(b, start, shard):
            ds = mnistm.mnist_mnistm_stream(x_train, batch_size=b, paired=config.model == "pix2pix",
                                            seed=config.seed, start_step=start, shard=shard)
            return ds.map(lambda a, m: (m, a)) if swap else ds
        return stream
    if config.data == "photo_painting":
        return lambda b, start, shard: mnistm.photo_painting_stream(
            size, batch_size=b, seed=config.seed, start_step=start, shard=shard)
    if config.data == "gray_photo":
        return lambda b, start, shard: mnistm.gray_photo_stream(
            size, batch_size=b, seed=config.seed, start_step=start, shard=shard)
    load_size = config.load_size or size
    if config.data.startswith("tfds:"):
        return lambda b, start, shard: translation.tfds_unaligned(
            config.data[5:], batch_size=b, image_size=size, load_size=load_size,
            seed=config.seed + shard, start_step=start)
    aligned = config.model == "pix2pix"
    return lambda b, start, shard: translation.folder_stream(
        config.data, aligned=aligned, batch_size=b, image_size=size, load_size=load_size,
        seed=config.seed, start_step=start, shard=shard, skip_bad=config.skip_bad_images)


def sample_grid(nets: Nets, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Rows of ``a | G(a) [| F(G(a))]`` (and ``b | F(b) | G(F(b))`` for CycleGAN),
    in [0, 1]."""
    from .infer import run_generator

    fake_b = run_generator(nets.g, a)
    if nets.f is None:
        cols = [a, fake_b] + ([b] if b is not None else [])
        return tile_images(np.stack(cols, 1).reshape(-1, *a.shape[1:]), ncols=2 * len(cols))
    rows = [a, fake_b, run_generator(nets.f, fake_b)]
    if b is not None:
        fake_a = run_generator(nets.f, b)
        rows += [b, fake_a, run_generator(nets.g, fake_a)]
    return tile_images(np.stack(rows, 1).reshape(-1, *a.shape[1:]), ncols=len(rows) * 2)


def train(config: TrainConfig, *, x_train: np.ndarray | None = None,
          strategy: tf.distribute.Strategy | None = None, show_progress: bool = True,
          stop_after: int | None = None) -> TrainResult:
    """Train (or resume) the run in ``config.run_dir`` up to ``config.steps``.

    ``x_train``: MNIST digits for the MNIST data sets (default: loaded);
    ``stop_after``: stop after this many steps of this session (a checkpoint
    is written first; simulates an interruption).
    """
    # everything is checked (and the preview read) before the run folder is written
    set_seed(config.seed)
    strategy = strategy or get_strategy(config.strategy)
    check_batch_size(config.batch_size, strategy)
    stream = make_stream(config, x_train)
    preview = next(iter(stream(8, 0, 999)))  # fixed samples from a shard no replica uses
    preview = [np.asarray(t) for t in preview]
    shape = (config.image_size, config.image_size, 3)
    with strategy.scope():
        nets = build_nets(config)
        g_opt = _optimizer(config, nets.generator_variables)
        d_opt = _optimizer(config, nets.discriminator_variables)
        pools = ((ImagePool(config.pool_size, shape, "pool_a"), ImagePool(config.pool_size, shape,
                                                                             "pool_b"))
                 if config.model == "cyclegan" else ())
    trackables = dict(nets.trackables(), g_opt=g_opt, d_opt=d_opt)
    trackables.update({p.name: p for p in pools})
    run = Run(config.run_dir, dataclasses.asdict(config), trackables=trackables,
              resumable=("steps", "decay_fraction", "log_every", "sample_every",
                         "checkpoint_every", "run_dir", "skip_bad_images"),
              defaults=dataclasses.asdict(TrainConfig()))
    start = run.restore()
    result = TrainResult(nets=nets, history=run.history, start_step=start, run_dir=run.dir)
    if start >= config.steps:
        return result
    if start and pools and config.pool_size and strategy.num_replicas_in_sync > 1:
        warnings.warn(f"{run.dir}: resuming on {strategy.num_replicas_in_sync} replicas restores "
                      "replica 0's image pool into every replica; the run continues correctly "
                      "but not bit-identically to an uninterrupted one", stacklevel=2)
    if config.model == "cyclegan":
        step_fn = make_cyclegan_step(nets, g_opt, d_opt, pools, strategy, seed=config.seed,
                                     gan_loss=config.gan_loss, cycle_weight=config.cycle_weight,
                                     identity_weight=config.identity_weight,
                                     backward_cycle_scale=config.backward_cycle_scale,
                                     counter=run.step)
    else:
        step_fn = make_pix2pix_step(nets, g_opt, d_opt, strategy, gan_loss=config.gan_loss,
                                    l1_weight=config.l1_weight, counter=run.step)

    batches = iter(distributed_stream(strategy, stream, config.batch_size, start))
    end = config.steps if stop_after is None else min(config.steps, start + stop_after)
    result.seconds = run_steps(
        run, step_fn, batches, start, end, log_every=config.log_every,
        sample_every=config.sample_every, checkpoint_every=config.checkpoint_every,
        sample_fn=lambda: sample_grid(nets, preview[0], preview[1]),
        extra_scalars=lambda: {"lr": float(g_opt.learning_rate)},
        desc=f"{config.model}/{config.data}", show_progress=show_progress)
    return result


def load_run(run_dir: str | Path) -> tuple[TrainConfig, Nets, int]:
    """(config, networks with the newest checkpoint's weights, step) of a run."""
    config = config_from_run(run_dir)
    nets = build_nets(config)
    run = Run(run_dir, dataclasses.asdict(config), trackables=nets.trackables())
    return config, nets, run.restore_weights()
