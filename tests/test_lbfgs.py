"""nst.lbfgs.LBFGS against SciPy's L-BFGS-B (an independent implementation) on
box-constrained problems whose minimiser is known."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.optimize import Bounds, minimize

from nst.lbfgs import LBFGS


def quadratic(n=64, seed=0):
    """f(x) = 0.5 x'Ax - b'x with A SPD and condition ~100; b puts about a
    third of the unconstrained minimiser outside [0, 1]."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    a = (q * np.geomspace(1.0, 100.0, n)) @ q.T
    b = a @ rng.uniform(-0.5, 1.5, n)
    return a, b


def tf_objective(a, b, counter):
    a_t, b_t = tf.constant(a, tf.float32), tf.constant(b, tf.float32)

    def objective(x):
        counter.append(1)
        g = tf.linalg.matvec(a_t, x) - b_t
        return float(0.5 * tf.reduce_sum(x * (g - b_t))), g
    return objective


def test_matches_scipy_on_a_box_constrained_quadratic():
    a, b = quadratic()
    ref = minimize(lambda x: (0.5 * x @ a @ x - b @ x, a @ x - b), np.full(len(b), 0.5),
                   jac=True, method="L-BFGS-B", bounds=Bounds(0.0, 1.0),
                   options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000})
    calls = []
    x, f, _ = LBFGS().run(tf_objective(a, b, calls), tf.fill([len(b)], 0.5), 400)
    x = x.numpy()
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_allclose(x, ref.x, atol=2e-3)
    assert f == pytest.approx(ref.fun, rel=1e-5)
    assert len(calls) <= 400
    # some coordinates sit at each bound, so the projection was exercised
    assert (ref.x < 1e-6).sum() > 0 and (ref.x > 1 - 1e-6).sum() > 0


def test_counts_every_evaluation_and_keeps_pairs_across_calls():
    a, b = quadratic(seed=1)
    calls = []
    opt = LBFGS(memory=5)
    x, f1, _ = opt.run(tf_objective(a, b, calls), tf.fill([len(b)], 0.5), 7)
    assert len(calls) == 7  # the budget counts line-search trials too
    assert 0 < len(opt.s) <= 5
    kept = list(opt.s)
    # a second call (another objective: here the same) starts from the pairs kept
    _, f2, _ = opt.run(tf_objective(a, b, calls), x, 3)
    assert f2 < f1 and len(calls) == 10
    assert any(p is q for p in opt.s for q in kept)


def test_direction_is_minus_the_bfgs_inverse_hessian_times_the_gradient():
    """The two-loop recursion against the BFGS inverse-Hessian update written
    out as matrices (Nocedal & Wright eq. 6.17, H0 = s'y / y'y I)."""
    rng = np.random.default_rng(3)
    n = 6
    a = rng.normal(size=(n, n))
    a = a @ a.T + n * np.eye(n)  # SPD: s'y = s'As > 0
    ss = [rng.normal(size=n) for _ in range(3)]
    ys = [a @ s for s in ss]
    h = (ss[-1] @ ys[-1]) / (ys[-1] @ ys[-1]) * np.eye(n)
    for s, y in zip(ss, ys):
        rho = 1.0 / (y @ s)
        h = (np.eye(n) - rho * np.outer(s, y)) @ h @ (np.eye(n) - rho * np.outer(y, s)) \
            + rho * np.outer(s, s)
    opt = LBFGS(s=[tf.constant(s, tf.float32) for s in ss],
                y=[tf.constant(y, tf.float32) for y in ys])
    g = rng.normal(size=n)
    ones = tf.ones([n])
    np.testing.assert_allclose(opt._direction(tf.constant(g, tf.float32), ones), -h @ g,
                               rtol=1e-4, atol=1e-5)
    # the secant condition H y = s holds for the newest pair
    np.testing.assert_allclose(opt._direction(tf.constant(ys[-1], tf.float32), ones), -ss[-1],
                               rtol=1e-4, atol=1e-5)
    # a coordinate held at a bound gets no step
    free = tf.constant([0.0] + [1.0] * (n - 1))
    assert float(opt._direction(tf.constant(g, tf.float32), free)[0]) == 0.0


def test_stops_when_asked_and_at_a_stationary_point():
    a, b = quadratic(seed=2)
    calls = []
    LBFGS().run(tf_objective(a, b, calls), tf.fill([len(b)], 0.5), 100,
                should_stop=lambda: len(calls) >= 3)
    assert len(calls) == 3
    # the constrained minimiser of a separable problem: clip(b / diag, 0, 1)
    d = np.linspace(1.0, 4.0, 16)
    calls.clear()
    x, _, stalled = LBFGS().run(tf_objective(np.diag(d), d * np.linspace(-1, 2, 16), calls),
                                tf.fill([16], 0.5), 200)
    np.testing.assert_allclose(x.numpy(), np.clip(np.linspace(-1, 2, 16), 0, 1), atol=1e-3)
    assert stalled and len(calls) < 200  # converged: it gave back the rest of the budget
