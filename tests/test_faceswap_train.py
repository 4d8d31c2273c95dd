"""Learned face swaps (faceswap.augment, faceswap.models, faceswap.train):
the random warp against SciPy, the loss against NumPy/SciPy, exact resume,
the swapper's direction, the CycleGAN door and the options' errors.

Runs that compare numbers are pinned to precision="float32"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy import ndimage
from scipy.interpolate import RegularGridInterpolator

from faceswap.__main__ import main as cli
from faceswap.align import template
from faceswap.augment import Augmentation, augment, random_similarity, warp_maps
from faceswap.config import TrainConfig
from faceswap.train import face_loss, feature_mask, load_swapper, reconstruction_loss, train

ROOT = Path(__file__).resolve().parents[1]
COLOURS = {"A": (200, 60, 40), "B": (40, 80, 210)}


def _faces_folder(folder: Path, colour, *, n: int = 6, size: int = 16, held: int = 2,
                  seed: int = 0) -> str:
    """A faces folder as `extract` writes it: ``n`` noisy crops of one colour,
    the mean face as landmarks (frame = crop: identity matrix), the last
    ``held`` held out, embeddings near a colour-specific point."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    names = np.array([f"{i:06d}.png" for i in range(n)])
    for name in names:
        crop = np.clip(np.array(colour) + rng.normal(0, 8, (size, size, 3)), 0, 255)
        cv2.imwrite(str(folder / name), cv2.cvtColor(crop.astype(np.uint8), cv2.COLOR_RGB2BGR))
    centre = np.full(128, colour[0] / 255.0, np.float32)
    np.savez(folder / "faces.npz", frame=np.arange(n, dtype=np.int32),
             landmarks=np.repeat(template(size)[None], n, 0),
             matrix=np.repeat(np.eye(2, 3, dtype=np.float32)[None], n, 0),
             embedding=(centre + rng.normal(0, 0.01, (n, 128))).astype(np.float32),
             box=np.tile(np.array([0, 0, size, size], np.int32), (n, 1)),
             held_out=np.arange(n) >= n - held, size=np.array(size), source=np.array("test"),
             frame_shape=np.array([size, size, 3], np.int32), names=names)
    return str(folder)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    return {k: _faces_folder(root / k, c, seed=i) for i, (k, c) in enumerate(COLOURS.items())}


# -- augmentation -------------------------------------------------------------

def test_random_warp_is_exact_identity_at_zero_and_a_smooth_field_otherwise(rng):
    size, grid = 33, 5
    crop = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    mask = (rng.uniform(size=(size, size)) > 0.5).astype(np.float32)
    # every strength zero: input and target are the crop, bit for bit
    x, y, m = augment(crop, mask, rng, Augmentation())
    np.testing.assert_array_equal(x, crop / np.float32(255))
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(m[..., 0], mask)
    # no warp but a similarity and colour: the input is exactly the target
    x, y, _ = augment(crop, mask, rng, Augmentation(rotation=10, zoom=0.05, shift=0.05, flip=0.5,
                                                     lightness=0.3, ab=0.08))
    np.testing.assert_array_equal(x, y)
    assert not np.allclose(y, crop / 255.0, atol=0.05)
    # a mirror and nothing else is the mirrored crop
    _, y, _ = augment(crop, mask, rng, Augmentation(flip=1.0))
    np.testing.assert_array_equal(y, crop[:, ::-1] / np.float32(255))

    # the warp field: control-point offsets interpolated bilinearly (SciPy's reference)
    offsets = rng.normal(0, 2.0, (grid, grid, 2))
    map_x, map_y = warp_maps(offsets, size)
    pts = np.linspace(0, size - 1, grid)
    yy, xx = np.mgrid[0:size, 0:size]
    for k, (got, base) in enumerate(((map_x, xx), (map_y, yy))):
        ref = RegularGridInterpolator((pts, pts), offsets[..., k])(np.stack([yy, xx], -1))
        np.testing.assert_allclose(got - base, ref, atol=1e-4)
    # ... which is smooth: neighbouring pixels move by at most the grid slope
    slope = np.abs(np.diff(offsets[..., 0], axis=1)).max() / ((size - 1) / (grid - 1))
    assert np.abs(np.diff(map_x - xx, axis=1)).max() <= slope + 1e-5
    # and the warped image samples the crop there (SciPy bilinear); OpenCV rounds
    # coordinates to 1/32 px: <= 1/64 px per axis, times steps of up to 1 between pixels
    aug = Augmentation(warp=2.0 / size)
    seed_rng = np.random.default_rng(7)
    x, y, _ = augment(crop, mask, seed_rng, aug)
    seed_rng = np.random.default_rng(7)
    random_similarity(seed_rng, size, aug)  # the same draws as augment, in order
    offsets = seed_rng.normal(0.0, aug.warp * size, (5, 5, 2))
    map_x, map_y = warp_maps(offsets, size)
    coords = [np.clip(map_y, 0, size - 1), np.clip(map_x, 0, size - 1)]
    ref = np.stack([ndimage.map_coordinates(crop[..., c] / 255.0, coords, order=1)
                    for c in range(3)], -1)
    np.testing.assert_allclose(x, ref, atol=2 / 64 + 1e-6)
    assert np.abs(x - ref).mean() < 1 / 128  # a half-pixel bias would give ~0.15
    np.testing.assert_array_equal(y, crop / np.float32(255))  # the target is not warped


# -- loss ---------------------------------------------------------------------

def _ssim_reference(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al. 2004 SSIM (Gaussian window 11 px, sigma 1.5, K = 0.01, 0.03,
    valid window positions only), mean over positions, channels and images."""
    def blur(x):  # 11 taps: truncate at 5 / 1.5 sigmas
        return ndimage.gaussian_filter(x, (0, 1.5, 1.5, 0), truncate=5 / 1.5)[:, 5:-5, 5:-5]

    a, b = a.astype(np.float64), b.astype(np.float64)
    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma ** 2, blur(b * b) - mb ** 2, blur(a * b) - ma * mb
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = (2 * ma * mb + c1) * (2 * cov + c2) / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2))
    return float(s.mean())


def test_loss_is_weighted_l1_plus_dssim_and_mask_l1(rng):
    t = rng.uniform(size=(3, 24, 24, 3)).astype(np.float32)
    o = np.clip(t + rng.normal(0, 0.2, t.shape), 0, 1).astype(np.float32)
    want = 0.7 * np.abs(o - t).mean() + 1.3 * (1 - _ssim_reference(t, o)) / 2
    got = float(reconstruction_loss(t, o, l1_weight=0.7, ssim_weight=1.3))
    np.testing.assert_allclose(got, want, rtol=1e-4)
    assert float(reconstruction_loss(t, t)) == pytest.approx(0.0, abs=1e-6)
    masks = (rng.uniform(size=(3, 24, 24, 2)) > 0.5).astype(np.float32)
    m = rng.uniform(size=(3, 24, 24, 1)).astype(np.float32)
    config = TrainConfig(l1_weight=1.0, ssim_weight=0.0, feature_weight=3.0, mask_weight=0.25,
                         precision="float32")
    rec, mask_loss = face_loss(t, masks, np.concatenate([o, m], -1), config)
    err = np.abs(o - t)
    np.testing.assert_allclose(float(rec), err.mean() + 3.0 * (masks[..., 1:] * err).mean(),
                               rtol=1e-5)
    np.testing.assert_allclose(float(mask_loss), 0.25 * np.abs(m - masks[..., :1]).mean(),
                               rtol=1e-5)


def test_feature_mask_covers_eyes_brows_and_mouth_only():
    lm = template(64)
    mask = feature_mask(lm, 64, grow=0.0)
    at = lambda p: mask[int(round(p[1])), int(round(p[0]))]  # noqa: E731
    for inside in (lm[36:42].mean(0), lm[42:48].mean(0), lm[48:68].mean(0), lm[19], lm[24]):
        assert at(inside) == 1
    for outside in (lm[30], lm[8], lm[0], lm[16], (2, 2)):  # nose tip, chin, jaw ends, corner
        assert at(outside) == 0
    assert feature_mask(lm, 64, grow=0.2).sum() > mask.sum()


# -- models and training ------------------------------------------------------

def test_decoders_share_only_the_head_they_are_given():
    from faceswap.models import build_autoencoder

    config = TrainConfig(image_size=32, width=4, latent=8, bottleneck="conv", shared_stages=2,
                         precision="float32")
    nets = build_autoencoder(config)
    ids = lambda net: {id(v) for v in net.trainable_variables}  # noqa: E731
    shared = ids(nets.decoder_a) & ids(nets.decoder_b)
    assert shared == ids(nets.decoder_a.layers[-1]) and shared
    assert len(nets.variables) == len({id(v) for v in nets.variables})
    assert len(nets.variables) == len(ids(nets.encoder) | ids(nets.decoder_a) | ids(nets.decoder_b))
    code = nets.encoder(np.zeros((1, 32, 32, 3), np.float32))
    assert code.shape == (1, 2, 2, 8) and nets.decoder_b(code).shape == (1, 32, 32, 4)
    separate = build_autoencoder(TrainConfig(image_size=32, width=4, latent=8, bottleneck="dense",
                                             shared_stages=0, mask=False, precision="float32"))
    assert not ids(separate.decoder_a) & ids(separate.decoder_b)
    assert separate.decoder_a(separate.encoder(np.zeros((1, 32, 32, 3)))).shape == (1, 32, 32, 3)



def _weights(nets):
    return [w.numpy() for net in nets.trackables().values() for w in net.weights]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, faces):
    """(straight, first session stopped at step 2, its weights then, resumed) of a
    16-step augmented run on the two colours, in ``root / "a"`` and ``root / "b"``."""
    root = tmp_path_factory.mktemp("runs")
    # separate decoders (shared_stages=0): two flat colours leave the code nothing to carry
    # but the colour, and a shared head takes more steps to tell them apart
    base = dict(a=faces["A"], b=faces["B"], steps=16, seed=3, learning_rate=5e-3, beta_1=0.9,
                log_every=8, sample_every=16, checkpoint_every=8, image_size=16, width=4,
                latent=4, batch_size=2, shared_stages=0, precision="float32")
    straight = train(TrainConfig(run_dir=str(root / "a"), **base), show_progress=False)
    first = train(TrainConfig(run_dir=str(root / "b"), **base), show_progress=False,
                  stop_after=2)
    at_2 = _weights(first.nets)
    resumed = train(TrainConfig(run_dir=str(root / "b"), **base), show_progress=False)
    return root, straight, at_2, resumed


def test_interrupted_and_resumed_run_equals_uninterrupted(runs):
    root, straight, at_2, resumed = runs
    assert resumed.start_step == 2 and [h["step"] for h in resumed.history] == list(range(1, 17))
    for a, b in zip(straight.history, resumed.history):
        assert {k: v for k, v in a.items() if k != "seconds"} == \
            {k: v for k, v in b.items() if k != "seconds"}
    after = _weights(resumed.nets)
    for a, b in zip(_weights(straight.nets), after):
        np.testing.assert_array_equal(a, b)
    assert sum(np.array_equal(a, b) for a, b in zip(at_2, after)) == 0  # all trained
    assert list((root / "b" / "samples").glob("*.png"))


def test_swapper_decodes_with_the_direction_s_decoder(runs):
    swapper = load_swapper(runs[0] / "a")
    assert swapper.size == 16 and swapper.step == 16
    assert swapper.centroids["A"].shape == (128,)
    np.testing.assert_allclose(swapper.centroids["A"], COLOURS["A"][0] / 255, atol=0.02)
    crops = np.full((3, 16, 16, 3), COLOURS["A"], np.uint8)
    for direction, want, other in (("AtoB", "B", "A"), ("BtoA", "A", "B")):
        out, masks = swapper.swap(crops, direction)
        assert out.shape == crops.shape and out.dtype == np.uint8
        assert masks.shape == (3, 16, 16) and masks.dtype == np.float32
        assert 0 <= masks.min() and masks.max() <= 1
        mean = out.reshape(-1, 3).mean(0)
        assert np.linalg.norm(mean - COLOURS[want]) < 0.5 * np.linalg.norm(mean - COLOURS[other])
    with pytest.raises(ValueError, match="direction must be AtoB or BtoA"):
        swapper.swap(crops, "AtoC")
    with pytest.raises(ValueError, match=r"crops must be \(N, 16, 16, 3\)"):
        swapper.swap(crops[:, :8], "AtoB")


def _snapshot(folder: Path) -> dict[str, object]:
    """Every entry under ``folder``: a link's target, a file's bytes, or None (a folder)."""
    return {str(p.relative_to(folder)): (str(p.readlink()) if p.is_symlink() else
                                         p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def test_cyclegan_trains_through_the_cyclegan_package_and_resumes(tmp_path, faces, monkeypatch):
    base = dict(a=faces["A"], b=faces["B"], model="cyclegan", generator="unet", steps=2,
                image_size=32, width=4, batch_size=1, sample_every=2, checkpoint_every=2,
                precision="float32")
    run = tmp_path / "run"
    train(TrainConfig(run_dir=str(run), **base), show_progress=False)
    assert sorted(p.name for p in (run / "faces" / "trainA").iterdir()) == \
        ["000000.png", "000001.png", "000002.png", "000003.png"]  # training faces only
    swapper = load_swapper(run)
    out, masks = swapper.swap(np.zeros((2, 32, 32, 3), np.uint8), "BtoA")
    assert out.shape == (2, 32, 32, 3) and out.dtype == np.uint8 and masks is None
    # the CLI resumes from faceswap.json (here: nothing left to train); the face-swap
    # options are checked on resume, CycleGAN's by cyclegan.train
    assert cli(["train", "--run", str(run), "--quiet"]) == 0
    with pytest.raises(ValueError, match="options differ .*b: "):
        train(TrainConfig(run_dir=str(run), **{**base, "b": faces["A"]}), show_progress=False)

    # a worker that is not the chief of a multi-worker run (should_checkpoint False, as
    # core.loop.Run reads it) writes nothing in the run folder, though the chief would
    # rewrite faceswap.json and options.json here (steps 2 -> 3)
    import tensorflow as tf

    before = _snapshot(run)
    extended = type(tf.distribute.get_strategy().extended)
    monkeypatch.setattr(extended, "should_checkpoint", property(lambda self: False))
    worker = train(TrainConfig(run_dir=str(run), **{**base, "steps": 3}), show_progress=False,
                   stop_after=0)
    assert worker.start_step == 2 and _snapshot(run) == before
    # without the chief's faces links (no shared storage) it stops in one line, writing nothing
    with pytest.raises(ValueError, match="faces/ folder is not visible to this worker"):
        train(TrainConfig(run_dir=str(tmp_path / "elsewhere"), **base), show_progress=False)
    assert not (tmp_path / "elsewhere").exists()


def test_autoencoder_worker_that_is_not_the_chief_writes_nothing(tmp_path, faces, monkeypatch):
    import tensorflow as tf

    config = TrainConfig(run_dir=str(tmp_path / "run"), a=faces["A"], b=faces["B"], steps=1,
                         image_size=16, width=4, latent=4, batch_size=1, precision="float32")
    extended = type(tf.distribute.get_strategy().extended)
    monkeypatch.setattr(extended, "should_checkpoint", property(lambda self: False))
    train(config, show_progress=False, stop_after=0)  # the chief would write centroids.json
    assert not (tmp_path / "run").exists()


# -- options ------------------------------------------------------------------

@pytest.mark.parametrize("argv,message", [
    (["--image-size", "24"], "error: --image-size must be a multiple of 16, got 24"),
    (["--flip", "2"], "error: --flip must be a probability in [0, 1], got 2.0"),
    (["--zoom", "-0.1"], "error: --zoom must be a number >= 0, got -0.1"),
    (["--l1-weight", "0", "--ssim-weight", "0"],
     "error: --ssim-weight must be > 0 when --l1-weight is 0, got 0.0"),
    ([], "error: --a must be a faces folder with a faces.npz (written by `python -m faceswap "
     "extract`), got ''"),
])
def test_bad_options_are_one_line_naming_the_flag(tmp_path, capsys, argv, message):
    run = tmp_path / "run"
    code = cli(["train", "--run", str(run), "--precision", "float32", *argv])
    assert code == 2 and capsys.readouterr().err.strip().splitlines() == [message]
    assert not run.exists()


def test_too_few_faces_and_changed_options_are_named(tmp_path, faces, capsys):
    few = _faces_folder(tmp_path / "few", (0, 0, 0), n=3, held=2)
    run = tmp_path / "run"
    code = cli(["train", "--run", str(run), "--a", faces["A"], "--b", few, "--image-size", "16"])
    assert code == 2 and capsys.readouterr().err.strip() == \
        f"error: {few}: 1 training faces, at least 2 needed (extract more frames, or a lower " \
        "--held-out)"
    args = ["train", "--run", str(run), "--a", faces["A"], "--b", faces["B"], "--quiet",
            "--steps", "1", "--image-size", "16", "--width", "4", "--latent", "4",
            "--batch-size", "1", "--precision", "float32"]
    assert cli(args) == 0
    capsys.readouterr()
    assert cli(["train", "--run", str(run), "--width", "8"]) == 2
    assert "cannot resume, options differ from the saved run (--width: 4 -> 8)" in \
        capsys.readouterr().err


def test_help_imports_no_tensorflow():
    code = ("import contextlib, io, sys\n"
            "from faceswap.__main__ import build_parser\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    build_parser().parse_args(['train', '--help'])\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
