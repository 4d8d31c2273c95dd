"""Image I/O against independent encoders/decoders (tf.io, Pillow writers)."""

from __future__ import annotations

import http.server
import io
import threading
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from data import ChecksumError, download, load_image, read_provenance, samples, save_image
from data.images import IPTC_SYNTHETIC


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_png_roundtrip_exact(tmp_path, rng):
    pixels = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    path = _write(tmp_path / "a.png", tf.io.encode_png(pixels).numpy())
    out = load_image(path)
    assert out.dtype == np.float32 and out.shape == (7, 9, 3)
    np.testing.assert_allclose(out, pixels / 255.0, atol=1e-7)


def test_jpeg_matches_tf_decoder(tmp_path, rng):
    yy, xx = np.mgrid[0:32, 0:48]
    pixels = np.stack([xx * 5, yy * 7, (xx + yy) * 3], -1).astype(np.uint8)  # smooth photo-like
    data = tf.io.encode_jpeg(pixels, quality=95).numpy()
    out = load_image(_write(tmp_path / "a.jpg", data))
    reference = tf.io.decode_jpeg(data, dct_method="INTEGER_ACCURATE").numpy() / 255.0
    # two JPEG decoders differ slightly (IDCT rounding, chroma upsampling)
    assert np.abs(out - reference).mean() < 1 / 255
    assert np.abs(out - reference).max() <= 8 / 255


@pytest.mark.parametrize("fmt,kwargs", [("BMP", {}), ("WEBP", {"lossless": True}),
                                        ("TIFF", None)])
def test_other_formats(tmp_path, rng, fmt, kwargs):
    pixels = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt, **(kwargs or {}))
    path = _write(tmp_path / f"a.{fmt.lower()}", buf.getvalue())
    if kwargs is None:  # TIFF is outside the supported set
        with pytest.raises(ValueError, match="TIFF images are not supported"):
            load_image(path)
        return
    np.testing.assert_allclose(load_image(path), pixels / 255.0, atol=1e-7)


def test_gif_palette_first_frame(tmp_path):
    palette = np.array([[255, 0, 0], [0, 0, 255]], np.uint8)
    index = np.array([[0, 1], [1, 0]], np.uint8)
    frames = [Image.fromarray(index, "P"), Image.fromarray(1 - index, "P")]
    for f in frames:
        f.putpalette(palette.ravel().tolist() + [0] * (768 - 6))
    path = tmp_path / "a.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    np.testing.assert_allclose(load_image(path), palette[index] / 255.0)


def test_grayscale_becomes_rgb(tmp_path, rng):
    gray = rng.integers(0, 256, (5, 4, 1), dtype=np.uint8)
    out = load_image(_write(tmp_path / "g.png", tf.io.encode_png(gray).numpy()))
    assert out.shape == (5, 4, 3)
    for c in range(3):
        np.testing.assert_allclose(out[..., c], gray[..., 0] / 255.0)


def test_16bit_png(tmp_path):
    gray = np.array([[0, 1000], [40000, 65535]], np.uint16)[..., None]
    out = load_image(_write(tmp_path / "g16.png", tf.io.encode_png(gray).numpy()))
    np.testing.assert_allclose(out[..., 0], gray[..., 0] / 65535.0, atol=1e-6)
    rgb16 = np.stack([gray[..., 0], gray[..., 0] // 2, 65535 - gray[..., 0]], -1)
    out = load_image(_write(tmp_path / "c16.png", tf.io.encode_png(rgb16).numpy()))
    assert np.abs(out - rgb16 / 65535.0).max() <= 1 / 255  # 8-bit precision is enough


def test_rgba_composited_over_white(tmp_path):
    rgba = np.array([[[255, 0, 0, 255], [0, 255, 0, 0], [0, 0, 255, 128]]], np.uint8)
    out = load_image(_write(tmp_path / "a.png", tf.io.encode_png(rgba).numpy()))
    a = rgba[..., 3:] / 255.0
    expected = rgba[..., :3] / 255.0 * a + (1 - a)
    np.testing.assert_allclose(out, expected, atol=1 / 255)


def test_max_side_bounds_and_keeps_aspect(tmp_path):
    pixels = np.full((300, 600, 3), 200, np.uint8)
    path = _write(tmp_path / "big.png", tf.io.encode_png(pixels).numpy())
    out = load_image(path, max_side=120)
    assert out.shape == (60, 120, 3)
    np.testing.assert_allclose(out, 200 / 255.0, atol=1e-5)
    assert load_image(path, max_side=1000).shape == (300, 600, 3)  # never enlarged
    assert load_image(path, max_side=None).shape == (300, 600, 3)
    assert load_image(path).shape == (256, 512, 3)  # default bound 512
    from core.config import ConfigError  # named as the argument (a CLI spells it as its flag)

    with pytest.raises(ConfigError, match=r"^max_side must be a positive number of pixels or "
                                          r"None, got -3$"):
        load_image(path, max_side=-3)


@pytest.mark.parametrize("case", ["missing", "empty", "truncated_png", "truncated_jpeg",
                                  "text", "directory", "too_large"])
def test_bad_files_name_file_and_problem(tmp_path, rng, case):
    pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    path = tmp_path / f"{case}.png"
    kwargs = {}
    if case == "empty":
        path.write_bytes(b"")
        problem = "empty"
    elif case == "truncated_png":
        data = tf.io.encode_png(pixels).numpy()
        path.write_bytes(data[: len(data) // 2])
        problem = "truncated"
    elif case == "truncated_jpeg":
        path = tmp_path / "t.jpg"
        data = tf.io.encode_jpeg(pixels).numpy()
        path.write_bytes(data[: len(data) // 2])
        problem = "truncated"
    elif case == "text":
        path.write_text("this is not an image\n")
        problem = "not a recognised image"
    elif case == "directory":
        path.mkdir()
        problem = "directory"
    elif case == "too_large":
        path.write_bytes(tf.io.encode_png(pixels).numpy())
        kwargs = {"max_pixels": 1000}
        problem = "exceeds the limit"
    else:
        problem = "not found"
    with pytest.raises(ValueError, match=problem) as err:
        load_image(path, **kwargs)
    assert str(path) in str(err.value)


def test_samples_load_offline():
    for name in samples.names():
        img = load_image(samples.path(name))
        assert img.shape[-1] == 3 and max(img.shape[:2]) <= 512 and 0 <= img.min() <= img.max() <= 1
    assert set(samples.CONTENT) | set(samples.STYLE) <= set(samples.names())
    with pytest.raises(ValueError, match="unknown sample image 'dog'"):
        samples.path("dog")


def test_save_marks_synthetic_and_roundtrips(tmp_path, rng):
    image = rng.random((8, 6, 3)).astype(np.float32)
    path = save_image(tmp_path / "out.png", image, generator="unit-test",
                      params={"steps": 3, "style": "x"})
    meta = read_provenance(path)
    assert meta["AI-Generated"] == "true"
    assert meta["DigitalSourceType"] == IPTC_SYNTHETIC
    assert meta["Generator"] == "unit-test"
    assert meta["Parameters"] == {"steps": 3, "style": "x"}
    decoded = tf.io.decode_png(path.read_bytes()).numpy()
    np.testing.assert_array_equal(decoded, np.round(image * 255).astype(np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temp files left


def test_save_is_atomic_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    save_image(path, np.zeros((4, 4, 3)), generator="first")

    def broken_save(self, fp, *a, **k):
        Path(fp).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_image(path, np.ones((4, 4, 3)), generator="second")
    assert read_provenance(path)["Generator"] == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_save_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="PNG only"):
        save_image(tmp_path / "x.jpg", np.zeros((2, 2, 3)), generator="g")
    with pytest.raises(ValueError, match="NaN"):
        save_image(tmp_path / "x.png", np.full((2, 2, 3), np.nan), generator="g")
    with pytest.raises(ValueError, match="shape"):
        save_image(tmp_path / "x.png", np.zeros((2, 2)), generator="g")


@pytest.fixture
def http_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_url_download_checksum(isolated_cache, http_server, rng):
    import hashlib

    root, base = http_server
    pixels = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    data = tf.io.encode_png(pixels).numpy()
    (root / "img.png").write_bytes(data)
    good = hashlib.sha256(data).hexdigest()
    np.testing.assert_allclose(load_image(f"{base}/img.png", sha256=good), pixels / 255.0)
    files_before = {p for p in isolated_cache.rglob("*") if p.is_file()}
    assert len(files_before) == 1
    with pytest.raises(ChecksumError, match="SHA-256 mismatch"):
        download(f"{base}/img.png?v=2", sha256="0" * 64)
    # a failed verification leaves nothing behind in the cache
    assert {p for p in isolated_cache.rglob("*") if p.is_file()} == files_before
    with pytest.raises(OSError, match="missing.png: download failed"):
        download(f"{base}/missing.png")


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation  # EXIF Orientation
    return exif


#: how a viewer shows the stored pixels for each EXIF Orientation (EXIF 2.3, tag 0x0112)
UPRIGHT = {1: lambda x: x, 2: lambda x: x[:, ::-1], 3: lambda x: np.rot90(x, 2),
           4: lambda x: x[::-1], 5: lambda x: np.rot90(x[:, ::-1], 1),  # mirror, 90 deg CCW
           6: lambda x: np.rot90(x, -1),  # 90 deg clockwise: the portrait phone photo
           7: lambda x: np.rot90(x[:, ::-1], -1), 8: lambda x: np.rot90(x, 1)}


@pytest.mark.parametrize("orientation", sorted(UPRIGHT))
def test_exif_orientation_is_applied(tmp_path, rng, orientation):
    pixels = rng.integers(0, 256, (5, 8, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(pixels).save(path, exif=_exif(orientation))
    expected = UPRIGHT[orientation](pixels) / 255.0
    np.testing.assert_allclose(load_image(path), expected, atol=1e-7)


def test_portrait_phone_jpeg_loads_upright(tmp_path):
    yy, xx = np.mgrid[0:48, 0:64]
    pixels = np.stack([xx * 4, yy * 5, (xx + yy) * 2], -1).astype(np.uint8)  # landscape sensor
    path = tmp_path / "phone.jpg"
    Image.fromarray(pixels).save(path, quality=95, exif=_exif(6))
    reference = np.rot90(tf.io.decode_jpeg(path.read_bytes(), dct_method="INTEGER_ACCURATE")
                         .numpy(), -1) / 255.0
    out = load_image(path)
    assert out.shape == (64, 48, 3)
    np.testing.assert_allclose(out, reference, atol=1e-6)
    small = load_image(path, max_side=32)
    assert small.shape == (32, 24, 3)  # bounded upright: the long side is the height
    expected = tf.image.resize(reference.astype(np.float32), (32, 24), antialias=True).numpy()
    np.testing.assert_allclose(small, expected, atol=1e-5)


def _smooth_photo(h: int, w: int, channels: int = 3) -> np.ndarray:
    """Photo-like uint8 content: gradients at several scales plus grain."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    planes = [128 + 100 * np.sin(xx / 97 + yy / 151), 128 + 100 * np.cos(xx / 61),
              128 + 90 * np.sin(yy / 43), 128 + 127 * np.sin(xx / 50) * np.cos(yy / 70)]
    img = np.stack(planes[:channels], -1)
    img += np.random.default_rng(0).integers(-10, 11, (h, w, 1)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _peak_numpy_bytes(fn):
    import tracemalloc

    tracemalloc.start()  # NumPy reports its buffers to tracemalloc
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_huge_jpeg_is_shrunk_while_decoding(tmp_path):
    h, w = 1001, 1501  # not a multiple of the DCT scale: a partial last block
    path = tmp_path / "big.jpg"
    Image.fromarray(_smooth_photo(h, w)).save(path, quality=92, exif=_exif(6))
    out, peak = _peak_numpy_bytes(lambda: load_image(path, max_side=120))
    assert out.shape == (120, 80, 3)
    full_float = h * w * 3 * 4  # a full decode needs at least this much
    assert peak < full_float / 4, f"{peak:,} bytes of arrays for a {full_float:,}-byte image"
    # reference: decode in full, turn upright, then resize
    full = tf.io.decode_jpeg(path.read_bytes(), dct_method="INTEGER_ACCURATE").numpy()
    reference = tf.image.resize(np.rot90(full, -1).astype(np.float32) / 255.0, (120, 80),
                                antialias=True).numpy()
    err = np.abs(out - reference)
    assert err.mean() < 0.5 / 255 and err.max() < 4 / 255


def test_huge_png_is_reduced_before_float(tmp_path):
    h, w = 803, 1201
    rgba = _smooth_photo(h, w, channels=4)
    path = tmp_path / "big.png"
    Image.fromarray(rgba).save(path, exif=_exif(8), compress_level=1)
    out, peak = _peak_numpy_bytes(lambda: load_image(path, max_side=100))
    assert out.shape == (100, 67, 3)
    assert peak < h * w * 3 * 4 / 4
    alpha = rgba[..., 3:] / 255.0
    upright = np.rot90(rgba[..., :3] / 255.0 * alpha + (1 - alpha), 1).astype(np.float32)
    reference = tf.image.resize(upright, (100, 67), antialias=True).numpy()
    err = np.abs(out - reference)
    assert err.mean() < 0.5 / 255 and err.max() < 3 / 255
