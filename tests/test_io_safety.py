"""Nothing the user had is lost: generator export, folder translation with
unreadable files, benchmark results."""

from __future__ import annotations

import datetime
import errno
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from core.config import ConfigError
from cyclegan.infer import export_generator, load_exported, translate_folder


@pytest.fixture(scope="module")
def generator() -> keras.Model:
    """A 1x1 convolution: enough to export and translate, fast to build."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    return keras.Model(inputs, keras.layers.Conv2D(3, 1, activation="tanh")(inputs), name="tiny")


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}


def _check_translates(path, generator):
    x = np.random.default_rng(0).uniform(size=(1, 5, 7, 3)).astype(np.float32)
    expected = (generator(x * 2 - 1, training=False).numpy() + 1) / 2  # the model's definition
    loaded = load_exported(path)  # kept: its functions reference its variables
    np.testing.assert_allclose(loaded.translate(tf.constant(x)).numpy(), expected, atol=1e-5)


def test_export_refuses_a_non_empty_folder_and_force_replaces_it(tmp_path, generator):
    out = tmp_path / "model"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"model: folder is not empty.*--force"):
        export_generator(generator, out)
    assert _files(tmp_path) == {"model/notes.txt": b"mine"}  # untouched, no temporary left
    assert export_generator(generator, out, force=True) == out
    assert not (out / "notes.txt").exists()
    _check_translates(out, generator)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # old copy removed


def test_export_into_a_new_or_empty_folder(tmp_path, generator):
    (tmp_path / "empty").mkdir()
    export_generator(generator, tmp_path / "empty")
    _check_translates(tmp_path / "empty", generator)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="file: exists and is not a folder"):
        export_generator(generator, tmp_path / "file")


def test_export_never_replaces_the_working_directory(tmp_path, generator, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text("work")
    monkeypatch.chdir(project)
    for force in (False, True):  # `--output .`, with or without --force
        with pytest.raises(ValueError, match="working directory"):
            export_generator(generator, ".", force=force)
    with pytest.raises(ValueError, match="working directory"):
        export_generator(generator, tmp_path, force=True)  # a folder above it
    assert _files(tmp_path) == {"project/train.py": b"work"}


def test_failed_export_leaves_the_old_one(tmp_path, generator, monkeypatch):
    out = tmp_path / "model"
    out.mkdir()
    (out / "saved_model.pb").write_bytes(b"old export")
    before = _files(tmp_path)

    def broken_save(obj, path, **_):
        (tf.io.gfile.GFile(os.path.join(path, "partial"), "w")).write("x")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tf.saved_model, "save", broken_save)
    with pytest.raises(OSError, match="No space"):
        export_generator(generator, out, force=True)
    assert _files(tmp_path) == before
    monkeypatch.undo()

    real_replace = os.replace
    calls = []

    def replace_fails_second_time(src, dst):  # old aside succeeds, new into place fails
        calls.append((src, dst))
        if len(calls) == 2:
            raise OSError(13, "Permission denied")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_fails_second_time)
    with pytest.raises(OSError, match="Permission denied"):
        export_generator(generator, out, force=True)
    monkeypatch.undo()
    assert len(calls) == 3  # aside, in (failed), back
    assert _files(tmp_path) == before


def _mixed_folder(folder, rng):
    folder.mkdir()
    Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(folder / "good.png")
    data = tf.io.encode_jpeg(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).numpy()
    (folder / "cut.jpg").write_bytes(data[: len(data) // 2])
    (folder / "readme.png").write_text("not an image\n")


def test_translate_folder_checks_every_file_first(tmp_path, rng, generator, capsys):
    src, dst = tmp_path / "in", tmp_path / "out"
    _mixed_folder(src, rng)
    with pytest.raises(ValueError) as err:
        translate_folder(generator, src, dst)
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(f"{src / 'cut.jpg'}: truncated or corrupt image data")
    assert "1 more unreadable: readme.png" in str(err.value)
    assert not dst.exists()  # nothing written before the check
    written = translate_folder(generator, src, dst, skip_bad=True)
    assert [p.name for p in written] == ["good.png"]
    assert capsys.readouterr().err.strip() == (
        f"warning: {src}: skipped 2 of 3 images that could not be read: cut.jpg, readme.png")
    good = np.asarray(Image.open(src / "good.png"), np.float32)[None] / 255
    expected = (generator(good * 2 - 1, training=False).numpy()[0] + 1) / 2
    np.testing.assert_allclose(np.asarray(Image.open(written[0])) / 255, expected,
                               atol=0.5 / 255 + 1e-6)  # PNG rounding


def test_translate_folder_never_replaces_a_file(tmp_path, rng, generator):
    src, dst = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for name in ("a.png", "b.jpg"):
        Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)).save(src / name)
    dst.mkdir()
    mine = {"a.png": b"earlier", "A_1.png": b"earlier too"}  # names compared ignoring case
    for name, data in mine.items():
        (dst / name).write_bytes(data)
    first = translate_folder(generator, src, dst)
    assert [p.name for p in first] == ["a_2.png", "b.png"]
    again = translate_folder(generator, src, dst)  # an earlier call's outputs are kept too
    assert [p.name for p in again] == ["a_3.png", "b_1.png"]
    assert {name: (dst / name).read_bytes() for name in mine} == mine
    assert [(dst / p.name).read_bytes() for p in first] == [p.read_bytes() for p in again]
    assert len(list(dst.iterdir())) == 6
    # the input folder itself, however spelled, is refused before anything is written
    before = _files(src)
    for same in (src, tmp_path / "in" / ".." / "in"):
        with pytest.raises(ConfigError, match=r"^dst .*: is the same folder as src; choose "):
            translate_folder(generator, src, same)
    assert _files(src) == before


def test_write_result_never_overwrites(tmp_path, monkeypatch):
    """Four results in the same second (the clock is frozen), the fourth name
    already taken by another process: each gets its own file."""
    import benchmarks

    class FrozenClock(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2024, 1, 2, 3, 4, 5, tzinfo=tz)

    monkeypatch.setattr(benchmarks, "RESULTS", tmp_path)
    monkeypatch.setattr(benchmarks, "datetime", FrozenClock)
    (tmp_path / "bench-2024-01-02-030405-2.json").write_text("someone else's")
    written = [benchmarks.write_result({"run": i}, "bench") for i in range(1, 5)]
    assert [p.name for p in written] == ["bench-2024-01-02.json", "bench-2024-01-02-030405.json",
                                         "bench-2024-01-02-030405-3.json",
                                         "bench-2024-01-02-030405-4.json"]
    for i, path in enumerate(written, 1):
        assert json.loads(path.read_text()) == {"run": i}
    assert (tmp_path / "bench-2024-01-02-030405-2.json").read_text() == "someone else's"
    assert len(list(tmp_path.iterdir())) == 5  # no temporary file left


def test_write_new_without_hard_links_still_never_replaces(tmp_path, monkeypatch):
    from data.cache import numbered, write_new

    def no_links(src, dst):  # FAT, some network file systems
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    (tmp_path / "a.txt").write_text("mine")
    (tmp_path / "a_1.txt").write_text("mine too")
    path = write_new(numbered(tmp_path / "a.txt"), lambda tmp: tmp.write_text("new"))
    assert path == tmp_path / "a_2.txt" and path.read_text() == "new"
    assert [(tmp_path / n).read_text() for n in ("a.txt", "a_1.txt")] == ["mine", "mine too"]
    assert len(list(tmp_path.iterdir())) == 3


def test_quiet_keras_download_shows_output_only_on_success(capsys):
    import pytest

    from data.cache import quiet_keras_download

    with pytest.raises(OSError):
        with quiet_keras_download():
            print("Downloading data from https://example.invalid/x")
            raise OSError("offline")
    assert capsys.readouterr().out == ""
    with quiet_keras_download():
        print("Downloading data from https://example.invalid/y")
    assert capsys.readouterr().out == "Downloading data from https://example.invalid/y\n"
