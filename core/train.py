"""Pieces every GAN's ``train`` uses: the optimizer, the distributed step and
the distributed input.

A step is written per replica (``replica_step(batch, step) -> {name:
scalar}``, each replica scaling its loss by ``1 / replicas`` so the summed
gradients are those of the global-batch mean) and wrapped by
:func:`distributed_step` into one ``tf.function``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import keras
import tensorflow as tf

from core.config import invalid

__all__ = ["LinearDecay", "build_adam", "cached_weights", "check_batch_size", "distributed_step",
           "distributed_stream", "fit_classifier"]


@keras.saving.register_keras_serializable(package="deepfake_lab")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``lr`` for the first ``total - decay`` steps, then linearly down to 0 at
    step ``total`` (junyanz's ``linear`` policy, per step instead of per epoch)."""

    def __init__(self, lr: float, total: int, decay: int):
        self.lr, self.total, self.decay = float(lr), int(total), int(decay)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        if self.decay == 0:
            return tf.constant(self.lr, tf.float32)
        frac = (float(self.total) - step) / float(self.decay)
        return self.lr * tf.clip_by_value(frac, 0.0, 1.0)

    def get_config(self):
        return {"lr": self.lr, "total": self.total, "decay": self.decay}


def build_adam(variables, *, learning_rate: Any, beta_1: float, beta_2: float = 0.999,
               weight_decay: float | None = None, fused: bool = False
               ) -> keras.optimizers.Optimizer:
    """Adam (``fused``: :class:`core.optim.FusedAdam`, the same update in one
    kernel per variable) built on ``variables``, so its slots exist before a
    checkpoint is restored into them. ``learning_rate``: a float or a schedule
    of the optimizer's step; ``weight_decay``: decoupled (AdamW-style), None or
    0 for none."""
    if fused:
        from core.optim import FusedAdam as cls
    else:
        cls = keras.optimizers.Adam
    opt = cls(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
              weight_decay=weight_decay or None)
    opt.build(variables)
    return opt


def check_batch_size(batch_size: int, strategy: tf.distribute.Strategy) -> int:
    """The per-replica batch; raises ConfigError naming ``batch_size`` unless
    the replicas of ``strategy`` split it evenly."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise invalid("batch_size", f"divisible by the {replicas} replicas of the strategy",
                      batch_size)
    return batch_size // replicas


def distributed_step(replica_step: Callable[[Any, tf.Tensor], Mapping[str, tf.Tensor]],
                     strategy: tf.distribute.Strategy, counter: tf.Variable | None = None
                     ) -> Callable[[Any, tf.Tensor], dict[str, tf.Tensor]]:
    """``step_fn(per_replica_batch, step) -> {name: mean over replicas}``, one
    ``tf.function`` running ``replica_step`` on every replica. ``counter``
    (the run's step variable) is incremented in the same graph call as the
    weight update, so an interrupt can never separate the two."""
    @tf.function
    def step_fn(batch, step):
        out = strategy.run(replica_step, args=(batch, step))
        mean = tf.distribute.ReduceOp.MEAN
        out = {k: strategy.reduce(mean, v, axis=None) for k, v in out.items()}
        if counter is not None:
            counter.assign_add(1)
        return out

    return step_fn


def distributed_stream(strategy: tf.distribute.Strategy,
                       stream: Callable[[int, int, int], tf.data.Dataset], batch_size: int,
                       start_step: int):
    """The distributed dataset of ``stream(per_replica_batch, start_element,
    shard)`` resuming at ``start_step``: one pipeline per input worker, each
    element one replica's batch of one step."""
    per_replica = check_batch_size(batch_size, strategy)

    def dataset(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        # one pipeline may feed several replicas, one element each per step:
        # element index = step * (replicas per pipeline) + replica
        start = start_step * ctx.num_replicas_in_sync // ctx.num_input_pipelines
        return stream(per_replica, start, ctx.input_pipeline_id)

    return strategy.distribute_datasets_from_function(dataset)


def cached_weights(name: str, recipe: Mapping[str, Any], data: Any, seed: int,
                   build: Callable[[], keras.Model], train: Callable[[], keras.Model]
                   ) -> keras.Model:
    """A model trained once and kept in the project cache as
    ``models/NAME_<recipe hash>_<data hash>_s<seed>.weights.h5``: ``build()``
    with the saved weights when that file loads, else ``train()`` (which
    returns the trained model), saved atomically for next time. ``recipe``:
    JSON-able training settings; ``data``: the training array. A corrupt or
    foreign file is reported and replaced by a fresh training."""
    import hashlib
    import json
    import logging

    import numpy as np

    from data.cache import atomic_path, cache_dir

    digest = hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()[:12]
    key = hashlib.sha256(json.dumps(dict(recipe), sort_keys=True).encode()).hexdigest()[:8]
    path = cache_dir("models") / f"{name}_{key}_{digest}_s{seed}.weights.h5"
    if path.is_file():
        model = build()
        try:
            model.load_weights(path)
            return model
        except Exception as exc:  # corrupt or foreign file: h5py/Keras raise many kinds
            logging.getLogger(__name__).warning("%s unreadable (%s); retraining", path, exc)
    model = train()
    with atomic_path(path, suffix=".part.weights.h5") as tmp:
        model.save_weights(str(tmp))
    return model


def fit_classifier(model: keras.Model, batch_fn: Callable[[tf.Tensor], tuple[Any, Any]],
                   loss_fn: Callable[[Any, Any], tf.Tensor], *, steps: int,
                   learning_rate: float = 1e-3, desc: str = "classifier",
                   show_progress: bool = False) -> keras.Model:
    """Train ``model`` for ``steps`` Adam steps (one ``tf.function`` each):
    ``batch_fn(k)`` builds batch ``k`` (a step index, int64 tensor) as
    ``(inputs, targets)`` inside the graph, ``loss_fn(targets, outputs)`` scores
    it. Returns ``model``. For the small judges the metrics train."""
    from core.loop import progress

    opt = keras.optimizers.Adam(learning_rate)

    @tf.function
    def step(k):
        inputs, targets = batch_fn(k)
        with tf.GradientTape() as tape:
            loss = loss_fn(targets, model(inputs, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    bar = progress(steps, desc=desc, disable=not show_progress)
    for k in range(steps):
        step(tf.constant(k, tf.int64))
        bar.update(1)
    bar.close()
    return model
