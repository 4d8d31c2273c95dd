"""Gatys-style neural style transfer by optimising the pixels of an image.

:func:`stylize` is the one entry point. It minimises

    L(x) = style_weight  / 5 * sum_l mean((G_l(x) - G_l(style))^2)
         + content_weight     * mean((F(x) - F(content))^2)
         + tv_weight          * TV(x)

over an image ``x`` in [0, 1], with Adam (the TensorFlow tutorial) or L-BFGS
(Gatys et al.; :mod:`nst.lbfgs`), optionally coarse-to-fine over several
scales.
"""

from __future__ import annotations

import math
import signal
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from core.cli import Interrupted
from core.precision import bf16_supported, resolve_precision

from .images import as_batch
from .lbfgs import LBFGS
from .losses import gram_matrix, style_content_loss, total_variation_loss
from .options import (ADAM_DEFAULTS, CONTENT_WEIGHT, FINISH_FRACTION, MIN_SIZE, STYLE_WEIGHT,
                      TV_WEIGHT, check_settings, scale_schedule, style_blend_weights)
from .vgg import VGG19Features

#: curvature pairs L-BFGS keeps (Gatys-era implementations use 5-100)
LBFGS_MEMORY = 20

# resolve_precision and bf16_supported are core.precision's, re-exported for callers of nst
__all__ = ["ADAM_DEFAULTS", "StylizeInterrupted", "StylizeResult", "bf16_supported",
           "get_extractor", "make_adam_step", "make_value_and_grad", "resolve_precision",
           "stylize"]


def get_extractor(weights: str | None = "imagenet", precision: str = "float32") -> VGG19Features:
    """A cached :class:`VGG19Features` (building VGG19 and loading 80 MB of
    weights takes seconds; notebooks call :func:`stylize` many times).
    ``precision``: ``"auto"``, ``"float32"`` or ``"bf16"``."""
    return _cached_extractor(weights, resolve_precision(precision))


@lru_cache(maxsize=4)
def _cached_extractor(weights: str | None, precision: str) -> VGG19Features:
    return VGG19Features(weights, precision=precision)


@dataclass
class StylizeResult:
    """``image``: ``(H, W, 3)`` float32 in [0, 1]. ``loss``: total loss of that
    image (evaluated once more at the end, so it is exact for Adam and
    L-BFGS alike; NaN for a partial result). ``history``: one dict per loss
    evaluation with ``step, scale, height, width, loss, style, content, tv,
    seconds, bf16`` (1.0 when that evaluation ran VGG19 in bf16). ``params``:
    the settings used (for provenance metadata); a partial result has
    ``params["partial"] = True``."""

    image: np.ndarray
    loss: float = math.nan
    history: list[dict[str, float]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.history[-1]["seconds"] if self.history else 0.0


class StylizeInterrupted(Interrupted):
    """Ctrl-C (or SIGTERM under :func:`core.cli.sigterm_interrupts`) during
    :func:`stylize`. ``result`` is a partial :class:`StylizeResult`: the
    current image (Adam) or the best one seen (L-BFGS), at the scale being
    optimised, the history so far and ``params["partial"] = True``."""

    def __init__(self, result: StylizeResult, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)  # nothing is saved yet: the caller decides where
        self.result = result

    def __str__(self) -> str:
        return (f"stylize interrupted after {len(self.result.history)} step(s); the partial "
                "image is in .result")


def _resize(x: tf.Tensor, hw: tuple[int, int]) -> tf.Tensor:
    if tuple(x.shape[1:3]) == hw:
        return x
    return tf.clip_by_value(tf.image.resize(x, hw, method="bilinear", antialias=True), 0.0, 1.0)


def _fit(x: tf.Tensor, max_side: int) -> tf.Tensor:
    h, w = x.shape[1:3]
    s = max_side / max(h, w)
    return _resize(x, (max(1, round(h * s)), max(1, round(w * s))))


def _luminance(x: tf.Tensor) -> tf.Tensor:
    """Y of YUV replicated to 3 channels."""
    y = tf.image.rgb_to_yuv(x)[..., :1]
    return tf.repeat(y, 3, axis=-1)


def _match_luminance(style_lum: tf.Tensor, content_lum: tf.Tensor) -> tf.Tensor:
    """Shift and scale style luminance to the content's mean and std (Gatys 2016)."""
    ms, ss = tf.reduce_mean(style_lum), tf.math.reduce_std(style_lum)
    mc, sc = tf.reduce_mean(content_lum), tf.math.reduce_std(content_lum)
    return tf.clip_by_value((style_lum - ms) * (sc / (ss + 1e-6)) + mc, 0.0, 1.0)


def _recolour(stylised: tf.Tensor, content: tf.Tensor) -> tf.Tensor:
    """Luminance of ``stylised`` with the chrominance (UV) of ``content``."""
    y = tf.image.rgb_to_yuv(stylised)[..., :1]
    uv = tf.image.rgb_to_yuv(_resize(content, tuple(stylised.shape[1:3])))[..., 1:]
    return tf.clip_by_value(tf.image.yuv_to_rgb(tf.concat([y, uv], -1)), 0.0, 1.0)


def _loss_terms(extractor, image, style_targets, content_targets, weights):
    features = extractor(image)
    s, c = style_content_loss(features, style_targets, content_targets,
                              style_weight=weights[0], content_weight=weights[1])
    tv = total_variation_loss(image, weights[2])
    return s + c + tv, s, c, tv


def make_adam_step(extractor: keras.Model, image: tf.Variable, style_targets, content_targets,
                   weights: tuple[float, float, float], optimizer: keras.optimizers.Optimizer
                   ) -> Callable[[], tuple[tf.Tensor, ...]]:
    """One ``tf.function`` step: loss -> gradient -> Adam update -> clip to [0, 1].
    Returns ``(total, style, content, tv)`` of the image before the update."""

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            terms = _loss_terms(extractor, image, style_targets, content_targets, weights)
        grad = tape.gradient(terms[0], image)
        optimizer.apply_gradients([(grad, image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return terms

    return step


def make_value_and_grad(extractor: keras.Model, shape: tuple[int, ...], style_targets,
                        content_targets, weights: tuple[float, float, float]):
    """A ``tf.function`` ``x -> (total, style, content, tv, dL/dx)`` for L-BFGS."""

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
    def value_and_grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            terms = _loss_terms(extractor, x, style_targets, content_targets, weights)
        return (*terms, tape.gradient(terms[0], x))

    return value_and_grad


class _Traced:
    """The traced Adam step and L-BFGS loss of one extractor, image shape and
    set of loss weights, reused by every :func:`stylize` call that matches
    (tracing VGG19's forward and backward pass costs about a second a call,
    more than 10 steps at 64 px). The image, the targets and Adam's state are
    variables the functions read; :meth:`start` assigns them for a new run."""

    def __init__(self, extractor, shape, style_targets, content_targets, weights):
        self.image = tf.Variable(tf.zeros(shape), trainable=True, name="image")
        self.style = {k: tf.Variable(v, trainable=False) for k, v in style_targets.items()}
        self.content = {k: tf.Variable(v, trainable=False) for k, v in content_targets.items()}
        self.optimizer = keras.optimizers.Adam(beta_1=ADAM_DEFAULTS["beta_1"],
                                               epsilon=ADAM_DEFAULTS["epsilon"])
        self.optimizer.build([self.image])
        self.adam_step = make_adam_step(extractor, self.image, self.style, self.content,
                                        weights, self.optimizer)
        self.value_and_grad = make_value_and_grad(extractor, shape, self.style, self.content,
                                                  weights)

    def start(self, image, style_targets, content_targets, learning_rate: float) -> None:
        self.image.assign(image)
        for source, targets in ((style_targets, self.style), (content_targets, self.content)):
            for k, v in source.items():
                targets[k].assign(v)
        for v in self.optimizer.variables:  # a fresh Adam: step 0, zero moments
            v.assign(tf.zeros_like(v))
        self.optimizer.learning_rate = learning_rate


# per extractor (dropped with it): {(image shape, style layers, loss weights): _Traced}
_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _traced(extractor, image, style_targets, content_targets, weights, learning_rate) -> _Traced:
    key = (tuple(image.shape), tuple(sorted(style_targets)), tuple(sorted(content_targets)),
           weights)
    per_extractor = _TRACED.setdefault(extractor, {})
    if key not in per_extractor:
        if len(per_extractor) >= 8:  # a few sizes at a time (scales, notebooks)
            per_extractor.pop(next(iter(per_extractor)))
        per_extractor[key] = _Traced(extractor, tuple(image.shape), style_targets,
                                     content_targets, weights)
    traced = per_extractor[key]
    traced.start(image, style_targets, content_targets, learning_rate)
    return traced


def stylize(content: Any, style: Any | Sequence[Any], *,
            style_blend: Sequence[float] | None = None,
            size: int = 512,
            steps: int | Sequence[int] = 1000,
            optimizer: str = "adam",
            init: str = "content",
            style_weight: float = STYLE_WEIGHT,
            content_weight: float = CONTENT_WEIGHT,
            tv_weight: float = TV_WEIGHT,
            learning_rate: float = ADAM_DEFAULTS["learning_rate"],
            preserve_color: bool = False,
            scales: int | Sequence[float] = (1.0,),
            precision: str = "auto",
            seed: int = 0,
            weights: str | None = "imagenet",
            extractor: VGG19Features | None = None,
            progress: bool = True,
            callback: Callable[[int, np.ndarray], None] | None = None,
            callback_every: int = 100,
            stop_loss: float | None = None,
            finish_fraction: float = FINISH_FRACTION) -> StylizeResult:
    """Render ``content`` in the style of ``style`` by pixel optimisation.

    Args:
      content: ``(H, W, 3)`` float RGB in [0, 1] (see :func:`data.load_image`).
      style: one such image, or a list of them blended by ``style_blend``
        (weights normalised to sum 1; default equal). Blending mixes the
        target Gram matrices.
      size: longer side of the output in pixels (content is resized to it; the
        style image is resized to the same longer side).
      steps: loss evaluations per scale (one int for every scale, or a list);
        L-BFGS ends a scale early when its line search finds no decrease.
      optimizer: ``"adam"`` (tutorial: lr 0.02, beta_1 0.99, epsilon 0.1) or
        ``"lbfgs"`` (:class:`nst.lbfgs.LBFGS`, 20 pairs, on the box [0, 1]; a
        step is one loss+gradient evaluation, line-search trials included).
      init: start from ``"content"``, ``"style"`` or uniform ``"noise"``.
      preserve_color: transfer on luminance only, then put back the content's
        chrominance (Gatys et al. 2016, "Preserving colour").
      scales: coarse-to-fine schedule: an int ``n`` means sides
        ``size / 2**(n-1), ..., size / 2, size``; or explicit fractions of
        ``size``. Each scale starts from the upsampled previous result.
      precision: ``"float32"`` or ``"bf16"`` for the VGG compute (the image,
        Gram matrices and losses stay float32), or ``"auto"``: float32 on a
        CPU without native bf16; with it (see
        :func:`core.precision.resolve_precision`), bf16 for the bulk of the
        work and float32 to finish at the finest scale, so the result is
        polished on exact gradients and its loss is the float32 loss.
        ``params["precision"]`` is then ``"bf16+float32"``. With a given
        ``extractor``, its precision is used throughout.
      seed: seeds the noise initialisation; runs are deterministic on CPU.
      weights: VGG19 weights (``"imagenet"``, a file, or ``None`` for random:
        tests only); ignored when ``extractor`` is given.
      callback: ``callback(step, image)`` every ``callback_every`` steps and at
        the end of each scale, with the current ``(H, W, 3)`` image.
      stop_loss: end early once a loss evaluation at the finest scale is at or
        below this value (benchmarks: time to reach a given loss). Only exact
        losses count: under ``"auto"`` on a bf16 CPU a bf16 loss below it
        starts the float32 finish instead.
      finish_fraction: under ``"auto"`` on a bf16 CPU, the share of the
        finest scale's steps kept for float32 (at least one). L-BFGS also
        moves to float32 early when its bf16 line search stalls (the
        gradient noise of bf16 hides the remaining descent).

    Returns:
      :class:`StylizeResult` with the final image and per-step loss history.

    Raises:
      ValueError (:class:`core.config.ConfigError`): a setting out of range,
        named as the argument.
      StylizeInterrupted: on Ctrl-C during the optimisation, carrying the
        partial result (the image so far).
    """
    check_settings(size=size, optimizer=optimizer, init=init, precision=precision,
                   style_weight=style_weight, content_weight=content_weight,
                   tv_weight=tv_weight, learning_rate=learning_rate)
    if callback_every < 1:
        raise ValueError(f"callback_every must be >= 1, got {callback_every}")
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    blend = style_blend_weights(style_blend, len(styles))
    schedule = scale_schedule(scales, steps)
    content_full = _fit(as_batch(content, "content"), size)
    styles_full = [_fit(as_batch(s, f"style[{i}]"), size) for i, s in enumerate(styles)]
    if not 0.0 <= finish_fraction <= 1.0:
        raise ValueError(f"finish_fraction must be in [0, 1], got {finish_fraction}")
    # "auto" on a bf16 CPU: bf16 for speed, then float32 so bf16's noise does
    # not cost the final result (a float32 extractor is built when needed);
    # a given extractor is used as it is
    mixed = extractor is None and precision == "auto" and weights is not None
    if extractor is None:
        extractor = get_extractor(weights, precision)
    precision = getattr(extractor, "precision", None) or resolve_precision(precision)
    mixed = mixed and precision == "bf16"
    if mixed:
        precision = "bf16+float32"
    loss_weights = (float(style_weight), float(content_weight), float(tv_weight))

    if preserve_color:
        content_lum = _luminance(content_full)
        styles_full = [_match_luminance(_luminance(s), content_lum) for s in styles_full]
        content_work = content_lum
    else:
        content_work = content_full

    params = dict(size=size, steps=[s for _, s in schedule], optimizer=optimizer, init=init,
                  style_weight=style_weight, content_weight=content_weight,
                  tv_weight=tv_weight, learning_rate=learning_rate,
                  preserve_color=preserve_color, scales=[s for s, _ in schedule],
                  style_blend=blend, precision=precision, seed=seed,
                  **({"finish_fraction": finish_fraction} if mixed else {}))
    history: list[dict[str, float]] = []
    total_steps = sum(n for _, n in schedule)
    start = time.perf_counter()
    # the image a Ctrl-C keeps: Adam's variable, or the best point L-BFGS has seen
    latest: dict[str, Any] = {"image": None}
    from tqdm.auto import tqdm

    bar = tqdm(total=total_steps, disable=not progress, desc=f"stylize ({optimizer})",
               unit="step")
    global_step = 0
    last_callback = -1
    stop = False

    def finish(x: tf.Tensor) -> np.ndarray:
        x = tf.convert_to_tensor(x)
        return np.asarray((_recolour(x, content_full) if preserve_color else x)[0],
                          dtype=np.float32)

    try:
        for scale_index, (scale, n_steps) in enumerate(schedule):
            full_h, full_w = content_work.shape[1:3]
            hw = (max(MIN_SIZE, round(full_h * scale)), max(MIN_SIZE, round(full_w * scale)))
            content_s = _resize(content_work, hw)
            style_targets, content_targets = _targets(extractor, content_s, styles_full, blend,
                                                      scale)

            image = latest["image"]
            if image is None:
                if init == "content":
                    image = content_s
                elif init == "style":
                    image = _resize(styles_full[0], hw)
                else:
                    rng = np.random.default_rng(seed)
                    image = tf.constant(rng.uniform(0.0, 1.0, (1, *hw, 3)).astype(np.float32))
            else:
                image = _resize(tf.convert_to_tensor(image), hw)
            latest["image"] = image

            last_scale = scale_index == len(schedule) - 1
            exact = not mixed  # are the losses being recorded float32 ones?
            switch = False  # mixed: time to move to float32

            def record(terms):
                nonlocal global_step, stop, switch
                global_step += 1
                total, s_l, c_l, tv_l = (float(t) for t in terms)
                history.append(dict(step=global_step, scale=scale_index, height=hw[0],
                                    width=hw[1], loss=total, style=s_l, content=c_l, tv=tv_l,
                                    seconds=time.perf_counter() - start,
                                    bf16=float(getattr(extractor, "precision", "") == "bf16")))
                bar.update(1)
                bar.set_postfix(loss=f"{total:.4g}", size=f"{hw[0]}x{hw[1]}", refresh=False)
                below = stop_loss is not None and last_scale and total <= stop_loss
                stop = below and exact
                switch = switch or (below and not exact)

            def maybe_callback(x, force=False):
                nonlocal last_callback
                if callback is None or last_callback == global_step:
                    return
                if force or global_step % callback_every == 0:
                    last_callback = global_step
                    callback(global_step, finish(x))

            n_finish = (max(1, math.ceil(finish_fraction * n_steps))
                        if mixed and last_scale and n_steps else 0)
            phases = [(extractor, n_steps - n_finish, style_targets, content_targets)]
            if mixed and last_scale:  # the finish and the final loss are float32's
                exact_extractor = get_extractor(weights, "float32")
                exact_targets = _targets(exact_extractor, content_s, styles_full, blend, scale)
                # bf16 features against float32 targets: bf16's own targets make a
                # minimum that sits about 1% off in the float32 loss
                phases[0] = (extractor, n_steps - n_finish, *exact_targets)
                if n_finish:
                    phases.append((exact_extractor, n_finish, *exact_targets))
                else:  # no steps at this scale: only the final loss to take
                    extractor = exact_extractor
                    style_targets, content_targets = exact_targets
            done, previous, lbfgs = 0, None, LBFGS(LBFGS_MEMORY)
            for phase, (phase_extractor, budget, s_targets, c_targets) in enumerate(phases):
                if phase:  # L-BFGS hands its unused bulk budget to the finish
                    budget = n_steps - done
                    exact, switch, extractor = True, False, phase_extractor
                    style_targets, content_targets = s_targets, c_targets
                traced = _traced(phase_extractor, image, s_targets, c_targets, loss_weights,
                                 learning_rate)
                if optimizer == "adam":
                    if previous is not None:  # one Adam run across the switch
                        for mine, theirs in zip(traced.optimizer.variables,
                                                previous.optimizer.variables):
                            mine.assign(theirs)
                    var, step_fn = traced.image, traced.adam_step
                    latest["image"] = var
                    for _ in range(budget):
                        before = tf.identity(var) if stop_loss is not None else None
                        record(step_fn())
                        done += 1
                        if stop:  # the recorded loss belongs to the image before this update
                            var.assign(before)
                            break
                        maybe_callback(var)
                        if switch:
                            break
                    image = tf.convert_to_tensor(var)
                    latest["image"] = image
                else:
                    before_phase = global_step
                    # a bf16 search that stalls twice in a row hands over to float32:
                    # bf16's noise, not the landscape, stopped it (once is not enough:
                    # at 512 px an early overshoot stalled it after 8 evaluations)
                    image, stalled = _run_lbfgs(traced.value_and_grad, image, budget, record,
                                                maybe_callback, lambda: stop or switch, latest,
                                                lbfgs, restarts=1)
                    done += global_step - before_phase
                    if stalled and phase:  # converged on the exact loss
                        break
                previous = traced
                if stop:
                    break
            maybe_callback(image, force=True)
    except KeyboardInterrupt as exc:
        if latest["image"] is None:  # nothing optimised yet
            raise
        partial = StylizeResult(finish(latest["image"]), math.nan, history,
                                dict(params, partial=True, step=global_step))
        raise StylizeInterrupted(partial, getattr(exc, "signum", signal.SIGINT)) from None
    finally:
        bar.close()
    final_loss = float(_loss_terms(extractor, image, style_targets, content_targets,
                                   loss_weights)[0])
    return StylizeResult(finish(image), final_loss, history, params)


def _targets(extractor, content: tf.Tensor, styles: Sequence[tf.Tensor],
             blend: Sequence[float], scale: float) -> tuple[dict, dict]:
    """``(style Gram targets, content feature targets)`` at ``scale`` of the
    full-size images: Gram matrices of the styles mixed by ``blend``."""
    style_targets: dict[str, tf.Tensor] = {}
    for weight, s in zip(blend, styles):
        sh, sw = s.shape[1:3]
        s_scaled = _resize(s, (max(MIN_SIZE, round(sh * scale)), max(MIN_SIZE, round(sw * scale))))
        for name, feat in extractor(s_scaled)["style"].items():
            style_targets[name] = style_targets.get(name, 0.0) + weight * gram_matrix(feat)
    return style_targets, extractor(content)["content"]


def _run_lbfgs(value_and_grad, image, n_steps, record, maybe_callback, should_stop,
               latest, state: LBFGS, restarts: int = 1) -> tuple[tf.Tensor, bool]:
    """Minimise with :class:`nst.lbfgs.LBFGS` (``state``, whose curvature pairs
    carry over between calls) for at most ``n_steps`` evaluations of
    ``value_and_grad``; return ``(the best point, stalled)``, the point also
    kept in ``latest["image"]`` as it improves."""
    best = {"loss": math.inf}

    def objective(x):
        *terms, grad = value_and_grad(x)
        record(terms)
        loss = float(terms[0])
        if loss < best["loss"]:
            best["loss"] = loss
            latest["image"] = x
        maybe_callback(x)
        return loss, grad

    x, _, stalled = state.run(objective, image, n_steps, should_stop, restarts)
    return x, stalled
