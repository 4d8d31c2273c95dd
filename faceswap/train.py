"""Training a learned face swap, and the :class:`Swapper` that applies one.

:func:`train` is the API, ``python -m faceswap train`` the CLI. Two models:

- ``autoencoder`` (the deepfakes idea): one shared encoder, one decoder per
  identity (:mod:`faceswap.models`). Each step is one ``tf.function``: the
  augmented faces of A and B go through the encoder in one batch, A's codes
  through decoder A, B's through decoder B, and one Adam update follows the
  sum of both losses: ``l1_weight * |y - t| + ssim_weight * (1 - SSIM) / 2``
  on the RGB output, ``feature_weight`` more L1 on the eyes, brows and mouth
  (:func:`feature_mask`), plus ``mask_weight * |m - hull|`` on the mask
  channel (target: :func:`faceswap.align.face_mask` of the face's landmarks).
  Held-out faces of both identities are reconstructed every ``log_every``
  steps (``heldout_a``/``heldout_b`` in TensorBoard, beside the same loss on
  as many un-augmented training faces, ``clean_a``/``clean_b``), to watch
  overfitting on ~100 faces per identity.
- ``cyclegan``: :func:`cyclegan.train.train` on a folder of links to the
  training crops (``RUN/faces/trainA``, ``trainB``); the run folder is the
  CycleGAN run (its ``options.json``), the face-swap options sit beside it
  in ``faceswap.json``.

Runs go through :mod:`core.loop`: checkpoints, history, TensorBoard, sample
grids, and exact resume (augmentation from ``(seed, element)``). The
identity centroids (mean dlib embeddings of the training faces) are written
to ``RUN/centroids.json`` at the start, so converting and evaluating need
the run folder only. In a multi-worker run (``strategy="multiworker"``)
only the chief writes the run folder, links and face-swap files included.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf

from core.config import describe_changes, has_checkpoint
from core.loop import Run, get_strategy, run_steps, set_seed, tile_images
from core.train import build_adam, check_batch_size, distributed_step, distributed_stream
from data.cache import atomic_path

from .augment import Augmentation, face_stream
from .config import OPTIONS_FILE, RESUMABLE, TrainConfig, config_from_run
from .models import Nets, build_autoencoder

__all__ = ["CENTROIDS_FILE", "FEATURES", "FaceSet", "Swapper", "TrainConfig", "TrainResult",
           "face_loss", "feature_mask", "load_face_set", "load_swapper", "make_step",
           "reconstruction_loss", "train"]

CENTROIDS_FILE = "centroids.json"
IDENTITIES = ("A", "B")


@dataclass
class TrainResult:
    """``history``: one row per step (``step, seconds, ...losses``)."""

    nets: Nets | object
    history: list[dict[str, float]] = field(default_factory=list)
    start_step: int = 0
    seconds: float = 0.0
    run_dir: Path | None = None


# -- losses ------------------------------------------------------------------

def reconstruction_loss(target: tf.Tensor, output: tf.Tensor, *, l1_weight: float = 1.0,
                        ssim_weight: float = 1.0) -> tf.Tensor:
    """``l1_weight * mean|output - target| + ssim_weight * (1 - SSIM) / 2``
    for images ``(B, H, W, 3)`` in [0, 1] (SSIM: :func:`tf.image.ssim`, 11 px
    Gaussian window, sigma 1.5, averaged over the batch), in float32."""
    target, output = tf.cast(target, tf.float32), tf.cast(output, tf.float32)
    loss = tf.constant(0.0)
    if l1_weight:
        loss += l1_weight * tf.reduce_mean(tf.abs(output - target))
    if ssim_weight:
        ssim = tf.reduce_mean(tf.image.ssim(target, output, max_val=1.0))
        loss += ssim_weight * (1.0 - ssim) / 2.0
    return loss


def face_loss(target: tf.Tensor, masks: tf.Tensor, output: tf.Tensor, config: TrainConfig
              ) -> tuple[tf.Tensor, tf.Tensor]:
    """``(reconstruction, mask)`` losses of a decoder ``output`` ``(B, S, S,
    3 or 4)`` against ``target`` ``(B, S, S, 3)`` and ``masks`` ``(B, S, S,
    2)``: the hull and the eyes-brows-mouth regions (:func:`feature_mask`).
    Reconstruction: :func:`reconstruction_loss` plus ``feature_weight *
    mean(features * |output - target|)``; mask: ``mask_weight * mean|m -
    hull|`` (0 without a mask channel)."""
    rgb = tf.cast(output[..., :3], tf.float32)
    rec = reconstruction_loss(target, rgb, l1_weight=config.l1_weight,
                              ssim_weight=config.ssim_weight)
    if config.feature_weight:
        rec += config.feature_weight * tf.reduce_mean(masks[..., 1:2] * tf.abs(rgb - target))
    if output.shape[-1] == 4:
        return rec, config.mask_weight * tf.reduce_mean(tf.abs(output[..., 3:] - masks[..., :1]))
    return rec, tf.constant(0.0)


# -- data --------------------------------------------------------------------

#: landmark groups whose hulls make the feature regions: brow + eye on each side, the mouth
FEATURES = (np.r_[17:22, 36:42], np.r_[22:27, 42:48], np.r_[48:68])


def feature_mask(landmarks: np.ndarray, size: int, grow: float = 0.1) -> np.ndarray:
    """The eyes-with-brows and mouth regions float32 (size, size) in {0, 1}:
    the convex hull of each landmark group (:data:`FEATURES`, crop pixels
    ``(68, 2)``), dilated by ``grow`` x the inter-ocular distance. Details
    the detector and the landmark predictor look at first."""
    from .align import inter_ocular

    lm = np.asarray(landmarks, np.float64).reshape(68, 2)
    mask = np.zeros((size, size), np.uint8)
    for group in FEATURES:
        hull = cv2.convexHull(np.round(lm[group] * 16).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=4)
    r = int(round(grow * inter_ocular(lm)))
    if r > 0:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
    return mask.astype(np.float32)


@dataclass
class FaceSet:
    """One identity's faces at the model's size: ``crops`` (N, S, S, 3)
    uint8, ``masks`` (N, S, S, 2) float32 in {0, 1} (the landmark hull, the
    feature regions of :func:`feature_mask`),
    ``held_out`` (N,) bool, ``embedding`` (N, 128) float32, ``names`` (N,)."""

    folder: str
    crops: np.ndarray
    masks: np.ndarray
    held_out: np.ndarray
    embedding: np.ndarray
    names: np.ndarray

    def train_part(self) -> tuple[np.ndarray, np.ndarray]:
        keep = ~self.held_out
        return self.crops[keep], self.masks[keep]

    @property
    def centroid(self) -> np.ndarray:
        """Mean embedding of the training faces, (128,) float32."""
        return self.embedding[~self.held_out].mean(0).astype(np.float32)


def load_face_set(folder: str | os.PathLike, size: int, *, grow: float = 0.0,
                  min_faces: int = 2) -> FaceSet:
    """The faces of ``folder`` (see :func:`faceswap.extract.load_faces`)
    resized to ``size`` px, with their hull masks (grown by ``grow``
    inter-ocular distances, :func:`faceswap.align.face_mask`) and feature
    regions (:func:`feature_mask`). Raises ValueError naming
    the folder when it has fewer than ``min_faces`` training faces."""
    from .align import face_mask
    from .extract import load_faces

    faces = load_faces(folder)
    crops = np.asarray(faces.crops, np.uint8)
    held_out = np.asarray(faces.held_out, bool)
    if (~held_out).sum() < min_faces:
        raise ValueError(f"{folder}: {(~held_out).sum()} training faces, at least {min_faces} "
                         "needed (extract more frames, or a lower --held-out)")
    src = crops.shape[1]
    if src != size:
        interp = cv2.INTER_AREA if size < src else cv2.INTER_CUBIC
        crops = np.stack([cv2.resize(c, (size, size), interpolation=interp) for c in crops])
    m = np.asarray(faces.matrix, np.float64)
    lm = np.asarray(faces.landmarks, np.float64)
    # frame -> crop landmarks, then to the model's pixel grid (pixel centres scale about -0.5)
    in_crop = np.einsum("nij,nkj->nki", m[:, :, :2], lm) + m[:, None, :, 2]
    in_crop = (in_crop + 0.5) * (size / src) - 0.5
    masks = np.stack([np.stack([face_mask(p, (size, size), grow=grow), feature_mask(p, size)], -1)
                      for p in in_crop]).astype(np.float32)
    return FaceSet(str(folder), crops, masks, held_out, np.asarray(faces.embedding, np.float32),
                   np.asarray(faces.names))


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def _write_centroids(run_dir: Path, config: TrainConfig, sets: list[FaceSet]) -> None:
    _write_json(run_dir / CENTROIDS_FILE,
                {"A": sets[0].centroid.tolist(), "B": sets[1].centroid.tolist(),
                 "a": config.a, "b": config.b})


# -- the autoencoder ---------------------------------------------------------

def make_step(nets: Nets, optimizer, strategy: tf.distribute.Strategy, config: TrainConfig,
              counter: tf.Variable | None = None) -> Callable:
    """``step_fn(((a_in, a_target, a_mask), (b_in, b_target, b_mask)), step)
    -> {"a", "b", "mask"}`` (one tf.function): reconstruction losses of A and
    B and the summed mask loss; one update of every network."""
    variables = nets.variables

    def replica_step(batch, step):
        (a_in, a_t, a_m), (b_in, b_t, b_m) = batch
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        n = tf.shape(a_in)[0]
        with tf.GradientTape() as tape:
            code = nets.encoder(tf.concat([a_in, b_in], 0), training=True)
            out_a = nets.decoder_a(code[:n], training=True)
            out_b = nets.decoder_b(code[n:], training=True)
            rec_a, mask_a = face_loss(a_t, a_m, out_a, config)
            rec_b, mask_b = face_loss(b_t, b_m, out_b, config)
            total = (rec_a + rec_b + mask_a + mask_b) / tf.cast(replicas, tf.float32)
        grads = tape.gradient(total, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return {"a": rec_a, "b": rec_b, "mask": mask_a + mask_b}

    return distributed_step(replica_step, strategy, counter)


def _decode(nets: Nets, images: np.ndarray, identity: str, batch: int = 32) -> np.ndarray:
    """Decoder ``identity``'s output ``(N, S, S, 3 or 4)`` float32 for faces in [0, 1]."""
    dec = nets.decoder(identity)
    outs = [dec(nets.encoder(tf.constant(images[i:i + batch], tf.float32), training=False),
                training=False).numpy() for i in range(0, len(images), batch)]
    return np.concatenate(outs) if outs else np.zeros((0, *images.shape[1:]), np.float32)


def _clean_losses(nets: Nets, sets: list[FaceSet], config: TrainConfig) -> dict[str, float]:
    """Reconstruction loss of the un-augmented held-out faces of A and B
    (``heldout_*``) and of as many training faces (``clean_*``)."""
    out = {}
    for identity, fs in zip(IDENTITIES, sets):
        held = np.flatnonzero(fs.held_out)
        train_idx = np.flatnonzero(~fs.held_out)[:max(len(held), 8)]
        for name, idx in (("heldout", held), ("clean", train_idx)):
            if not len(idx):
                continue
            x = fs.crops[idx].astype(np.float32) / 255.0
            y = _decode(nets, x, identity)
            out[f"{name}_{identity.lower()}"] = float(reconstruction_loss(
                x, y[..., :3], l1_weight=config.l1_weight, ssim_weight=config.ssim_weight))
    return out


def _preview(sets: list[FaceSet], n: int = 4) -> list[np.ndarray]:
    """Up to ``n`` faces per identity, held-out ones first, in [0, 1]."""
    out = []
    for fs in sets:
        order = np.concatenate([np.flatnonzero(fs.held_out), np.flatnonzero(~fs.held_out)])
        out.append(fs.crops[order[:n]].astype(np.float32) / 255.0)
    return out


def sample_grid(nets: Nets, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows ``a | A(a) | B(a) | b | B(b) | A(b)`` (input, reconstruction,
    swap), in [0, 1]."""
    rows = [a, _decode(nets, a, "A")[..., :3], _decode(nets, a, "B")[..., :3],
            b, _decode(nets, b, "B")[..., :3], _decode(nets, b, "A")[..., :3]]
    n = min(len(a), len(b))
    rows = [r[:n] for r in rows]
    return tile_images(np.stack(rows, 1).reshape(-1, *a.shape[1:]), ncols=len(rows))


def _schedule(config: TrainConfig):
    from core.train import LinearDecay

    return LinearDecay(config.learning_rate, config.steps,
                       round(config.steps * config.decay_fraction))


def _train_autoencoder(config: TrainConfig, sets: list[FaceSet], strategy, show_progress: bool,
                       stop_after: int | None) -> TrainResult:
    with strategy.scope():
        nets = build_autoencoder(config)
        opt = build_adam(nets.variables, learning_rate=_schedule(config), beta_1=config.beta_1,
                         fused=True)
    run = Run(config.run_dir, dataclasses.asdict(config), trackables=dict(nets.trackables(),
                                                                           optimizer=opt),
              resumable=RESUMABLE, defaults=dataclasses.asdict(TrainConfig()))
    start = run.restore()
    result = TrainResult(nets=nets, history=run.history, start_step=start, run_dir=run.dir)
    if start >= config.steps:
        return result
    if run.is_chief:
        _write_centroids(run.dir, config, sets)
    step_fn = make_step(nets, opt, strategy, config, counter=run.step)
    aug = Augmentation.from_config(config)
    train_parts = [fs.train_part() for fs in sets]
    stream = lambda b, first, shard: face_stream(  # noqa: E731
        train_parts, aug, batch_size=b, seed=config.seed, start_step=first, shard=shard)
    batches = iter(distributed_stream(strategy, stream, config.batch_size, start))
    preview = _preview(sets)
    end = config.steps if stop_after is None else min(config.steps, start + stop_after)
    result.seconds = run_steps(
        run, step_fn, batches, start, end, log_every=config.log_every,
        sample_every=config.sample_every, checkpoint_every=config.checkpoint_every,
        sample_fn=lambda: sample_grid(nets, *preview),
        extra_scalars=lambda: dict(_clean_losses(nets, sets, config),
                                   lr=float(opt.learning_rate)),
        desc="faceswap/autoencoder", show_progress=show_progress)
    return result


# -- CycleGAN through the cyclegan package ------------------------------------

def _cyclegan_config(config: TrainConfig):
    from cyclegan.config import TrainConfig as CycleGANConfig

    return CycleGANConfig(
        run_dir=config.run_dir, model="cyclegan", data=str(Path(config.run_dir) / "faces"),
        generator=config.generator, ngf=config.width, ndf=config.width,
        image_size=config.image_size, load_size=0, batch_size=config.batch_size,
        steps=config.steps, decay_fraction=config.decay_fraction,
        learning_rate=config.learning_rate, beta_1=config.beta_1,
        precision=config.precision, seed=config.seed, strategy=config.strategy,
        log_every=config.log_every, sample_every=config.sample_every,
        checkpoint_every=config.checkpoint_every)


def _link_faces(config: TrainConfig, sets: list[FaceSet]) -> None:
    """``RUN/faces/trainA`` and ``trainB``: links to the training crops (the
    unaligned layout :func:`data.translation.folder_stream` reads)."""
    for side, fs in zip("AB", sets):
        folder = Path(config.run_dir) / "faces" / f"train{side}"
        folder.mkdir(parents=True, exist_ok=True)
        for name in fs.names[~fs.held_out]:
            link = folder / str(name)
            if not link.exists():
                link.symlink_to((Path(fs.folder) / str(name)).resolve())


def _all_workers_here(strategy: tf.distribute.Strategy) -> None:
    """Return once every worker of ``strategy`` has called this (one
    all-reduce over the replicas: a barrier)."""
    distributed_step(lambda _, step: {"here": tf.ones([])}, strategy)(0, tf.constant(0, tf.int64))


def _check_saved_options(config: TrainConfig) -> None:
    """A resumed cyclegan run's ``faceswap.json`` must match ``config`` but for
    :data:`RESUMABLE` options (ConfigError naming the others). Options added
    to the code after the run was saved count as their defaults."""
    path = Path(config.run_dir) / OPTIONS_FILE
    defaults = json.loads(json.dumps(dataclasses.asdict(TrainConfig())))
    saved = {**defaults, **json.loads(path.read_text())}
    given = json.loads(json.dumps(dataclasses.asdict(config)))
    changed = sorted(k for k in set(saved) | set(given)
                     if k not in RESUMABLE and saved.get(k) != given.get(k))
    if changed:
        raise describe_changes(config.run_dir, {k: (saved.get(k), given.get(k))
                                                for k in changed})


def _train_cyclegan(config: TrainConfig, sets: list[FaceSet], strategy, show_progress: bool,
                    stop_after: int | None) -> TrainResult:
    from cyclegan.train import train as train_cyclegan

    run_dir = Path(config.run_dir)
    cg_config = _cyclegan_config(config)
    if has_checkpoint(run_dir):
        _check_saved_options(config)
    # the chief alone writes the run folder (as core.loop.Run decides); the
    # other workers of a multi-worker run read its links once it has made them
    if strategy.extended.should_checkpoint:
        _link_faces(config, sets)
        _write_json(run_dir / OPTIONS_FILE, dataclasses.asdict(config))
        _write_centroids(run_dir, config, sets)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        _all_workers_here(strategy)
    if not (run_dir / "faces").is_dir():
        raise ValueError(f"{run_dir}: the chief's faces/ folder is not visible to this worker; "
                         "every worker must read the chief's run folder (shared storage)")
    cg = train_cyclegan(cg_config, strategy=strategy, show_progress=show_progress,
                        stop_after=stop_after)
    return TrainResult(nets=cg.nets, history=cg.history, start_step=cg.start_step,
                       seconds=cg.seconds, run_dir=cg.run_dir)


def train(config: TrainConfig, *, strategy: tf.distribute.Strategy | None = None,
          show_progress: bool = True, stop_after: int | None = None) -> TrainResult:
    """Train (or resume) the run in ``config.run_dir`` up to ``config.steps``.

    ``stop_after``: stop after this many steps of this session (a checkpoint
    is written first; simulates an interruption). Everything is checked (the
    faces folders read) before the run folder is written.
    """
    config.check_faces()
    set_seed(config.seed)
    strategy = strategy or get_strategy(config.strategy)
    check_batch_size(config.batch_size, strategy)
    sets = [load_face_set(folder, config.image_size, grow=config.mask_grow)
            for folder in (config.a, config.b)]
    body = _train_cyclegan if config.model == "cyclegan" else _train_autoencoder
    return body(config, sets, strategy, show_progress, stop_after)


# -- applying a trained run ---------------------------------------------------

class Swapper:
    """A trained swap: ``size`` (crop side in px the model takes), ``centroids``
    {"A", "B"} (128,) float32 (mean dlib embeddings of the training faces),
    ``step`` (of the checkpoint loaded) and :meth:`swap`."""

    def __init__(self, config: TrainConfig, nets, centroids: dict[str, np.ndarray],
                 step: int) -> None:
        self.config, self.nets, self.centroids, self.step = config, nets, centroids, step
        self.size = config.image_size
        self.model = config.model

    def swap(self, crops: np.ndarray, direction: str = "AtoB"
             ) -> tuple[np.ndarray, np.ndarray | None]:
        """Faces ``(N, S, S, 3)`` uint8 aligned like the training crops
        (:func:`faceswap.align.align_face` at ``size``) -> ``(faces (N, S, S, 3)
        uint8, masks (N, S, S) float32 in [0, 1] or None)``: ``AtoB`` gives
        them B's identity (decoder B, or CycleGAN's G), ``BtoA`` A's. The
        autoencoder returns its learned mask (None without one); CycleGAN
        None."""
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction must be AtoB or BtoA, got {direction!r}")
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (self.size, self.size, 3):
            raise ValueError(f"crops must be (N, {self.size}, {self.size}, 3) uint8 aligned "
                             f"faces, got shape {crops.shape}")
        x = crops.astype(np.float32) / 255.0
        if self.model == "cyclegan":
            from cyclegan.infer import run_generator

            gen = self.nets.g if direction == "AtoB" else self.nets.f
            out, mask = run_generator(gen, x), None
        else:
            y = _decode(self.nets, x, direction[-1])
            out = y[..., :3]
            mask = y[..., 3] if y.shape[-1] == 4 else None
        return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8), mask


def load_swapper(run: str | os.PathLike) -> Swapper:
    """The :class:`Swapper` of the newest checkpoint of ``run`` (ValueError
    naming the run folder or file when something is missing)."""
    run = Path(run)
    config = config_from_run(run)
    try:
        saved = json.loads((run / CENTROIDS_FILE).read_text())
        centroids = {k: np.asarray(saved[k], np.float32) for k in IDENTITIES}
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        raise ValueError(f"{run / CENTROIDS_FILE}: no readable identity centroids "
                         f"({type(exc).__name__}: {exc})") from None
    if config.model == "cyclegan":
        from cyclegan.train import load_run

        _, nets, step = load_run(run)
    else:
        nets = build_autoencoder(config)
        step = Run(run, dataclasses.asdict(config), trackables=nets.trackables()).restore_weights()
    return Swapper(config, nets, centroids, step)
