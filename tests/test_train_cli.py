"""The training command lines' shared plumbing: flags and help generated from
the option dataclasses (without TensorFlow), errors spelled as flags, saved
runs told from failed starts, and Ctrl-C / SIGTERM during real trainings."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.cli import Interrupted, add_config_arguments, config_for_cli, deferred_interrupts, run_main
from core.config import ConfigError, RunOptions, describe_changes, invalid, option

ROOT = Path(__file__).resolve().parents[1]

HELP = r"""
import contextlib, io, json, runpy, sys, time
t = time.perf_counter()
helps = {}
for name in ("cogan", "cyclegan"):
    sys.argv = [name, "train", "--help"]
    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):
        runpy.run_module(name, run_name="__main__")  # what `python -m NAME` runs
    helps[name] = text.getvalue()
print("SECONDS", time.perf_counter() - t)
print("TF", "tensorflow" in sys.modules)
print("HELP", json.dumps(helps))
"""


def test_train_help_lists_meaning_choices_units_defaults_without_tensorflow():
    out = subprocess.run([sys.executable, "-c", HELP], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert lines["TF"] == "False"
    assert float(lines["SECONDS"]) < 1.0  # parsers from the dataclasses alone
    helps = {k: " ".join(v.split()) for k, v in json.loads(lines["HELP"]).items()}
    cogan, cyclegan = helps["cogan"], helps["cyclegan"]
    assert "--steps STEPS" in cogan and "--steps STEPS" in cyclegan
    assert "--model {dcgan,cogan,cgan}" in cogan and "--gan-loss {bce,lsgan}" in cogan
    assert "--task {edges,negatives}" in cogan
    assert "--batch-size IMAGES images per step and domain, over all replicas [images; " \
           "default 64 or the saved run's]" in cogan
    assert "--model {cyclegan,pix2pix}" in cyclegan and "--gan-loss {auto,bce,lsgan}" in cyclegan
    assert "--precision {auto,float32,bf16}" in cyclegan
    assert "--generator {unet,resnet6,resnet9}" in cyclegan
    assert "--image-size PX side of the training crops" in cyclegan
    assert "--skip-bad-images, --no-skip-bad-images" in cyclegan
    assert "lambda_A, weight of the forward cycle |F(G(a)) - a| [default 10.0" in cyclegan


@dataclass
class Demo(RunOptions):
    run_dir: str = option("runs/demo", "run folder")
    mode: str = option("fast", "how", choices=("fast", "exact"))
    size: int = option(32, "side, 100% = full", unit="px")
    rate: float = option(0.5, "a rate")
    flip: bool = option(False, "mirror the images")

    def __post_init__(self):
        self.check_choices()
        self.check_positive("size")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="demo")
    add_config_arguments(parser, Demo)
    return parser


def test_generated_flags_parse_types_choices_and_bools():
    parser = _parser()
    args = parser.parse_args([])
    assert (args.mode, args.size, args.rate, args.flip) == (None, None, None, None)
    args = parser.parse_args(["--mode", "exact", "--size", "8", "--rate", "0.25", "--flip"])
    assert (args.mode, args.size, args.rate, args.flip) == ("exact", 8, 0.25, True)
    assert parser.parse_args(["--no-flip"]).flip is False
    assert config_for_cli(Demo, "r", parser.parse_args(["--flip"])).flip is True
    with pytest.raises(SystemExit):
        parser.parse_args(["--mode", "slow"])
    text = " ".join(parser.format_help().split())
    assert "--size PX side, 100% = full [px; default 32 or the saved run's]" in text
    assert "--mode {fast,exact} how [default 'fast' or the saved run's]" in text


def test_config_errors_name_fields_in_python_and_flags_on_the_command_line(capsys):
    with pytest.raises(ConfigError, match=r"^size must be a positive integer, got 0$"):
        Demo(size=0)
    assert run_main(lambda: Demo(size=0)) == 2
    assert capsys.readouterr().err == "error: --size must be a positive integer, got 0\n"
    assert run_main(lambda: Demo(mode="slow"), prog="demo") == 2
    assert capsys.readouterr().err == "demo: error: --mode must be one of fast, exact, got 'slow'\n"
    error = describe_changes("runs/{x}", {"size": (32, 64), "run_dir": ("a", "b")})
    assert str(error) == ("runs/{x}: cannot resume, options differ from the saved run "
                          "(size: 32 -> 64, run_dir: 'a' -> 'b'); use a new run folder")
    assert error.spelled(lambda n: f"<{n}>").startswith("runs/{x}: cannot resume, options "
                                                        "differ from the saved run (<size>: ")
    assert str(invalid("rate", "in {0, 1}", 2)) == "rate must be in {0, 1}, got 2"


def test_a_stray_options_json_is_not_a_saved_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "options.json").write_text(json.dumps({"run_dir": str(run), "size": 8,
                                                  "mode": "exact"}))
    args = _parser().parse_args(["--rate", "0.1"])
    assert config_for_cli(Demo, str(run), args) == Demo(run_dir=str(run), rate=0.1)
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "checkpoint").write_text("")  # now it is a saved run
    assert config_for_cli(Demo, str(run), args) == Demo(run_dir=str(run), size=8, mode="exact",
                                                        rate=0.1)


def test_deferred_interrupts_wait_for_a_safe_point_then_a_second_one_is_at_once():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with deferred_interrupts() as pending:
        os.kill(os.getpid(), signal.SIGTERM)
        assert pending == [signal.SIGTERM]  # recorded, nothing raised
        with pytest.raises(Interrupted) as caught:
            os.kill(os.getpid(), signal.SIGINT)
        assert caught.value.exit_code == 130
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


# tiny runs of a few steps per second; checkpoints every 2 steps show progress
TINY_RUNS = {
    "cogan": ["--width", "0.0625", "--batch-size", "8"],
    "cyclegan": ["--model", "pix2pix", "--ngf", "8", "--ndf", "8", "--batch-size", "2",
                 "--precision", "float32"],
}


@pytest.mark.parametrize("package,signum", [("cogan", signal.SIGTERM),
                                            ("cyclegan", signal.SIGINT)],
                         ids=["cogan-SIGTERM", "cyclegan-SIGINT"])
def test_signal_saves_the_step_says_how_to_resume_and_the_command_resumes(tmp_path, package,
                                                                          signum):
    """kill (SIGTERM) or Ctrl-C (SIGINT) during `python -m PACKAGE train`: a
    checkpoint of the step reached, one line naming it and the command that
    resumes, exit 143 / 130; that command continues from the step."""
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", package, "train", "--run", str(run), *TINY_RUNS[package],
         "--steps", "100000", "--checkpoint-every", "2", "--sample-every", "100000",
         "--log-every", "100000", "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (run / "checkpoints" / "checkpoint").exists():
        if proc.poll() is not None:
            pytest.fail(f"training ended early ({proc.returncode}): {proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no checkpoint after 300 s")
        time.sleep(0.2)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err[-2000:]
    lines = err.strip().splitlines()
    assert "Traceback" not in err and len(lines) == 1, err[-2000:]
    m = re.fullmatch(rf"interrupted \({signum.name}\): step (\d+) saved in (.+); resume with: "
                     rf"python -m {package} train --run (.+)", lines[0])
    assert m and m[2] == m[3] == str(run), lines[0]
    step = int(m[1])
    assert step >= 2 and (run / "checkpoints" / f"ckpt-{step}.index").exists()
    saved = json.loads((run / "history.json").read_text())
    assert [h["step"] for h in saved] == list(range(1, step + 1))
    # the resume command (one more step): the saved rows are kept as they were
    cli = importlib.import_module(f"{package}.__main__").main
    assert cli(["train", "--run", str(run), "--steps", str(step + 1), "--quiet"]) == 0
    history = json.loads((run / "history.json").read_text())
    assert history[:step] == saved and history[-1]["step"] == step + 1
