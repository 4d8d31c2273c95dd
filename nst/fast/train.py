"""Training a per-style feed-forward network (Johnson et al. 2016).

:func:`train` is the API, ``python -m nst.fast train`` the CLI. One step is
one ``tf.function`` on every replica of a ``tf.distribute`` strategy: the
network stylises a batch of random content crops, VGG19 (the extractor of
:func:`nst.stylize`, same layers and normalisation) scores each output
against its crop (content) and the style image's Gram matrices (style), and
Adam updates the network. The loss is :mod:`nst.losses`' Gatys objective per
image, averaged over the batch (see :class:`TrainConfig`). Runs checkpoint,
resume exactly, save their options, log to TensorBoard and save sample
grids of the held-out content photos (:mod:`core.loop`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.loop import Run, get_strategy, run_steps, set_seed, tile_images
from core.train import (LinearDecay, build_adam, check_batch_size, distributed_step,
                        distributed_stream)
from data.images import load_image

from ..losses import content_loss, gram_matrix, style_loss, total_variation_loss
from ..stylize import get_extractor
from ..vgg import VGG19Features
from .config import MODEL, TrainConfig, config_from_run
from .transformer import build_transformer, stylize_array

__all__ = ["MODEL", "TrainConfig", "TrainResult", "batch_losses", "config_from_run", "load_run",
           "load_style", "make_stream", "make_train_step", "preview_images", "sample_grid",
           "style_grams", "train"]

#: options a saved run may change when it is resumed
RESUMABLE = ("steps", "decay_fraction", "log_every", "sample_every", "checkpoint_every",
             "run_dir", "skip_bad_images")


@dataclass
class TrainResult:
    """``history``: one row per step (``step, seconds, loss, style, content, tv``)."""

    net: keras.Model
    history: list[dict[str, float]] = field(default_factory=list)
    start_step: int = 0
    seconds: float = 0.0
    run_dir: Path | None = None


def load_style(style: str, style_size: int) -> tuple[np.ndarray, str]:
    """``(image, digest)``: the style image (a ``data/samples`` name, a path or
    a URL) with its longer side at most ``style_size``, and the SHA-256 of its
    8-bit pixels at that size (saved with the run, so a changed style cannot
    resume it). A missing or unreadable image raises ConfigError naming
    ``style``."""
    from core.config import ConfigError, literal
    from data import samples
    from data.images import to_uint8

    source = samples.path(style) if style in samples.ATTRIBUTION else style
    try:
        image = load_image(source, max_side=style_size)
    except ValueError as exc:
        raise ConfigError("{} " + literal(str(exc)), "style") from None
    return image, hashlib.sha256(to_uint8(image).tobytes()).hexdigest()


def style_grams(extractor: VGG19Features, style: np.ndarray) -> dict[str, tf.Tensor]:
    """``{layer: (1, C, C)}`` Gram matrices of ``style`` ``(H, W, 3)``."""
    features = extractor(tf.constant(np.asarray(style, np.float32)[None]))["style"]
    return {name: gram_matrix(f) for name, f in features.items()}


def batch_losses(extractor: VGG19Features, outputs: tf.Tensor, contents: tf.Tensor,
                 grams: Mapping[str, tf.Tensor], *, style_weight: float, content_weight: float,
                 tv_weight: float) -> dict[str, tf.Tensor]:
    """The Gatys terms of ``outputs`` (B, H, W, 3) against their ``contents``
    and the style's ``grams``, each the mean over the batch of the per-image
    value (:mod:`nst.losses`; TV, a sum there, is divided by B)."""
    content_targets = extractor(contents)["content"]
    features = extractor(outputs)
    s = style_loss(features["style"], grams, style_weight)
    c = content_loss(features["content"], content_targets, content_weight)
    tv = total_variation_loss(outputs, tv_weight) / tf.cast(tf.shape(outputs)[0], tf.float32)
    return {"loss": s + c + tv, "style": s, "content": c, "tv": tv}


def make_train_step(net: keras.Model, extractor: VGG19Features, grams: Mapping[str, tf.Tensor],
                    optimizer, strategy: tf.distribute.Strategy, *, style_weight: float,
                    content_weight: float, tv_weight: float,
                    counter: tf.Variable | None = None) -> Callable:
    """``step_fn(contents, step) -> {loss, style, content, tv}`` (a
    tf.function; the losses of the weights before the update). ``contents``
    ``(B, S, S, 3)`` in [0, 1] per replica."""
    variables = net.trainable_variables
    weights = dict(style_weight=style_weight, content_weight=content_weight,
                   tv_weight=tv_weight)

    def replica_step(contents, step):
        ctx = tf.distribute.get_replica_context()
        scale = 1.0 / tf.cast(ctx.num_replicas_in_sync, tf.float32)
        contents = tf.cast(contents, tf.float32)
        with tf.GradientTape() as tape:
            out = batch_losses(extractor, net(contents, training=True), contents, grams,
                               **weights)
            # each replica holds 1/replicas of the global batch (scaled on the tape)
            scaled = out["loss"] * scale
        grads = tape.gradient(scaled, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return out

    return distributed_step(replica_step, strategy, counter)


def make_stream(config: TrainConfig) -> Callable[[int, int, int], tf.data.Dataset]:
    """``stream(per_replica_rows, start_element, shard) -> Dataset`` of content
    batches in [0, 1] for ``config.data``; checks the data first (a bad
    ``data`` or an unreadable image is named)."""
    from data.photos import folder_files, photo_stream, tfds_stream, training_files

    config.check_data()
    size = config.image_size
    if config.data == "coco":
        return lambda b, start, shard: tfds_stream("coco/2017", batch_size=b, image_size=size,
                                                   seed=config.seed, start_step=start,
                                                   shard=shard)
    files = training_files() if config.data == "photos" else folder_files(config.data)
    return lambda b, start, shard: photo_stream(files, batch_size=b, image_size=size,
                                                seed=config.seed, start_step=start, shard=shard,
                                                skip_bad=config.skip_bad_images)


def preview_images(size: int) -> np.ndarray:
    """The held-out content photos (:data:`data.photos.HELD_OUT`), centre
    squares resized to ``size``: ``(N, size, size, 3)`` in [0, 1]."""
    from data.photos import HELD_OUT, photo_path
    from data.translation import centre_crop

    return np.stack([centre_crop(load_image(photo_path(n), max_side=None), None, size).numpy()
                     for n in HELD_OUT])


def sample_grid(net: keras.Model, contents: np.ndarray) -> np.ndarray:
    """One row per content image: the image, then its stylisation; ``(H', W', 3)``."""
    out = stylize_array(net, contents)
    return tile_images(np.stack([contents, out], 1).reshape(-1, *contents.shape[1:]), ncols=2)


def build_net(config: TrainConfig) -> keras.Model:
    """The network of ``config`` (weights initialised from the global seed)."""
    return build_transformer(config.width, dtype=config.dtype)


def _options(config: TrainConfig, style_digest: str) -> dict:
    return dict(dataclasses.asdict(config), model=MODEL, style_digest=style_digest)


def train(config: TrainConfig, *, extractor: VGG19Features | None = None,
          strategy: tf.distribute.Strategy | None = None, show_progress: bool = True,
          stop_after: int | None = None) -> TrainResult:
    """Train (or resume) the run in ``config.run_dir`` up to ``config.steps``.

    ``extractor``: the loss network (default: :func:`nst.stylize.get_extractor`
    of ``config.weights`` at ``config.precision``; tests pass one with
    random weights); ``stop_after``: stop after this many steps of this
    session (a checkpoint is written first; simulates an interruption).
    """
    set_seed(config.seed)
    strategy = strategy or get_strategy(config.strategy)
    check_batch_size(config.batch_size, strategy)
    style, style_digest = load_style(config.style, config.style_size)
    stream = make_stream(config)
    preview = preview_images(min(config.image_size, 256))
    if extractor is None:
        extractor = get_extractor(config.weights, config.precision)
    with strategy.scope():
        net = build_net(config)
        schedule = LinearDecay(config.learning_rate, config.steps,
                               round(config.steps * config.decay_fraction))
        opt = build_adam(net.trainable_variables, learning_rate=schedule, beta_1=0.9,
                         fused=True)
    run = Run(config.run_dir, _options(config, style_digest),
              trackables={"net": net, "opt": opt}, resumable=RESUMABLE,
              defaults=dataclasses.asdict(TrainConfig()))
    start = run.restore()
    result = TrainResult(net=net, history=run.history, start_step=start, run_dir=run.dir)
    if start >= config.steps:
        return result
    grams = style_grams(extractor, style)
    step_fn = make_train_step(net, extractor, grams, opt, strategy,
                              style_weight=config.style_weight,
                              content_weight=config.content_weight, tv_weight=config.tv_weight,
                              counter=run.step)
    batches = iter(distributed_stream(strategy, stream, config.batch_size, start))
    end = config.steps if stop_after is None else min(config.steps, start + stop_after)
    result.seconds = run_steps(
        run, step_fn, batches, start, end, log_every=config.log_every,
        sample_every=config.sample_every, checkpoint_every=config.checkpoint_every,
        sample_fn=lambda: sample_grid(net, preview),
        extra_scalars=lambda: {"learning_rate": float(opt.learning_rate)},
        desc=f"nst.fast/{Path(str(config.style)).stem}", show_progress=show_progress)
    return result


def load_run(run_dir: str | Path, precision: str = "float32"
             ) -> tuple[TrainConfig, keras.Model, int]:
    """(config, network with the newest checkpoint's weights, step) of a run.
    The network computes in ``precision`` whatever the run trained in
    (float32 by default: exact, and fast on CPUs without native bf16; the
    weights are float32 either way). ValueError naming the folder when it is
    not a run of this package or its checkpoint does not fit."""
    import json

    from core.precision import keras_policy, resolve_precision

    path = Path(run_dir) / "options.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: no readable options file ({exc})") from None
    if not isinstance(saved, dict) or saved.get("model") != MODEL:
        found = saved.get("model") if isinstance(saved, dict) else None
        raise ValueError(f"{run_dir}: not a run of nst.fast (its options.json says model="
                         f"{found!r}, expected {MODEL!r})")
    config = config_from_run(run_dir)
    net = build_transformer(config.width, dtype=keras_policy(resolve_precision(precision)))
    run = Run(run_dir, dataclasses.asdict(config), trackables={"net": net})
    return config, net, run.restore_weights()
