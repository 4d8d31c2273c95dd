"""python -m nst: end to end on the shipped samples, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from data import read_provenance, samples
from nst.__main__ import main

ROOT = Path(__file__).resolve().parents[1]


def test_cli_writes_marked_png_and_history(tmp_path, vgg_imagenet, capsys):
    out, hist = tmp_path / "out.png", tmp_path / "hist.json"
    code = main([str(samples.path("chelsea")), str(samples.path("starry_night")),
                 str(samples.path("coffee")), "--blend", "0.8", "0.2", "-o", str(out),
                 "--size", "48", "--steps", "4", "--optimizer", "lbfgs", "--init", "noise",
                 "--preserve-color", "--history", str(hist), "--quiet"])
    assert code == 0
    meta = read_provenance(out)
    assert meta["AI-Generated"] == "true"
    params = meta["Parameters"]
    assert params["optimizer"] == "lbfgs" and params["preserve_color"] is True
    assert params["style_blend"] == [0.8, 0.2] and len(params["styles"]) == 2
    history = json.loads(hist.read_text())
    assert len(history) == 4 and "loss" in history[0]
    assert "wrote" in capsys.readouterr().out


def test_cli_bad_input_names_file(tmp_path, capsys):
    missing = tmp_path / "nope.jpg"
    code = main([str(missing), str(samples.path("starry_night")), "-o", str(tmp_path / "o.png")])
    assert code == 2
    assert f"{missing}: file not found" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_cli_help_and_usage_errors(tmp_path):
    help_out = subprocess.run([sys.executable, "-m", "nst", "--help"], capture_output=True,
                              text=True, check=True, cwd=ROOT).stdout
    for option in ("--optimizer", "--init", "--preserve-color", "--blend", "--scales",
                   "--precision", "--seed"):
        assert option in help_out
    bad = subprocess.run([sys.executable, "-m", "nst", "a.jpg", "b.jpg", "-o", "out.jpg"],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "must end in .png" in bad.stderr
