"""``--strategy multiworker`` (tf.distribute.MultiWorkerMirroredStrategy):
two worker processes on localhost, one CPU each, TF_CONFIG per process,
running a linear model through core.loop.Run / run_steps and
core.train.distributed_step / distributed_stream (what every package's
``train`` uses; a real package costs ~40 s per launch here, mostly start-up).

- step 1 of two workers on half batches each equals the whole-batch SGD
  step written out in NumPy (and differs from either half's);
- SIGINT to ONE worker stops both after the same step, which the chief
  saves; resuming reaches the final step with the weights of the
  uninterrupted whole-batch trajectory (momentum SGD in NumPy, so the
  optimizer's slots were restored too); only the chief wrote the run folder;
- a missing or malformed TF_CONFIG is one line naming it;
- workers that would resume from different steps (a run folder that is not
  shared) stop in one line naming both steps (Run.restore's check, one process).

float32 throughout (Keras' default; the loop has no bf16 path).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
LR, MOMENTUM = 0.05, 0.9

# argv: run_dir report.json data.json steps
_WORKER = r"""
import json, sys
import numpy as np
from core.cli import Interrupted
from core.loop import Run, get_strategy, run_steps, set_seed
from core.train import distributed_step, distributed_stream

strategy = get_strategy("multiworker")  # before any other TensorFlow call
import keras
import tensorflow as tf

set_seed(0)
data = json.loads(open(sys.argv[3]).read())
X, Y = np.asarray(data["x"], np.float32), np.asarray(data["y"], np.float32)
with strategy.scope():
    model = keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(1)])
    opt = keras.optimizers.SGD(data["lr"], momentum=data["momentum"])
    opt.build(model.trainable_variables)

def weights():
    return [w.numpy().tolist() for w in model.weights]

def replica_step(batch, step):
    x, y = batch
    ctx = tf.distribute.get_replica_context()
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
        scaled = loss / ctx.num_replicas_in_sync
    grads = tape.gradient(scaled, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
    return {"loss": loss}

def stream(b, start, shard):  # shard k holds rows k*b .. (k+1)*b - 1 of the global batch
    return tf.data.Dataset.from_tensors((X[shard * b:(shard + 1) * b],
                                         Y[shard * b:(shard + 1) * b])).repeat()

run = Run(sys.argv[1], {"model": "linear"}, trackables={"model": model, "opt": opt})
start = run.restore()
report = {"start": start, "w_start": weights(), "chief": run.is_chief,
          "out_dir": str(run.out_dir), "replicas": strategy.num_replicas_in_sync}
distributed = distributed_step(replica_step, strategy, run.step)

def step_fn(batch, step):
    out = distributed(batch, step)
    if int(step) == 0:
        report["w_step1"] = weights()
    return out

batches = iter(distributed_stream(strategy, stream, len(X), start))
try:
    run_steps(run, step_fn, batches, start, int(sys.argv[4]), log_every=1, sample_every=50,
              checkpoint_every=5, sample_fn=lambda: np.zeros((2, 2, 3), np.float32),
              show_progress=False)
except Interrupted as exc:
    report["interrupted"] = str(exc)
del batches  # now: at interpreter exit tf.data's autotune thread holds the exit for seconds
report.update(step=int(run.step.numpy()), w_end=weights())
json.dump(report, open(sys.argv[2], "w"))
"""


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _one_cpu(i: int):
    cpus = sorted(os.sched_getaffinity(0))
    return lambda: os.sched_setaffinity(0, {cpus[i % len(cpus)]})


def _launch(argv, folder: Path, workers: int = 2) -> list[subprocess.Popen]:
    """``argv(i)`` (or the list ``argv``) in ``workers`` processes, worker
    ``i`` of one localhost cluster (TF_CONFIG), pinned to one CPU with one
    thread per TensorFlow pool; output to ``folder/worker{i}.{out,err}``,
    temporary files in ``folder/scratch``."""
    scratch = folder / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    hosts = [f"localhost:{p}" for p in _free_ports(workers)]
    procs = []
    for i in range(workers):
        env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2",
                   TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1",
                   OMP_NUM_THREADS="1", DEEPFAKE_LAB_PRECISION="float32", TMPDIR=str(scratch),
                   TF_CONFIG=json.dumps({"cluster": {"worker": hosts},
                                         "task": {"type": "worker", "index": i}}))
        # files, not pipes: a worker blocked on a full pipe would stall the other's collectives
        with open(folder / f"worker{i}.out", "w") as out, \
                open(folder / f"worker{i}.err", "w") as err:
            procs.append(subprocess.Popen(argv(i) if callable(argv) else argv, cwd=ROOT,
                                          env=env, preexec_fn=_one_cpu(i), stdout=out,
                                          stderr=err))
    return procs


def _wait(procs: list[subprocess.Popen], folder: Path, timeout: float = 120
          ) -> list[tuple[int, str, str]]:
    """(exit code, stdout, stderr) of each worker; all are killed after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    try:
        for p in procs:
            p.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for p in procs:  # a worker left waiting for a dead peer
            if p.poll() is None:
                p.kill()
                p.wait()
    return [(p.returncode, (folder / f"worker{i}.out").read_text(),
             (folder / f"worker{i}.err").read_text()) for i, p in enumerate(procs)]


def _momentum_sgd_numpy(w, b, x, y, steps: int):
    """``steps`` Keras-SGD-with-momentum steps on the batch mean of
    (x @ w + b - y)^2 (velocity = momentum * velocity - lr * g; param +=
    velocity), in float64."""
    w, b = np.array(w, np.float64), float(b)
    vw, vb = np.zeros_like(w), 0.0
    for _ in range(steps):
        r = x @ w + b - y  # (N, 1)
        vw = MOMENTUM * vw - LR * 2 * x.T @ r / len(x)
        vb = MOMENTUM * vb - LR * 2 * r.mean()
        w, b = w + vw, b + vb
    return w, b


def test_two_workers_step_like_one_and_resume_after_sigint(tmp_path):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(8, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 + 0.1 * rng.normal(size=(8, 1))
    x, y = x.astype(np.float32), y.astype(np.float32)
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"x": x.tolist(), "y": y.tolist(), "lr": LR,
                                "momentum": MOMENTUM}))
    (tmp_path / "worker.py").write_text(_WORKER)
    run = tmp_path / "run"

    def argv(session: str, steps: int):
        return lambda i: [sys.executable, str(tmp_path / "worker.py"), str(run),
                          str(tmp_path / f"{session}{i}.json"), str(data), str(steps)]

    # session 1: runs until SIGINT reaches worker 1 alone
    procs = _launch(argv("first", 100_000), tmp_path)
    deadline = time.monotonic() + 90
    while not (run / "checkpoints" / "checkpoint").is_file():  # both workers are training
        assert all(p.poll() is None for p in procs), _wait(procs, tmp_path)
        assert time.monotonic() < deadline, "no checkpoint after 90 s"
        time.sleep(0.1)
    procs[1].send_signal(signal.SIGINT)
    for code, _, err in _wait(procs, tmp_path):
        assert code == 0, err[-3000:]
    first = [json.loads((tmp_path / f"first{i}.json").read_text()) for i in range(2)]
    assert [r["replicas"] for r in first] == [2, 2]
    w0, b0 = np.asarray(first[0]["w_start"][0]), first[0]["w_start"][1][0]
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    want_w, want_b = _momentum_sgd_numpy(w0, b0, x64, y64, 1)
    for r in first:
        np.testing.assert_allclose(r["w_start"][0], w0, rtol=0, atol=0)
        np.testing.assert_allclose(r["w_step1"][0], want_w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(r["w_step1"][1][0], want_b, rtol=1e-5, atol=1e-6)
    for half in (slice(0, 4), slice(4, 8)):  # either half alone moves elsewhere
        alone, _ = _momentum_sgd_numpy(w0, b0, x64[half], y64[half], 1)
        assert np.abs(alone - want_w).max() > 1e-3
    # both stopped after the same step, saved by the chief
    stopped = first[0]["step"]
    assert first[1]["step"] == stopped >= 5
    for r in first:
        assert r["interrupted"] == f"step {stopped} saved in {run}"
    history = json.loads((run / "history.json").read_text())
    assert [r["step"] for r in history] == list(range(1, stopped + 1))

    # session 2: the same command resumes to the final step
    final = stopped + 3
    for code, _, err in _wait(_launch(argv("second", final), tmp_path), tmp_path):
        assert code == 0, err[-3000:]
    second = [json.loads((tmp_path / f"second{i}.json").read_text()) for i in range(2)]
    want_w, want_b = _momentum_sgd_numpy(w0, b0, x64, y64, final)
    for r in second:
        assert r["start"] == stopped and r["step"] == final and "interrupted" not in r
        np.testing.assert_allclose(r["w_end"][0], want_w, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(r["w_end"][1][0], want_b, rtol=1e-4, atol=1e-5)
    history = json.loads((run / "history.json").read_text())
    assert [r["step"] for r in history] == list(range(1, final + 1))
    assert f'model_checkpoint_path: "ckpt-{final}"' in (run / "checkpoints" / "checkpoint"
                                                         ).read_text()
    # the chief alone wrote the run folder; the other worker's scratch folder is gone
    for r in first + second:
        assert r["chief"] == (r["out_dir"] == str(run))
    assert [r["chief"] for r in second] == [True, False]
    assert not any((tmp_path / "scratch").iterdir())
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "history.json", "logs",
                                                     "options.json", "samples"]


@pytest.mark.parametrize("tf_config, expected", [
    (None, "TF_CONFIG: the environment variable is not set"),
    ("{cluster", "TF_CONFIG: not JSON"),
    ('{"task": {"type": "worker", "index": 0}}', 'TF_CONFIG: no "cluster" object'),
    ('{"cluster": {"worker": ["localhost"]}, "task": {"type": "worker", "index": 0}}',
     'TF_CONFIG: cluster["worker"] must be a non-empty list of "host:port"'),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}',
     "TF_CONFIG: task index must be in 0..1"),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "worker"}}',
     "TF_CONFIG: cluster has a 'ps' job"),
])
def test_bad_tf_config_is_one_line(monkeypatch, tf_config, expected):
    from core.loop import get_strategy

    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError) as err:
        get_strategy("multiworker")
    assert str(err.value).startswith(expected) and "\n" not in str(err.value)
    assert "--strategy multiworker" in str(err.value)


def test_workers_resuming_from_different_steps_stop_in_one_line(tmp_path, monkeypatch):
    """Run.restore's check, in one process: this worker finds a checkpoint
    at step 3 while (faked) its peer reports step 5, as when the run folder
    is not shared; the peers' steps are gathered by Run._gather, patched here."""
    import keras

    import core.loop
    from core.loop import Run

    def linear():
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])

    folder = tmp_path / "run"
    first = Run(folder, {"model": "linear"}, trackables={"model": linear()})
    first.step.assign(3)
    first.save()
    monkeypatch.setattr(core.loop, "_is_multiworker", lambda strategy: True)
    monkeypatch.setattr(Run, "_gather", lambda self, value: [value, 5])
    with pytest.raises(ValueError) as err:
        Run(folder, {"model": "linear"}, trackables={"model": linear()}).restore()
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{folder}: ")
    assert "resume from different steps [3, 5]" in message and "shared storage" in message
    monkeypatch.setattr(Run, "_gather", lambda self, value: [value, value])  # peers agree
    assert Run(folder, {"model": "linear"}, trackables={"model": linear()}).restore() == 3
