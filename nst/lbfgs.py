"""Limited-memory BFGS on the box [0, 1], in TensorFlow, for pixel optimisation.

Why not SciPy's L-BFGS-B (what this package used before): its bookkeeping
costs 84 ms per evaluation at 256 px with 20 pairs, about a third of a bf16
VGG19 evaluation, and its memory cannot outlive one call, so switching the
loss from bf16 to float32 halfway would restart it from steepest descent.

The method (Nocedal & Wright, *Numerical Optimization*, 2nd ed., Alg. 7.4 and
3.1), with the bounds handled by projection:

* coordinates at a bound whose gradient pushes outward are held fixed;
* the direction is ``-H g`` from the two-loop recursion over the last
  ``memory`` pairs ``(s, y)``, ``H0 = (s.y / y.y) I``; steepest descent when
  there is no pair yet (first step ``min(1, 1 / |g|_1)``, as PyTorch's LBFGS)
  or when ``-H g`` is not a descent direction;
* the step ``x+ = clip(x + t d, 0, 1)`` is accepted on Armijo's condition
  ``f(x+) <= f(x) + c1 g.(x+ - x)`` with ``t = 1, 1/2, ..., 1/16`` (H's
  scaling makes ``t = 1`` the right size, so further halvings only chase
  noise);
* a pair is kept only when ``s.y > 0`` (curvature), so ``H`` stays positive
  definite.

Every call of the objective is one evaluation, rejected trials included, so a
budget counts what it costs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import tensorflow as tf

__all__ = ["LBFGS"]

#: Armijo's sufficient-decrease constant (Nocedal & Wright's suggestion)
C1 = 1e-4
#: halvings of the step before a line search gives up
MAX_HALVINGS = 4


def _dot(a: tf.Tensor, b: tf.Tensor) -> float:
    return float(tf.reduce_sum(a * b))


@dataclass
class LBFGS:
    """The optimiser's state: the point, its loss and gradient and the
    curvature pairs. ``objective(x) -> (loss, gradient)``, ``x`` float32 of
    any shape in [0, 1]; :meth:`run` may be called again with another
    objective (say, the float32 loss after the bf16 one) and keeps the pairs.
    """

    memory: int = 20
    s: list[tf.Tensor] = field(default_factory=list)
    y: list[tf.Tensor] = field(default_factory=list)

    def _direction(self, g: tf.Tensor, free: tf.Tensor) -> tf.Tensor:
        q = g * free
        alphas = []
        for s, y in zip(reversed(self.s), reversed(self.y)):
            a = _dot(s, q) / _dot(s, y)
            alphas.append(a)
            q = q - a * y
        if self.s:
            q = q * (_dot(self.s[-1], self.y[-1]) / _dot(self.y[-1], self.y[-1]))
        for (s, y), a in zip(zip(self.s, self.y), reversed(alphas)):
            q = q + s * (a - _dot(y, q) / _dot(s, y))
        return -q * free

    def run(self, objective: Callable[[tf.Tensor], tuple[float, tf.Tensor]], x: tf.Tensor,
            evaluations: int, should_stop: Callable[[], bool] = lambda: False,
            restarts: int = 1) -> tuple[tf.Tensor, float, bool]:
        """Minimise from ``x`` with at most ``evaluations`` calls of
        ``objective``. Returns ``(best x, its loss, stalled)``: ``stalled`` is
        True when a line search found no decrease and ``restarts`` retries
        from steepest descent in a row did not either (converged, or at the noise
        floor of a bf16 loss, where retrying only spends evaluations). Stops
        early after any evaluation where ``should_stop()`` is true."""
        x = tf.clip_by_value(tf.convert_to_tensor(x, tf.float32), 0.0, 1.0)
        if evaluations < 1:
            return x, float("nan"), False
        f, g = objective(x)
        used, left = 1, restarts
        while used < evaluations and not should_stop():
            # held at a bound, pushed outward: not free to move
            free = tf.cast(~(((x <= 0.0) & (g > 0.0)) | ((x >= 1.0) & (g < 0.0))), g.dtype)
            d = self._direction(g, free) if self.s else -g * free
            slope = _dot(g, d)
            if slope >= 0.0:  # the pairs went stale (another objective): start again
                self.s.clear()
                self.y.clear()
                d, slope = -g * free, -_dot(g, g * free)
                if slope >= 0.0:  # zero projected gradient: a stationary point
                    return x, f, True
            t = 1.0 if self.s else min(1.0, 1.0 / float(tf.reduce_sum(tf.abs(d))))
            lowest = None  # the lowest trial: returned even if Armijo refused it
            for _ in range(MAX_HALVINGS + 1):
                x_new = tf.clip_by_value(x + t * d, 0.0, 1.0)
                f_new, g_new = objective(x_new)
                used += 1
                if lowest is None or f_new < lowest[1]:
                    lowest = (x_new, f_new, g_new)
                truncated = used >= evaluations or should_stop()
                if f_new <= f + C1 * _dot(g, x_new - x) or truncated:
                    break
                t *= 0.5
            x_new, f_new, g_new = lowest
            if not f_new < f:  # no decrease at all: keep the best point
                if truncated:  # the budget, not the landscape, ended this search
                    return x, f, False
                if not self.s or left <= 0:
                    return x, f, True
                left -= 1  # try again from steepest descent
                self.s.clear()
                self.y.clear()
                continue
            left = restarts
            s, yv = x_new - x, g_new - g
            if _dot(s, yv) > 1e-12 * _dot(yv, yv):
                self.s.append(s)
                self.y.append(yv)
                if len(self.s) > self.memory:
                    self.s.pop(0)
                    self.y.pop(0)
            x, f, g = x_new, f_new, g_new
        return x, f, False
