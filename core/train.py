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

__all__ = ["build_adam", "check_batch_size", "distributed_step", "distributed_stream"]


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
