"""core.loop.run_steps without a network: a counter "model" whose step takes
microseconds, so the loop's file handling is checked in milliseconds."""

from __future__ import annotations

import json
import math
import signal
import warnings

import numpy as np
import pytest
import tensorflow as tf

from core.cli import Interrupted, run_main
from core.loop import Run, run_steps

GRID = np.full((4, 6, 3), 0.5, np.float32)


def _run(run_dir) -> tuple[Run, tf.Variable]:
    w = tf.Variable(0.0)
    return Run(run_dir, {"model": "counter"}, trackables={"w": w}), w


def _train(run: Run, w: tf.Variable, end: int, *, start: int = 0, loss=None) -> float:
    """``end - start`` steps of w += 1 with loss = w (``loss(step, w)`` overrides)."""
    def step_fn(batch, step):
        w.assign_add(1.0)
        run.step.assign_add(1)
        return {"loss": w.read_value() if loss is None else loss(int(step), w)}

    return run_steps(run, step_fn, iter(range(end)), start, end, log_every=1, sample_every=2,
                     checkpoint_every=2, sample_fn=lambda: GRID, show_progress=False)


def _warnings(record) -> list[str]:
    return [str(w.message) for w in record]


def test_logs_that_cannot_be_written_warn_once_and_training_goes_on(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "logs").write_text("a file where TensorBoard's folder should be")
    run, w = _run(run_dir)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _train(run, w, 4)
    assert _warnings(record) == [f"{run_dir / 'logs'}: Not a directory: TensorBoard log not "
                                 "written; training goes on (later failures are not reported)"]
    assert [h["step"] for h in json.loads((run_dir / "history.json").read_text())] == [1, 2, 3, 4]
    assert (run_dir / "checkpoints" / "ckpt-4.index").exists()
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == [
        "samples_000002.png", "samples_000004.png"]
    # where such a failure is fatal (a caller's own write), the CLI says it in one line
    assert run_main(lambda: run.log_scalars(5, {"loss": 1.0})) == 1
    assert capsys.readouterr().err == f"error: {run_dir / 'logs'}: Not a directory\n"


def test_a_failed_tensorboard_image_keeps_the_png_and_the_run(tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    monkeypatch.setattr(tf.summary, "image", disk_full)
    run, w = _run(tmp_path / "run")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _train(run, w, 4)
    assert _warnings(record) == [f"{tmp_path / 'run' / 'logs'}: No space left on device: "
                                 "TensorBoard log not written; training goes on (later failures "
                                 "are not reported)"]
    assert len(list((tmp_path / "run" / "samples").iterdir())) == 2
    assert list((tmp_path / "run" / "logs").iterdir()), "the scalars are still logged"


def test_a_second_signal_between_a_step_and_its_row_keeps_them_together(tmp_path):
    """Step 3 ran (counter and weights moved) but a second Ctrl-C arrived
    before its losses were read: the saved step 3 has a row, with NaN losses."""
    class SecondSignal:
        def __float__(self):
            raise Interrupted(signal.SIGINT)

    run, w = _run(tmp_path / "run")
    with pytest.raises(Interrupted) as caught:
        _train(run, w, 10, loss=lambda step, w: SecondSignal() if step == 2 else w.read_value())
    assert caught.value.saved == f"step 3 saved in {tmp_path / 'run'}"
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["step"] for h in history] == [1, 2, 3]
    assert [h["loss"] for h in history[:2]] == [1.0, 2.0] and math.isnan(history[2]["loss"])
    # the resumed run starts after step 3 with the three rows, weights as after step 3
    resumed, w2 = _run(tmp_path / "run")
    assert resumed.restore() == 3 and float(w2.numpy()) == 3.0
    assert [h["step"] for h in resumed.history] == [1, 2, 3]
