"""Translation data: MNIST-M-style renders, photo/painting crops, the
unaligned/aligned folder layouts, random jitter and resumable streams."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from data import mnistm
from data.translation import (
    folder_stream,
    random_jitter,
    split_aligned,
    unaligned_files,
)


def test_mnistm_render_is_the_absolute_difference(rng):
    digits = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    bg = rng.uniform(size=(3, 32, 32, 3)).astype(np.float32)
    padded = np.pad(digits / 255.0, [(0, 0), (2, 2), (2, 2)])[..., None].repeat(3, -1)
    np.testing.assert_allclose(mnistm.mnistm_render(digits, bg).numpy(), np.abs(bg - padded),
                               atol=1e-6)
    np.testing.assert_allclose(mnistm.mnist32(digits).numpy(), padded, atol=1e-6)


def test_photo_regions_split_train_and_test():
    full = mnistm.photo_bank(split="all")
    train, test = mnistm.photo_bank(split="train"), mnistm.photo_bank(split="test")
    for f, a, b in zip(full, train, test):
        assert a.shape[1] + b.shape[1] == f.shape[1]
        np.testing.assert_array_equal(np.concatenate([a, b], 1), f)
    bank = mnistm.background_bank("test", n=10)
    assert bank.shape == (10, 32, 32, 3) and 0 <= bank.min() and bank.max() <= 1


def test_unpaired_stream_is_resumable_and_paired_stream_pairs(rng):
    x = rng.integers(0, 256, size=(64, 28, 28), dtype=np.uint8)
    ds = mnistm.mnist_mnistm_stream(x, batch_size=4, seed=3)
    batches = [tuple(t.numpy() for t in b) for b in ds.take(3)]
    resumed = next(iter(mnistm.mnist_mnistm_stream(x, batch_size=4, seed=3, start_step=2)))
    for a, b in zip(batches[2], resumed):
        np.testing.assert_array_equal(a, b)
    a, m = batches[0]
    assert a.shape == m.shape == (4, 32, 32, 3)
    # black backgrounds make a render equal to its digit: pairs match, unpaired do not
    black = np.zeros((5, 32, 32, 3), np.float32)
    a, m = next(iter(mnistm.mnist_mnistm_stream(x, batch_size=4, paired=True, backgrounds=black)))
    np.testing.assert_allclose(a, m, atol=1e-6)
    a, m = next(iter(mnistm.mnist_mnistm_stream(x, batch_size=4, backgrounds=black)))
    assert not np.allclose(a, m)
    with pytest.raises(ValueError, match=r"backgrounds must be \(N, 32, 32, 3\)"):
        mnistm.mnist_mnistm_stream(x, batch_size=4, backgrounds=black[..., :1])


def test_photo_painting_and_gray_photo_streams():
    a, b = next(iter(mnistm.photo_painting_stream(48, batch_size=2, seed=1)))
    assert a.shape == b.shape == (2, 48, 48, 3)
    g, c = next(iter(mnistm.gray_photo_stream(32, batch_size=2)))
    np.testing.assert_allclose(g[..., 0], tf.image.rgb_to_grayscale(c)[..., 0], atol=1e-6)
    with pytest.raises(ValueError, match="larger than a source photo"):
        next(iter(mnistm.photo_painting_stream(4096)))


def _write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_unaligned_folder_layout(tmp_path, rng):
    for side in ("A", "B"):
        for i in range(3):
            _write(tmp_path / f"train{side}" / f"{i}.jpg",
                   rng.integers(0, 256, size=(40, 50, 3), dtype=np.uint8))
    files_a, files_b = unaligned_files(tmp_path)
    assert len(files_a) == len(files_b) == 3
    ds = folder_stream(tmp_path, batch_size=2, image_size=32, load_size=36, seed=1)
    batches = [tuple(t.numpy() for t in b) for b in ds.take(4)]
    assert batches[0][0].shape == (2, 32, 32, 3)
    assert 0.0 <= batches[0][0].min() and batches[0][0].max() <= 1.0
    resumed = next(iter(folder_stream(tmp_path, batch_size=2, image_size=32, load_size=36, seed=1,
                                      start_step=3)))
    np.testing.assert_array_equal(resumed[0].numpy(), batches[3][0])
    with pytest.raises(ValueError, match="trainA/ and trainB/"):
        unaligned_files(tmp_path / "nothing")


def test_aligned_pairs_get_the_same_jitter(tmp_path):
    left = np.zeros((32, 32, 3), np.uint8)
    left[..., 0] = 255
    right = np.zeros((32, 32, 3), np.uint8)
    right[..., 2] = 255
    left[:, :8, 1] = 255  # a stripe on the left edge of A, and the same place on B
    right[:, :8, 1] = 255
    _write(tmp_path / "train" / "pair.png", np.concatenate([left, right], 1))
    ds = folder_stream(tmp_path, aligned=True, batch_size=1, image_size=24, load_size=32)
    for a, b in ds.take(6):
        assert float(tf.reduce_mean(a[..., 0])) > 0.99 and float(tf.reduce_mean(b[..., 2])) > 0.99
        np.testing.assert_allclose(a[..., 1].numpy(), b[..., 1].numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="aligned layout"):
        folder_stream(tmp_path / "nope", aligned=True)


@pytest.mark.parametrize("width", [5, 6])
def test_split_aligned_recovers_the_halves(rng, width):
    h, w = 4, width // 2
    a = rng.random((h, w, 3)).astype(np.float32)
    b = rng.random((h, w, 3)).astype(np.float32)
    extra = rng.random((h, width - 2 * w, 3)).astype(np.float32)  # an odd width's last column
    got_a, got_b = split_aligned(tf.constant(np.concatenate([a, b, extra], axis=1)))
    np.testing.assert_array_equal(got_a.numpy(), a)
    np.testing.assert_array_equal(got_b.numpy(), b)


def test_jitter_without_crop_is_resize_and_mirror():
    x = tf.random.uniform([16, 16, 3], seed=4)
    out = random_jitter(x, tf.constant([1, 2], tf.int64), 16, 16)  # no crop: resize + mirror
    np.testing.assert_allclose(tf.reduce_sum(out).numpy(), tf.reduce_sum(x).numpy(), rtol=1e-4)
    assert np.allclose(out, x, atol=1e-5) or np.allclose(out, x[:, ::-1], atol=1e-5)


def _either_mirror(got, expected, atol):
    got = np.asarray(got)
    assert (np.allclose(got, expected, atol=atol)
            or np.allclose(got, expected[:, ::-1], atol=atol)), np.abs(got - expected).max()


def test_training_decodes_transparency_as_inference_does(tmp_path, rng):
    """An RGBA PNG and a palette PNG with a transparent entry give the same
    pixels in a training stream as in load_image: composited over white."""
    rgba = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
    rgba[:8, :, 3] = 0  # fully transparent rows hold arbitrary colours
    _write(tmp_path / "trainA" / "rgba.png", rgba)
    palette = np.array([[0, 255, 0], [200, 30, 40], [10, 20, 250]], np.uint8)
    index = rng.integers(0, 3, (16, 16), dtype=np.uint8)
    pal = Image.fromarray(index, "P")
    pal.putpalette(palette.ravel().tolist())
    (tmp_path / "trainB").mkdir()
    pal.save(tmp_path / "trainB" / "palette.png", transparency=0)  # entry 0 transparent
    alpha = rgba[..., 3:] / 255.0
    expected_a = rgba[..., :3] / 255.0 * alpha + (1 - alpha)
    expected_b = np.where(index[..., None] == 0, 1.0, palette[index] / 255.0)
    from data.images import load_image

    np.testing.assert_allclose(load_image(tmp_path / "trainA" / "rgba.png"), expected_a,
                               atol=1 / 255)
    np.testing.assert_allclose(load_image(tmp_path / "trainB" / "palette.png"), expected_b,
                               atol=1e-6)
    for a, b in folder_stream(tmp_path, batch_size=1, image_size=16, load_size=16).take(2):
        _either_mirror(a[0], load_image(tmp_path / "trainA" / "rgba.png"), atol=1e-5)
        _either_mirror(b[0], expected_b, atol=1e-5)


def _bad_folder(folder, rng):
    """good.jpg, a truncated JPEG and a text file named .png."""
    _write(folder / "good.jpg", rng.integers(0, 256, (24, 24, 3), dtype=np.uint8))
    data = tf.io.encode_jpeg(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).numpy()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "notes.png").write_text("not an image\n")


def test_corrupt_training_file_is_named_up_front(tmp_path, rng, capsys):
    _bad_folder(tmp_path / "trainA", rng)
    _write(tmp_path / "trainB" / "b.png", rng.integers(0, 256, (24, 24, 3), dtype=np.uint8))
    with pytest.raises(ValueError) as err:
        folder_stream(tmp_path, image_size=16, load_size=16)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(tmp_path / "trainA" / "notes.png") + ": not a recognised image")
    assert "1 more unreadable: truncated.jpg" in message and "--skip-bad-images" in message
    ds = folder_stream(tmp_path, image_size=16, load_size=16, skip_bad=True)
    assert capsys.readouterr().err.strip() == (
        f"warning: {tmp_path / 'trainA'}: skipped 2 of 3 images that could not be read: "
        "notes.png, truncated.jpg")
    folder_stream(tmp_path, image_size=16, load_size=16, skip_bad=True, shard=1)
    assert capsys.readouterr().err == ""  # said once, not once per shard
    good = tf.image.resize(np.asarray(Image.open(tmp_path / "trainA" / "good.jpg")) / 255.0,
                           [16, 16], method="bicubic").numpy()
    for a, _ in ds.take(3):  # only the readable image is ever drawn
        _either_mirror(a[0], np.clip(good, 0, 1), atol=1e-5)
    (tmp_path / "trainA" / "good.jpg").unlink()
    with pytest.raises(ValueError, match="none of the 2 images could be read"):
        folder_stream(tmp_path, image_size=16, load_size=16, skip_bad=True)


def _tar(path, members):
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_fetch_dataset_unpacks_into_the_aligned_layout(tmp_path, isolated_cache):
    import hashlib
    import io

    from data.cache import ChecksumError
    from data.translation import fetch_dataset

    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 16, 3), np.uint8)).save(buf, format="PNG")
    archive = tmp_path / "facades.tar.gz"
    _tar(archive, {"facades/train/1.png": buf.getvalue()})
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="no SHA-256 known for pix2pix dataset 'facades'"):
        fetch_dataset("facades", url=archive.as_uri())
    with pytest.raises(ChecksumError):
        fetch_dataset("facades", url=archive.as_uri(), sha256="0" * 64)
    folder = fetch_dataset("facades", url=archive.as_uri(), sha256=digest)
    assert (folder / "train" / "1.png").is_file()
    a, b = next(iter(folder_stream(folder, aligned=True, image_size=8, load_size=8)))
    assert a.shape == b.shape == (1, 8, 8, 3)


@pytest.mark.parametrize("kind,member", [("tar", "evil/../../escaped.txt"),
                                         ("zip", "../escaped.txt"),
                                         ("zip", "{abs}/escaped.txt"),
                                         ("tar", "{abs}/escaped.txt")])
def test_fetch_dataset_refuses_members_outside_the_folder(tmp_path, isolated_cache, kind, member):
    import zipfile

    from data.translation import fetch_dataset

    outside = tmp_path / "outside"
    outside.mkdir()
    member = member.format(abs=outside)
    members = {"evil/train/ok.png": b"x", member: b"boom"}
    evil = tmp_path / f"evil.{'zip' if kind == 'zip' else 'tar.gz'}"
    if kind == "zip":
        with zipfile.ZipFile(evil, "w") as zf:
            for name, data in members.items():
                zf.writestr(zipfile.ZipInfo(name), data)  # ZipInfo keeps the name as given
        with zipfile.ZipFile(evil) as zf:
            assert member in zf.namelist()
    else:
        _tar(evil, members)
    with pytest.raises(ValueError, match="escapes the folder"):
        fetch_dataset("evil", url=evil.as_uri(), allow_unverified=True)
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not (tmp_path.parent / "escaped.txt").exists()
    assert not (isolated_cache / "datasets" / "pix2pix" / "evil").exists()


def test_fetch_dataset_checks_the_official_cyclegan_archives(isolated_cache, monkeypatch):
    """The official CycleGAN archives are checked against tfds's pinned SHA-256."""
    import data.cache
    from data.translation import fetch_dataset

    seen = {}

    def fake_download(url, *, sha256=None, **_):
        seen.update(url=url, sha256=sha256)
        raise OSError("offline")

    monkeypatch.setattr(data.cache, "download", fake_download)
    with pytest.raises(OSError, match="offline"):
        fetch_dataset("horse2zebra", kind="cyclegan")
    assert seen["url"] == "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/horse2zebra.zip"
    assert seen["sha256"] == "a74d9d392eecca9966b51287a76ca126af473d9de4f3e8fc0e9cda08fa1730a1"
    with pytest.raises(OSError, match="offline"):  # a mirror keeps the pin
        fetch_dataset("monet2photo", kind="cyclegan", url="https://mirror.example/m.zip")
    assert seen["sha256"] == "88f91b00fc228f97c9411fbf1880ec1d119c98f1722e4cfcfaa2fb35fac05b04"


def test_fetch_dataset_unverified_only_on_request(tmp_path, isolated_cache, capsys):
    import hashlib

    from data.translation import fetch_dataset

    archive = tmp_path / "tiny.tar.gz"
    _tar(archive, {"tiny/train/1.png": b"not checked here"})
    with pytest.raises(ValueError, match="allow_unverified=True"):
        fetch_dataset("tiny", url=archive.as_uri())
    folder = fetch_dataset("tiny", url=archive.as_uri(), allow_unverified=True)
    assert (folder / "train" / "1.png").is_file()
    assert hashlib.sha256(archive.read_bytes()).hexdigest() in capsys.readouterr().out
