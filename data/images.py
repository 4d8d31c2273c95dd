"""Image I/O shared by every technique.

Images inside the project are ``float32`` NumPy arrays of shape ``(H, W, 3)``
with values in ``[0, 1]`` (RGB). :func:`load_image` turns any common file or
URL into that form; :func:`save_image` writes PNG atomically and marks the
file as synthetic in its metadata.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from .cache import atomic_path, download

__all__ = [
    "DEFAULT_MAX_SIDE",
    "IPTC_SYNTHETIC",
    "MAX_PIXELS",
    "load_image",
    "read_provenance",
    "resize_max_side",
    "save_image",
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


def _to_rgb_float(img: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to float32 RGB in [0, 1]."""
    mode = img.mode
    if mode in {"I;16", "I;16B", "I;16L", "I"}:  # 16-bit (or 32-bit int) grayscale
        arr = np.asarray(img, dtype=np.float64)
        scale = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) <= 65535 else 2.0**32 - 1
        gray = np.clip(arr / scale, 0.0, 1.0).astype(np.float32)
        return np.repeat(gray[..., None], 3, axis=-1)
    if mode == "F":
        gray = np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
        return np.repeat(gray[..., None], 3, axis=-1)
    if mode in {"RGBA", "LA", "PA", "P", "RGBa", "La"} or "transparency" in img.info:
        # alpha-composite over white: transparent pixels hold undefined colours
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def resize_max_side(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """Shrink ``(H, W, C)`` so its longer side is at most ``max_side``, keeping
    the aspect ratio (antialiased bilinear). Never enlarges."""
    if max_side is None:
        return image
    if max_side < 1:
        raise ValueError(f"max_side must be a positive number of pixels, got {max_side}")
    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return image
    import tensorflow as tf

    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    out = tf.image.resize(image, size, method="bilinear", antialias=True)
    return np.clip(out.numpy(), 0.0, 1.0).astype(np.float32)


def load_image(source: str | os.PathLike, *, max_side: int | None = DEFAULT_MAX_SIDE,
               sha256: str | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Load an image file or URL as float32 RGB in ``[0, 1]``, shape ``(H, W, 3)``.

    Args:
      source: a path, or an ``http(s)://`` URL (downloaded once into the cache,
        checked against ``sha256`` when given).
      max_side: bound on the longer side in pixels (aspect kept, never
        enlarged); ``None`` keeps the original size.
      max_pixels: refuse larger images before decoding them.

    Grayscale, palette, RGBA (composited over white) and 16-bit images all
    come back as RGB. For animated GIF/WebP the first frame is used.

    Raises:
      ValueError: naming the file, if it is missing, empty, truncated, not a
        JPEG/PNG/GIF/BMP/WebP image, or larger than ``max_pixels``.
    """
    path = download(str(source), sha256=sha256) if _is_url(source) else Path(source)
    name = str(source)
    if not path.exists():
        raise ValueError(f"{name}: file not found")
    if path.is_dir():
        raise ValueError(f"{name}: is a directory, expected an image file")
    data = path.read_bytes()
    if not data:
        raise ValueError(f"{name}: file is empty (0 bytes), expected an image")
    previous_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # our own max_pixels check below replaces Pillow's
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in _FORMATS:
                raise ValueError(f"{name}: {img.format} images are not supported, "
                                 "expected JPEG, PNG, GIF, BMP or WebP")
            w, h = img.size
            if w * h > max_pixels:
                raise ValueError(f"{name}: {w}x{h} = {w * h:,} pixels exceeds the limit of "
                                 f"{max_pixels:,} (pass max_pixels= to raise it)")
            img.load()
            array = _to_rgb_float(img)
    except UnidentifiedImageError:
        raise ValueError(f"{name}: not a recognised image, expected JPEG, PNG, GIF, BMP "
                         "or WebP") from None
    except Image.DecompressionBombError as exc:
        raise ValueError(f"{name}: image too large ({exc})") from None
    except (OSError, SyntaxError) as exc:  # Pillow reports truncation as OSError
        raise ValueError(f"{name}: truncated or corrupt image data ({exc})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous_limit
    return resize_max_side(array, max_side)


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
               params: Mapping[str, Any] | None = None) -> Path:
    """Write ``image`` (float RGB in [0, 1]) as PNG, atomically, marked synthetic.

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
