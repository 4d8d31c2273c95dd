"""Training DCGAN, CoGAN and the conditional-GAN baseline on MNIST domains.

:func:`train` is the API; ``python -m cogan train`` the CLI. One
``tf.function`` step updates G and D from the same forward pass (two tapes,
as in the TensorFlow DCGAN tutorial) on every replica of the
``tf.distribute`` strategy. Runs checkpoint, resume exactly, log to
TensorBoard and save sample grids (see :mod:`core.loop`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.config import invalid
from core.gan_losses import discriminator_loss, generator_loss
from core.loop import Run, get_strategy, run_steps, set_seed, tile_images
from core.train import build_adam, check_batch_size, distributed_step, distributed_stream
from data.mnist import digit_stream, load_mnist, unpaired_domains

from .config import MODEL_NAMES, TrainConfig, config_from_run
from .models import CoGAN, ConditionalGAN, DCGAN

__all__ = ["MODELS", "TrainConfig", "TrainResult", "build_model", "config_from_run",
           "make_train_step", "sample_grid", "train"]

MODELS = dict(zip(MODEL_NAMES, (DCGAN, CoGAN, ConditionalGAN)))


@dataclass
class TrainResult:
    """``history``: one row per step since the run began (``step, seconds,
    d_loss, g_loss``; ``seconds`` counts from the start of each session)."""

    model: keras.Model
    history: list[dict[str, float]] = field(default_factory=list)
    start_step: int = 0
    seconds: float = 0.0
    run_dir: Path | None = None


def build_model(config: TrainConfig) -> keras.Model:
    model = MODELS[config.model](width=config.width, image_size=config.image_size,
                                 channels=config.channels)
    model.build_all()
    return model


def _optimizer(config: TrainConfig, variables) -> keras.optimizers.Optimizer:
    return build_adam(variables, learning_rate=config.learning_rate, beta_1=config.beta_1,
                      beta_2=config.beta_2, weight_decay=config.weight_decay)


def make_train_step(model: keras.Model, g_opt, d_opt, strategy: tf.distribute.Strategy, *,
                    seed: int, gan_loss: str = "bce", counter: tf.Variable | None = None):
    """``step_fn(per_replica_batch, step) -> {"d_loss", "g_loss"}`` (a tf.function).

    The noise of replica ``r`` at step ``k`` is drawn statelessly from
    ``(seed, k, r)``; losses are averaged over the global batch. ``counter``
    (the run's step variable) is incremented in the same graph call as the
    weight update, so an interrupt can never separate the two.
    """
    two_domains = isinstance(model, (CoGAN, ConditionalGAN))
    g_vars, d_vars = model.generator_variables, model.discriminator_variables

    def replica_step(batch, step):
        ctx = tf.distribute.get_replica_context()
        replicas = ctx.num_replicas_in_sync
        replica = tf.cast(ctx.replica_id_in_sync_group, tf.int64)
        key = tf.random.experimental.stateless_fold_in(  # salt 1: noise, not data
            tf.random.experimental.stateless_fold_in(
                tf.stack([tf.cast(seed, tf.int64), step]), 1), replica)
        z = tf.random.stateless_uniform([tf.shape(batch[0])[0], model.noise_dim], key, -1.0, 1.0)
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            if two_domains:
                fakes = model.generate(z, training=True)
                real_logits = [model.discriminate(batch[i], i, training=True) for i in (0, 1)]
                fake_logits = [model.discriminate(fakes[i], i, training=True) for i in (0, 1)]
            else:
                real_logits = [model.discriminate(batch[0], training=True)]
                fake_logits = [model.discriminate(model.generate(z, training=True),
                                                  training=True)]
            d_loss = tf.add_n([discriminator_loss(r, f, gan_loss)
                               for r, f in zip(real_logits, fake_logits)])
            g_loss = tf.add_n([generator_loss(f, gan_loss) for f in fake_logits])
            # each replica holds 1/replicas of the global batch: scale so the
            # summed gradients equal the gradient of the global mean
            g_scaled, d_scaled = g_loss / replicas, d_loss / replicas
        g_grads = g_tape.gradient(g_scaled, g_vars)
        d_grads = d_tape.gradient(d_scaled, d_vars)
        g_opt.apply_gradients(zip(g_grads, g_vars))
        d_opt.apply_gradients(zip(d_grads, d_vars))
        return {"d_loss": d_loss, "g_loss": g_loss}

    return distributed_step(replica_step, strategy, counter)


def sample_grid(model: keras.Model, n: int = 16, seed: int = 777) -> np.ndarray:
    """A grid of samples from fixed noise: pairs side by side (two-domain
    models: rows of ``x1 | x2``), or ``n`` digits (DCGAN)."""
    z = tf.random.stateless_uniform([n, model.noise_dim], [seed, 0], -1.0, 1.0)
    out = model.generate(z, training=False)
    if isinstance(out, (tuple, list)):
        pairs = np.stack([np.asarray(out[0]), np.asarray(out[1])], axis=1)  # (n, 2, H, W, 1)
        return tile_images(pairs.reshape(-1, *pairs.shape[2:]), ncols=8)
    return tile_images(out, ncols=8)


def _mnist_stream(config: TrainConfig, x_train: np.ndarray):
    def stream(batch_size: int, start: int, shard: int) -> tf.data.Dataset:
        if config.model == "dcgan":
            return digit_stream(x_train, batch_size=batch_size, seed=config.seed,
                                start_step=start, shard=shard)
        return unpaired_domains(x_train, config.task, batch_size=batch_size, seed=config.seed,
                                start_step=start, shard=shard)

    return stream


def train(config: TrainConfig, *, x_train: np.ndarray | None = None,
          strategy: tf.distribute.Strategy | None = None, show_progress: bool = True,
          stop_after: int | None = None, stream_fn=None) -> TrainResult:
    """Train (or resume) the run in ``config.run_dir`` up to ``config.steps``.

    Args:
      x_train: uint8 digits ``(N, 28, 28)``; default: the MNIST training set.
      strategy: a ``tf.distribute`` strategy; default from ``config.strategy``.
      stop_after: stop after this many steps of this session (simulates an
        interruption in tests; a checkpoint is written first).
      stream_fn: other data, ``stream_fn(per_replica_batch, start_element,
        shard) -> tf.data.Dataset`` of ``(domain1, domain2)`` (or 1-tuples
        for DCGAN) batches shaped like ``config.image_size/channels``, e.g.
        ``lambda b, start, shard: data.celeba.domain_stream(root, "Smiling",
        batch_size=b, seed=start + shard)`` (shuffled streams like that one
        resume with fresh draws rather than the exact batches).
    """
    # everything is checked before the run folder is written
    set_seed(config.seed)
    strategy = strategy or get_strategy(config.strategy)
    check_batch_size(config.batch_size, strategy)
    if stream_fn is None:
        for name, mnist in (("image_size", 28), ("channels", 1)):
            if getattr(config, name) != mnist:
                raise invalid(name, f"{mnist} for MNIST (other data needs stream_fn)",
                              getattr(config, name))
        if x_train is None:
            (x_train, _), _ = load_mnist()
    with strategy.scope():
        model = build_model(config)
        g_opt = _optimizer(config, model.generator_variables)
        d_opt = _optimizer(config, model.discriminator_variables)
    data_size = len(x_train) if x_train is not None else "stream"
    run = Run(config.run_dir, dict(dataclasses.asdict(config), data_size=data_size),
              trackables={"model": model, "g_opt": g_opt, "d_opt": d_opt},
              resumable=("steps", "log_every", "sample_every", "checkpoint_every", "run_dir"))
    start = run.restore()
    result = TrainResult(model=model, history=run.history, start_step=start, run_dir=run.dir)
    if start >= config.steps:
        return result
    step_fn = make_train_step(model, g_opt, d_opt, strategy, seed=config.seed,
                              gan_loss=config.gan_loss, counter=run.step)
    stream = stream_fn or _mnist_stream(config, x_train)
    batches = iter(distributed_stream(strategy, stream, config.batch_size, start))
    end = config.steps if stop_after is None else min(config.steps, start + stop_after)
    result.seconds = run_steps(run, step_fn, batches, start, end, log_every=config.log_every,
                               sample_every=config.sample_every,
                               checkpoint_every=config.checkpoint_every,
                               sample_fn=lambda: sample_grid(model),
                               desc=f"{config.model}/{config.task}", show_progress=show_progress)
    return result

