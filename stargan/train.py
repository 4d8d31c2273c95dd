"""Training StarGAN (Choi et al. 2018).

:func:`train` is the API, ``python -m stargan train`` the CLI. One step is one
``tf.function`` on every replica of a ``tf.distribute`` strategy: ``n_critic``
critic updates, each on its own batch, then one generator update on the last
of them (the official code's schedule). Runs checkpoint, resume exactly, save
their options, log to TensorBoard and save sample grids (:mod:`core.loop`).

Critic: ``L_D = -mean D_src(x) + mean D_src(G(x, c)) + lambda_cls L_cls(D_cls(x),
c_orig) + lambda_gp GP``. Generator: ``L_G = -mean D_src(G(x, c)) + lambda_cls
L_cls(D_cls(G(x, c)), c) + lambda_rec mean |G(G(x, c), c_orig) - x|``. Target
labels ``c`` are a random permutation of the batch's own labels.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.gan_losses import gradient_penalty, wasserstein_critic_loss, wasserstein_generator_loss
from core.loop import Run, get_strategy, run_steps, set_seed, tile_images
from core.train import (LinearDecay, build_adam, check_batch_size, distributed_step,
                        distributed_stream)
from cyclegan.losses import cycle_loss

from .config import TrainConfig, config_from_run
from .losses import classification_loss, permute_labels
from .models import build_discriminator, build_generator

__all__ = ["Nets", "TrainConfig", "TrainResult", "build_nets", "config_from_run", "load_run",
           "make_stream", "make_train_step", "sample_grid", "train", "translate"]


@dataclass
class Nets:
    """The networks of a run: the generator ``g`` and the critic ``d``."""

    g: keras.Model
    d: keras.Model

    def trackables(self) -> dict[str, keras.Model]:
        return {"g": self.g, "d": self.d}


@dataclass
class TrainResult:
    """``history``: one row per step (``step, seconds, ...losses``)."""

    nets: Nets
    attributes: tuple[str, ...]
    history: list[dict[str, float]] = field(default_factory=list)
    start_step: int = 0
    seconds: float = 0.0
    run_dir: Path | None = None


def build_nets(config: TrainConfig, c_dim: int | None = None) -> Nets:
    """The networks of ``config`` (weights initialised from the global seed);
    ``c_dim`` defaults to the number of ``config.attribute_names()``."""
    c_dim = c_dim or len(config.attribute_names())
    g = build_generator(config.image_size, c_dim, conv_dim=config.g_conv_dim,
                        repeat_num=config.g_repeat_num,
                        modulate=config.conditioning == "planes+norm", dtype=config.dtype)
    d = build_discriminator(config.image_size, c_dim, conv_dim=config.d_conv_dim,
                            repeat_num=config.d_repeat_num, dtype=config.dtype)
    return Nets(g=g, d=d)


def _to_net(x):  # [0, 1] data -> [-1, 1] network range
    return tf.cast(x, tf.float32) * 2.0 - 1.0


def make_train_step(nets: Nets, g_opt, d_opt, strategy: tf.distribute.Strategy, *, seed: int,
                    n_critic: int = 5, lambda_cls: float = 1.0, lambda_rec: float = 10.0,
                    lambda_gp: float = 10.0, exclusive: bool = False,
                    counter: tf.Variable | None = None) -> Callable:
    """``step_fn((images, labels), step) -> losses dict`` (a tf.function).
    ``images`` ``(n_critic * B, H, W, 3)`` in [0, 1] and ``labels`` ``(n_critic
    * B, C)`` per replica: critic update ``i`` uses rows ``i*B .. (i+1)*B``, the
    generator the last block. Randomness (target labels, interpolation
    weights) comes from ``(seed, step)``."""
    G, D = nets.g, nets.d
    g_vars, d_vars = G.trainable_variables, D.trainable_variables

    def replica_step(batch, step):
        ctx = tf.distribute.get_replica_context()
        scale = 1.0 / tf.cast(ctx.num_replicas_in_sync, tf.float32)
        key = tf.random.experimental.stateless_fold_in(
            tf.stack([tf.cast(seed, tf.int64), step]), tf.cast(ctx.replica_id_in_sync_group,
                                                               tf.int64))
        images, labels = _to_net(batch[0]), tf.cast(batch[1], tf.float32)
        b = tf.shape(images)[0] // n_critic
        out = {}
        for i in range(n_critic):
            x, c_org = images[i * b:(i + 1) * b], labels[i * b:(i + 1) * b]
            k = tf.random.experimental.stateless_fold_in(key, i)
            c_trg = permute_labels(c_org, k)
            alpha = tf.random.stateless_uniform([b, 1, 1, 1], k + 1)
            x_fake = G([x, c_trg], training=True)
            with tf.GradientTape() as tape:
                real = D(x, training=True)
                fake = D(x_fake, training=True)
                adv = wasserstein_critic_loss(real["src"], fake["src"])
                cls = classification_loss(real["cls"], c_org, exclusive)
                gp = gradient_penalty(lambda t: D(t, training=True)["src"], x, x_fake, alpha)
                # each replica holds 1/replicas of the global batch (scaled on the tape)
                d_scaled = (adv + lambda_cls * cls + lambda_gp * gp) * scale
            grads = tape.gradient(d_scaled, d_vars)
            d_opt.apply_gradients(zip(grads, d_vars))
        out.update(d_adv=adv, d_cls=cls, d_gp=gp)

        # the generator, on the last critic batch (x, c_org, c_trg)
        with tf.GradientTape() as tape:
            x_fake = G([x, c_trg], training=True)
            fake = D(x_fake, training=True)
            adv = wasserstein_generator_loss(fake["src"])
            cls = classification_loss(fake["cls"], c_trg, exclusive)
            rec = cycle_loss(x, G([x_fake, c_org], training=True), lambda_rec)
            g_scaled = (adv + lambda_cls * cls + rec) * scale
        grads = tape.gradient(g_scaled, g_vars)
        g_opt.apply_gradients(zip(grads, g_vars))
        out.update(g_adv=adv, g_cls=cls, g_rec=rec)
        return out

    return distributed_step(replica_step, strategy, counter)


def make_stream(config: TrainConfig, x_train: np.ndarray | None = None
                ) -> Callable[[int, int, int], tf.data.Dataset]:
    """``stream(per_replica_rows, start_element, shard) -> Dataset`` of
    ``(images, labels)`` batches for ``config.data`` (images in [0, 1]).
    Checks that the data exists first (ConfigError naming ``data``)."""
    config.check_data()
    names = config.attribute_names()
    if config.data == "digits":
        from data.digit_attributes import attribute_stream

        if x_train is None:
            from data.mnist import load_mnist
            (x_train, _), _ = load_mnist()
        return lambda b, start, shard: attribute_stream(x_train, batch_size=b, seed=config.seed,
                                                        start_step=start, shard=shard)
    size, crop = config.image_size, config.crop_size
    if config.data == "celeba":
        from data.celeba import tfds_attribute_stream

        return lambda b, start, shard: tfds_attribute_stream(
            names, split="train", batch_size=b, image_size=size, crop_size=crop,
            seed=config.seed + 1000 * shard).skip(start)
    from data.translation import domain_files, labelled_stream

    if config.is_domain_folder():
        files, labels, _ = domain_files(config.data)
    else:
        from data.celeba import attribute_files

        files, labels = attribute_files(config.data, names, split="train")
    return lambda b, start, shard: labelled_stream(
        files, labels, batch_size=b, image_size=size, crop_size=crop, seed=config.seed,
        start_step=start, shard=shard, skip_bad=config.skip_bad_images)


_INFERENCE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _inference_fn(g: keras.Model):
    """One traced ``tf.function`` per generator (a new one per call would
    retrace G every time)."""
    if g not in _INFERENCE:
        ref = weakref.ref(g)  # a strong reference would keep g (the key) alive forever

        @tf.function(reduce_retracing=True)
        def run(x, c):
            return (ref()([x * 2.0 - 1.0, c], training=False) + 1.0) / 2.0
        _INFERENCE[g] = run
    return _INFERENCE[g]


def translate(g: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int = 256
              ) -> np.ndarray:
    """``G(images, labels)``: ``(N, H, W, 3)`` in [0, 1] and ``(N, C)`` (or one
    ``(C,)`` label for all) -> ``(N, H, W, 3)`` float32 in [0, 1]."""
    images = np.asarray(images, np.float32)
    labels = np.broadcast_to(np.asarray(labels, np.float32), (len(images), g.inputs[1].shape[-1]))
    run = _inference_fn(g)
    out = [run(tf.constant(images[i:i + batch_size]), tf.constant(labels[i:i + batch_size]))
           for i in range(0, len(images), batch_size)]
    return np.clip(np.concatenate([o.numpy() for o in out]), 0.0, 1.0)


def domain_labels(c_dim: int, exclusive: bool = False) -> np.ndarray:
    """Every target label: the ``c_dim`` one-hot rows (exclusive domains) or
    the ``2**c_dim`` attribute combinations (binary counting order)."""
    if exclusive:
        return np.eye(c_dim, dtype=np.float32)
    from data.digit_attributes import all_domains

    return all_domains(c_dim)


def sample_grid(g: keras.Model, images: np.ndarray, exclusive: bool = False,
                max_domains: int = 8) -> np.ndarray:
    """One row per input: the input, then its translation to each domain
    (the first ``max_domains`` labels of :func:`domain_labels`); ``(H', W',
    3)`` in [0, 1]."""
    c_dim = g.inputs[1].shape[-1]
    targets = domain_labels(c_dim, exclusive)[:max_domains]
    cols = [images] + [translate(g, images, t) for t in targets]
    return tile_images(np.stack(cols, 1).reshape(-1, *images.shape[1:]), ncols=len(cols))


def _optimizer(config: TrainConfig, variables, lr: float, updates_per_step: int):
    total = config.steps * updates_per_step
    schedule = LinearDecay(lr, total, round(total * config.decay_fraction))
    return build_adam(variables, learning_rate=schedule, beta_1=config.beta_1,
                      beta_2=config.beta_2, fused=True)


def train(config: TrainConfig, *, x_train: np.ndarray | None = None,
          strategy: tf.distribute.Strategy | None = None, show_progress: bool = True,
          stop_after: int | None = None) -> TrainResult:
    """Train (or resume) the run in ``config.run_dir`` up to ``config.steps``.

    ``x_train``: MNIST digits for ``data="digits"`` (default: loaded);
    ``stop_after``: stop after this many steps of this session (a checkpoint
    is written first; simulates an interruption).
    """
    set_seed(config.seed)
    strategy = strategy or get_strategy(config.strategy)
    check_batch_size(config.batch_size, strategy)
    names = config.attribute_names()
    stream = make_stream(config, x_train)
    preview = np.asarray(next(iter(stream(8, 0, 999)))[0])  # a shard no replica uses
    with strategy.scope():
        nets = build_nets(config, len(names))
        g_opt = _optimizer(config, nets.g.trainable_variables, config.g_lr, 1)
        d_opt = _optimizer(config, nets.d.trainable_variables, config.d_lr, config.n_critic)
    options = dict(dataclasses.asdict(config), attribute_names=list(names))
    run = Run(config.run_dir, options, trackables=dict(nets.trackables(), g_opt=g_opt,
                                                       d_opt=d_opt),
              resumable=("steps", "decay_fraction", "log_every", "sample_every",
                         "checkpoint_every", "run_dir", "skip_bad_images"),
              defaults=dataclasses.asdict(TrainConfig()))
    start = run.restore()
    result = TrainResult(nets=nets, attributes=names, history=run.history, start_step=start,
                         run_dir=run.dir)
    if start >= config.steps:
        return result
    step_fn = make_train_step(nets, g_opt, d_opt, strategy, seed=config.seed,
                              n_critic=config.n_critic, lambda_cls=config.lambda_cls,
                              lambda_rec=config.lambda_rec, lambda_gp=config.lambda_gp,
                              exclusive=config.exclusive, counter=run.step)
    # one element per step holds the n_critic batches of that step
    rows = config.batch_size * config.n_critic
    batches = iter(distributed_stream(strategy, stream, rows, start))
    end = config.steps if stop_after is None else min(config.steps, start + stop_after)
    result.seconds = run_steps(
        run, step_fn, batches, start, end, log_every=config.log_every,
        sample_every=config.sample_every, checkpoint_every=config.checkpoint_every,
        sample_fn=lambda: sample_grid(nets.g, preview, config.exclusive),
        extra_scalars=lambda: {"g_lr": float(g_opt.learning_rate)},
        desc=f"stargan/{Path(config.data).name}", show_progress=show_progress)
    return result


def load_run(run_dir: str | Path) -> tuple[TrainConfig, Nets, int, tuple[str, ...]]:
    """(config, networks with the newest checkpoint's weights, step, attribute
    names) of a run."""
    import json

    config = config_from_run(run_dir)
    saved = json.loads((Path(run_dir) / "options.json").read_text())
    names = tuple(saved.get("attribute_names") or config.attribute_names())
    nets = build_nets(config, len(names))
    run = Run(run_dir, dataclasses.asdict(config), trackables=nets.trackables())
    return config, nets, run.restore_weights(), names
