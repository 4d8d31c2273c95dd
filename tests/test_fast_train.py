"""Per-style fast style transfer (nst.fast, Johnson et al. 2016) and its
offline photos (data.photos): the network against the paper's layer list and
NumPy, the training loss against the Gatys definition written out in NumPy,
export through the TF-Hub loading path, the command line's errors, and the
photos' SHA-256 checks. Tiny widths and 32-48 px images; float32 throughout.
(Instance norm and reflection padding themselves are checked against NumPy
in test_translation_layers.py.)"""

from __future__ import annotations

import hashlib
import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from data import photos, samples
from data.cache import ChecksumError
from data.images import read_provenance
from nst.fast import HubModelUnavailable, fast_stylize, load_arbitrary_stylization
from nst.fast.__main__ import main
from nst.fast.export import export_saved_model
from nst.fast.train import batch_losses, make_train_step, style_grams
from nst.fast.transformer import PadToMultiple, build_transformer, stylize_array
from nst.vgg import VGG19Features

TINY = 0.125  # 4-8-16 channels


@pytest.fixture(scope="module")
def random_vgg():
    """VGG19 with random weights: the loss is still the Gatys definition."""
    keras.utils.set_random_seed(0)
    return VGG19Features(None, precision="float32")


@pytest.fixture(scope="module")
def tiny_net():
    keras.utils.set_random_seed(1)
    return build_transformer(TINY, dtype="float32")


def test_network_is_the_papers():
    """c9s1-32, d64, d128, R128 x 5, u64, u32, c9s1-3 (Johnson et al. 2016,
    supplement), instance norm after every convolution but the last,
    reflection padding before each, nearest-neighbour x2 before u64 and u32."""
    net = build_transformer(1.0, dtype="float32")
    convs = [layer for layer in net.layers if isinstance(layer, keras.layers.Conv2D)]
    expected = ([(9, 3, 32, 1), (3, 32, 64, 2), (3, 64, 128, 2)] + [(3, 128, 128, 1)] * 10
                + [(3, 128, 64, 1), (3, 64, 32, 1), (9, 32, 3, 1)])
    assert [(c.kernel.shape[0], c.kernel.shape[2], c.kernel.shape[3], c.strides[0])
            for c in convs] == expected
    names = [layer.name for layer in net.layers]
    for conv in convs[:-1]:
        stem = conv.name[:-len("_conv")]
        assert f"{stem}_pad" in names and f"{stem}_in" in names
    assert "out_pad" in names
    ups = [layer for layer in net.layers if isinstance(layer, keras.layers.UpSampling2D)]
    assert [(u.size, u.interpolation) for u in ups] == [((2, 2), "nearest")] * 2
    half = build_transformer(0.5, dtype="float32")
    assert [c.kernel.shape[-1] for c in half.layers if isinstance(c, keras.layers.Conv2D)][:3] \
        == [16, 32, 64]


def test_pad_to_multiple_is_numpy_reflect(rng):
    x = rng.random((2, 13, 6, 3)).astype(np.float32)
    expected = np.pad(x, [(0, 0), (0, 3), (0, 2), (0, 0)], mode="reflect")
    np.testing.assert_array_equal(PadToMultiple(4)(x).numpy(), expected)


@pytest.mark.parametrize("hw", [(5, 7), (9, 13), (33, 18)])
def test_output_keeps_any_size(tiny_net, rng, hw):
    """Odd sizes come back unchanged; the network sees the input reflected to
    a multiple of 4, so its output is the crop of the padded input's."""
    x = rng.random((*hw, 3)).astype(np.float32)
    out = stylize_array(tiny_net, x)
    assert out.shape == x.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0 and out.std() > 0
    padded = np.pad(x, [(0, -hw[0] % 4), (0, -hw[1] % 4), (0, 0)], mode="reflect")
    np.testing.assert_allclose(stylize_array(tiny_net, padded)[:hw[0], :hw[1]], out, atol=2e-6)


def test_too_small_input_is_named(tiny_net):
    with pytest.raises(ValueError, match="at least 5 px, got 4x9"):
        stylize_array(tiny_net, np.zeros((9, 4, 3)))


def _gatys_numpy(extractor, outputs, contents, style, weights):
    """The objective of nst.stylize written out in NumPy from the definitions,
    image by image, then averaged: style w/L sum_l mean((G_l - G*_l)^2) with
    G = F^T F / (h w), content w mean((F - F*)^2), TV w sum |dy| + |dx|."""
    def gram(f):
        f = f.reshape(-1, f.shape[-1]).astype(np.float64)
        return f.T @ f / len(f)

    ws, wc, wt = weights
    target = {k: gram(v.numpy()[0]) for k, v in extractor(style[None])["style"].items()}
    rows = []
    for y, x in zip(outputs, contents):
        fy, fx = extractor(y[None]), extractor(x[None])
        s = ws * np.mean([np.mean((gram(fy["style"][k].numpy()[0]) - t) ** 2)
                          for k, t in target.items()])
        c = wc * np.mean([np.mean((fy["content"][k].numpy() - fx["content"][k].numpy()) ** 2)
                          for k in fy["content"]])
        y64 = y.astype(np.float64)
        tv = wt * (np.abs(np.diff(y64, axis=0)).sum() + np.abs(np.diff(y64, axis=1)).sum())
        rows.append((s + c + tv, s, c, tv))
    return np.mean(rows, axis=0)


def test_training_step_lowers_the_gatys_loss(random_vgg, rng):
    """float32: the step's loss is the per-image Gatys objective (NumPy)
    averaged over the batch, and one Adam step on a fixed batch lowers it."""
    keras.utils.set_random_seed(2)
    net = build_transformer(TINY, dtype="float32")
    contents = rng.random((2, 48, 48, 3)).astype(np.float32)
    style = rng.random((40, 56, 3)).astype(np.float32)
    weights = (1e-2, 1e4, 30.0)
    grams = style_grams(random_vgg, style)
    kw = dict(style_weight=weights[0], content_weight=weights[1], tv_weight=weights[2])
    opt = keras.optimizers.Adam(1e-3)
    opt.build(net.trainable_variables)
    step = make_train_step(net, random_vgg, grams, opt, tf.distribute.get_strategy(), **kw)

    before = _gatys_numpy(random_vgg, stylize_array(net, contents), contents, style, weights)
    out = step(tf.constant(contents), tf.constant(0, tf.int64))
    got = [float(out[k]) for k in ("loss", "style", "content", "tv")]
    np.testing.assert_allclose(got, before, rtol=2e-4)
    after = _gatys_numpy(random_vgg, stylize_array(net, contents), contents, style, weights)
    assert after[0] < before[0]
    terms = batch_losses(random_vgg, tf.constant(stylize_array(net, contents)),
                         tf.constant(contents), grams, **kw)
    np.testing.assert_allclose(float(terms["loss"]), after[0], rtol=2e-4)


def test_export_loads_like_the_hub_model(tiny_net, tmp_path, rng):
    """The exported SavedModel, loaded by the hub loader, gives the Keras
    model's output for any size and ignores the style input."""
    target = export_saved_model(tiny_net, tmp_path / "exported", {"style": "test"})
    model = load_arbitrary_stylization(target)
    x = rng.random((1, 21, 30, 3)).astype(np.float32)
    expected = stylize_array(tiny_net, x[0])
    for style in (np.zeros((1, 8, 8, 3), np.float32), rng.random((1, 64, 40, 3), np.float32)):
        out = model(tf.constant(x), tf.constant(style))[0]
        np.testing.assert_allclose(np.asarray(out)[0], expected, atol=1e-5)
    np.testing.assert_allclose(fast_stylize(model, x[0], np.ones((9, 9, 3))), expected,
                               atol=1e-5)
    assert json.loads((target / "nst_fast.json").read_text()) == {"style": "test"}
    with pytest.raises(ValueError, match="exported: already exists"):
        export_saved_model(tiny_net, target, {})


def _foreign_run(path):
    (path / "checkpoints").mkdir(parents=True)
    (path / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    (path / "options.json").write_text(json.dumps({"g_conv_dim": 32, "data": "digits"}))


def _corrupt_checkpoint(path):
    from nst.fast.config import MODEL

    _foreign_run(path)
    (path / "options.json").write_text(json.dumps({"model": MODEL, "width": TINY,
                                                   "precision": "float32"}))
    (path / "checkpoints" / "ckpt-1.index").write_bytes(b"not a checkpoint index")
    (path / "checkpoints" / "ckpt-1.data-00000-of-00001").write_bytes(b"junk")


@pytest.mark.parametrize("kind", ["missing", "file", "empty", "corrupt_savedmodel", "foreign_run",
                                  "corrupt_checkpoint"])
def test_bad_model_path_gives_one_line(tmp_path, capsys, kind):
    model = tmp_path / "model"
    if kind == "file":
        model.write_bytes(b"\x89PNG not really")
    elif kind == "empty":
        model.mkdir()
    elif kind == "corrupt_savedmodel":
        model.mkdir()
        (model / "saved_model.pb").write_bytes(b"garbage")
    elif kind == "foreign_run":
        _foreign_run(model)
    elif kind == "corrupt_checkpoint":
        _corrupt_checkpoint(model)
    out = tmp_path / "out.png"
    code = main(["stylize", "--model", str(model), str(samples.path("chelsea")), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and str(model) in err, err
    assert not out.exists()


def test_hub_loader_still_names_a_bad_handle(tmp_path):
    with pytest.raises(HubModelUnavailable, match="nothing: could not load"):
        load_arbitrary_stylization(tmp_path / "nothing")


def test_train_flags_are_checked(tmp_path, capsys):
    assert main(["train", "--run", str(tmp_path / "r"), "--image-size", "30"]) == 2
    assert capsys.readouterr().err == "error: --image-size must be a multiple of 4, got 30\n"
    assert main(["train", "--run", str(tmp_path / "r"), "--style", str(tmp_path / "no.jpg"),
                 "--precision", "float32"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --style ") and "no.jpg: file not found" in err
    assert not (tmp_path / "r").exists()


# -- offline photos -----------------------------------------------------------------------


def test_tampered_sample_photo_is_refused(tmp_path, monkeypatch):
    for name in ("chelsea.jpg", "coffee.jpg"):
        (tmp_path / name).write_bytes((samples.SAMPLES_DIR / name).read_bytes())
    data = bytearray((tmp_path / "chelsea.jpg").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "chelsea.jpg").write_bytes(bytes(data))
    monkeypatch.setattr(samples, "SAMPLES_DIR", tmp_path)
    assert photos.training_files(("coffee",)) == [str(tmp_path / "coffee.jpg")]
    with pytest.raises(ChecksumError, match="chelsea.jpg: SHA-256 mismatch"):
        photos.training_files(("chelsea", "coffee"))


def _fake_wheel(folder, member, data):
    folder.mkdir(parents=True)
    wheel = folder / "scikit_image-0.25.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(member, data)
    return hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_wheel_photos_are_checked(isolated_cache, monkeypatch):
    """A wheel member that is not the pinned photo is refused and never
    cached; a cached copy that was changed is extracted again."""
    member = photos.PHOTOS["rocket"].member
    good = b"the pinned bytes"
    wheels = isolated_cache / "wheels" / "scikit-image-0.25.2"
    digest = _fake_wheel(wheels, member, b"other bytes")
    monkeypatch.setitem(photos.WHEELS, "scikit-image", dict(photos.WHEELS["scikit-image"],
                                                            wheel_sha256=digest))
    monkeypatch.setitem(photos.PHOTOS, "rocket", photos.Photo(
        "scikit-image", member, hashlib.sha256(good).hexdigest(), "test"))
    with pytest.raises(ChecksumError, match="rocket.jpg: SHA-256 mismatch"):
        photos.photo_path("rocket")
    assert not list((isolated_cache / "photos").rglob("rocket.jpg"))

    for old in wheels.iterdir():
        old.unlink()
    wheels.rmdir()
    digest = _fake_wheel(wheels, member, good)
    monkeypatch.setitem(photos.WHEELS, "scikit-image", dict(photos.WHEELS["scikit-image"],
                                                            wheel_sha256=digest))
    path = photos.photo_path("rocket")
    assert path.read_bytes() == good
    path.write_bytes(b"tampered")
    assert photos.photo_path("rocket").read_bytes() == good


def _thumb(path) -> np.ndarray:
    with Image.open(path) as img:
        t = np.asarray(img.convert("L").resize((24, 24), Image.BILINEAR), np.float64)
    return (t - t.mean()) / (t.std() + 1e-9)


def test_held_out_photos_are_never_trained_on():
    """By name, and by picture: no training photo (wheels fetched once from
    the pip index) looks like a held-out one, mirrored or not."""
    assert set(photos.HELD_OUT) == {"grace_hopper", "astronaut"}
    assert not set(photos.TRAINING) & set(photos.HELD_OUT)
    with pytest.raises(ValueError, match="astronaut: held out"):
        photos.training_files(("coffee", "astronaut"))
    held = [_thumb(photos.photo_path(n)) for n in photos.HELD_OUT]
    for path in photos.training_files():
        t = _thumb(path)
        for h in held:
            for view in (t, t[:, ::-1]):
                assert np.mean(view * h) < 0.8, path


def test_photo_stream_crops_and_resumes(tmp_path, rng):
    """A photo whose shorter side is the crop size is never rescaled: each
    crop is the photo or its mirror. The stream from step k is the
    uninterrupted stream's from step k."""
    pictures = []
    for i in range(3):
        pixels = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
        pictures.append(pixels.astype(np.float32) / 255)
    files = photos.folder_files(tmp_path)
    stream = photos.photo_stream(files, batch_size=2, image_size=32, seed=3)
    batches = [b.numpy() for b, _ in zip(stream, range(3))]
    for crop in np.concatenate(batches):
        assert any(np.allclose(crop, p, atol=1e-6) or np.allclose(crop, p[:, ::-1], atol=1e-6)
                   for p in pictures)
    resumed = photos.photo_stream(files, batch_size=2, image_size=32, seed=3, start_step=2)
    np.testing.assert_array_equal(next(iter(resumed)).numpy(), batches[2])


def test_cli_train_export_stylize(tmp_path, capsys, vgg_imagenet):
    """Two steps through the command line, then the run and its export
    stylise an odd-sized image alike, marked synthetic."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("chelsea", "coffee"):
        Image.open(samples.path(name)).resize((40, 36)).save(folder / f"{name}.png")
    run, exported = tmp_path / "run", tmp_path / "exported"
    assert main(["train", "--run", str(run), "--data", str(folder), "--image-size", "32",
                 "--width", str(TINY), "--batch-size", "1", "--steps", "2", "--style-size", "32",
                 "--precision", "float32", "--quiet"]) == 0
    assert len(json.loads((run / "history.json").read_text())) == 2
    assert main(["export", "--run", str(run), "-o", str(exported)]) == 0
    content = tmp_path / "content.png"
    Image.open(samples.path("astronaut")).resize((27, 19)).save(content)
    outs = []
    for model in (run, exported):
        out = tmp_path / f"{model.name}.png"
        assert main(["stylize", "--model", str(model), str(content), "-o", str(out)]) == 0
        assert read_provenance(out)["AI-Generated"] == "true"
        outs.append(np.asarray(Image.open(out)))
    assert outs[0].shape == (19, 27, 3)
    assert np.abs(outs[0].astype(int) - outs[1]).max() <= 1
    capsys.readouterr()


class _Identity(tf.Module):
    """An arbitrary-style SavedModel in Magenta's signature that returns the content."""

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)] * 2)
    def __call__(self, content, style):
        return [content]


def test_cli_stylize_with_an_arbitrary_style_model(tmp_path, capsys):
    model = tmp_path / "arbitrary"
    tf.saved_model.save(_Identity(), str(model))
    content, out = tmp_path / "content.png", tmp_path / "out.png"
    Image.open(samples.path("coffee")).resize((31, 17)).save(content)
    args = ["stylize", "--model", str(model), str(content), "-o", str(out)]
    assert main(args) == 2
    assert "arbitrary-style model: pass a style image (--style)" in capsys.readouterr().err
    assert main(args + ["--style", str(samples.path("starry_night"))]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(content)))
    assert read_provenance(out)["AI-Generated"] == "true"
    # an existing -o is kept byte for byte; the new image takes the first free name
    kept = out.read_bytes()
    other = tmp_path / "other.png"
    Image.open(samples.path("chelsea")).resize((20, 12)).save(other)
    args[3] = str(other)
    capsys.readouterr()
    assert main(args + ["--style", str(samples.path("starry_night"))]) == 0
    assert out.read_bytes() == kept
    assert f"wrote {tmp_path / 'out_1.png'} (20x12 px" in capsys.readouterr().out
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out_1.png")),
                                  np.asarray(Image.open(other)))


def test_shipped_model_files_match_their_digests():
    """Every shipped file is listed with the SHA-256 hashlib computes, and
    nothing unlisted ships beside them."""
    from nst.fast.pretrained import MODELS_DIR, PRETRAINED

    for name, model in PRETRAINED.items():
        folder = MODELS_DIR / name
        on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        assert on_disk == set(model.files), name
        for rel, digest in model.files.items():
            assert hashlib.sha256((folder / rel).read_bytes()).hexdigest() == digest, rel
        assert sum((folder / rel).stat().st_size for rel in model.files) <= 5_000_000, name


def test_shipped_model_stylizes_any_size_offline(rng):
    from nst.fast.export import load_stylizer

    stylizer = load_stylizer("starry_night")
    content = rng.random((37, 53, 3)).astype(np.float32)
    out = stylizer(content)
    assert out.shape == content.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0 and out.std() > 0.01


def test_changed_shipped_model_is_refused(tmp_path, monkeypatch, capsys):
    import shutil

    from nst.fast import pretrained

    copy = tmp_path / "models"
    shutil.copytree(pretrained.MODELS_DIR, copy)
    data = copy / "starry_night" / "variables" / "variables.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 1
    data.write_bytes(bytes(raw))
    monkeypatch.setattr(pretrained, "MODELS_DIR", copy)
    with pytest.raises(ChecksumError, match="SHA-256 mismatch"):
        pretrained.pretrained_path("starry_night")
    out = tmp_path / "out.png"
    code = main(["stylize", "--model", "starry_night", str(samples.path("chelsea")), "-o",
                 str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "variables.data" in err, err
    assert not out.exists()
    with pytest.raises(ValueError, match="no shipped fast-style model"):
        pretrained.pretrained_path("mona_lisa")
