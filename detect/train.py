"""Training, loading and scoring of detector runs.

A run folder holds ``options.json`` (the :class:`~detect.config.TrainConfig`
plus what the data decided, e.g. the crop size), the detector (spectral:
``spectral.json``; CNN: ``checkpoints/`` through :class:`core.loop.Run`,
so an interrupted training resumes exactly) and ``report.json``: AP and
accuracy at 0.5 on the test split of every generator in the dataset, those
trained on marked ``in_distribution``.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.config import describe_changes, invalid

from .config import TrainConfig, config_from_run
from .data import Split, load_split
from .metrics import detection_scores

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["EVIDENCE_NOTE", "MAX_SCORE_SIDE", "Detector", "TrainResult", "cnn_batch", "evaluate",
           "load_run", "score_files", "train"]

#: why a score is only evidence (printed by ``python -m detect score``)
EVIDENCE_NOTE = ("These probabilities are evidence, not proof: the detector only knows the "
                 "generators it was trained on, misses others and can be thrown off by "
                 "compression or resizing, so a low score does not show an image is real and "
                 "a high one should be confirmed by provenance (python -m detect provenance) "
                 "or other checks.")
_RESUMABLE = ("steps", "log_every", "sample_every", "checkpoint_every", "run_dir")
_MAX_AUTO_CROP = 64
#: ``score`` looks at most at a central crop of this side (px)
MAX_SCORE_SIDE = 1024


@dataclass
class Detector:
    """A trained detector: ``logits(images)`` ``(N,)`` for ``(H, W, 3)``
    images in [0, 1] of any sizes (the ranking AP uses: probabilities
    saturate to ties far from the training data); ``options`` as saved."""

    kind: str
    logits: Callable[[Sequence[np.ndarray]], np.ndarray]
    options: dict[str, Any] = field(default_factory=dict)
    step: int = 0

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """``P(fake)`` per image -> ``(N,)`` float64."""
        return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(self.logits(images), np.float64)))


@dataclass
class TrainResult:
    """``report``: test scores per generator (see :func:`evaluate`);
    ``history``: CNN steps (``step, seconds, loss, acc``)."""

    detector: Detector
    report: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    start_step: int = 0
    seconds: float = 0.0
    run_dir: Path | None = None


def evaluate(detector: Detector, splits: dict[str, Split],
             trained_on: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """``{generator: detection_scores + in_distribution}`` of ``detector`` on
    each split (see :func:`detect.metrics.detection_scores`; AP ranks logits,
    accuracy calls logit >= 0, i.e. P(fake) >= 0.5, fake)."""
    out = {}
    for name, split in splits.items():
        scores = detection_scores(split.labels, detector.logits(split.images), threshold=0.0)
        out[name] = dict(scores, in_distribution=name in trained_on)
    return out


def _pooled(splits: dict[str, Split]) -> tuple[list[np.ndarray], np.ndarray]:
    images = [im for s in splits.values() for im in s.images]
    labels = np.concatenate([s.labels for s in splits.values()])
    return images, labels


def _check_data(config: TrainConfig) -> None:
    if not config.data:
        raise invalid("data", "a dataset folder (python -m detect build-data writes one)",
                      config.data)
    if not Path(config.data).is_dir():
        raise invalid("data", "an existing dataset folder", config.data)


def _write_json(path: Path, obj: Any) -> None:
    from data.cache import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def _centre_crops(images: Sequence[np.ndarray], size: int) -> np.ndarray:
    """uint8 ``(N, size, size, 3)`` centre crops (every image at least ``size``)."""
    out = np.empty((len(images), size, size, 3), np.uint8)
    for i, im in enumerate(images):
        h, w = im.shape[:2]
        top, left = (h - size) // 2, (w - size) // 2
        out[i] = np.round(np.clip(im[top:top + size, left:left + size], 0, 1) * 255)
    return out


def _train_spectral(config: TrainConfig, splits: dict[str, Split], options: dict) -> Detector:
    from .spectral import fit_spectral, spectra

    run_dir = Path(config.run_dir)
    saved = run_dir / "options.json"
    if saved.is_file():  # the same options refit identically; others need a new folder
        try:
            old = json.loads(saved.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{saved}: unreadable options file ({exc})") from None
        old = {**{k: v for k, v in dataclasses.asdict(TrainConfig()).items() if k in options},
               **old}  # options added to the code since count as their defaults
        changed = {k: (old.get(k), options.get(k)) for k in sorted(set(old) | set(options))
                   if k not in _RESUMABLE and old.get(k) != options.get(k)}
        if changed:
            raise describe_changes(str(run_dir), changed)
    images, labels = _pooled(splits)
    detector = fit_spectral(spectra(images, config.bins), labels, l2=config.l2, bins=config.bins)
    run_dir.mkdir(parents=True, exist_ok=True)
    detector.save(run_dir / "spectral.json")
    _write_json(saved, options)
    return Detector("spectral", detector.decision, options)


def cnn_batch(pools: Sequence[Any], step: Any, *, seed: int, batch_size: int,
              replica: Any = 0, replicas: int = 1, **augmentation: Any) -> tuple[Any, Any]:
    """Replica ``replica``'s share of the CNN's batch of ``step`` (int64
    tensor): ``x`` ``(batch_size / replicas, S, S, 3)`` float32 in [0, 1],
    ``y`` (0 real, 1 fake).

    The global batch, drawn from ``(seed, step)``: ``batch_size / 2`` crops
    of ``pools[0]`` (uint8 ``(N, S, S, 3)``, real) then as many of
    ``pools[1]`` (fake), augmented by :func:`detect.cnn.augment`
    (``augmentation``: its probabilities). Replica ``r`` of ``R`` takes reals
    and fakes ``r B/2R .. (r+1) B/2R - 1`` with their augmentation draws, so
    the ``R`` shares together are exactly the global batch."""
    import tensorflow as tf

    from .cnn import augment

    half = batch_size // 2
    per = half // replicas
    key = tf.stack([tf.constant(seed, tf.int64), step])
    take = tf.cast(replica, tf.int32) * per + tf.range(per)  # rows of each half
    parts = [tf.gather(pool, tf.gather(tf.random.stateless_uniform(
        [half], key + 10 * k, 0, tf.shape(pool)[0], tf.int32), take))
        for k, pool in enumerate(pools)]
    x = tf.cast(tf.concat(parts, 0), tf.float32) / 255.0
    y = tf.concat([tf.zeros([per]), tf.ones([per])], 0)
    return augment(x, key + 100, rows=tf.concat([take, half + take], 0), total=2 * half,
                   **augmentation), y


def _train_cnn(config: TrainConfig, splits: dict[str, Split], options: dict,
               strategy: tf.distribute.Strategy, *,
               show_progress: bool, stop_after: int | None) -> tuple[Detector, Any, int, float]:
    import tensorflow as tf

    from core.loop import Run, run_steps, set_seed, tile_images
    from core.train import build_adam, distributed_step

    from .cnn import build_cnn, cnn_logits

    crop = options["crop_used"]
    images, labels = _pooled(splits)
    pools = [tf.constant(_centre_crops([im for im, y in zip(images, labels) if y == k], crop))
             for k in (0, 1)]
    set_seed(config.seed)
    with strategy.scope():
        net = build_cnn(config.width)
        opt = build_adam(net.trainable_variables, learning_rate=config.learning_rate,
                         beta_1=0.9)
    run = Run(config.run_dir, options, trackables={"model": net, "opt": opt},
              resumable=_RESUMABLE, defaults=dataclasses.asdict(TrainConfig()),
              strategy=strategy)
    start = run.restore()
    probs = dict(blur_prob=config.blur_prob, blur_sigma=config.blur_sigma,
                 jpeg_prob=config.jpeg_prob, jpeg_quality=config.jpeg_quality)
    if not config.augment:
        probs.update(blur_prob=0.0, jpeg_prob=0.0)
    batch = functools.partial(cnn_batch, pools, seed=config.seed, batch_size=config.batch_size,
                              **probs)

    def replica_step(_, step):
        ctx = tf.distribute.get_replica_context()
        x, y = batch(step, replica=ctx.replica_id_in_sync_group,
                     replicas=ctx.num_replicas_in_sync)
        with tf.GradientTape() as tape:
            logits = net(x, training=True)
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
            # each replica holds 1/replicas of the global batch: the summed
            # gradients are those of the global mean
            scaled = loss / ctx.num_replicas_in_sync
        grads = tape.gradient(scaled, net.trainable_variables)
        opt.apply_gradients(zip(grads, net.trainable_variables))
        acc = tf.reduce_mean(tf.cast(tf.equal(tf.cast(logits > 0, tf.float32), y), tf.float32))
        return {"loss": loss, "acc": acc}

    def preview() -> np.ndarray:  # what the network sees: augmented crops, reals then fakes
        x, _ = batch(tf.constant(-1, tf.int64))
        half = config.batch_size // 2
        keep = np.r_[0:min(8, half), half:half + min(8, half)]
        return tile_images(x.numpy()[keep], ncols=8)

    seconds = 0.0
    end = config.steps if stop_after is None else min(config.steps, start + stop_after)
    if start < end:
        step_fn = distributed_step(replica_step, strategy, run.step)
        seconds = run_steps(run, step_fn, itertools.repeat(tf.constant(0)), start, end,
                            log_every=config.log_every, sample_every=config.sample_every,
                            checkpoint_every=config.checkpoint_every, sample_fn=preview,
                            desc="detect/cnn", show_progress=show_progress)
    detector = Detector("cnn", lambda ims: cnn_logits(net, ims), options, int(run.step.numpy()))
    return detector, run, start, seconds


def train(config: TrainConfig, *, strategy: tf.distribute.Strategy | None = None,
          show_progress: bool = True, stop_after: int | None = None) -> TrainResult:
    """Train the detector of ``config`` on the train split of its generators,
    then score the test split of every generator in ``config.data`` and write
    ``report.json`` (the chief of a multi-worker run alone writes). A CNN run
    resumes from its newest checkpoint; ``strategy``: a ``tf.distribute``
    strategy (default: from ``config.strategy``); ``stop_after`` ends this
    session after that many steps (tests)."""
    _check_data(config)
    if config.detector == "spectral" and config.strategy != "default":
        raise invalid("strategy", "default for the spectral detector (a NumPy fit in one "
                      "process)", config.strategy)
    if config.detector == "cnn" and strategy is None:
        from core.loop import get_strategy

        strategy = get_strategy(config.strategy)  # before any other TensorFlow call
    t0 = time.perf_counter()
    chosen = config.generator_list()
    train_splits = load_split(config.data, "train", chosen, skip_bad=config.skip_bad_images)
    names = sorted(train_splits)
    options = dict(dataclasses.asdict(config), trained_on=names,
                   model=f"detect {config.detector}")
    options["generators"] = ",".join(names) if chosen else "all"
    history: list[dict[str, float]] = []
    start, chief = 0, True
    if config.detector == "spectral":
        detector = _train_spectral(config, train_splits, options)
    else:
        smallest = min(min(im.shape[:2]) for s in train_splits.values() for im in s.images)
        crop = config.crop or min(smallest, _MAX_AUTO_CROP)
        if crop > smallest:
            raise invalid("crop", f"at most the smallest training image side ({smallest} px)",
                          config.crop)
        options["crop_used"] = crop
        if config.batch_size % (2 * strategy.num_replicas_in_sync):
            raise invalid("batch_size", f"a multiple of {2 * strategy.num_replicas_in_sync} "
                          f"(half real, half fake, over the {strategy.num_replicas_in_sync} "
                          "replicas of the strategy)", config.batch_size)
        detector, run, start, _ = _train_cnn(config, train_splits, options, strategy,
                                             show_progress=show_progress, stop_after=stop_after)
        history = run.history
        chief = run.is_chief
    test_splits = load_split(config.data, "test", skip_bad=config.skip_bad_images)
    report = {"detector": config.detector, "step": detector.step, "data": str(config.data),
              "trained_on": names, "test": evaluate(detector, test_splits, names)}
    if chief:
        _write_json(Path(config.run_dir) / "report.json", report)
    return TrainResult(detector, report, history, start, time.perf_counter() - t0,
                       Path(config.run_dir))


def load_run(run_dir: str | os.PathLike) -> Detector:
    """The detector saved in ``run_dir``; ValueError naming the folder when it
    is not a trained detector run."""
    run_dir = Path(run_dir)
    path = run_dir / "options.json"
    try:
        options = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{run_dir}: not a detector run (no readable options.json: "
                         f"{exc.__class__.__name__})") from None
    kind = options.get("detector") if str(options.get("model", "")).startswith("detect") else None
    if kind == "spectral":
        from .spectral import SpectralDetector

        spectral = SpectralDetector.load(run_dir / "spectral.json")
        return Detector("spectral", spectral.decision, options)
    if kind == "cnn":
        from core.loop import Run

        from .cnn import build_cnn, cnn_logits

        config = config_from_run(run_dir)
        net = build_cnn(config.width)
        step = Run(run_dir, options, trackables={"model": net}).restore_weights()
        return Detector("cnn", lambda ims: cnn_logits(net, ims), options, step)
    raise ValueError(f"{run_dir}: not a detector run (options.json model="
                     f"{options.get('model')!r}); train one with python -m detect train")


def score_files(detector: Detector, files: Sequence[str | os.PathLike]
                ) -> list[tuple[str, float | None, str | None]]:
    """``(file, P(fake), None)`` per readable image, ``(file, None, error)``
    per unreadable one (one line naming it). Images larger than
    ``MAX_SCORE_SIDE`` are scored on their central crop of that size
    (resampling would erase the traces detectors look for)."""
    from data.images import load_image

    out: list[tuple[str, float | None, str | None]] = []
    for f in files:
        try:
            image = load_image(f, max_side=None)
        except ValueError as exc:
            out.append((str(f), None, str(exc)))
            continue
        except OSError as exc:
            from core.cli import describe_os_error

            out.append((str(f), None, describe_os_error(exc)))
            continue
        h, w = image.shape[:2]
        top, left = max(0, (h - MAX_SCORE_SIDE) // 2), max(0, (w - MAX_SCORE_SIDE) // 2)
        image = image[top:top + MAX_SCORE_SIDE, left:left + MAX_SCORE_SIDE]
        out.append((str(f), float(detector.predict([image])[0]), None))
    return out
