"""Adam with TensorFlow's fused update kernel.

Keras 3's Adam updates each variable with several separate ops (moment
updates, square root, division, subtraction), each a full pass over memory.
On a CPU with large generators (the U-Net holds 42-54 M weights) that is a
measurable share of a training step: 0.311 s vs 0.067 s per update of the
128 px U-Net (41.8 M weights) on the 2-core machine
(``python benchmarks/cyclegan_benchmark.py --parts adam``, benchmarks/RESULTS.md).
:class:`FusedAdam` computes the same update (Kingma & Ba, with Keras's
epsilon placement) with one ``ResourceApplyAdam`` kernel per variable.

It reads Adam's private slot lists (``_momentums``, ``_velocities``,
``_get_variable_index``), so ``requirements.txt`` pins the Keras it was
tested with (3.15.1); ``build`` refuses, with the way out, a Keras without
them, and tests/test_translation_layers.py checks them and the update
against Keras's Adam.
"""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["FusedAdam"]


def _handle(variable):
    """The resource handle of a tf.Variable or of the tf.Variable a Keras
    variable wraps (None otherwise)."""
    if not isinstance(variable, tf.Variable):
        variable = getattr(variable, "value", None)
    return variable.handle if isinstance(variable, tf.Variable) else None


@keras.saving.register_keras_serializable(package="deepfake_lab")
class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` (same arguments, slots and checkpoints) whose
    update is TensorFlow's fused kernel; falls back to Keras's update for
    AMSGrad or variables without a resource handle."""

    _INTERNALS = ("_momentums", "_velocities", "_get_variable_index")

    def build(self, variables):
        super().build(variables)
        missing = [name for name in self._INTERNALS if not hasattr(self, name)]
        if missing:
            raise RuntimeError(
                f"FusedAdam reads keras.optimizers.Adam's {', '.join(missing)}, which keras "
                f"{keras.__version__} does not have: install keras==3.15.1 (requirements.txt) "
                "or use keras.optimizers.Adam")

    def update_step(self, gradient, variable, learning_rate):
        handle = _handle(variable)
        if self.amsgrad or handle is None or tf.as_dtype(variable.dtype) != tf.float32:
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        step = tf.cast(self.iterations + 1, tf.float32)
        tf.raw_ops.ResourceApplyAdam(
            var=handle, m=_handle(m), v=_handle(v),
            beta1_power=tf.pow(tf.cast(self.beta_1, tf.float32), step),
            beta2_power=tf.pow(tf.cast(self.beta_2, tf.float32), step),
            lr=tf.cast(learning_rate, tf.float32), beta1=tf.cast(self.beta_1, tf.float32),
            beta2=tf.cast(self.beta_2, tf.float32), epsilon=tf.cast(self.epsilon, tf.float32),
            grad=tf.cast(gradient, tf.float32))
