"""Video in and out through OpenCV, marked as synthetic.

Frames are RGB uint8 ``(H, W, 3)``. :class:`VideoReader` opens anything
OpenCV can decode (one clear line when it cannot, or when there are no
frames); :func:`video_writer` writes ``.mp4`` (mp4v) or ``.avi`` (MJPG) at the
input's fps and size to a temporary file beside the output and renames it
into place only when every frame is written, with a JSON sidecar
``OUTPUT.json`` (e.g. ``out.mp4.json``) holding the provenance fields of
:func:`data.images.provenance`. :func:`draw_label` puts the visible
"AI-generated" label in the bottom-right corner.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = ["CODECS", "LABEL", "VideoReader", "check_video_output", "draw_label", "label_box",
           "sidecar_path", "video_writer"]

#: output extension -> FourCC
CODECS = {".mp4": "mp4v", ".avi": "MJPG"}
LABEL = "AI-generated"


class VideoReader:
    """The frames of a video file, RGB uint8, in order.

    ``fps``, ``size`` (width, height) and ``count`` (the container's frame
    count; OpenCV estimates it for some formats, so iterate for the truth)
    are known after opening. Raises ValueError naming ``path`` when the file
    is missing, not a video OpenCV can decode, or has no frames.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            problem = "is a directory" if self.path.is_dir() else "file not found"
            raise ValueError(f"{path}: {problem}, expected a video")
        cap = cv2.VideoCapture(str(self.path))
        try:
            ok, first = cap.read() if cap.isOpened() else (False, None)
            if not cap.isOpened():
                raise ValueError(f"{path}: not a video OpenCV can read")
            if not ok or first is None:
                raise ValueError(f"{path}: video has no frames OpenCV can decode")
            self.fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0  # 0 when the container omits it
            self.count = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 1)
        finally:
            cap.release()
        self.size = (first.shape[1], first.shape[0])

    def __iter__(self) -> Iterator[np.ndarray]:
        cap = cv2.VideoCapture(str(self.path))
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()


def label_box(shape: tuple[int, ...], text: str = LABEL) -> tuple[int, int, int, int, float, int]:
    """Where :func:`draw_label` draws on a frame of ``shape`` (H, W, ...):
    ``(x0, y0, x1, y1, font_scale, thickness)``, bottom-right, sized with the
    frame (about 1/30 of its height for the text, at least 12 px)."""
    h, w = shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    text_px = max(12, h // 30)
    scale = cv2.getFontScaleFromHeight(font, text_px, 1)
    thickness = max(1, round(text_px / 12))
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    pad, margin = max(3, text_px // 3), max(4, h // 80)
    x1, y1 = w - margin, h - margin
    return x1 - tw - 2 * pad, y1 - th - base - 2 * pad, x1, y1, scale, thickness


def draw_label(rgb: np.ndarray, text: str = LABEL) -> np.ndarray:
    """``rgb`` with ``text`` in white on a dark box in the bottom-right corner
    (a new array); readable from 240 px frames up."""
    out = np.array(rgb, copy=True)
    x0, y0, x1, y1, scale, thickness = label_box(out.shape, text)
    box = out[max(y0, 0):y1, max(x0, 0):x1]
    box[...] = (box.astype(np.float32) * 0.35).astype(np.uint8)  # darken, keep a hint of the scene
    pad = (y1 - y0 - cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)[0][1]) // 2
    _, base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    cv2.putText(out, text, (x0 + pad, y1 - pad - base // 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), thickness, cv2.LINE_AA)
    return out


def sidecar_path(output: str | os.PathLike) -> Path:
    """The JSON sidecar of a video: ``OUTPUT.json`` beside it (``out.mp4.json``)."""
    output = Path(output)
    return output.with_name(output.name + ".json")


def check_video_output(output: str | os.PathLike, *, force: bool, flag: str = "--output") -> Path:
    """``output`` as a Path if it can be written: a .mp4/.avi name whose file
    and sidecar do not exist (unless ``force``). ValueError naming ``flag`` else."""
    output = Path(output)
    if output.suffix.lower() not in CODECS:
        raise ValueError(f"{flag}: {output}: expected a video name ending in "
                         f"{' or '.join(CODECS)}")
    for path in (output, sidecar_path(output)):
        if path.exists() and not force:
            raise ValueError(f"{path}: exists; pass --force to replace it")
    return output


@contextlib.contextmanager
def video_writer(output: str | os.PathLike, fps: float, size: tuple[int, int], *,
                 generator: str, params: Mapping[str, Any] | None = None,
                 label: bool = True) -> Iterator[Callable[[np.ndarray], None]]:
    """Yield ``write(rgb)`` that appends one RGB uint8 frame of ``size``
    (width, height), labelled with :func:`draw_label` when ``label``.

    Frames go to a temporary file beside ``output`` (same extension, so
    OpenCV picks the container); when the block ends without an exception
    the sidecar ``OUTPUT.json`` is written (atomically) and the video renamed
    onto ``output``. On an exception or interrupt both temporary files are
    removed and nothing under the final names changes.
    """
    from data.cache import atomic_path
    from data.images import provenance

    output = Path(output)
    fourcc = CODECS.get(output.suffix.lower())
    if fourcc is None:
        raise ValueError(f"--output: {output}: expected {' or '.join(CODECS)}")
    written = [0]
    with atomic_path(output, suffix=".part" + output.suffix.lower()) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*fourcc), fps, tuple(size))
        if not writer.isOpened():
            raise ValueError(f"{output}: OpenCV cannot write {fourcc} video on this machine")

        def write(rgb: np.ndarray) -> None:
            if rgb.shape[:2] != (size[1], size[0]):
                raise ValueError(f"frame {rgb.shape[1]}x{rgb.shape[0]} differs from the "
                                 f"video's {size[0]}x{size[1]}")
            writer.write(cv2.cvtColor(draw_label(rgb) if label else rgb, cv2.COLOR_RGB2BGR))
            written[0] += 1

        try:
            yield write
        finally:
            writer.release()
        fields: dict[str, Any] = provenance(generator, params,
                                            source_type="compositeWithTrainedAlgorithmicMedia")
        fields["Parameters"] = json.loads(fields["Parameters"])
        fields.update({"Label": LABEL if label else None, "Date": _now(), "File": output.name,
                       "Frames": written[0], "FPS": fps, "Size": list(size)})
        with atomic_path(sidecar_path(output)) as side:
            side.write_text(json.dumps(fields, indent=2) + "\n")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds")
