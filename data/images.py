"""Image I/O shared by every technique.

Images inside the project are ``float32`` NumPy arrays of shape ``(H, W, 3)``
with values in ``[0, 1]`` (RGB). :func:`load_image` turns any common file or
URL into that form; :func:`save_image` writes PNG atomically and marks the
file as synthetic in its metadata.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, PngImagePlugin, UnidentifiedImageError

from .cache import atomic_path, download, numbered, write_new

__all__ = [
    "CHECK_SIDE",
    "DEFAULT_MAX_SIDE",
    "IPTC_SYNTHETIC",
    "MAX_PIXELS",
    "check_images",
    "check_max_side",
    "decode_image",
    "load_image",
    "longest_side",
    "read_provenance",
    "resize_max_side",
    "save_image",
    "tf_decode_image",
    "to_uint8",
]

DEFAULT_MAX_SIDE = 512
#: Refuse images larger than this before decoding them (a 16k x 11k photo is
#: 178 MP; anything bigger is almost surely a decompression bomb).
MAX_PIXELS = 180_000_000
#: IPTC digital source type for media created by a trained model.
IPTC_SYNTHETIC = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
_FORMATS = {"JPEG", "PNG", "GIF", "BMP", "WEBP", "MPO"}  # MPO: multi-frame JPEG from cameras


def _is_url(source: str | os.PathLike) -> bool:
    return isinstance(source, str) and source.split("://", 1)[0] in {"http", "https", "ftp"}


#: EXIF Orientation (tag 0x0112, EXIF 2.3) -> what makes the stored pixels
#: upright: (swap the axes, then flip rows, then flip columns)
_ORIENTATION = {2: (False, False, True), 3: (False, True, True), 4: (False, True, False),
                5: (True, False, False), 6: (True, False, True), 7: (True, True, True),
                8: (True, True, False)}
_limit_lock = threading.Lock()
_limit_users = [0, Image.MAX_IMAGE_PIXELS]  # [decoders inside _no_pillow_limit, saved limit]


@contextlib.contextmanager
def _no_pillow_limit() -> Iterator[None]:
    """Lift Pillow's global pixel limit (our ``max_pixels`` replaces it) while
    any thread opens an image; restored when the last one is done."""
    with _limit_lock:
        if _limit_users[0] == 0:
            _limit_users[1] = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
        _limit_users[0] += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_users[0] -= 1
            if _limit_users[0] == 0:
                Image.MAX_IMAGE_PIXELS = _limit_users[1]


def _flatten(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> "RGB", "L", "I" (16/32-bit gray) or "F"; alpha is
    composited over white, since transparent pixels hold undefined colours."""
    mode = img.mode
    if mode.startswith("I;16"):
        return img.convert("I")
    if mode in {"I", "F"}:
        return img
    if mode in {"RGBA", "LA", "PA", "P", "RGBa", "La"} or "transparency" in img.info:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode in {"RGB", "L"}:
        return img
    return img.convert("L" if mode == "1" else "RGB")


def _to_float(img: Image.Image) -> np.ndarray:
    """A :func:`_flatten` ed image -> float32 RGB in [0, 1], ``(H, W, 3)``."""
    if img.mode == "RGB":
        array = np.asarray(img, dtype=np.float32)
        array /= 255.0  # in place: one float copy of a possibly large image
        return array
    if img.mode == "I":  # 16-bit (or 32-bit int) grayscale
        arr = np.asarray(img, dtype=np.float64)
        scale = 65535.0 if arr.max(initial=0) <= 65535 else 2.0**32 - 1
        gray = np.clip(arr / scale, 0.0, 1.0).astype(np.float32)
    elif img.mode == "F":
        gray = np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
    else:
        gray = np.asarray(img, dtype=np.float32) / 255.0
    return np.repeat(gray[..., None], 3, axis=-1)


def _at_least(w: int, h: int, side: int) -> tuple[int, int]:
    """Smallest ``(w, h)`` of this aspect whose longer side is ``side``."""
    scale = side / max(w, h)
    return max(1, math.ceil(w * scale)), max(1, math.ceil(h * scale))


def _decode(path: Path, name: str, *, at_least: int | None, max_pixels: int,
            to_float: bool = True) -> tuple[np.ndarray | None, tuple[float, ...], tuple[int, int]]:
    """The one decoder behind :func:`load_image`, :func:`decode_image` and
    :func:`check_images`.

    Returns ``(array, window, (H, W))``: the upright image as float32
    ``(H', W', 3)`` in [0, 1] (None unless ``to_float``), the span
    ``(top, left, bottom, right)`` the whole image covers in the array's
    pixels, and the full upright size. With ``at_least``, big images are
    shrunk by whole factors while decoding (JPEG DCT scaling via ``draft``,
    else ``Image.reduce``) with their longer side kept >= ``at_least``; a
    size that is not a multiple leaves a partial last row/column, which the
    window accounts for.
    """
    with open(path, "rb") as fp:  # an OSError here (permissions) is not the image's fault
        if os.fstat(fp.fileno()).st_size == 0:
            raise ValueError(f"{name}: file is empty (0 bytes), expected an image")
        try:
            with _no_pillow_limit():
                img = Image.open(fp)  # read in chunks while decoding, never whole
            with img:
                if img.format not in _FORMATS:
                    raise ValueError(f"{name}: {img.format} images are not supported, "
                                     "expected JPEG, PNG, GIF, BMP or WebP")
                w, h = img.size
                if w * h > max_pixels:
                    raise ValueError(f"{name}: {w}x{h} = {w * h:,} pixels exceeds the limit of "
                                     f"{max_pixels:,} (pass max_pixels= to raise it)")
                span_w, span_h = float(w), float(h)  # the whole image, in decoded pixels
                if at_least is not None and max(w, h) >= 2 * at_least:
                    drafted = img.draft(None, _at_least(w, h, at_least))  # None unless JPEG
                    if drafted is not None:
                        span_w, span_h = drafted[1][2], drafted[1][3]
                img.load()
                try:
                    orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
                except Exception:  # malformed EXIF must not make a readable photo unreadable
                    orientation = 1
                out = _flatten(img)
                if at_least is not None:
                    sw, sh = _at_least(out.width, out.height, at_least)
                    factor = min(out.width // sw, out.height // sh)
                    if factor >= 2:
                        out = out.reduce(factor)
                        span_w, span_h = span_w / factor, span_h / factor
                top, left, bottom, right = 0.0, 0.0, span_h, span_w
                swap, flip_rows, flip_cols = _ORIENTATION.get(orientation, (False, False, False))
                if swap:
                    out = out.transpose(Image.Transpose.TRANSPOSE)
                    top, left, bottom, right, h, w = left, top, right, bottom, w, h
                if flip_rows:
                    out = out.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
                    top, bottom = out.height - bottom, out.height - top
                if flip_cols:
                    out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
                    left, right = out.width - right, out.width - left
                array = _to_float(out) if to_float else None
        except UnidentifiedImageError:
            raise ValueError(f"{name}: not a recognised image, expected JPEG, PNG, GIF, BMP "
                             "or WebP") from None
        except (OSError, SyntaxError) as exc:  # Pillow reports truncation as OSError
            raise ValueError(f"{name}: truncated or corrupt image data ({exc})") from None
    return array, (top, left, bottom, right), (h, w)


def check_max_side(max_side: int | None) -> None:
    """Raise :class:`core.config.ConfigError` naming ``max_side`` unless it is
    None or a positive number of pixels."""
    if max_side is not None and not max_side >= 1:
        from core.config import invalid

        raise invalid("max_side", "a positive number of pixels or None", max_side)


def _fit(h: int, w: int, max_side: int | None) -> tuple[int, int]:
    """``(h, w)`` shrunk so the longer side is at most ``max_side`` (aspect kept)."""
    if max_side is None:
        return h, w
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return h, w
    return max(1, round(h * scale)), max(1, round(w * scale))


def _resize(image: np.ndarray, size: tuple[int, int],
            window: tuple[float, ...] | None = None) -> np.ndarray:
    """Antialiased bilinear resize of the ``window`` (top, left, bottom,
    right; default: all) of ``image`` to ``size``; equal to
    ``tf.image.resize(..., antialias=True)`` for the whole image."""
    h, w = image.shape[:2]
    top, left, bottom, right = window or (0.0, 0.0, h, w)
    if (h, w) == tuple(size) and (top, left, bottom, right) == (0.0, 0.0, h, w):
        return image
    import tensorflow as tf

    scale = [size[0] / (bottom - top), size[1] / (right - left)]
    out = tf.raw_ops.ScaleAndTranslate(  # what tf.image.resize runs, with a fractional window
        images=image[None], size=list(size), scale=scale,
        translation=[-top * scale[0], -left * scale[1]], kernel_type="triangle", antialias=True)
    return np.clip(out[0].numpy(), 0.0, 1.0).astype(np.float32)


def resize_max_side(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """Shrink ``(H, W, C)`` so its longer side is at most ``max_side``, keeping
    the aspect ratio (antialiased bilinear). Never enlarges."""
    check_max_side(max_side)
    return _resize(image, _fit(*image.shape[:2], max_side))


def _local(source: str | os.PathLike, sha256: str | None = None) -> Path:
    """``source`` as an existing file path (URLs downloaded into the cache)."""
    path = download(str(source), sha256=sha256) if _is_url(source) else Path(source)
    if not path.exists():
        raise ValueError(f"{source}: file not found")
    if path.is_dir():
        raise ValueError(f"{source}: is a directory, expected an image file")
    return path


def load_image(source: str | os.PathLike, *, max_side: int | None = DEFAULT_MAX_SIDE,
               sha256: str | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Load an image file or URL as float32 RGB in ``[0, 1]``, shape ``(H, W, 3)``,
    upright (its EXIF orientation applied).

    Args:
      source: a path, or an ``http(s)://`` URL (downloaded once into the cache,
        checked against ``sha256`` when given).
      max_side: bound on the longer side in pixels (aspect kept, never
        enlarged; antialiased bilinear); ``None`` keeps the original size.
        Images over twice the bound are shrunk while decoding (JPEG DCT
        scaling, ``Image.reduce``), so a 100 MP photo never exists as float32.
      max_pixels: refuse larger images before decoding them.

    Grayscale, palette, RGBA (composited over white) and 16-bit images all
    come back as RGB. For animated GIF/WebP the first frame is used.

    Raises:
      ValueError: naming the file, if it is missing, empty, truncated, not a
        JPEG/PNG/GIF/BMP/WebP image, or larger than ``max_pixels``.
    """
    check_max_side(max_side)
    path = _local(source, sha256)
    at_least = None if max_side is None else 2 * max_side  # the last resize still antialiases
    array, window, (h, w) = _decode(path, str(source), at_least=at_least, max_pixels=max_pixels)
    return _resize(array, _fit(h, w, max_side), window)


def decode_image(source: str | os.PathLike, *, at_least: int | None = None,
                 max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The pixels :func:`load_image` sees (EXIF orientation, transparency over
    white), float32 ``(H, W, 3)`` in [0, 1], without its final resize: with
    ``at_least``, an image is shrunk only by whole factors while decoding and
    its longer side stays >= ``at_least``. For pipelines that resize anyway."""
    path = _local(source)
    return _decode(path, str(source), at_least=at_least, max_pixels=max_pixels)[0]


_skipped_at_decode: set[str] = set()


def tf_decode_image(path: Any, *, at_least: int | None = None, skip_bad: bool = False) -> Any:
    """:func:`decode_image` inside a ``tf.data`` pipeline: scalar string
    tensor -> float32 ``(H, W, 3)`` tensor in [0, 1] (training decodes
    exactly as inference does). An unreadable file fails the pipeline with
    an error whose message names it, or, with ``skip_bad``, gives a
    ``(0, 0, 3)`` image (drop those with ``tf.size(image) > 0``) and a printed
    warning naming it and counting the files skipped so far (once per file)."""
    import tensorflow as tf

    def decode(p: bytes) -> np.ndarray:
        try:
            return decode_image(os.fsdecode(p), at_least=at_least)
        except ValueError as exc:
            if not skip_bad:
                raise
            if str(exc) not in _skipped_at_decode:
                _skipped_at_decode.add(str(exc))
                print(f"warning: {exc}; skipped ({len(_skipped_at_decode)} unreadable so far)",
                      file=sys.stderr)
            return np.zeros((0, 0, 3), np.float32)

    image = tf.numpy_function(decode, [path], tf.float32, stateful=False)
    image.set_shape([None, None, 3])
    return image


def longest_side(source: str | os.PathLike) -> int:
    """Pixels along the longer side of an image file, read from its header
    (EXIF orientation does not change it)."""
    with _no_pillow_limit():
        img = Image.open(source)
    with img:
        return max(img.size)


#: longer side, in pixels, that :func:`check_images` lets JPEG decoding shrink to
CHECK_SIDE = 64
_checked: dict[tuple[str, int, int], str | None] = {}  # (path, size, mtime) -> error
_warned: set[str] = set()


def _check(path: str | os.PathLike) -> str | None:
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"{path}: cannot be read ({exc.strerror or exc})"
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _checked:
        try:
            _decode(Path(path), str(path), at_least=CHECK_SIDE, max_pixels=MAX_PIXELS,
                    to_float=False)
            _checked[key] = None
        except ValueError as exc:
            _checked[key] = str(exc)
        except OSError as exc:  # unreadable file (permissions, I/O error)
            _checked[key] = f"{path}: cannot be read ({exc.strerror or exc})"
    return _checked[key]


def _names(paths: list, limit: int = 10) -> str:
    names = [Path(p).name for p in paths[:limit]]
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return ", ".join(names) + more


def check_images(files: list, *, skip_bad: bool = False) -> list:
    """Decode every file cheaply with the loader of :func:`load_image` (JPEGs
    at a fraction of their size, no float conversion) and return
    those that load, in order. Results are remembered per (path, size,
    modification time).

    Raises:
      ValueError: one line naming the first unreadable file and its problem
        (and counting the others), unless ``skip_bad``: then they are left
        out with one printed warning, ``skipped K of N images that could not
        be read: a.jpg, b.png``. Also when no file at all can be read.
    """
    errors = {i: e for i, e in enumerate(_check(f) for f in files) if e is not None}
    if not errors:
        return list(files)
    bad = [files[i] for i in errors]
    folders = {str(Path(p).parent) for p in bad}
    where = f"{folders.pop()}: " if len(folders) == 1 else ""
    first = next(iter(errors.values()))
    if len(bad) == len(files):
        raise ValueError(f"{first}; {where}none of the {len(files)} images could be read")
    if not skip_bad:
        others = f" (and {len(bad) - 1} more unreadable: {_names(bad[1:])})" if len(bad) > 1 else ""
        raise ValueError(f"{first}{others}; leave unreadable images out with "
                         "--skip-bad-images (skip_bad=True)")
    warning = (f"warning: {where}skipped {len(bad)} of {len(files)} images that could not be "
               f"read: {_names(bad)}")
    if warning not in _warned:  # streams are rebuilt per shard and on resume: say it once
        _warned.add(warning)
        print(warning, file=sys.stderr)
    return [f for i, f in enumerate(files) if i not in errors]


def to_uint8(image: Any) -> np.ndarray:
    """``(H, W, 3)`` float in [0, 1] (array or tensor) -> uint8, rounding; a
    leading batch axis of 1 is dropped."""
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3):
        raise ValueError(f"image must have shape (H, W, 3) or (H, W, 1), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("image contains NaN or infinite values")
    arr = np.clip(arr, 0.0, 1.0)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return np.round(arr * 255.0).astype(np.uint8)


def save_image(path: str | os.PathLike, image: Any, *, generator: str,
               params: Mapping[str, Any] | None = None, replace: bool = True) -> Path:
    """Write ``image`` (float RGB in [0, 1]) as PNG, atomically, marked
    synthetic; return the path written. ``replace=False``: never replace a
    file; the first free name of ``path``, ``STEM_1.png``, ``STEM_2.png``, ...
    is used (see :func:`data.cache.write_new`).

    The PNG carries text chunks ``AI-Generated: true``, ``DigitalSourceType``
    (IPTC trainedAlgorithmicMedia), ``Generator`` and ``Parameters`` (JSON),
    readable back with :func:`read_provenance`.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path}: save_image writes PNG only, use a .png file name")
    meta = PngImagePlugin.PngInfo()
    meta.add_text("AI-Generated", "true")
    meta.add_text("DigitalSourceType", IPTC_SYNTHETIC)
    meta.add_text("Generator", generator)
    meta.add_text("Parameters", json.dumps(dict(params or {}), sort_keys=True, default=str))
    meta.add_text("Description", f"Synthetic image generated by {generator} (deepfake-lab). "
                                 "Not a photograph of a real scene.")
    meta.add_text("Software", "deepfake-lab")
    pil = Image.fromarray(to_uint8(image), mode="RGB")
    if not replace:
        return write_new(numbered(path), lambda tmp: pil.save(tmp, format="PNG", pnginfo=meta))
    with atomic_path(path) as tmp:
        pil.save(tmp, format="PNG", pnginfo=meta)
    return path


def read_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """Return the PNG text metadata written by :func:`save_image` (``Parameters``
    decoded from JSON). Missing keys are simply absent."""
    with Image.open(path) as img:
        text = dict(getattr(img, "text", {}))
    if "Parameters" in text:
        text["Parameters"] = json.loads(text["Parameters"])
    return text
