"""MAP inference on a 4-connected grid MRF with K labels per site.

The energy of a labelling ``l`` (``(rows, cols)`` ints in ``[0, K)``) is

    E(l) = sum_s unary[s, l_s] + sum_{s - t horizontal} pair_h[s, l_s, l_t]
                               + sum_{s | t vertical}   pair_v[s, l_s, l_t]

with ``unary`` ``(rows, cols, K)``, ``pair_h`` ``(rows, cols - 1, K, K)``
(site ``(r, c)`` and its right neighbour ``(r, c + 1)``) and ``pair_v``
``(rows - 1, cols, K, K)`` (site ``(r, c)`` and the one below). Lower is
better (costs are negative log-probabilities up to constants, so the MAP
labelling minimises ``E``).

- :func:`min_sum_bp`: max-product loopy belief propagation in the min-sum
  (negative log) domain, synchronous ("flooding") updates with damping,
  optionally interleaved with ICM sweeps. Exact on chains and trees (where
  BP's fixed point gives the min-marginals); on loopy grids an approximation.
- :func:`icm`: iterated conditional modes (Besag 1986) with a checkerboard
  schedule: a monotone local search.
- :func:`independent_labels`: each site's cheapest label, ignoring the pairs
  (the nearest-patch baseline).
- :func:`mrf_energy`: ``E(l)``.

Vectorised NumPy; one BP iteration costs ``O(rows * cols * K^2)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["BPResult", "icm", "icm_sweep", "independent_labels", "min_sum_bp", "mrf_energy"]


def _check(unary: np.ndarray, pair_h: np.ndarray, pair_v: np.ndarray) -> tuple[int, int, int]:
    rows, cols, k = unary.shape
    if pair_h.shape != (rows, cols - 1, k, k) or pair_v.shape != (rows - 1, cols, k, k):
        raise ValueError(f"pair_h {pair_h.shape} / pair_v {pair_v.shape} do not fit unary "
                         f"{unary.shape}: expected {(rows, cols - 1, k, k)} and "
                         f"{(rows - 1, cols, k, k)}")
    return rows, cols, k


def mrf_energy(labels: np.ndarray, unary: np.ndarray, pair_h: np.ndarray,
               pair_v: np.ndarray) -> float:
    """``E(labels)`` (see the module docstring)."""
    rows, cols, _ = _check(unary, pair_h, pair_v)
    r, c = np.indices((rows, cols))
    total = unary[r, c, labels].sum()
    total += pair_h[r[:, :-1], c[:, :-1], labels[:, :-1], labels[:, 1:]].sum()
    total += pair_v[r[:-1], c[:-1], labels[:-1], labels[1:]].sum()
    return float(total)


def independent_labels(unary: np.ndarray) -> np.ndarray:
    """Each site's cheapest label, ``argmin_k unary[r, c, k]``: ``(rows, cols)``."""
    return np.argmin(unary, axis=-1)


def _local_costs(labels: np.ndarray, unary: np.ndarray, pair_h: np.ndarray,
                 pair_v: np.ndarray) -> np.ndarray:
    """Cost of each label at each site given its neighbours' current labels:
    ``(rows, cols, K)``."""
    rows, cols, _ = unary.shape
    r, c = np.indices((rows, cols))
    cost = unary.astype(np.float64, copy=True)
    # left neighbour's label fixed: pair_h[r, c-1, l_left, :]
    cost[:, 1:] += pair_h[r[:, 1:], c[:, 1:] - 1, labels[:, :-1], :]
    cost[:, :-1] += pair_h[r[:, :-1], c[:, :-1], :, labels[:, 1:]]
    cost[1:] += pair_v[r[1:] - 1, c[1:], labels[:-1], :]
    cost[:-1] += pair_v[r[:-1], c[:-1], :, labels[1:]]
    return cost


def icm_sweep(labels: np.ndarray, unary: np.ndarray, pair_h: np.ndarray,
              pair_v: np.ndarray) -> np.ndarray:
    """One ICM sweep: the sites with ``r + c`` even, then the odd ones, each
    set to its cheapest label given its neighbours. Sites of one colour are
    never neighbours, so each half-sweep is exact coordinate descent on
    independent variables: the energy never increases (a site keeps its label
    on a tie)."""
    rows, cols = labels.shape
    labels = labels.copy()
    parity = np.add.outer(np.arange(rows), np.arange(cols)) % 2
    for colour in (0, 1):
        cost = _local_costs(labels, unary, pair_h, pair_v)
        best = np.argmin(cost, axis=-1)
        current = np.take_along_axis(cost, labels[..., None], -1)[..., 0]
        better = np.take_along_axis(cost, best[..., None], -1)[..., 0] < current
        update = (parity == colour) & better
        labels[update] = best[update]
    return labels


def icm(labels: np.ndarray, unary: np.ndarray, pair_h: np.ndarray, pair_v: np.ndarray,
        max_sweeps: int = 50) -> tuple[np.ndarray, list[float]]:
    """:func:`icm_sweep` from ``labels`` until nothing changes (at most
    ``max_sweeps``); returns the labels and the energy after each sweep
    (non-increasing)."""
    _check(unary, pair_h, pair_v)
    energies = []
    for _ in range(max_sweeps):
        new = icm_sweep(labels, unary, pair_h, pair_v)
        energies.append(mrf_energy(new, unary, pair_h, pair_v))
        if np.array_equal(new, labels):
            break
        labels = new
    return labels, energies


@dataclass
class BPResult:
    """What :func:`min_sum_bp` returns.

    ``labels``: ``(rows, cols)`` the lowest-energy labelling seen.
    ``energy[t]``: energy of the labelling held after iteration ``t + 1``
    (non-increasing by construction: the best so far, improved by an ICM sweep
    when ``icm=True``). ``decoded_energy[t]``: energy of the raw BP decoding
    ``argmin`` of the beliefs after iteration ``t + 1``, which loopy BP does
    not make monotone. ``initial_energy``: energy of the independent choice,
    where the search starts. ``message_change[t]``: largest change of a
    message in iteration ``t + 1`` (0 at a fixed point).
    """

    labels: np.ndarray
    energy: list[float] = field(default_factory=list)
    decoded_energy: list[float] = field(default_factory=list)
    message_change: list[float] = field(default_factory=list)
    initial_energy: float = float("nan")
    beliefs: np.ndarray | None = None


def min_sum_bp(unary: np.ndarray, pair_h: np.ndarray, pair_v: np.ndarray, *,
               iterations: int = 30, damping: float = 0.5, icm: bool = True) -> BPResult:
    """Loopy max-product belief propagation in the min-sum domain.

    Each iteration sends every message at once (parallel schedule):
    ``m_{s->t}(l_t) = min_{l_s} [unary_s(l_s) + sum_{u != t} m_{u->s}(l_s)
    + pair_{st}(l_s, l_t)]``, shifted so its minimum is 0, then damped,
    ``m <- (1 - damping) * m_new + damping * m_old`` (``damping`` in [0, 1)
    tames the oscillation of loopy BP). Beliefs are ``unary + all incoming
    messages``; the decoding is their per-site ``argmin``.

    What is monotone: the returned labelling is the lowest-energy one seen
    (the independent choice at the start, then each iteration's decoding),
    and with ``icm=True`` an :func:`icm_sweep` improves it after every
    iteration, so ``energy`` never increases; the raw decodings
    (``decoded_energy``) may. On a chain or tree with ``icm=False`` and
    enough iterations (at least the longest path) BP is exact: its decoding is
    the MAP labelling (when unique).
    """
    rows, cols, k = _check(unary, pair_h, pair_v)
    if not 0.0 <= damping < 1.0:
        raise ValueError(f"damping must be in [0, 1), got {damping}")
    unary = np.asarray(unary, np.float64)
    pair_h = np.asarray(pair_h, np.float64)
    pair_v = np.asarray(pair_v, np.float64)
    pair_h_t = pair_h.transpose(0, 1, 3, 2)  # (r, c, l_right, l_left)
    pair_v_t = pair_v.transpose(0, 1, 3, 2)
    # incoming messages at each site, by the side they come from (0 where none)
    left, right, up, down = (np.zeros((rows, cols, k)) for _ in range(4))

    labels = independent_labels(unary)
    best = mrf_energy(labels, unary, pair_h, pair_v)
    result = BPResult(labels=labels, initial_energy=best)
    for _ in range(iterations):
        belief = unary + left + right + up + down
        new_left = np.zeros_like(left)  # sent rightwards, arriving from the left
        new_left[:, 1:] = ((belief - right)[:, :-1, :, None] + pair_h).min(axis=2)
        new_right = np.zeros_like(right)
        new_right[:, :-1] = ((belief - left)[:, 1:, :, None] + pair_h_t).min(axis=2)
        new_up = np.zeros_like(up)
        new_up[1:] = ((belief - down)[:-1, :, :, None] + pair_v).min(axis=2)
        new_down = np.zeros_like(down)
        new_down[:-1] = ((belief - up)[1:, :, :, None] + pair_v_t).min(axis=2)
        change = 0.0
        for old, new in ((left, new_left), (right, new_right), (up, new_up),
                         (down, new_down)):
            new -= new.min(axis=-1, keepdims=True)
            new *= 1.0 - damping
            new += damping * old
            change = max(change, float(np.abs(new - old).max()))
            old[...] = new
        result.message_change.append(change)

        decoded = np.argmin(unary + left + right + up + down, axis=-1)
        decoded_energy = mrf_energy(decoded, unary, pair_h, pair_v)
        result.decoded_energy.append(decoded_energy)
        if decoded_energy < best:
            labels, best = decoded, decoded_energy
        if icm:
            labels = icm_sweep(labels, unary, pair_h, pair_v)
            best = mrf_energy(labels, unary, pair_h, pair_v)
        result.energy.append(best)
    result.labels = labels
    result.beliefs = unary + left + right + up + down
    return result
