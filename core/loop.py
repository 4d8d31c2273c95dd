"""Training-loop plumbing shared by every GAN in the repository.

A run lives in one folder::

    RUN_DIR/options.json      the options it was started with (junyanz-style)
    RUN_DIR/history.json      per-step losses up to the newest checkpoint
    RUN_DIR/checkpoints/      tf.train.Checkpoint files (weights, optimizer
                              slots, step, RNG state), newest 3 kept
    RUN_DIR/logs/             TensorBoard scalars and sample grids
    RUN_DIR/samples/          sample grids as PNG (marked synthetic)

:class:`Run` restores the newest checkpoint when the folder already has one,
and refuses to resume with options that change the model or the data.
Randomness comes from ``(seed, step)`` (stateless ops), so an interrupted and
resumed run computes exactly what an uninterrupted run computes. On several
machines (``get_strategy("multiworker")``) every worker reads RUN_DIR (shared
storage) and only the chief writes it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import re
import shutil
import signal
import tempfile
import time
import weakref
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from core.cli import Interrupted, deferred_interrupts, describe_os_error
from core.config import STRATEGIES, describe_changes, invalid
from data.cache import atomic_path

__all__ = ["Run", "cluster_from_env", "get_strategy", "progress", "run_steps", "set_seed",
           "tile_images"]


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (``keras.utils.set_random_seed``)."""
    import keras

    keras.utils.set_random_seed(int(seed))


def get_strategy(name: str = "default") -> tf.distribute.Strategy:
    """``"default"`` (one device), ``"mirrored"`` (all local GPUs, or CPUs
    configured as logical devices), ``"multiworker"`` (the machines listed in
    ``$TF_CONFIG``, each running the same command; see :func:`cluster_from_env`)
    or ``"tpu"``. A bad ``$TF_CONFIG`` raises ValueError naming it."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multiworker":
        return _multiworker(json.dumps(cluster_from_env(), sort_keys=True))
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise invalid("strategy", "one of " + ", ".join(STRATEGIES), name)


_TF_CONFIG_EXAMPLE = ('{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                      '"task": {"type": "worker", "index": 0}}')


def cluster_from_env() -> dict[str, Any]:
    """``$TF_CONFIG`` parsed and checked: ``{"cluster": {"worker": [host:port,
    ...]} (and optionally "chief": [host:port]), "task": {"type", "index"}}``,
    the same cluster on every machine, each its own task. Raises ValueError
    (one line naming TF_CONFIG) when it is missing or malformed."""
    def bad(why: str) -> ValueError:
        return ValueError(f"TF_CONFIG: {why}; --strategy multiworker expects e.g. "
                          f"TF_CONFIG='{_TF_CONFIG_EXAMPLE}' (this machine's task)")

    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        raise bad("the environment variable is not set")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad(f"not JSON ({exc})") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster:
        raise bad('no "cluster" object')
    for kind, hosts in cluster.items():
        if kind not in ("chief", "worker"):
            raise bad(f'cluster has a {kind!r} job (MultiWorkerMirroredStrategy runs only '
                      '"chief" and "worker")')
        if (not isinstance(hosts, list) or not hosts
                or not all(isinstance(h, str) and re.fullmatch(r"[^\s:]+:\d+", h) for h in hosts)):
            raise bad(f'cluster["{kind}"] must be a non-empty list of "host:port", got {hosts!r}')
    if len(cluster.get("chief", [])) > 1:
        raise bad('cluster["chief"] has more than one address')
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise bad(f'"task" must name this machine\'s job, one of {sorted(cluster)}, '
                  f"got {task!r}")
    index = task.get("index", 0)
    if not isinstance(index, int) or isinstance(index, bool) \
            or not 0 <= index < len(cluster[task["type"]]):
        raise bad(f'task index must be in 0..{len(cluster[task["type"]]) - 1} for '
                  f'{len(cluster[task["type"]])} {task["type"]} address(es), got {index!r}')
    return {"cluster": cluster, "task": {"type": task["type"], "index": index}}


@functools.cache
def _multiworker(tf_config: str) -> tf.distribute.Strategy:
    """One MultiWorkerMirroredStrategy per process and ``tf_config`` (the
    checked ``$TF_CONFIG``, which TensorFlow's resolver reads): TensorFlow
    configures its collective ops once, at start-up."""
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=tf.distribute.cluster_resolver.TFConfigClusterResolver())
    except RuntimeError as exc:  # TensorFlow's context was started before the strategy
        raise ValueError(f"--strategy multiworker: {str(exc).splitlines()[0]} (create the "
                         "strategy before any other TensorFlow call of the process)") from None


def _is_multiworker(strategy: tf.distribute.Strategy) -> bool:
    """True for a MultiWorkerMirroredStrategy over more than one machine."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    jobs = strategy.cluster_resolver.cluster_spec().as_dict()
    return len(jobs.get("chief", [])) + len(jobs.get("worker", [])) > 1


def _strategy_of(trackables: Iterable[Any]) -> tf.distribute.Strategy | None:
    """The strategy the variables of ``trackables`` (Keras models,
    optimizers) were created under, if any."""
    for obj in trackables:
        for v in getattr(obj, "variables", None) or []:
            strategy = getattr(getattr(v, "value", v), "distribute_strategy", None)
            if strategy is not None:
                return strategy
    return None


def progress(total: int, initial: int = 0, desc: str = "train", disable: bool = False):
    """A tqdm progress bar (notebook-aware)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="step", disable=disable)


def tile_images(images: Any, ncols: int = 8) -> np.ndarray:
    """``(N, H, W, C)`` in [0, 1] -> one ``(rows*H, ncols*W, 3)`` grid (gaps of 1 px)."""
    arr = np.clip(np.asarray(images, np.float32), 0, 1)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    n, h, w, c = arr.shape
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    grid = np.ones((nrows * (h + 1) - 1, ncols * (w + 1) - 1, c), np.float32)
    for i in range(n):
        r, q = divmod(i, ncols)
        grid[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = arr[i]
    return grid


class Run:
    """Checkpoints, options and logs of one training run.

    Args:
      run_dir: the run folder (created with the first checkpoint, so a start
        that fails leaves nothing behind).
      options: JSON-serialisable options, written to ``options.json`` with
        the first checkpoint (an ``options.json`` without a checkpoint is
        overwritten); on resume, keys outside ``resumable`` must match.
      trackables: what to checkpoint (models, optimizers, ...); a ``step``
        variable is added.
      resumable: option keys allowed to change between sessions (e.g. the
        total number of steps).
      defaults: values of options added to the code after a run was written;
        a saved run without such a key resumes if the value is the default.
      strategy: the ``tf.distribute`` strategy of the run (default: the one
        the trackables' variables were created under). Under
        ``MultiWorkerMirroredStrategy`` every worker restores from ``run_dir``
        (shared storage on a cluster) and runs the same saves, but only the
        chief (worker 0) writes there; the others write to a temporary folder
        that is removed (TensorFlow's multi-worker recipe: saving may need
        every worker's collective ops).
    """

    def __init__(self, run_dir: str | os.PathLike, options: Mapping[str, Any], *,
                 trackables: Mapping[str, Any], resumable: Iterable[str] = ("steps",),
                 defaults: Mapping[str, Any] | None = None, max_to_keep: int = 3,
                 strategy: tf.distribute.Strategy | None = None) -> None:
        self.dir = Path(run_dir)
        self.strategy = (strategy or _strategy_of(trackables.values())
                         or tf.distribute.get_strategy())
        self.is_chief = bool(self.strategy.extended.should_checkpoint)
        self._multiworker = _is_multiworker(self.strategy)
        self._gather_fn = None
        #: where this process writes: the run folder, or a non-chief worker's scratch folder
        self.out_dir = self.dir
        if not self.is_chief:
            task = getattr(self.strategy.cluster_resolver, "task_id", "x")
            self.out_dir = Path(tempfile.mkdtemp(prefix=f"deepfake-lab-worker{task}-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, self.out_dir, True)
        self.options = json.loads(json.dumps(dict(options), default=str))
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        extra = {}
        for name, obj in trackables.items():
            if hasattr(obj, "weights") and hasattr(obj, "non_trainable_weights"):
                # Keras 3 layers held in Python lists do not hand their
                # non-trainable weights (batch-norm statistics) to
                # tf.train.Checkpoint; list every weight explicitly
                extra[f"{name}_all_weights"] = [getattr(w, "value", w) for w in obj.weights]
                # nor RNG states (dropout's seed generator), which are variables
                # but not weights; kept apart so older checkpoints still load
                ids = {id(getattr(w, "value", w)) for w in obj.weights}
                rng = [getattr(v, "value", v) for v in getattr(obj, "variables", [])]
                rng = [v for v in rng if id(v) not in ids]
                if rng:
                    extra[f"{name}_rng_states"] = rng
        self.checkpoint = tf.train.Checkpoint(step=self.step, **trackables, **extra)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(self.out_dir / "checkpoints"), max_to_keep=max_to_keep)
        self._resumable = set(resumable)
        self._defaults = json.loads(json.dumps(dict(defaults or {}), default=str))
        self._writer = None
        self._options_written = False
        self.history: list[dict[str, float]] = []

    # -- options --------------------------------------------------------------
    @property
    def options_path(self) -> Path:
        return self.dir / "options.json"

    def _check_options(self) -> None:
        try:
            saved = json.loads(self.options_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{self.options_path}: unreadable options file ({exc})") from None
        saved = {**{k: v for k, v in self._defaults.items() if k in self.options}, **saved}
        changed = sorted(k for k in set(saved) | set(self.options)
                         if k not in self._resumable and saved.get(k) != self.options.get(k))
        if changed:
            raise describe_changes(str(self.dir), {k: (saved.get(k), self.options.get(k))
                                                   for k in changed})

    def _write_options(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.out_dir / self.options_path.name) as tmp:
            tmp.write_text(json.dumps(self.options, indent=2, sort_keys=True) + "\n")
        self._options_written = True

    # -- checkpoints ----------------------------------------------------------
    def restore(self) -> int:
        """Restore the newest checkpoint if any; return the step to start from.
        Workers of a multi-worker run that would start from different steps
        (a run folder that is not shared) raise ValueError naming it."""
        step = self._restore()
        if self._multiworker:
            steps = self._gather(step)
            if min(steps) != max(steps):
                raise ValueError(
                    f"{self.dir}: the workers would resume from different steps {steps} (worker "
                    "0 is the chief); every worker must read the chief's run folder (shared "
                    "storage)")
        return step

    def _restore(self) -> int:
        latest = tf.train.latest_checkpoint(str(self.dir / "checkpoints"))
        if latest is None:
            return 0  # options.json comes with the first checkpoint
        if self.options_path.exists():
            self._check_options()
        self._restore_checkpoint(latest, partial=False)
        self._write_options()  # records the new value of resumable keys
        step = int(self.step.numpy())
        if self.history_path.exists():
            try:
                rows = json.loads(self.history_path.read_text())
            except json.JSONDecodeError as exc:
                raise ValueError(f"{self.history_path}: corrupt history ({exc})") from None
            self.history = [r for r in rows if r.get("step", 0) <= step]
        return step

    def restore_weights(self) -> int:
        """Restore the newest checkpoint's weights for inference (optimizer
        slots may be absent); return its step. Raises ValueError naming the
        file when there is none or it does not fit the model."""
        latest = tf.train.latest_checkpoint(str(self.dir / "checkpoints"))
        if latest is None:
            raise ValueError(f"{self.dir}: no checkpoint to load")
        self._restore_checkpoint(latest, partial=True)
        return int(self.step.numpy())

    def _restore_checkpoint(self, path: str, *, partial: bool) -> None:
        """Restore ``path``; ``partial``: optimizer slots etc. may be absent.
        A corrupt or foreign file raises ValueError naming it."""
        try:
            status = self.checkpoint.restore(path)
            if partial:
                status.expect_partial()
            else:
                status.assert_existing_objects_matched()
        except Exception as exc:  # OpError, IndexError, AssertionError... on bad files
            raise ValueError(f"{path}: checkpoint does not match this model "
                             f"({type(exc).__name__}: {str(exc)[:300]})") from None

    @property
    def history_path(self) -> Path:
        return self.dir / "history.json"

    def save(self) -> str:
        """Write the history up to the current step, then a checkpoint
        numbered by it (and ``options.json`` with the first one). A write
        that fails raises OSError naming the path; earlier checkpoints stay."""
        if not self._options_written:
            self._write_options()
        # history first: after a crash between the writes, restore() trims the
        # rows past the checkpoint it finds
        with atomic_path(self.out_dir / self.history_path.name) as tmp:
            tmp.write_text(json.dumps(self.history))
        try:
            return self.manager.save(checkpoint_number=int(self.step.numpy()))
        except tf.errors.OpError as exc:  # disk full, permissions: say where
            raise _os_error(exc, self.manager.directory) from None

    # -- logging --------------------------------------------------------------
    @property
    def logs_dir(self) -> Path:
        return self.out_dir / "logs"

    @contextlib.contextmanager
    def _summaries(self, step: int) -> Iterator[None]:
        """TensorBoard writes at ``step``; their failures (TensorFlow's
        OpError: disk full, ``logs`` not a folder) raise OSError naming it."""
        try:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(str(self.logs_dir))
            with self._writer.as_default(step=step):
                yield
        except tf.errors.OpError as exc:
            raise _os_error(exc, self.logs_dir) from None

    def log_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        """Log ``scalars`` to TensorBoard (OSError naming ``logs`` on failure)."""
        with self._summaries(step):
            for name, value in scalars.items():
                tf.summary.scalar(name, float(value))

    def log_image(self, step: int, name: str, grid: np.ndarray) -> None:
        """Log a grid ``(H, W, 3)`` in [0, 1] to TensorBoard (OSError naming
        ``logs`` on failure)."""
        with self._summaries(step):
            tf.summary.image(name, grid[None], max_outputs=1)

    def save_sample(self, step: int, name: str, grid: np.ndarray) -> Path:
        """Save a grid ``(H, W, 3)`` in [0, 1] as ``samples/NAME_STEP.png`` (marked synthetic)."""
        from data.images import save_image

        return save_image(self.out_dir / "samples" / f"{name}_{step:06d}.png", grid,
                          generator=self.options.get("model", "gan"), params={"step": step})

    def close(self) -> None:
        """Flush and close the TensorBoard writer (OSError naming ``logs`` on
        failure); a non-chief worker's scratch folder is removed."""
        writer, self._writer = self._writer, None
        try:
            if writer is not None:
                writer.close()
        except tf.errors.OpError as exc:
            raise _os_error(exc, self.logs_dir) from None
        finally:
            if not self.is_chief:
                shutil.rmtree(self.out_dir, ignore_errors=True)

    # -- agreement between workers ----------------------------------------------
    def _gather(self, value: int) -> list[int]:
        """``value`` of every replica of the strategy (one collective op, in a
        tf.function: eager collectives are slow)."""
        if self._gather_fn is None:
            strategy = self.strategy

            @tf.function
            def gather(v):
                return strategy.gather(strategy.run(lambda: tf.reshape(v, [1])), axis=0)

            self._gather_fn = gather
        return [int(v) for v in self._gather_fn(tf.constant(value, tf.int64)).numpy()]

    def agreed_signal(self, signum: int) -> int:
        """The signal that stops the run after the current step: ``signum``
        (0 for none) of this process or, in a multi-worker run, the largest
        any worker received, so that all stop (and save) after the same step."""
        if not self._multiworker:
            return signum
        return max(self._gather(signum))


def _os_error(exc: tf.errors.OpError, path: str | os.PathLike) -> OSError:
    """TensorFlow's error for a file-system failure as an OSError naming ``path``."""
    lines = (exc.message or "").splitlines()
    # TensorFlow wraps the reason in the op's names: {{function_node ...}} REASON [Op:...]
    text = re.sub(r"^\{\{.*?\}\}\s*|\s*\[Op:.*$", "", lines[0] if lines else "").strip()
    return OSError(None, text or type(exc).__name__, str(path))


def run_steps(run: Run, step_fn: Callable[[Any, tf.Tensor], Mapping[str, tf.Tensor]],
              batches: Iterator[Any], start: int, end: int, *, log_every: int,
              sample_every: int, checkpoint_every: int,
              sample_fn: Callable[[], np.ndarray],
              extra_scalars: Callable[[], Mapping[str, float]] | None = None,
              desc: str = "train", show_progress: bool = True) -> float:
    """Run steps ``start .. end - 1`` of a training run; return the seconds spent.

    ``step_fn(batch, step)`` runs one step (and increments ``run.step`` in
    the same graph call) and returns scalar losses. Each step appends a row
    ``{step, seconds, **losses}`` to ``run.history``; every ``log_every``
    steps the losses (and ``extra_scalars()``, e.g. the learning rate) go to
    TensorBoard, every ``sample_every`` steps ``sample_fn()``'s grid is saved,
    every ``checkpoint_every`` steps (and at the end) a checkpoint is
    written. A sample grid or TensorBoard log that cannot be written (disk
    full, permissions) is reported once (each) and training goes on; a
    checkpoint that cannot be written raises OSError naming the path.

    Ctrl-C (SIGINT) or SIGTERM ends the loop after the step under way (a
    second one at once): that step is recorded and saved, then
    :class:`core.cli.Interrupted` is raised, saying which step was saved where.
    In a multi-worker run the workers agree after every step whether one of
    them received a signal, so all stop and save after the same step.
    """
    bar = progress(end - start, desc=desc, disable=not show_progress)
    t0 = time.perf_counter()
    failed: set[str] = set()

    def optional(what: str, write: Callable[[], Any]) -> None:
        """A write training does not need: its first failure is reported."""
        try:
            write()
        except OSError as exc:
            if what not in failed:
                warnings.warn(f"{describe_os_error(exc)}: {what} not written; training goes on "
                              "(later failures are not reported)", stacklevel=3)
            failed.add(what)

    def save_sample(step: int) -> None:
        grid = sample_fn()
        optional("sample grid", lambda: run.save_sample(step, "samples", grid))
        optional("TensorBoard log", lambda: run.log_image(step, "samples", grid))

    signum = 0
    try:
        with deferred_interrupts() as pending:
            for step in range(start, end):
                out = step_fn(next(batches), tf.constant(step, tf.int64))
                losses = {k: float(v) for k, v in out.items()}
                done = step + 1
                run.history.append(dict(step=done, seconds=time.perf_counter() - t0, **losses))
                bar.update(1)
                signum = run.agreed_signal(pending[0] if pending else 0)
                if signum:
                    break  # saved below
                if done % log_every == 0:
                    bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
                    scalars = dict(losses, **(extra_scalars() if extra_scalars else {}))
                    optional("TensorBoard log", lambda: run.log_scalars(done, scalars))
                if done % sample_every == 0 or done == end:
                    save_sample(done)
                if done % checkpoint_every == 0 or done == end:
                    run.save()
        if signum:
            raise Interrupted(signum)
    except KeyboardInterrupt as exc:
        step = int(run.step.numpy())
        if step > (run.history[-1]["step"] if run.history else start):
            # a second signal between a step and its row: the step counts, its losses were
            # not read (NaN), so history and checkpoint still agree row for step
            names = [k for k in (run.history[-1] if run.history else {})
                     if k not in ("step", "seconds")]
            run.history.append(dict(step=step, seconds=time.perf_counter() - t0,
                                    **dict.fromkeys(names, math.nan)))
        run.save()  # step counter and weights moved together: resume continues here
        raise Interrupted(getattr(exc, "signum", signal.SIGINT),
                          saved=f"step {step} saved in {run.dir}") from None
    finally:
        bar.close()
        optional("TensorBoard log", run.close)
    return time.perf_counter() - t0
