"""python -m nst: end to end on the shipped samples, its help, its errors, and
what it keeps when interrupted. Runs pin ``--precision float32``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data import read_provenance, samples
from nst.__main__ import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
PAIR = [str(samples.path("chelsea")), str(samples.path("starry_night"))]


def test_cli_writes_marked_png_and_history(tmp_path, vgg_imagenet, capsys):
    out, hist = tmp_path / "out.png", tmp_path / "hist.json"
    code = main([str(samples.path("chelsea")), str(samples.path("starry_night")),
                 str(samples.path("coffee")), "--blend", "0.8", "0.2", "-o", str(out),
                 "--size", "48", "--steps", "4", "--optimizer", "lbfgs", "--init", "noise",
                 "--preserve-color", "--history", str(hist), "--quiet", "--precision", "float32"])
    assert code == 0
    meta = read_provenance(out)
    assert meta["AI-Generated"] == "true"
    params = meta["Parameters"]
    assert params["optimizer"] == "lbfgs" and params["preserve_color"] is True
    assert params["style_blend"] == [0.8, 0.2] and len(params["styles"]) == 2
    assert "partial" not in params
    history = json.loads(hist.read_text())
    assert len(history) == 4 and "loss" in history[0]
    assert "wrote" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hist.json", "out.png"]


def test_cli_bad_input_names_file(tmp_path, capsys):
    missing = tmp_path / "nope.jpg"
    code = main([str(missing), str(samples.path("starry_night")), "-o", str(tmp_path / "o.png")])
    assert code == 2
    assert f"{missing}: file not found" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_help_shows_every_default_and_the_examples_without_tensorflow():
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "nst", "--help"],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0]
                for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "nst" in imported and not {"tensorflow", "keras"} & imported
    assert elapsed < 3.0  # a TensorFlow import alone takes longer
    text = proc.stdout
    options = text.split("\noptions:\n")[1].split("\n\n")[0]
    for action in build_parser()._actions:  # every option states its default
        if not action.option_strings or action.dest == "help" or action.required:
            continue
        block = re.search(r"^  \S*?,? ?" + re.escape(action.option_strings[-1])
                          + r"\b.*?(?=\n  -|\Z)", options, re.S | re.M)
        assert block and "(default: " in " ".join(block.group(0).split()), action.option_strings
    assert "--steps N [N ...]" in text and "(default: 1000)" in " ".join(text.split())
    examples = re.findall(r"^  python -m nst .*(?:\n      .*)*", text, re.M)
    assert len(examples) == 2, examples
    # the examples parse (a command the help shows must be one the parser accepts)
    for example in examples:
        args = build_parser().parse_args(example.replace("\\\n", " ").split()[3:])
        assert args.output == Path("out.png")


@pytest.mark.parametrize("flags,message", [
    (["--blend", "1", "2"], "--blend must be 1 non-negative weight(s)"),
    (["--scales", "2", "--steps", "1", "2", "3"],
     "--steps must be one count >= 0, or one per scale (2)"),
    (["--size", "8"], "--size must be at least 16 pixels"),
    (["--lr", "0"], "--lr must be > 0"),
    (["--tv-weight", "-1"], "--tv-weight must be >= 0"),
    (["-o", "out.jpg"], "--output out.jpg: must end in .png"),
    (["--weights", "vgg.h5"], "--weights vgg.h5: file not found (expected 'imagenet'"),
])
def test_errors_name_the_flags(tmp_path, capsys, monkeypatch, flags, message):
    monkeypatch.chdir(tmp_path)
    code = main(PAIR + ["-o", "out.png"] + flags)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"error: {message}" in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def no_stylize(monkeypatch):
    """Fail the test if the CLI gets as far as optimising."""
    def refuse(*args, **kwargs):
        raise AssertionError("stylize() was called")
    import importlib

    # imported here: which tests ran before in this worker must not matter
    monkeypatch.setattr(importlib.import_module("nst.stylize"), "stylize", refuse)


def test_unwritable_output_is_refused_before_optimising(tmp_path, capsys, monkeypatch,
                                                        no_stylize):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    (tmp_path / "dir.png").mkdir()
    for out, reason in [(tmp_path / "missing" / "out.png", "the folder {} does not exist"),
                        (a_file / "out.png", "{} is a file, not a folder"),
                        (tmp_path / "dir.png", "is a directory, expected a file name")]:
        assert main(PAIR + ["-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert err == f"error: --output {out}: {reason.format(out.parent)}\n"
    assert not (tmp_path / "missing").exists()

    # a folder that refuses new files (as root, permissions do not: fake the refusal)
    import tempfile

    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", str(Path(dir) / ".probe"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    out = tmp_path / "out.png"
    assert main(PAIR + ["-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: --output {out}: cannot write there (Permission denied)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "dir.png"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permissions")
def test_read_only_folder_is_refused(tmp_path, capsys, no_stylize):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert main(PAIR + ["-o", str(folder / "out.png")]) == 1
    finally:
        folder.chmod(0o700)
    assert "cannot write there" in capsys.readouterr().err and not list(folder.iterdir())


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_the_partial_image(tmp_path, capsys, monkeypatch, vgg_imagenet, signum):
    """Ctrl-C / kill after the 4th Adam step: a real signal to this process
    (SIGTERM goes through run_main's handler, SIGINT through Python's)."""
    import tqdm.auto

    class SignalAtStep4(tqdm.auto.tqdm):  # stylize's progress bar counts the steps
        steps = 0

        def update(self, n=1):
            super().update(n)
            SignalAtStep4.steps += n  # (a disabled bar does not count)
            if SignalAtStep4.steps == 4:
                os.kill(os.getpid(), signum)
                time.sleep(1)  # the handler raises before this ends

    monkeypatch.setattr(tqdm.auto, "tqdm", SignalAtStep4)
    # Python's own SIGINT handler, whatever an earlier test or library in this
    # worker process left installed (the suite once saw the signal ignored)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    monkeypatch.setattr(SignalAtStep4, "steps", 0)
    out, hist = tmp_path / "out.png", tmp_path / "hist.json"
    code = main(PAIR + ["-o", str(out), "--size", "32", "--steps", "50", "--quiet",
                        "--precision", "float32", "--history", str(hist)])
    signal.signal(signal.SIGINT, previous)
    name = signal.Signals(signum).name
    assert code == 128 + signum
    assert capsys.readouterr().err == (f"interrupted ({name}): partial image (step 4 of 50, "
                                       f"32x21 px) saved to {out}, its loss history to {hist}\n")
    params = read_provenance(out)["Parameters"]
    assert params["partial"] is True and params["step"] == 4
    assert len(json.loads(hist.read_text())) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hist.json", "out.png"]


def test_an_interruption_never_replaces_a_file(tmp_path, capsys, monkeypatch):
    """-o and --history exist (an earlier result): the partial image and history
    go beside them as STEM.partial.*, numbered when that name is taken too."""
    import importlib

    import numpy as np
    from PIL import Image

    stylize_module = importlib.import_module("nst.stylize")
    image = np.random.default_rng(0).uniform(size=(21, 32, 3)).astype(np.float32)
    history = [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.0}]

    def interrupted(*args, **kwargs):  # as stylize() ends on SIGTERM after step 2
        result = stylize_module.StylizeResult(image=image, history=history,
                                              params={"steps": [50], "partial": True, "step": 2})
        raise stylize_module.StylizeInterrupted(result, signal.SIGTERM)

    monkeypatch.setattr(stylize_module, "stylize", interrupted)
    out, hist = tmp_path / "out.png", tmp_path / "hist.json"
    mine = {"out.png": b"earlier result", "hist.json": b"earlier history",
            "out.partial.png": b"earlier partial"}
    for name, data in mine.items():
        (tmp_path / name).write_bytes(data)
    for image_name, history_name in [("out.partial_1.png", "hist.partial.json"),
                                     ("out.partial_2.png", "hist.partial_1.json")]:
        assert main(PAIR + ["-o", str(out), "--history", str(hist), "--quiet"]) == 143
        assert capsys.readouterr().err == (
            f"interrupted (SIGTERM): partial image (step 2 of 50, 32x21 px) saved to "
            f"{tmp_path / image_name}, its loss history to {tmp_path / history_name}\n")
        saved = np.asarray(Image.open(tmp_path / image_name), np.float32) / 255
        np.testing.assert_allclose(saved, image, atol=0.5 / 255 + 1e-6)  # PNG rounding
        assert read_provenance(tmp_path / image_name)["Parameters"]["partial"] is True
        assert json.loads((tmp_path / history_name).read_text()) == history
    for name, data in mine.items():
        assert (tmp_path / name).read_bytes() == data
    assert len(list(tmp_path.iterdir())) == 7  # no temporary files left


def test_a_finished_run_never_replaces_a_file(tmp_path, capsys, monkeypatch):
    """-o and --history exist (an earlier result): a finished run writes to
    STEM_1.* beside them and says so; the user's files stay byte-identical."""
    import importlib

    import numpy as np
    from PIL import Image

    stylize_module = importlib.import_module("nst.stylize")
    image = np.random.default_rng(1).uniform(size=(21, 32, 3)).astype(np.float32)
    history = [{"step": 1, "loss": 2.0, "seconds": 0.5}]
    monkeypatch.setattr(stylize_module, "stylize", lambda *a, **k: stylize_module.StylizeResult(
        image=image, loss=2.0, history=history, params={"steps": [1]}))
    out, hist = tmp_path / "out.png", tmp_path / "hist.json"
    mine = {"out.png": b"earlier result", "hist.json": b"earlier history"}
    for name, data in mine.items():
        (tmp_path / name).write_bytes(data)
    assert main(PAIR + ["-o", str(out), "--history", str(hist), "--quiet"]) == 0
    assert f"wrote {tmp_path / 'out_1.png'} (history: {tmp_path / 'hist_1.json'})" \
        in capsys.readouterr().out
    saved = np.asarray(Image.open(tmp_path / "out_1.png"), np.float32) / 255
    np.testing.assert_allclose(saved, image, atol=0.5 / 255 + 1e-6)  # PNG rounding
    assert json.loads((tmp_path / "hist_1.json").read_text()) == history
    for name, data in mine.items():
        assert (tmp_path / name).read_bytes() == data
